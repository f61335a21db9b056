"""cnnlib.ilsvrc: the ILSVRC results, with sources. The chapter-1 plots: tests/plots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnlib import ilsvrc

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
    got = {r.year: (r.team, r.top5_error, r.depth) for r in ilsvrc.WINNERS}
    assert got == expected


def test_models_of_the_winners():
    labels = {r.year: r.label for r in ilsvrc.WINNERS}
    assert labels[2012] == "AlexNet"
    assert labels[2013] == "ZFNet"
    assert labels[2014] == "GoogLeNet"
    assert labels[2015] == "ResNet"
    assert labels[2017] == "SENet"


def test_vgg_is_the_2014_runner_up():
    vgg = ilsvrc.by_year(2014, place=2)
    assert (vgg.team, vgg.top5_error, vgg.depth) == ("VGG", 7.3, 19)
    assert vgg not in ilsvrc.WINNERS


def test_2012_with_extra_data_is_noted():
    assert "15.3%" in ilsvrc.by_year(2012).note


def test_shallow_entries_have_no_depth():
    for r in ilsvrc.RESULTS:
        assert r.shallow == (r.year in (2010, 2011))
        if r.shallow:
            assert r.depth is None
    assert [ilsvrc.depth_label(ilsvrc.by_year(y)) for y in (2010, 2012, 2015, 2017)] == [
        "shallow",
        "8 layers",
        "152 layers",
        "ensemble",
    ]


def test_human_error():
    assert ilsvrc.HUMAN_TOP5_ERROR == 5.1
    assert ilsvrc.HUMAN_SOURCE == "russakovsky2015imagenet"
    beaten = [r.year for r in ilsvrc.WINNERS if r.top5_error < ilsvrc.HUMAN_TOP5_ERROR]
    assert beaten == [2015, 2016, 2017]


def test_sorted_by_year_one_winner_per_year():
    years = [r.year for r in ilsvrc.RESULTS]
    assert years == sorted(years)
    winner_years = [r.year for r in ilsvrc.WINNERS]
    assert winner_years == list(range(2010, 2018))
    errors = [r.top5_error for r in ilsvrc.WINNERS]
    assert errors == sorted(errors, reverse=True), "every winner improved on the last"


def test_data_size():
    d = ilsvrc.ILSVRC_CLASSIFICATION_DATA
    assert (d["classes"], d["train_images"], d["val_images"], d["test_images"]) == (
        1000,
        1_281_167,
        50_000,
        100_000,
    )


def test_every_citation_key_is_in_references_bib():
    keys = bib_keys()
    assert len(keys) > 20
    missing = ilsvrc.citation_keys() - keys
    assert not missing, f"not in book/references.bib: {sorted(missing)}"
    for r in ilsvrc.RESULTS:
        assert r.reference, r


def test_by_year_unknown_year_raises():
    with pytest.raises(KeyError, match="2009"):
        ilsvrc.by_year(2009)


def test_to_frame():
    df = ilsvrc.to_frame()
    assert list(df.columns) == [
        "place",
        "team",
        "model",
        "top-5 error (%)",
        "depth",
        "paper",
        "number from",
    ]
    # the method's paper, and where the number is published: the organisers' for 2013
    assert df.loc[2013, "paper"] == "Zeiler & Fergus 2014"
    assert df.loc[2013, "number from"] == "Russakovsky et al. 2015"
    assert df.loc[2015, "number from"] == "He et al. 2016"
    assert len(df) == len(ilsvrc.RESULTS)
    assert df.loc[2015, "top-5 error (%)"] == 3.57


def test_zf_table_agrees_with_the_winners_data():
    """Two sources in cnnlib for the same number: AlexNet's five-CNN 16.4% top-5 test error."""
    from cnnlib.analysis import ZFNET_PAPER_IMAGENET

    assert (
        ZFNET_PAPER_IMAGENET["Krizhevsky et al., 5 convnets"][2] == ilsvrc.by_year(2012).top5_error
    )
    # every ensemble is better than its members, as the table's argument needs
    one, ens = (
        ZFNET_PAPER_IMAGENET["1 convnet as figure 3"],
        ZFNET_PAPER_IMAGENET["5 convnets as figure 3, (a)"],
    )
    assert ens[1] < one[1]
