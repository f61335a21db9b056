"""The AlexNet chapter's plots: parameter share, training error, image rows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from cnnlib import plots  # noqa: E402


def test_plot_param_share():

    fig = plots.plot_param_share({"conv1": (10, 300), "fc6": (90, 100)})
    ax = fig.axes[0]
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == [10.0, 25.0, 75.0, 90.0]  # shares in %, each series sums to 100
    assert [t.get_text() for t in ax.get_yticklabels()] == ["conv1", "fc6"]
    plt.close(fig)
    with pytest.raises(ValueError):
        plots.plot_param_share({})


def test_plot_training_error():

    history = [{"epoch": 1, "train_acc": 0.5}, {"epoch": 2, "train_acc": 0.8}]
    fig = plots.plot_training_error({"a": history, "b": history}, target=0.25)
    ax = fig.axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([50.0, 20.0])
    assert any(list(line.get_ydata()) == [25.0, 25.0] for line in ax.lines)
    plt.close(fig)


def test_plot_image_rows():

    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    fig = plots.plot_image_rows({"a": images, "b": images.float()})
    assert len(fig.axes) == 6
    plt.close(fig)
    with pytest.raises(ValueError, match="images"):
        plots.plot_image_rows({"a": images, "b": images[:2]})
