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


_STYLES = ("-", "--", "-.", ":")


def _draw_seeds(ax, result: dict, arm: str, metric: str, j: int, scale: float) -> None:
    """Every seed of ``arm`` as its own line (one colour and line style per arm, so that arms
    lying on top of each other, at chance for example, stay visible)."""
    runs = sorted((r for r in result["runs"] if r["arm"] == arm), key=lambda r: r["seed"])
    for k, r in enumerate(runs):
        ax.plot([h["epoch"] for h in r["history"]], [scale * h[metric] for h in r["history"]],
                color=PALETTE[j % len(PALETTE)], linestyle=_STYLES[j % len(_STYLES)], lw=1.2,
                label=f"{arm} ({len(runs)} seeds)" if k == 0 else None)  # fmt: skip


def plot_experiment(
    result: dict[str, Any],
    metric: str | Sequence[str] = "train_error",
    *,
    panels: Sequence[Sequence[str]] | None = None,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    target: float | None = None,
    per_seed: bool = False,
):
    """One line per arm: the mean of ``metric`` over seeds against the epoch, shaded from the
    lowest to the highest seed; ``per_seed=True``: one line per seed instead (where seeds of one
    arm split, some training and some stalled, a mean describes none of them). ``panels``
    groups arms into side-by-side axes sharing one y axis (the ResNet paper's figure 6: plain
    nets left, residual nets right); several metrics (for example ``("train_error",
    "test_error")``) give one panel each, every arm in each. ``target`` (a fraction) draws a
    dashed level line (AlexNet's figure 1: 25% training error). Panels of one unit share the y
    axis; a loss beside an error gets its own. Where every panel shows the same arms, one legend
    sits under the panels, off the data."""
    metrics = [metric] if isinstance(metric, str) else list(metric)
    curves = {m: mean_and_spread(result, m) for m in metrics}
    arms = list(curves[metrics[0]])
    if len(metrics) > 1 and panels:
        raise ValueError("give several metrics or panels of arms, not both")
    panels = [list(p) for p in panels] if panels else [arms] * len(metrics)
    unknown = sorted({a for p in panels for a in p} - set(arms))
    if unknown:
        raise ValueError(f"no runs of arm(s) {unknown} in this result; arms: {arms}")
    panel_metrics = metrics if len(metrics) > 1 else metrics * len(panels)
    titles = titles or ([_LABELS.get(m, m) for m in metrics] if len(metrics) > 1 else None)
    same_unit = len({m.endswith("error") for m in panel_metrics}) == 1
    shared_legend = all(p == panels[0] for p in panels) and len(panels) > 1
    with book_style():
        fig, axes = plt.subplots(
            1, len(panels), sharey=same_unit, squeeze=False, figsize=(4.0 * len(panels) + 1, 3.8)
        )
        for i, (ax, names, m) in enumerate(zip(axes[0], panels, panel_metrics, strict=True)):
            scale = 100 if m.endswith("error") else 1
            for j, arm in enumerate(names):
                if per_seed:
                    _draw_seeds(ax, result, arm, m, j, scale)
                else:
                    _draw_arm(ax, curves[m][arm], arm, PALETTE[j % len(PALETTE)], scale)
            if target is not None:
                ax.axhline(scale * target, color="0.4", linestyle="--", linewidth=1, gid="target")
            ax.set_xlabel("epoch")
            if not shared_legend:
                ax.legend()
            if titles:
                ax.set_title(titles[i])
            if not same_unit:  # a loss beside an error: each panel its own axis and label
                ax.set_ylabel(_LABELS.get(m, m))
        if same_unit:
            ylabel = _LABELS.get(metrics[0], metrics[0]) if len(metrics) == 1 else "error (%)"
            if not metrics[0].endswith("error") and len(metrics) > 1:
                ylabel = "loss"
            axes[0][0].set_ylabel(ylabel)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        # the same arms in every panel: one legend, under the panels, off the data
        if shared_legend:
            handles, labels = axes[0][0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4),
                       bbox_to_anchor=(0.5, 0.0), frameon=False)  # fmt: skip
            rows = -(-len(labels) // 4)
            fig.subplots_adjust(bottom=0.14 + 0.07 * rows)
    return fig
