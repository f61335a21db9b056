"""cnnlib.history (the ILSVRC results, with sources) and the chapter-1 plots of cnnlib.viz."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

from cnnlib import history, viz

matplotlib.use("Agg")

BIB = Path(__file__).resolve().parent.parent / "book" / "references.bib"


def bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), re.MULTILINE))


def test_winners_top5_error_and_depth():
    expected = {  # year: (team, top-5 error %, depth)
        2010: ("NEC-UIUC", 28.2, None),
        2011: ("XRCE", 25.8, None),
        2012: ("SuperVision", 16.4, 8),
        2013: ("Clarifai", 11.7, 8),
        2014: ("GoogLeNet", 6.7, 22),
        2015: ("MSRA", 3.57, 152),
        2016: ("Trimps-Soushen", 2.99, None),
        2017: ("WMW", 2.25, None),
    }
    got = {r.year: (r.team, r.top5_error, r.depth) for r in history.WINNERS}
    assert got == expected


def test_models_of_the_winners():
    labels = {r.year: r.label for r in history.WINNERS}
    assert labels[2012] == "AlexNet"
    assert labels[2013] == "ZFNet"
    assert labels[2014] == "GoogLeNet"
    assert labels[2015] == "ResNet"
    assert labels[2017] == "SENet"


def test_vgg_is_the_2014_runner_up():
    vgg = history.by_year(2014, place=2)
    assert (vgg.team, vgg.top5_error, vgg.depth) == ("VGG", 7.3, 19)
    assert vgg not in history.WINNERS


def test_2012_with_extra_data_is_noted():
    assert "15.3%" in history.by_year(2012).note


def test_shallow_entries_have_no_depth():
    for r in history.RESULTS:
        assert r.shallow == (r.year in (2010, 2011))
        if r.shallow:
            assert r.depth is None
    assert [history.depth_label(history.by_year(y)) for y in (2010, 2012, 2015, 2017)] == [
        "shallow",
        "8 layers",
        "152 layers",
        "ensemble",
    ]


def test_human_error():
    assert history.HUMAN_TOP5_ERROR == 5.1
    assert history.HUMAN_SOURCE == "russakovsky2015imagenet"
    beaten = [r.year for r in history.WINNERS if r.top5_error < history.HUMAN_TOP5_ERROR]
    assert beaten == [2015, 2016, 2017]


def test_sorted_by_year_one_winner_per_year():
    years = [r.year for r in history.RESULTS]
    assert years == sorted(years)
    winner_years = [r.year for r in history.WINNERS]
    assert winner_years == list(range(2010, 2018))
    errors = [r.top5_error for r in history.WINNERS]
    assert errors == sorted(errors, reverse=True), "every winner improved on the last"


def test_data_size():
    d = history.ILSVRC_CLASSIFICATION_DATA
    assert (d["classes"], d["train_images"], d["val_images"], d["test_images"]) == (
        1000,
        1_281_167,
        50_000,
        100_000,
    )


def test_every_citation_key_is_in_references_bib():
    keys = bib_keys()
    assert len(keys) > 20
    missing = history.citation_keys() - keys
    assert not missing, f"not in book/references.bib: {sorted(missing)}"
    for r in history.RESULTS:
        assert r.reference, r


def test_by_year_unknown_year_raises():
    with pytest.raises(KeyError, match="2009"):
        history.by_year(2009)


def test_to_frame():
    df = history.to_frame()
    assert list(df.columns) == [
        "place",
        "team",
        "model",
        "top-5 error (%)",
        "depth",
        "source",
    ]
    assert len(df) == len(history.RESULTS)
    assert df.loc[2015, "top-5 error (%)"] == 3.57


def test_winners_chart():
    fig = viz.plot_ilsvrc_winners()
    ax = fig.axes[0]
    bars = ax.patches[: len(history.RESULTS)]
    assert sorted(round(b.get_height(), 2) for b in bars) == sorted(
        r.top5_error for r in history.RESULTS
    )
    texts = " ".join(t.get_text() for t in ax.texts)
    for label in ("shallow", "8 layers", "22 layers", "152 layers", "2012"):
        assert label in texts
    assert any(round(line.get_ydata()[0], 2) == 5.1 for line in ax.lines), "the human line"
    viz.plt.close(fig)


def test_depth_vs_error_chart():
    fig = viz.plot_depth_vs_error()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    texts = " ".join(t.get_text() for t in ax.texts)
    for label in ("AlexNet", "VGG", "GoogLeNet", "ResNet"):
        assert label in texts
    viz.plt.close(fig)


def test_book_style_keeps_interactive_mode():
    was = matplotlib.is_interactive()
    try:
        with viz.book_style():
            matplotlib.interactive(True)  # what an inline backend does on its first figure
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(was)
