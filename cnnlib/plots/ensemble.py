"""Figures of the ensemble view (Veit et al. 2016) from a stored ``lesion`` result, and of
shattered gradients (Balduzzi et al. 2017)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt

from cnnlib.plots.style import PALETTE, book_style

__all__ = [
    "effective_path_range",
    "plot_deletions",
    "plot_line_gradients",
    "plot_path_gradients",
    "plot_single_deletions",
]


def _runs(result: dict[str, Any]) -> list[dict[str, Any]]:
    runs = result.get("runs", [])
    if not runs or "deletions" not in runs[0]:
        raise ValueError("expected a stored lesion result (cnnlib.experiments 'lesion') with runs")
    return runs


def _curve(runs, key: str) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per k: the mean over seeds of each seed's mean error, and the lowest and highest seed."""
    ks = sorted(int(k) for k in runs[0][key])
    per_seed = [[100 * sum(r[key][str(k)]) / len(r[key][str(k)]) for r in runs] for k in ks]
    return (
        ks,
        [sum(v) / len(v) for v in per_seed],
        [min(v) for v in per_seed],
        [max(v) for v in per_seed],
    )


def plot_deletions(result: dict[str, Any], *, title: str | None = None):
    """Veit et al.'s figure 5: test error against the number of blocks deleted (left) and of
    block pairs swapped (right); the line is the mean over seeds of each seed's mean over its
    random draws, the band the lowest to the highest seed. Returns the ``Figure``."""
    runs = _runs(result)
    with book_style():
        fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), sharey=True)
        for ax, key, xlabel in zip(
            axes,
            ("deletions", "reorderings"),
            ("shape-keeping blocks deleted", "random swaps of two blocks of a stage"),
            strict=True,
        ):
            ks, mean, low, high = _curve(runs, key)
            ax.plot(ks, mean, "o-", color=PALETTE[0], label=f"mean of {len(runs)} seeds")
            ax.fill_between(ks, low, high, color=PALETTE[0], alpha=0.2, linewidth=0)
            ax.axhline(mean[0], color="0.3", ls="--", lw=1, label="intact")
            ax.axhline(90, color="0.5", ls=":", lw=1, label="chance")
            ax.set_xlabel(xlabel)
            ax.xaxis.get_major_locator().set_params(integer=True)
        axes[0].set_ylabel("test error (%)")
        axes[0].legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_single_deletions(result: dict[str, Any], *, title: str | None = None):
    """Test error with one block deleted, block by block (Veit et al.'s figure 3), the blocks
    that downsample hatched, the intact network dashed. Returns the ``Figure``."""
    rows = _runs(result)[0]["single"]
    intact = 100 * _runs(result)[0]["final"]["test_error"]
    with book_style():
        fig, ax = plt.subplots(figsize=(7.0, 3.4))
        bars = ax.bar(range(len(rows)), [100 * r["test_error"] for r in rows], color=PALETTE[0])
        for bar, r in zip(bars, rows, strict=True):
            if r["downsampling"]:
                bar.set_hatch("//")
                bar.set_facecolor(PALETTE[1])
        ax.axhline(intact, color="0.2", ls="--", lw=1, label="nothing deleted")
        ax.set_xticks(range(len(rows)), [r["block"] for r in rows], rotation=45, fontsize=8)
        ax.set_ylabel("test error (%)")
        ax.set_ylim(0, 1.15 * max(100 * r["test_error"] for r in rows))
        ax.legend(handles=[*ax.get_legend_handles_labels()[0],
                           mpl.patches.Patch(facecolor=PALETTE[1], hatch="//",
                                             label="downsampling block")], fontsize=8)  # fmt: skip
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def effective_path_range(counts, gradients, share: float = 0.9) -> tuple[int, int]:
    """The shortest range of path lengths ``[lo, hi]`` that carries ``share`` of the total
    gradient ``counts[k] * gradients[k]`` (Veit et al.'s "effective paths")."""
    total = [c * g for c, g in zip(counts, gradients, strict=True)]
    ranges = [(lo, hi) for lo in range(len(total)) for hi in range(lo, len(total))
              if sum(total[lo : hi + 1]) >= share * sum(total)]  # fmt: skip
    # the narrowest; among equally narrow ones, the one that carries the most
    return min(ranges, key=lambda r: (r[1] - r[0], -sum(total[r[0] : r[1] + 1])))


def plot_path_gradients(result: dict[str, Any], *, share: float = 0.9, title: str | None = None):
    """Veit et al.'s figure 6: left, the gradient norm a single path of length ``k`` carries
    (mean over seeds, log scale); right, the total gradient of all paths of that length
    (``C(n, k)`` times it, as a share), the effective range that carries ``share`` of it shaded.
    Returns the ``Figure``."""
    runs = _runs(result)
    ks = sorted(int(k) for k in runs[0]["path_gradients"])
    mean = [sum(r["path_gradients"][str(k)] for r in runs) / len(runs) for k in ks]
    counts = [math.comb(ks[-1], k) for k in ks]
    total = [c * g for c, g in zip(counts, mean, strict=True)]
    lo, hi = effective_path_range(counts, mean, share)
    with book_style():
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.4))
        ax1.plot(ks, mean, "o-", color=PALETTE[0])
        ax1.set_yscale("log")
        ax1.set_ylabel("gradient norm of one path")
        ax2.bar(ks, [100 * t / sum(total) for t in total], color=PALETTE[0], width=0.8)
        ax2.axvspan(lo - 0.5, hi + 0.5, color=PALETTE[1], alpha=0.2,
                    label=f"{share:.0%} of the gradient: lengths {lo}-{hi}")  # fmt: skip
        ax2.set_ylabel("share of the total gradient (%)")
        ax2.legend(fontsize=8)
        for ax in (ax1, ax2):
            ax.set_xlabel("path length (residual branches passed through)")
            ax.xaxis.get_major_locator().set_params(integer=True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_line_gradients(lines, autocorrelations, *, title: str | None = None):
    """Balduzzi et al.'s probe: left, the derivative along a line of inputs for each network
    (``lines``: ``{label: values}``, each scaled to unit maximum and offset for reading); right,
    its autocorrelation against the lag (``autocorrelations``: ``{label: values}``). Labels with
    "plain" are dashed. Returns the ``Figure``."""
    if not lines or set(lines) != set(autocorrelations):
        raise ValueError("plot_line_gradients: the same non-empty labels in both dicts")
    with book_style():
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.0, 3.8))
        for i, label in enumerate(lines):
            colour, style = PALETTE[i % len(PALETTE)], "--" if "plain" in label else "-"
            g = [float(v) for v in lines[label]]
            peak = max(abs(v) for v in g) or 1.0
            t = [-1 + 2 * j / (len(g) - 1) for j in range(len(g))]
            ax1.plot(t, [v / peak - 2.2 * i for v in g], color=colour, lw=0.8, label=label)
            ac = [float(v) for v in autocorrelations[label]]
            ax2.plot(range(len(ac)), ac, style, marker=".", color=colour, label=label)
        ax1.set_yticks([])
        ax1.set_xlabel("position t on the line x0 + t d")
        ax1.set_ylabel("derivative (each scaled, offset)")
        ax2.axhline(0, color="0.5", lw=0.8)
        ax2.set_xlabel("lag (points on the line)")
        ax2.set_ylabel("autocorrelation")
        ax2.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
