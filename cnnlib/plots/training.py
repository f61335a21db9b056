"""Training curves: loss and accuracy per epoch, training error, accuracy by depth, gradient
norms."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt

from cnnlib.plots.style import PALETTE, book_style

__all__ = [
    "plot_error_by_depth",
    "plot_gradient_norms",
    "plot_history",
    "plot_training_error",
]


def _records(h) -> list[dict]:
    """The per-epoch dicts of a history, a ``history.json`` or a run directory."""
    if isinstance(h, (str, Path)):
        path = Path(h)
        path = path / "history.json" if path.is_dir() else path
        return json.loads(path.read_text())
    return list(h)


def _is_single(h) -> bool:
    return isinstance(h, (str, Path)) or (
        isinstance(h, (list, tuple)) and (not h or isinstance(h[0], dict))
    )


def _history_runs(runs) -> dict[str, list[dict]]:
    """``{label: records}`` from one history or several (see :func:`plot_history`)."""
    if isinstance(runs, dict):
        return {str(label): _records(h) for label, h in runs.items()}
    if _is_single(runs):
        label = getattr(runs, "run", {}).get("model") or (
            Path(runs).name if isinstance(runs, (str, Path)) else "run"
        )
        return {label: _records(runs)}
    return {
        getattr(h, "run", {}).get("model") or f"run {i + 1}": _records(h)
        for i, h in enumerate(runs)
    }


def _draw_history(ax_loss, ax_acc, data: dict[str, list[dict]], error: bool) -> None:
    """Dashed training and solid validation curves, one colour per run."""
    for i, (label, recs) in enumerate(data.items()):
        colour = PALETTE[i % len(PALETTE)]
        epochs = [r["epoch"] for r in recs]
        for key, style, part in (("train", "--", "train"), ("val", "-", "test")):
            loss = [r.get(f"{key}_loss") for r in recs]
            acc = [r.get(f"{key}_acc") for r in recs]
            if all(v is None for v in loss):
                continue
            name = f"{label} ({part})" if len(data) > 1 else part
            ax_loss.plot(epochs, loss, style, color=colour, label=name, marker=".")
            values = [None if a is None else 100 * (1 - a if error else a) for a in acc]
            ax_acc.plot(epochs, values, style, color=colour, label=name, marker=".")


def plot_history(
    runs, *, error: bool = False, title: str | None = None, axes=None, log_loss: bool = False
):
    """Loss (left) and accuracy or error (right) per epoch of one or several training runs.

    ``runs``: a :class:`cnnlib.train.History` (or list of per-epoch dicts), a path to a
    ``history.json`` or a run directory, or several as a list or a dict ``{label: history}``.
    Training curves dashed, validation solid. ``error=True`` plots error (%) instead of accuracy;
    ``log_loss=True`` a log-scale loss. Returns the ``Figure``.
    """
    data = _history_runs(runs)
    if not data or not any(data.values()):
        raise ValueError("plot_history: no epochs to plot")
    with book_style():
        if axes is None:
            fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9.0, 3.6))
        else:
            ax_loss, ax_acc = axes
            fig = ax_loss.figure
        _draw_history(ax_loss, ax_acc, data, error)
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("cross-entropy loss (log)" if log_loss else "cross-entropy loss")
        if log_loss:
            ax_loss.set_yscale("log")
        ax_acc.set_xlabel("epoch")
        ax_acc.set_ylabel("top-1 error (%)" if error else "top-1 accuracy (%)")
        for ax in (ax_loss, ax_acc):
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax_acc.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_training_error(runs, *, target: float | None = None, title: str | None = None, ax=None):
    """Training error (%) per epoch of several runs (``{label: history}``), as in figure 1 of the
    AlexNet paper; ``target`` (a fraction, e.g. 0.25) draws a dashed horizontal line. Returns the
    ``Figure``."""
    data = _history_runs(runs)
    if not data or not any(data.values()):
        raise ValueError("plot_training_error: no epochs to plot")
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.0, 3.6))
        else:
            fig = ax.figure
        for i, (label, recs) in enumerate(data.items()):
            epochs = [r["epoch"] for r in recs]
            err = [100 * (1 - r["train_acc"]) for r in recs]
            ax.plot(epochs, err, "-", marker=".", color=PALETTE[i % len(PALETTE)], label=label)
        if target is not None:
            ax.axhline(100 * target, color="0.4", linestyle="--", linewidth=1)
            ax.annotate(f"{100 * target:g}% training error", (1, 100 * target), fontsize=8,
                        xytext=(0, 3), textcoords="offset points", color="0.3")  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylabel("training error (%)")
        ax.set_ylim(bottom=0)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def _runs_by_depth(ax, runs) -> None:
    """Train and test error against depth, the mean over seeds with the lowest-to-highest seed as
    an error bar where given, each test point labelled."""
    labels = list(runs)
    depths = [runs[k]["depth"] for k in labels]
    for key, style, name in (("train_error", "--", "train"), ("test_error", "-", "test")):
        values = [runs[k].get(key) for k in labels]
        if all(v is None for v in values):
            continue
        spread = [runs[k].get(f"{key}_range") for k in labels]
        yerr = None
        if all(r is not None for r in spread):
            yerr = [[v - lo for v, (lo, _) in zip(values, spread, strict=True)],
                    [hi - v for v, (_, hi) in zip(values, spread, strict=True)]]  # fmt: skip
        ax.errorbar(depths, values, yerr=yerr, fmt=style, marker="o", capsize=3, label=name)
    for label, d in zip(labels, depths, strict=True):
        ax.annotate(label, (d, runs[label]["test_error"]), xytext=(6, 4),
                    textcoords="offset points", fontsize=8)  # fmt: skip
    ax.set_xlabel("weight layers")
    ax.set_ylabel("top-1 error (%)")
    ax.set_title("this book's runs (CIFAR-10)", fontsize=10)
    ax.margins(x=0.15, y=0.2)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _paper_by_depth(ax, paper) -> None:
    """The paper's error against depth, each point labelled."""
    labels = list(paper)
    ax.plot([paper[k][0] for k in labels], [paper[k][1] for k in labels], "o", color=PALETTE[3])
    for k in labels:
        ax.annotate(k, paper[k], xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_xlabel("weight layers")
    ax.set_ylabel("top-1 error (%)")
    ax.set_title("the paper (ImageNet validation)", fontsize=10)
    ax.margins(x=0.15, y=0.2)


def plot_error_by_depth(runs, paper=None, *, title: str | None = None):
    """Top-1 error against depth (weight layers) of trained runs, and the paper's beside it, in
    the same metric.

    ``runs`` is ``{label: {"depth": int, "test_error": %, "train_error": % (optional),
    "test_error_range": (lowest, highest) over seeds (optional), "train_error_range": ...}}``;
    ``paper`` (optional) ``{label: (depth, top-1 error in %)}``, drawn in a second panel.
    Returns the ``Figure``.
    """
    if not runs:
        raise ValueError("plot_error_by_depth: no runs")
    with book_style():
        ncols = 2 if paper else 1
        fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.6), squeeze=False)
        _runs_by_depth(axes[0][0], runs)
        if paper:
            _paper_by_depth(axes[0][1], paper)
        for a in axes[0]:
            a.xaxis.get_major_locator().set_params(integer=True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_gradient_norms(
    runs,
    *,
    title: str | None = None,
    ax=None,
    ylabel: str | None = None,
    xlabel: str | None = None,
    names: bool = False,
    marks: dict[str, str] | None = None,
):
    """The gradient norm of every weight layer, input to output, on a log scale, for one or
    several measurements: ``runs`` is ``{label: {layer: norm}}`` as
    :func:`cnnlib.analysis.gradient_norms` returns; ``ylabel``/``xlabel`` replace the axis
    labels. ``names`` puts the layer names under the axis (for a few layers or blocks);
    ``marks`` (``{layer: text}``) draws a dashed line at those layers (where GoogLeNet's heads
    attach, say). Zeros cannot be drawn on a log scale and are left out, not dropped to the
    axis. Returns the ``Figure``."""
    if not runs or not any(runs.values()):
        raise ValueError("plot_gradient_norms: no gradient norms")
    layers = list(next(iter(runs.values())))
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.0, 3.6))
        else:
            fig = ax.figure
        for i, (label, norms) in enumerate(runs.items()):
            values = [v if v > 0 else float("nan") for v in norms.values()]
            ax.plot(range(1, len(values) + 1), values, "-", marker=".", markersize=4,
                    color=PALETTE[i % len(PALETTE)], label=label)  # fmt: skip
        for layer, text in (marks or {}).items():
            x = layers.index(layer) + 1
            ax.axvline(x, color="0.5", linestyle="--", linewidth=1)
            ax.annotate(text, (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -10),
                        textcoords="offset points", fontsize=8, color="0.3")  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel(xlabel or "weight layer, input to output")
        ax.set_ylabel(ylabel or "gradient norm ||dL/dW|| (log)")
        if names:
            ax.set_xticks(range(1, len(layers) + 1), layers, rotation=45, ha="right", fontsize=8)
        else:
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig
