"""plot_history on cnnlib.train's History and history.json files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=True)
import pytest  # noqa: E402

from cnnlib.train import History  # noqa: E402


def test_plot_history_one_run_and_a_comparison(tmp_path):
    from cnnlib.plots import plot_history

    rows = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.2 * e, "val_loss": 2.2 / e,
             "val_acc": 0.18 * e, "lr": 0.1, "seconds": 1.0, "images_per_s": 100.0}
            for e in (1, 2, 3)]  # fmt: skip
    History(rows).save(tmp_path / "history.json")
    fig = plot_history(tmp_path / "history.json")
    loss_ax, acc_ax = fig.axes[:2]
    assert len(loss_ax.lines) == 2 and list(acc_ax.lines[1].get_ydata()) == pytest.approx(
        [18, 36, 54]
    )
    fig = plot_history({"plain-20": rows, "resnet-20": tmp_path}, error=True)
    labels = [line.get_label() for line in fig.axes[1].lines]
    assert labels == [
        "plain-20 (train)",
        "plain-20 (test)",
        "resnet-20 (train)",
        "resnet-20 (test)",
    ]
    assert fig.axes[1].lines[1].get_ydata()[0] == pytest.approx(82)
    assert fig.axes[1].get_ylabel() == "top-1 error (%)"
    assert fig.axes[0].get_yscale() == "linear"
    fig = plot_history(rows, log_loss=True)
    assert fig.axes[0].get_yscale() == "log" and "(log)" in fig.axes[0].get_ylabel()
