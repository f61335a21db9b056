"""cnnlib.plots.ilsvrc: the chapter-1 charts of the ILSVRC results."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cnnlib import ilsvrc, plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_winners_chart():
    fig = plots.plot_ilsvrc_winners()
    ax = fig.axes[0]
    bars = ax.patches[: len(ilsvrc.RESULTS)]
    assert sorted(round(b.get_height(), 2) for b in bars) == sorted(
        r.top5_error for r in ilsvrc.RESULTS
    )
    texts = " ".join(t.get_text() for t in ax.texts)
    for label in ("shallow", "8 layers", "22 layers", "152 layers", "2012"):
        assert label in texts
    assert any(round(line.get_ydata()[0], 2) == 5.1 for line in ax.lines), "the human line"
    # every bar colour has a legend entry, the 2012 one too
    legend = {
        t.get_text(): h
        for t, h in zip(ax.get_legend().texts, ax.get_legend().legend_handles, strict=True)
    }
    assert "2012: the first deep CNN (AlexNet)" in legend
    colours = {b.get_facecolor()[:3] for b in bars}
    assert colours <= {h.get_facecolor()[:3] for h in legend.values() if hasattr(h, "get_hatch")}
    # the entries are teams, with their network: 2013 was Clarifai's ZFNet-based entry
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert "2013\nClarifai\n(ZFNet)" in ticks and "2014\nVGG\n(2nd)" in ticks


def test_depth_vs_error_chart():
    fig = plots.plot_depth_vs_error()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    texts = " ".join(t.get_text() for t in ax.texts)
    for label in ("AlexNet", "VGG", "GoogLeNet", "ResNet"):
        assert label in texts
