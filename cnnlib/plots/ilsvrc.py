"""Chapter 1's figures: the ILSVRC winners by year, and top-5 error against depth."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

from cnnlib import ilsvrc
from cnnlib.plots.style import PALETTE, book_style

__all__ = ["plot_depth_vs_error", "plot_ilsvrc_winners"]


def _defaults(results, human_error):
    results = ilsvrc.RESULTS if results is None else results
    human_error = ilsvrc.HUMAN_TOP5_ERROR if human_error is None else human_error
    return results, human_error


def _winner_bars(ax, entries) -> None:
    """A bar per entry, coloured by kind, hatched for runner-ups, labelled with error and depth."""
    colours = [
        "#999999" if r.shallow else (PALETTE[1] if r.year == 2012 else PALETTE[0]) for r in entries
    ]
    bars = ax.bar(range(len(entries)), [r.top5_error for r in entries], color=colours, width=0.7,
                  zorder=2)  # fmt: skip
    for bar, r in zip(bars, entries, strict=True):
        if r.place != 1:
            bar.set_hatch("//")
            bar.set_alpha(0.6)
        ax.annotate(
            f"{r.top5_error:g}%\n{ilsvrc.depth_label(r)}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            zorder=4,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
        )
    labels = [f"{r.year}\n{_entry_label(r)}" + ("\n(2nd)" if r.place != 1 else "") for r in entries]
    ax.set_xticks(list(range(len(entries))), labels, fontsize=8)


def _entry_label(r) -> str:
    """The team, with its network below where they differ ("Clarifai / (ZFNet)")."""
    team = r.team.replace("-", "-\n") if len(r.team) > 10 else r.team
    return team if r.label == r.team else f"{team}\n({r.label})"


def _winner_legend(ax, human_error: float) -> None:
    ax.axhline(human_error, color=PALETTE[3], linestyle="--", linewidth=1.2, zorder=3)
    handles = [
        Patch(color="#999999", label="hand-crafted features + SVM"),
        Patch(color=PALETTE[1], label="2012: the first deep CNN (AlexNet)"),
        Patch(color=PALETTE[0], label="deep CNN"),
        Patch(facecolor=PALETTE[0], alpha=0.6, hatch="//", label="runner-up"),
        mpl.lines.Line2D([], [], color=PALETTE[3], ls="--", label=f"human ({human_error:g}%)"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8)


def _mark_first_deep(ax, entries) -> None:
    """A dotted line before the first deep CNN, with the drop in error it brought."""
    first_deep = next((i for i, r in enumerate(entries) if not r.shallow), None)
    if first_deep is None or first_deep == 0:
        return
    ax.axvline(first_deep - 0.5, color="#555555", linewidth=1, linestyle=":", zorder=1)
    before, after = entries[first_deep - 1], entries[first_deep]
    ax.annotate(
        f"{after.year}: the first deep CNN wins\n"
        f"{before.top5_error:g}% \u2192 {after.top5_error:g}%",
        xy=(first_deep - 0.5, after.top5_error + 8),
        xytext=(8, 0),
        textcoords="offset points",
        fontsize=8,
        color="#333333",
        va="center",
    )


def plot_ilsvrc_winners(results=None, human_error=None, ax=None):
    """Top-5 error of the ILSVRC classification entries by year, as bars annotated with depth.

    ``results`` defaults to :data:`cnnlib.ilsvrc.RESULTS`, ``human_error`` to
    :data:`cnnlib.ilsvrc.HUMAN_TOP5_ERROR`. Hand-crafted entries are grey, deep networks blue,
    runner-ups hatched; the first deep CNN is marked. Returns the ``Figure``.
    """
    results, human_error = _defaults(results, human_error)
    # one bar per entry, in time order; within a year the higher error first (a falling staircase)
    entries = sorted(results, key=lambda r: (r.year, -r.top5_error))
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(8.0, 4.6))
        else:
            fig = ax.figure
        _winner_bars(ax, entries)
        _winner_legend(ax, human_error)
        _mark_first_deep(ax, entries)
        ax.set_ylabel("top-5 error on the ILSVRC test set (%)")
        ax.set_ylim(0, max(r.top5_error for r in entries) * 1.22)
        ax.grid(axis="x", visible=False)
        ax.set_title("ILSVRC image classification: winners by year (bars) and network depth")
    return fig


def _depth_axis(ax, points) -> None:
    """A log depth axis with power-of-two ticks around the depths of ``points``."""
    ax.set_xscale("log")
    depths = [r.depth for r in points] or [8, 152]
    ticks = [2**k for k in range(2, 10) if min(depths) / 2 <= 2**k <= max(depths) * 2]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(min(depths) / 1.4, max(depths) * 2.2)


def plot_depth_vs_error(results=None, human_error=None, ax=None):
    """Top-5 error against depth (weight layers, log scale) of the entries of known depth.

    Entries without a single depth (hand-crafted systems, ensembles of different networks) are
    left out; defaults as in :func:`plot_ilsvrc_winners`. Returns the ``Figure``.
    """
    results, human_error = _defaults(results, human_error)
    points = sorted((r for r in results if r.depth is not None), key=lambda r: (r.depth, r.year))
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.0, 4.0))
        else:
            fig = ax.figure
        for r in points:
            ax.scatter(r.depth, r.top5_error, s=45, color=PALETTE[0] if r.place == 1 else "white",
                       edgecolor=PALETTE[0], zorder=3)  # fmt: skip
            ax.annotate(f"{r.label} ({r.year}, {r.depth})", (r.depth, r.top5_error),
                        xytext=(6, 4), textcoords="offset points", fontsize=8)  # fmt: skip
        ax.axhline(human_error, color=PALETTE[3], linestyle="--", linewidth=1.2)
        ax.text(points[0].depth if points else 1, human_error - 0.4, f"human: {human_error:g}%",
                color=PALETTE[3], va="top", fontsize=8)  # fmt: skip
        _depth_axis(ax, points)
        ax.set_ylim(0, max((r.top5_error for r in points), default=10) * 1.15)
        ax.set_xlabel("depth (weight layers, log scale)")
        ax.set_ylabel("top-5 error (%)")
        ax.set_title("Top-5 error against depth (ILSVRC ensembles of one architecture)")
    return fig
