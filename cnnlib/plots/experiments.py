"""Figures of the book's experiments: each arm's mean over seeds with the spread (min to max)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt

from cnnlib.experiments.summary import mean_and_spread
from cnnlib.plots.style import PALETTE, book_style

__all__ = ["plot_experiment"]

_LABELS = {
    "train_error": "training error (%)",
    "test_error": "test error (%)",
    "train_loss": "training loss",
    "test_loss": "test loss",
}


def _draw_arm(ax, curve: dict[str, Any], label: str, color: str, scale: float) -> None:
    mean = [scale * v for v in curve["mean"]]
    ax.plot(curve["epoch"], mean, color=color, label=f"{label} ({curve['seeds']} seeds)")
    low, high = ([scale * v for v in curve[k]] for k in ("min", "max"))
    ax.fill_between(curve["epoch"], low, high, color=color, alpha=0.2, linewidth=0)


def plot_experiment(
    result: dict[str, Any],
    metric: str = "train_error",
    *,
    panels: Sequence[Sequence[str]] | None = None,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    target: float | None = None,
):
    """One line per arm: the mean of ``metric`` over seeds against the epoch, shaded from the
    lowest to the highest seed. ``panels`` groups arms into side-by-side axes sharing one y axis
    (the ResNet paper's figure 6: plain nets left, residual nets right); ``target`` (a fraction)
    draws a dashed level line (AlexNet's figure 1: 25% training error)."""
    curves = mean_and_spread(result, metric)
    panels = [list(p) for p in panels] if panels else [list(curves)]
    unknown = sorted({a for p in panels for a in p} - set(curves))
    if unknown:
        raise ValueError(f"no runs of arm(s) {unknown} in this result; arms: {list(curves)}")
    scale = 100 if metric.endswith("error") else 1
    with book_style():
        fig, axes = plt.subplots(
            1, len(panels), sharey=True, squeeze=False, figsize=(4.0 * len(panels) + 1, 3.8)
        )
        for i, (ax, arms) in enumerate(zip(axes[0], panels, strict=True)):
            for j, arm in enumerate(arms):
                _draw_arm(ax, curves[arm], arm, PALETTE[j % len(PALETTE)], scale)
            if target is not None:
                ax.axhline(scale * target, color="0.4", linestyle="--", linewidth=1, gid="target")
            ax.set_xlabel("epoch")
            ax.legend()
            if titles:
                ax.set_title(titles[i])
        axes[0][0].set_ylabel(_LABELS.get(metric, metric))
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
