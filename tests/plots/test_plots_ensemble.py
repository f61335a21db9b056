"""cnnlib.plots.ensemble: the lesion figures draw the stored numbers (means over seeds, the
spread, hatched downsampling blocks) and the effective path range is the narrowest one."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cnnlib import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result():
    def run(seed, bump):
        return {
            "seed": seed,
            "final": {"test_error": 0.1},
            "deletions": {"0": [0.1], "1": [0.2 + bump, 0.3 + bump], "2": [0.5 + bump]},
            "reorderings": {"0": [0.1], "1": [0.15 + bump]},
            "path_gradients": {str(k): 2.0**-k for k in range(4)},
            "single": [
                {"block": f"b{i}", "downsampling": i == 1, "test_error": 0.2 + i / 10}
                for i in range(3)
            ],  # fmt: skip
        }

    return {"runs": [run(0, 0.0), run(1, 0.1)]}


def test_deletions_draw_the_mean_over_seeds_of_each_seeds_mean_and_the_spread():
    fig = plots.plot_deletions(_result())
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_ydata()) == pytest.approx([10.0, 30.0, 55.0])  # (25 + 35) / 2, ...
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == pytest.approx([10.0, 20.0])
    with pytest.raises(ValueError, match="lesion result"):
        plots.plot_deletions({"runs": [{"history": []}]})


def test_single_deletions_hatch_the_downsampling_blocks():
    fig = plots.plot_single_deletions(_result())
    bars = fig.axes[0].patches[:3]
    assert [b.get_height() for b in bars] == pytest.approx([20.0, 30.0, 40.0])
    assert [bool(b.get_hatch()) for b in bars] == [False, True, False]


def test_path_gradients_and_the_effective_range():
    fig = plots.plot_path_gradients(_result(), share=0.5)
    counts, grads = [math.comb(3, k) for k in range(4)], [2.0**-k for k in range(4)]
    total = [c * g for c, g in zip(counts, grads, strict=True)]  # 1, 1.5, 0.75, 0.125
    assert plots.effective_path_range(counts, grads, 0.5) == (0, 1)  # 2.5 of 3.375
    heights = [b.get_height() for b in fig.axes[1].patches[:4]]
    assert heights == pytest.approx([100 * t / sum(total) for t in total])
    assert plots.effective_path_range([1, 2, 1], [1, 1, 1], 1.0) == (0, 2)


def test_line_gradients_need_matching_labels():
    fig = plots.plot_line_gradients({"plain": [0, 1, -1], "res": [0, 1, 2]},
                                    {"plain": [1, -0.5], "res": [1, 0.9]})  # fmt: skip
    assert len(fig.axes[1].get_lines()) == 3  # two curves and the zero line
    with pytest.raises(ValueError, match="same non-empty labels"):
        plots.plot_line_gradients({"a": [1]}, {"b": [1]})
