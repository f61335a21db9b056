"""Residual-network figures: layer responses (the ResNet paper's figure 7), Jacobian spectra, path
lengths, lesion studies."""

from __future__ import annotations

import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch

from cnnlib.plots.style import PALETTE, book_style

__all__ = ["plot_layer_responses", "plot_lesion", "plot_path_lengths", "plot_spectrum"]


def plot_layer_responses(
    runs, *, title: str | None = None, log: bool = False, sorted_panel: bool = True
):
    """The ResNet paper's figure 7: the standard deviation of each layer's response, in network
    order (left) and sorted in descending order (right), for several networks. ``runs`` is
    ``{label: {layer: std}}`` as :func:`cnnlib.analysis.response_stds` returns; labels with
    "plain" are dashed. ``log=True``: a log-scale y axis (a signal that fades by orders of
    magnitude, VGG's random start); ``sorted_panel=False``: the network-order panel only.
    Returns the ``Figure``."""
    if not runs or not any(runs.values()):
        raise ValueError("plot_layer_responses: no layer responses")
    with book_style():
        if sorted_panel:
            fig, (ax_order, ax_sorted) = plt.subplots(1, 2, figsize=(9.0, 3.4), sharey=True)
        else:
            fig, ax_order = plt.subplots(figsize=(6.0, 3.6))
        axes = (ax_order, ax_sorted) if sorted_panel else (ax_order,)
        for i, (label, stds) in enumerate(runs.items()):
            values = list(stds.values())
            colour = PALETTE[i % len(PALETTE)]
            style = "--" if "plain" in label.lower() else "-"
            x = range(1, len(values) + 1)
            ax_order.plot(x, values, style, color=colour, label=label, lw=1.2, marker=".")
            if sorted_panel:
                ax_sorted.plot(x, sorted(values, reverse=True), style, color=colour, label=label,
                               lw=1.2)  # fmt: skip
        ax_order.set_xlabel("layer index (original order)")
        ax_order.set_ylabel("std of the response")
        if sorted_panel:
            ax_sorted.set_xlabel("layer index (sorted by magnitude)")
        for ax in axes:
            ax.xaxis.get_major_locator().set_params(integer=True)
            if log:
                ax.set_yscale("log")
        axes[-1].legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_spectrum(eigenvalues, singular_values, *, title: str | None = None):
    """Left: the eigenvalues of a Jacobian in the complex plane, with the unit circle; right: its
    singular values, largest first, with the line 1 (below it a direction is shrunk). Returns the
    ``Figure``."""
    eig = eigenvalues.detach().cpu()
    sv = singular_values.detach().cpu()
    if eig.numel() == 0 or sv.numel() == 0:
        raise ValueError("plot_spectrum: empty spectrum")
    with book_style():
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.6))
        t = torch.linspace(0, 2 * math.pi, 200)
        ax1.plot(t.cos(), t.sin(), color="0.6", lw=0.8, label="unit circle")
        ax1.scatter(eig.real, eig.imag, s=6, color=PALETTE[0], label="eigenvalues")
        ax1.axvline(0, color="0.4", lw=0.6)
        ax1.set_xlabel("real part")
        ax1.set_ylabel("imaginary part")
        ax1.set_aspect("equal", adjustable="datalim")
        ax1.legend(fontsize=8, loc="upper left")
        ax2.plot(range(1, len(sv) + 1), sv, color=PALETTE[1])
        ax2.axhline(1.0, color="0.4", lw=0.8, ls="--")
        ax2.set_yscale("log")
        ax2.set_xlabel("index (largest first)")
        ax2.set_ylabel("singular value (log)")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_path_lengths(counts, *, shade=None, title: str | None = None, ax=None):
    """The distribution of path lengths of an unrolled residual network: ``counts[k]`` paths pass
    through ``k`` residual branches (:func:`cnnlib.residual.path_length_distribution`), drawn as
    the fraction of all paths; ``shade`` ``(lo, hi, label)`` marks a range of lengths (Veit et
    al.'s effective paths). Returns the ``Figure``."""
    counts = [int(c) for c in counts]
    total = sum(counts)
    if total <= 0:
        raise ValueError("plot_path_lengths: counts must hold at least one path")
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.0, 3.2))
        else:
            fig = ax.figure
        ax.bar(range(len(counts)), [c / total for c in counts], color=PALETTE[0], width=0.8)
        if shade:
            lo, hi, label = shade
            ax.axvspan(lo - 0.5, hi + 0.5, color=PALETTE[1], alpha=0.25, label=label)
            ax.legend(fontsize=8)
        ax.set_xlabel("path length (residual branches passed through)")
        ax.set_ylabel("fraction of paths")
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def _lesion_panel(ax, i: int, label: str, rows, chance: float | None) -> None:
    """One study's bars (downsampling units hatched), the intact line and the chance line."""
    intact, lesions = rows[0], rows[1:]
    bars = ax.bar(range(len(lesions)), [r["acc"] for r in lesions], color=PALETTE[i % len(PALETTE)])
    for bar, r in zip(bars, lesions, strict=True):
        if r.get("downsampling"):
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    ax.axhline(intact["acc"], color="0.2", ls="--", lw=1, label="nothing deleted")
    if chance is not None:
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(lesions)))
    ax.set_xticklabels([r["removed"] for r in lesions], rotation=90, fontsize=7)
    ax.set_title(label, fontsize=10)
    ax.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))


def plot_lesion(studies, *, chance: float | None = None, title: str | None = None):
    """Test accuracy after deleting one unit at a time, one panel per study: ``studies`` is
    ``{label: rows}`` with the rows of :func:`cnnlib.residual.lesion_study` (the first row is the
    intact model, drawn as a dashed line; downsampling units are hatched). Returns the
    ``Figure``."""
    if not studies or not all(len(rows) > 1 for rows in studies.values()):
        raise ValueError("plot_lesion: every study needs the intact row and at least one lesion")
    with book_style():
        widths = [len(rows) - 1 for rows in studies.values()]
        size = (min(12.0, 2.0 + 0.42 * sum(widths)), 3.8)
        fig, axes = plt.subplots(1, len(studies), figsize=size, sharey=True, squeeze=False,
                                 gridspec_kw={"width_ratios": widths})  # fmt: skip
        for i, (ax, (label, rows)) in enumerate(zip(axes[0], studies.items(), strict=True)):
            _lesion_panel(ax, i, label, rows, chance)
        axes[0][0].set_ylabel("test accuracy")
        axes[0][-1].legend(fontsize=8, loc="upper right", framealpha=0.9, frameon=True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
