"""Looking inside a CNN (the ZFNet chapter): filters, feature maps, reconstructions, occlusion maps,
and rows of images."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle
from matplotlib.ticker import FormatStrFormatter

from cnnlib.interpret import denormalize, filter_grid, gradient_to_image
from cnnlib.plots.style import book_style

__all__ = [
    "plot_feature_maps",
    "plot_filters",
    "plot_image_rows",
    "plot_occlusion",
    "plot_reconstructions",
    "plot_top_patches",
]


def _display_image(image, normalized: bool = True, mean=None, std=None):
    """(H, W, 3) numpy array in [0, 1] from a (C, H, W) tensor, denormalised (ImageNet statistics
    unless ``mean``/``std`` are given) unless ``normalized`` is false."""
    image = image.detach().cpu().float()
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W); got shape {tuple(image.shape)}")
    if normalized:
        stats = {k: v for k, v in (("mean", mean), ("std", std)) if v is not None}
        image = denormalize(image, **stats)
    image = image.clamp(0, 1)
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image.permute(1, 2, 0).numpy()


def _image_axes(ax) -> None:
    """An axis for an image: no ticks, no grid, no spines (labels still show)."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_filters(weights, ncols: int | None = None, ax=None, title: str | None = None):
    """Filters (out, 1 or 3, k, k) as a grid of small images, each rescaled to [0, 1] on its own
    (:func:`cnnlib.interpret.filter_grid`); RGB for 3 channels, grey for 1. Pass ``ax`` to draw
    into an existing axis. Returns the ``Figure``."""
    grid = filter_grid(weights, ncols=ncols)
    n, c, kh, kw = weights.shape
    with book_style():
        if ax is None:
            aspect = grid.shape[2] / grid.shape[1]
            fig, ax = plt.subplots(figsize=(min(9.0, 2.0 + 2.4 * aspect), 2.4 + 0.2))
        else:
            fig = ax.figure
        if c == 3:
            ax.imshow(grid.permute(1, 2, 0).numpy(), interpolation="nearest")
        else:
            ax.imshow(grid[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        _image_axes(ax)
        ax.set_title(title if title is not None else f"{n} filters of {c}x{kh}x{kw}")
    return fig


def plot_feature_maps(maps, n: int = 8, index: int = 0, cmap: str = "viridis"):
    """The ``n`` strongest channels (largest maximum) of each layer's maps for image ``index``.

    ``maps`` is ``{layer: (N, C, H, W)}`` (:func:`cnnlib.interpret.feature_maps`); one row per
    layer, each map on its own colour scale. Returns the ``Figure`` (``len(maps) * n`` axes).
    """
    if not maps:
        raise ValueError("plot_feature_maps: no maps")
    for name, m in maps.items():
        if m.dim() != 4:
            raise ValueError(
                f"plot_feature_maps needs (N, C, H, W) maps; {name!r} is {tuple(m.shape)}"
            )
    with book_style():
        fig, axes = plt.subplots(
            len(maps), n, figsize=(1.25 * n + 0.6, 1.45 * len(maps)), squeeze=False
        )
        for row, (name, m) in zip(axes, maps.items(), strict=True):
            sample = m[index].detach().cpu().float()
            strength = sample.flatten(1).max(dim=1).values
            order = strength.argsort(descending=True)[:n].tolist()
            for k, ax in enumerate(row):
                _image_axes(ax)
                if k < len(order):
                    ax.imshow(sample[order[k]].numpy(), cmap=cmap, interpolation="nearest")
                    ax.set_title(f"ch {order[k]}", fontsize=8)
            row[0].set_ylabel(f"{name}\n{tuple(m.shape[1:])}", fontsize=8)
        fig.tight_layout()
    return fig


def plot_reconstructions(
    images, reconstructions, titles=None, normalized: bool = True, mean=None, std=None
):
    """Input images (N, C, H, W) next to their reconstructions (deconvnet, guided backprop, ...).

    ``reconstructions`` is one tensor shaped like ``images`` or ``{column title: tensor}``, each
    shown with :func:`cnnlib.interpret.gradient_to_image` (grey is zero); ``titles`` labels the
    rows; ``normalized``, ``mean``, ``std`` as in :func:`plot_occlusion`. Returns the ``Figure``.
    """
    if not isinstance(reconstructions, dict):
        reconstructions = {"reconstruction": reconstructions}
    images = images if images.dim() == 4 else images.unsqueeze(0)
    n = images.shape[0]
    with book_style():
        ncols = 1 + len(reconstructions)
        fig, axes = plt.subplots(n, ncols, figsize=(2.2 * ncols, 2.2 * n), squeeze=False)
        for i in range(n):
            axes[i, 0].imshow(_display_image(images[i], normalized, mean, std))
            for j, recon in enumerate(reconstructions.values(), start=1):
                recon = recon if recon.dim() == 4 else recon.unsqueeze(0)
                shown = gradient_to_image(recon[i].detach().cpu())
                axes[i, j].imshow(_display_image(shown, normalized=False))
            for ax in axes[i]:
                _image_axes(ax)
            if titles is not None:
                axes[i, 0].set_ylabel(titles[i])
        for ax, title in zip(axes[0], ["input", *reconstructions], strict=True):
            ax.set_title(title)
        fig.tight_layout()
    return fig


def _heat_extent(heat, h: int, w: int, patch: int | None, stride: int | None):
    """Where the occlusion map lies over an h x w image: each cell centred on its square, or
    stretched over the image without ``patch`` and ``stride``."""
    if (patch is None) != (stride is None):
        raise ValueError("give both patch and stride, or neither")
    if patch is None:
        return (-0.5, w - 0.5, h - 0.5, -0.5)
    centre = (patch - 1) / 2
    rows, cols = heat.shape
    return (
        centre - stride / 2,
        centre + (cols - 1) * stride + stride / 2,
        centre + (rows - 1) * stride + stride / 2,
        centre - stride / 2,
    )


def _tick_format(heat) -> FormatStrFormatter:
    """Enough decimals to tell the colour bar's ticks apart (an untrained model's map can vary by
    1e-6)."""
    span = float(heat.max() - heat.min())
    decimals = 2 if span <= 0 else min(12, max(1, math.ceil(-math.log10(span)) + 1))
    return FormatStrFormatter(f"%.{decimals}f")


def plot_occlusion(
    image,
    heatmap,
    patch: int | None = None,
    stride: int | None = None,
    label: str = "probability of the class",
    title: str | None = None,
    normalized: bool = True,
    mean=None,
    std=None,
    cmap: str = "magma",
):
    """The image (left) and its occlusion-sensitivity map over it (right), with a colour bar.

    ``heatmap`` is (H', W') from :func:`cnnlib.interpret.occlusion_sensitivity`; given its
    ``patch`` and ``stride`` each cell is centred on its square (outlined on the image), else the
    map is stretched over the image. ``image`` is normalised (ImageNet statistics unless
    ``mean``/``std`` are given); ``normalized=False`` for [0, 1]. Returns the ``Figure`` (3 axes).
    """
    shown = _display_image(image, normalized, mean, std)
    h, w = shown.shape[:2]
    heat = heatmap.detach().cpu().float().numpy()
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (H', W'); got shape {heat.shape}")
    extent = _heat_extent(heat, h, w, patch, stride)
    with book_style():
        fig, (ax_img, ax_map) = plt.subplots(1, 2, figsize=(7.6, 3.6))
        ax_img.imshow(shown)
        if patch is not None:
            ax_img.add_patch(
                Rectangle((-0.5, -0.5), patch, patch, fill=False, edgecolor="white", linewidth=1.5)
            )
        ax_map.imshow(shown.mean(axis=2), cmap="gray", vmin=0, vmax=1, alpha=0.5)
        im = ax_map.imshow(heat, cmap=cmap, extent=extent, alpha=0.8, interpolation="nearest")
        ax_map.set_xlim(-0.5, w - 0.5)
        ax_map.set_ylim(h - 0.5, -0.5)
        for ax in (ax_img, ax_map):
            _image_axes(ax)
        ax_img.set_title("input" + (f" (square of {patch} px)" if patch else ""))
        ax_map.set_title("occluded at each position")
        fig.colorbar(
            im, ax=ax_map, label=label, fraction=0.046, pad=0.04, format=_tick_format(heat)
        )
        if title:
            fig.suptitle(title)
    return fig


def plot_image_rows(rows, *, title: str | None = None, size: float = 1.0):
    """A grid of images, one labelled row per entry of ``rows`` (``{label: images}``, each
    (N, 3, H, W) uint8 or float in [0, 1], the same N for every row). Returns the ``Figure``."""
    labels = list(rows)
    if not labels:
        raise ValueError("plot_image_rows: no rows")
    n = len(rows[labels[0]])
    with book_style():
        fig, axes = plt.subplots(
            len(labels), n, figsize=(size * n + 1.2, size * len(labels) + 0.3), squeeze=False
        )
        for r, label in enumerate(labels):
            images = rows[label]
            if len(images) != n:
                raise ValueError(f"row {label!r} has {len(images)} images, the first row {n}")
            for c in range(n):
                img = images[c].detach().cpu()
                img = img.float() / 255 if img.dtype == torch.uint8 else img.float()
                ax = axes[r][c]
                ax.imshow(img.clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
                _image_axes(ax)
            axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        if title:
            fig.suptitle(title)
        fig.tight_layout(pad=0.3)
    return fig


def _mosaic(tiles, side: int, pad: int = 1):
    """(side x side) mosaic, white gaps, of ``tiles`` ((n, H, W, 3) arrays in [0, 1])."""
    h, w = tiles[0].shape[:2]
    out = torch.ones(side * (h + pad) - pad, side * (w + pad) - pad, 3)
    for i, tile in enumerate(tiles[: side * side]):
        r, c = divmod(i, side)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = torch.as_tensor(
            tile
        )
    return out.numpy()


def plot_top_patches(top, mean=None, std=None, title: str | None = None):
    """Zeiler & Fergus's figure 2 from :func:`cnnlib.patches.top_patches`: one row per
    channel, the projections of its top activations (grey is zero) left and the image patches
    under them right, each as a square mosaic (3x3 for the top 9). ``mean``/``std`` undo the
    input normalisation (ImageNet's by default). Returns the ``Figure``."""
    channels, k = top.patches.shape[:2]
    side = math.isqrt(k)
    if side * side != k:
        raise ValueError(f"plot_top_patches needs a square number of patches per unit; got {k}")
    with book_style():
        fig, axes = plt.subplots(channels, 2, figsize=(4.2, 2.1 * channels + 0.4), squeeze=False)
        for row, c in enumerate(top.channels):
            recons = [
                _display_image(gradient_to_image(r), normalized=False)
                for r in top.reconstructions[row]
            ]
            patches = [_display_image(p, True, mean, std) for p in top.patches[row]]
            for ax, tiles, kind in zip(
                axes[row], (recons, patches), ("projection", "patch"), strict=True
            ):
                ax.imshow(_mosaic(tiles, side), interpolation="nearest")
                ax.set_gid(f"{kind}:{c}")
                _image_axes(ax)
            axes[row, 0].set_ylabel(f"unit {c}", fontsize=8)
        axes[0, 0].set_title("projections", fontsize=9)
        axes[0, 1].set_title(f"top {k} patches", fontsize=9)
        fig.suptitle(title or f"{top.layer}: the top {k} of each unit", fontsize=10)
        fig.tight_layout()
    return fig
