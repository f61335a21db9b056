"""Every plot the book draws, in one style.

Functions return the matplotlib ``Figure`` they draw (and never call ``plt.show()``), so a test can
inspect them; in a notebook assign the result (``fig = plot_...()``) and the inline backend shows
the figure once, as a PNG. Every function draws inside :func:`book_style`; :func:`use_style` makes
the same style global for your own plots.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch

# The book's palette (colour-blind safe, from Okabe & Ito), used in this order by every plot.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "legend.frameon": False,
    "svg.hashsalt": "cnnlib",
}


def use_style() -> None:
    """Apply the book's matplotlib style globally (idempotent)."""
    mpl.rcParams.update(STYLE)


@contextmanager
def book_style():
    """Draw the figures made inside in the book's style: ``with book_style(): fig, ax = ...``.

    Use it instead of a bare ``matplotlib.rc_context(STYLE)``: a notebook's inline backend loads
    on the first figure and turns interactive mode on, and a bare ``rc_context`` would undo that on
    exit, so later figures would not be shown.
    """
    with mpl.rc_context(STYLE):
        yield
        interactive = mpl.is_interactive()
    mpl.interactive(interactive)


# --- Chapter 1: the ILSVRC winners -------------------------------------------------------------


def _ilsvrc_defaults(results, human_error):
    from cnnlib import history

    results = history.RESULTS if results is None else results
    human_error = history.HUMAN_TOP5_ERROR if human_error is None else human_error
    return results, human_error


def plot_ilsvrc_winners(results=None, human_error=None, ax=None):
    """Top-5 error of the ILSVRC classification entries by year, as bars annotated with depth.

    ``results`` defaults to :data:`cnnlib.history.RESULTS` (winners and the 2014 runner-up, VGG);
    ``human_error`` to :data:`cnnlib.history.HUMAN_TOP5_ERROR`. Shallow (hand-crafted feature)
    entries are grey, deep networks blue, runner-ups hatched; the 2012 turning point is marked.
    Returns the ``Figure``.
    """
    from cnnlib.history import depth_label

    results, human_error = _ilsvrc_defaults(results, human_error)
    # one bar per entry, in time order; within a year the higher error first (a falling staircase)
    entries = sorted(results, key=lambda r: (r.year, -r.top5_error))
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(8.0, 4.6))
        else:
            fig = ax.figure
        xs = range(len(entries))
        colours = [
            "#999999" if r.shallow else (PALETTE[1] if r.year == 2012 else PALETTE[0])
            for r in entries
        ]
        bars = ax.bar(xs, [r.top5_error for r in entries], color=colours, width=0.7, zorder=2)
        for bar, r in zip(bars, entries, strict=True):
            if r.place != 1:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
            ax.annotate(
                f"{r.top5_error:g}%\n{depth_label(r)}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
                zorder=4,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
            )
        labels = [
            f"{r.year}\n{r.label.replace('-', '-' + chr(10)) if len(r.label) > 10 else r.label}"
            + ("\n(2nd)" if r.place != 1 else "")
            for r in entries
        ]
        ax.set_xticks(list(xs), labels, fontsize=8)
        ax.axhline(human_error, color=PALETTE[3], linestyle="--", linewidth=1.2, zorder=3)
        from matplotlib.patches import Patch

        handles = [
            Patch(color="#999999", label="hand-crafted features + SVM"),
            Patch(color=PALETTE[0], label="deep CNN"),
            Patch(facecolor=PALETTE[0], alpha=0.6, hatch="//", label="runner-up"),
            mpl.lines.Line2D([], [], color=PALETTE[3], ls="--", label=f"human ({human_error:g}%)"),
        ]
        ax.legend(handles=handles, loc="upper right", fontsize=8)
        # the turning point: the first deep CNN
        first_deep = next((i for i, r in enumerate(entries) if not r.shallow), None)
        if first_deep is not None and first_deep > 0:
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
        ax.set_ylabel("top-5 error on the ILSVRC test set (%)")
        ax.set_ylim(0, max(r.top5_error for r in entries) * 1.22)
        ax.grid(axis="x", visible=False)
        ax.set_title("ILSVRC image classification: winners by year (bars) and network depth")
    return fig


def plot_depth_vs_error(results=None, human_error=None, ax=None):
    """Top-5 error against network depth (weight layers, log scale) for entries of known depth.

    Entries without a single depth (the shallow 2010/2011 systems and the 2016/2017 ensembles of
    different networks) are left out. Returns the ``Figure``.
    """
    results, human_error = _ilsvrc_defaults(results, human_error)
    points = sorted((r for r in results if r.depth is not None), key=lambda r: (r.depth, r.year))
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(6.0, 4.0))
        else:
            fig = ax.figure
        for r in points:
            ax.scatter(
                r.depth,
                r.top5_error,
                s=45,
                color=PALETTE[0] if r.place == 1 else "white",
                edgecolor=PALETTE[0],
                zorder=3,
            )
            ax.annotate(
                f"{r.label} ({r.year}, {r.depth})",
                (r.depth, r.top5_error),
                xytext=(6, 4),
                textcoords="offset points",
                fontsize=8,
            )
        ax.axhline(human_error, color=PALETTE[3], linestyle="--", linewidth=1.2)
        ax.text(
            points[0].depth if points else 1,
            human_error - 0.4,
            f"human: {human_error:g}%",
            color=PALETTE[3],
            va="top",
            fontsize=8,
        )
        ax.set_xscale("log")
        depths = [r.depth for r in points] or [8, 152]
        ticks = [2**k for k in range(2, 10) if min(depths) / 2 <= 2**k <= max(depths) * 2]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlim(min(depths) / 1.4, max(depths) * 2.2)
        ax.set_ylim(0, max((r.top5_error for r in points), default=10) * 1.15)
        ax.set_xlabel("depth (weight layers, log scale)")
        ax.set_ylabel("top-5 error (%)")
        ax.set_title("Deeper networks, lower error (ILSVRC entries of known depth)")
    return fig


# --- Training curves (cnnlib.train) ------------------------------------------------------------


def _history_runs(runs) -> dict[str, list[dict]]:
    """``{label: records}`` from one history or several (see :func:`plot_history`)."""
    import json
    from pathlib import Path

    def records(h) -> list[dict]:
        if isinstance(h, (str, Path)):
            path = Path(h)
            path = path / "history.json" if path.is_dir() else path
            return json.loads(path.read_text())
        return list(h)

    def is_single(h) -> bool:
        return isinstance(h, (str, Path)) or (
            isinstance(h, (list, tuple)) and (not h or isinstance(h[0], dict))
        )

    if isinstance(runs, dict):
        return {str(label): records(h) for label, h in runs.items()}
    if is_single(runs):
        label = getattr(runs, "run", {}).get("model") or (
            Path(runs).name if isinstance(runs, (str, Path)) else "run"
        )
        return {label: records(runs)}
    return {
        getattr(h, "run", {}).get("model") or f"run {i + 1}": records(h) for i, h in enumerate(runs)
    }


def plot_history(
    runs, *, error: bool = False, title: str | None = None, axes=None, log_loss: bool = False
):
    """Loss (left) and accuracy or error (right) per epoch of one or several training runs.

    ``runs`` is a :class:`cnnlib.train.History` (or list of per-epoch dicts), a path to a
    ``history.json`` or to a run directory, or several of these as a list or as a dict
    ``{label: history}`` for comparisons (one colour per run). Training curves are dashed,
    validation curves solid. ``error=True`` plots error (%) instead of accuracy (%), as the ResNet
    paper's figures do. ``log_loss=True`` draws the loss on a log scale, for runs whose loss
    spans orders of magnitude (a deep net's first test loss with unsettled batch-norm
    statistics). Returns the ``Figure``.
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


# --- ZFNet chapter: looking inside a CNN (cnnlib.visualize) -------------------------------------


def _display_image(image, normalized: bool = True, mean=None, std=None):
    """(H, W, 3) numpy array in [0, 1] from a (C, H, W) tensor (normalised unless told not)."""
    from cnnlib.visualize import IMAGENET_MEAN, IMAGENET_STD, denormalize

    image = image.detach().cpu().float()
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W); got shape {tuple(image.shape)}")
    if normalized:
        mean = IMAGENET_MEAN if mean is None else mean
        std = IMAGENET_STD if std is None else std
        image = denormalize(image, mean, std)
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
    """First-layer filters as a grid of small images, each rescaled to [0, 1] on its own (see
    :func:`cnnlib.visualize.filter_grid`); RGB for 3-channel filters, grey for 1-channel ones.

    ``weights`` is (out, 1 or 3, k, k), e.g. :func:`cnnlib.visualize.first_layer_filters`. Pass
    ``ax`` to draw into an existing axis (two models side by side). Returns the ``Figure``.
    """
    from cnnlib.visualize import filter_grid

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

    ``maps`` is ``{layer: (N, C, H, W)}`` as returned by :func:`cnnlib.visualize.feature_maps`;
    one row per layer, each map with its own colour scale, titled by its channel. Returns the
    ``Figure`` (``len(maps) * n`` axes; unused cells of layers with fewer channels stay blank).
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
    """Input images next to their reconstructions (deconvnet, guided backprop, gradient).

    ``images`` is (N, C, H, W), normalised (ImageNet statistics unless ``mean``/``std`` are
    given; ``normalized=False`` for images in [0, 1]); ``reconstructions`` one tensor of the same
    shape or ``{column title: tensor}``, each shown with
    :func:`cnnlib.visualize.gradient_to_image` (grey is zero). ``titles`` labels the rows.
    Returns the ``Figure`` (N rows, 1 + number of reconstructions columns).
    """
    from cnnlib.visualize import gradient_to_image

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

    ``heatmap`` is (H', W') from :func:`cnnlib.visualize.occlusion_sensitivity`. Given the
    ``patch`` and ``stride`` used there, each cell is drawn centred on its square (and the square
    is outlined on the image for scale); without them the map is stretched over the image.
    ``image`` as in :func:`plot_reconstructions`. Returns the ``Figure`` (3 axes).
    """
    import math

    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FormatStrFormatter

    shown = _display_image(image, normalized, mean, std)
    h, w = shown.shape[:2]
    heat = heatmap.detach().cpu().float().numpy()
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be (H', W'); got shape {heat.shape}")
    if (patch is None) != (stride is None):
        raise ValueError("give both patch and stride, or neither")
    if patch is None:
        extent = (-0.5, w - 0.5, h - 0.5, -0.5)
    else:
        centre = (patch - 1) / 2
        rows, cols = heat.shape
        extent = (
            centre - stride / 2,
            centre + (cols - 1) * stride + stride / 2,
            centre + (rows - 1) * stride + stride / 2,
            centre - stride / 2,
        )
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
        # enough decimals to tell the ticks apart (an untrained model's map can vary by 1e-6)
        span = float(heat.max() - heat.min())
        decimals = 2 if span <= 0 else min(12, max(1, math.ceil(-math.log10(span)) + 1))
        fmt = FormatStrFormatter(f"%.{decimals}f")
        fig.colorbar(im, ax=ax_map, label=label, fraction=0.046, pad=0.04, format=fmt)
        if title:
            fig.suptitle(title)
    return fig


# --- AlexNet chapter: parameters, training error, augmentation ----------------------------------


def plot_param_share(layers, *, title: str | None = None):
    """Share (%) of the parameters and of the MACs per layer, as paired horizontal bars.

    ``layers`` maps a layer name to ``(params, macs)`` (for example from the weight-layer rows of
    :func:`cnnlib.analysis.layer_table`). The first layer is drawn at the top. Returns the
    ``Figure``.
    """
    names = list(layers)
    if not names:
        raise ValueError("plot_param_share: no layers")
    params = [float(layers[n][0]) for n in names]
    macs = [float(layers[n][1]) for n in names]
    total_p, total_m = sum(params) or 1.0, sum(macs) or 1.0
    with book_style():
        fig, ax = plt.subplots(figsize=(7.0, 0.35 * len(names) + 1.4))
        ys = list(range(len(names)))
        h = 0.38
        p_share = [100 * p / total_p for p in params]
        m_share = [100 * m / total_m for m in macs]
        ax.barh([y - h / 2 for y in ys], p_share, height=h, color=PALETTE[0], label="parameters")
        ax.barh([y + h / 2 for y in ys], m_share, height=h, color=PALETTE[1], label="MACs")
        for y, v in zip(ys, p_share, strict=True):
            ax.text(v + 0.8, y - h / 2, f"{v:.1f}%", va="center", fontsize=8)
        for y, v in zip(ys, m_share, strict=True):
            ax.text(v + 0.8, y + h / 2, f"{v:.1f}%", va="center", fontsize=8)
        ax.set_yticks(ys, names)
        ax.invert_yaxis()
        ax.set_xlim(0, max(p_share + m_share) * 1.15 + 2)
        ax.set_xlabel("share of the whole network (%)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
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


def plot_image_rows(rows, *, title: str | None = None, size: float = 1.0):
    """A grid of images, one labelled row per entry of ``rows`` (``{label: images}``, each
    (N, 3, H, W) uint8 or float in [0, 1], the same N for every row). Returns the ``Figure``."""
    import torch

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


# --- ZFNet chapter: width and receptive field by depth (cnnlib.analysis) ------------------------


def plot_width_and_receptive_field(tables, title: str | None = None):
    """Channels (left, log scale) and receptive-field size (right) of each convolution, by its
    position in the network, for one or several models.

    ``tables`` is ``{label: LayerTable}`` from :func:`cnnlib.analysis.layer_table`; the rows of
    type ``Conv2d`` are plotted in forward order. Each point of the left panel is annotated with
    the side of the convolution's output map, so runs of convolutions at one resolution (no
    pooling between them) show as repeated numbers. Returns the ``Figure`` (2 axes).
    """
    with book_style():
        fig, (ax_c, ax_rf) = plt.subplots(1, 2, figsize=(9.0, 3.8))
        for i, (label, table) in enumerate(tables.items()):
            rows = [r for r in table if r.type == "Conv2d" and r.output_shape is not None]
            if not rows:
                raise ValueError(f"plot_width_and_receptive_field: {label!r} has no Conv2d rows")
            xs = list(range(1, len(rows) + 1))
            colour = PALETTE[i % len(PALETTE)]
            channels = [r.output_shape[0] for r in rows]
            ax_c.plot(xs, channels, "-o", color=colour, label=label, markersize=4)
            for x, c, r in zip(xs, channels, rows, strict=True):
                ax_c.annotate(
                    str(r.output_shape[-1]),
                    (x, c),
                    xytext=(0, 5 if i % 2 == 0 else -11),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                    color=colour,
                )
            ax_rf.plot(xs, [r.rf_size for r in rows], "-o", color=colour, label=label, markersize=4)
        ax_c.set_yscale("log", base=2)
        ax_c.yaxis.set_major_formatter(mpl.ticker.ScalarFormatter())
        ax_c.set_ylabel("output channels (log scale)")
        ax_c.set_title("width; numbers: output size (px)", fontsize=10)
        ax_rf.set_ylabel("receptive field (px)")
        ax_rf.set_title("receptive field of one output unit", fontsize=10)
        for ax in (ax_c, ax_rf):
            ax.set_xlabel("convolutional layer")
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax_c.margins(y=0.15)
        ax_rf.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


# --- VGG chapter: accuracy by depth, cost by stage ------------------------------------------------


def plot_accuracy_by_depth(runs, paper=None, *, title: str | None = None):
    """Accuracy against depth (weight layers) of trained runs, and the paper's error beside it.

    ``runs`` is ``{label: {"depth": int, "test_acc": float, "train_acc": float (optional)}}``
    (accuracies as fractions); ``paper`` (optional) is ``{label: (depth, error in %)}``, drawn
    in a second panel (for VGG: the top-5 errors of table 3). Points are labelled. Returns the
    ``Figure``.
    """
    if not runs:
        raise ValueError("plot_accuracy_by_depth: no runs")
    with book_style():
        ncols = 2 if paper else 1
        fig, axes = plt.subplots(1, ncols, figsize=(4.6 * ncols, 3.6), squeeze=False)
        ax = axes[0][0]
        labels = list(runs)
        depths = [runs[k]["depth"] for k in labels]
        for key, style, name in (("train_acc", "--", "train"), ("test_acc", "-", "test")):
            values = [runs[k].get(key) for k in labels]
            if all(v is None for v in values):
                continue
            ax.plot(depths, [100 * v for v in values], style, marker="o", label=name)
        for label, d in zip(labels, depths, strict=True):
            v = 100 * runs[label]["test_acc"]
            ax.annotate(label, (d, v), xytext=(0, 6), textcoords="offset points", ha="center",
                        fontsize=8)  # fmt: skip
        ax.set_xlabel("weight layers")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title("this book's runs (CIFAR-10)", fontsize=10)
        ax.margins(x=0.15, y=0.2)
        ax.legend(fontsize=8)
        if paper:
            ax2 = axes[0][1]
            plabels = list(paper)
            ax2.plot([paper[k][0] for k in plabels], [paper[k][1] for k in plabels], "o",
                     color=PALETTE[3])  # fmt: skip
            for k in plabels:
                ax2.annotate(k, paper[k], xytext=(4, 4), textcoords="offset points", fontsize=8)
            ax2.set_xlabel("weight layers")
            ax2.set_ylabel("top-5 error (%)")
            ax2.set_title("the paper (ImageNet validation)", fontsize=10)
            ax2.margins(x=0.15, y=0.2)
        for a in axes[0]:
            a.xaxis.get_major_locator().set_params(integer=True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_stage_costs(stages, *, title: str | None = None):
    """Per stage of a network: MACs, activations (values per image) and parameters, as bars.

    ``stages`` is a list of dicts with the keys ``stage``, ``size``, ``channels``, ``macs``,
    ``activations`` and ``params`` (as from :func:`cnnlib.models.vgg.stage_table`). Each bar is
    labelled with its value; the x labels give each stage's map size and channels. Returns the
    ``Figure`` (3 axes).
    """
    if not stages:
        raise ValueError("plot_stage_costs: no stages")
    panels = [("macs", 1e9, "MACs per image (billions)"),
              ("activations", 1e6, "conv outputs per image (millions)"),
              ("params", 1e6, "parameters (millions)")]  # fmt: skip
    with book_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.4))
        xs = list(range(len(stages)))
        ticks = [f"{s['stage']}\n{s['size']}\n{s['channels']} ch" for s in stages]
        for i, (ax, (key, scale, label)) in enumerate(zip(axes, panels, strict=True)):
            values = [s[key] / scale for s in stages]
            bars = ax.bar(xs, values, color=PALETTE[i], width=0.65)
            for bar, v in zip(bars, values, strict=True):
                ax.annotate(f"{v:.2f}" if v < 10 else f"{v:.1f}",
                            (bar.get_x() + bar.get_width() / 2, v), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7)  # fmt: skip
            ax.set_xticks(xs, ticks, fontsize=7)
            ax.set_title(label, fontsize=9)
            ax.grid(axis="x", visible=False)
            ax.margins(y=0.15)
        axes[0].set_xlabel("stage, map size, channels", fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


# --- ResNet chapter: residual blocks drawn from their modules, gradient norms by layer ----------


def _block_layers(block, size: int):
    """The residual branch of ``block`` as boxes: one per convolution, with the batch norms and
    activations that follow it; and the output shape and MACs of each convolution."""
    import torch
    from torch import nn

    from cnnlib.analysis import count_macs_by_module

    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if not convs or not hasattr(block, "residual"):
        raise ValueError(
            f"plot_residual_blocks needs a residual block with a .residual(x) method and "
            f"convolutions (cnnlib's BasicBlock, Bottleneck); got {type(block).__name__}"
        )
    names = {m: n for n, m in block.named_modules()}
    calls = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: calls.append((m, tuple(o.shape[1:]))))
        for m in block.modules()
        if next(m.children(), None) is None
    ]
    x = torch.zeros(1, convs[0].in_channels, size, size, device=convs[0].weight.device)
    training = block.training
    try:
        block.eval()
        with torch.no_grad():
            block.residual(x)
    finally:
        block.train(training)
        for h in hooks:
            h.remove()
    macs = count_macs_by_module(block, tuple(x.shape))
    boxes = []  # [title, [followers], shape, params, macs]
    for module, shape in calls:
        if isinstance(module, nn.Conv2d):
            k, s = module.kernel_size, module.stride[0]
            title = f"{k[0]}x{k[1]} conv, {module.out_channels}" + (f", /{s}" if s > 1 else "")
            params = sum(p.numel() for p in module.parameters())
            boxes.append([title, [], shape, params, macs.get(names[module], 0)])
        elif boxes:
            short = {"BatchNorm2d": "BN", "ReLU": "ReLU"}.get(type(module).__name__)
            boxes[-1][1].append(short or type(module).__name__)
            boxes[-1][3] += sum(p.numel() for p in module.parameters())
    shortcut = getattr(block, "downsample", None)
    if not getattr(block, "shortcut", True):
        label, sc_params = None, 0
    elif shortcut is None:
        label, sc_params = "identity", 0
    elif type(shortcut).__name__ == "ZeroPadShortcut":
        label, sc_params = f"identity, /{shortcut.stride},\n+{shortcut.extra} zero channels", 0
    else:
        conv = next((m for m in shortcut.modules() if isinstance(m, nn.Conv2d)), None)
        label = "projection" if conv is None else (
            f"projection\n1x1 conv, {conv.out_channels}" + (
                f", /{conv.stride[0]}" if conv.stride[0] > 1 else "") + " + BN"
        )  # fmt: skip
        sc_params = sum(p.numel() for p in shortcut.parameters())
    return x.shape[1:], boxes, label, sc_params, macs.get("", 0)


def _arrow(ax, start, end, color: str = "0.25", lw: float = 1.0) -> None:
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=color, lw=lw)
    )


def plot_residual_blocks(blocks, *, size: int = 56, title: str | None = None):
    """Residual blocks drawn from their modules, side by side, as in figures 2 and 5 of the
    ResNet paper: one box per convolution of the residual branch (with the batch norm and ReLU
    that follow it), its output shape, parameters and MACs, the shortcut on the right (identity,
    zero-padded identity or projection), the addition and the final ReLU.

    ``blocks`` is ``{title: block}`` with cnnlib's :class:`~cnnlib.models.BasicBlock` or
    :class:`~cnnlib.models.Bottleneck` (anything with a ``residual(x)`` method, a ``downsample``
    attribute and convolutions); each runs once on a ``size`` x ``size`` input with the channels
    of its first convolution. Below each block: its parameters and MACs in total. Returns the
    ``Figure``.
    """
    from matplotlib.patches import Circle, FancyBboxPatch

    if not blocks:
        raise ValueError("plot_residual_blocks: no blocks")
    drawn = {t: _block_layers(b, size) for t, b in blocks.items()}
    tallest = max(len(d[1]) for d in drawn.values())
    with book_style():
        fig, axes = plt.subplots(
            1, len(drawn), figsize=(4.2 * len(drawn), 1.25 * tallest + 2.6), squeeze=False
        )
        for ax, (name, (in_shape, boxes, label, sc_params, total_macs)) in zip(
            axes[0], drawn.items(), strict=True
        ):
            ax.set_xlim(-2.2, 2.4)
            ax.set_ylim(-(tallest + 2.4), 1.0)
            ax.axis("off")

            ax.text(0, 0.55, "x: " + "×".join(map(str, in_shape)), ha="center", fontsize=9)
            y = 0.3
            params = sc_params
            for i, (conv, after, shape, p, macs) in enumerate(boxes):
                top = -i * 1.25 - 0.3
                _arrow(ax, (0, y), (0, top))
                ax.add_patch(FancyBboxPatch((-1.0, top - 0.75), 2.0, 0.75,
                                            boxstyle="round,pad=0.02", fc=PALETTE[0] + "22",
                                            ec=PALETTE[0]))  # fmt: skip
                ax.text(0, top - 0.27, conv, ha="center", va="center", fontsize=9)
                ax.text(0, top - 0.56, ", ".join(after) or " ", ha="center", va="center",
                        fontsize=8, color="0.35")  # fmt: skip
                ax.text(-1.1, top - 0.38, f"{'×'.join(map(str, shape))}\n{p:,} params\n"
                        f"{macs / 1e6:,.1f}M MACs", ha="right", va="center", fontsize=7,
                        color="0.3")  # fmt: skip
                params += p
                y = top - 0.75
            add_y = y - 0.55
            _arrow(ax, (0, y), (0, add_y + 0.18))
            ax.add_patch(Circle((0, add_y), 0.18, fc="white", ec="0.25"))
            ax.text(0, add_y, "+" if label else "", ha="center", va="center", fontsize=11)
            _arrow(ax, (0, add_y - 0.18), (0, add_y - 0.6))
            ax.text(0, add_y - 0.8, "ReLU", ha="center", va="center", fontsize=9)
            if label:
                ax.plot([0, 1.6, 1.6], [0.3, 0.3, add_y], color=PALETTE[1], lw=1.5)
                _arrow(ax, (1.6, add_y), (0.18, add_y), color=PALETTE[1], lw=1.5)
                ax.text(1.68, (0.3 + add_y) / 2, label, rotation=90, ha="left", va="center",
                        fontsize=8, color=PALETTE[1])  # fmt: skip
            ax.set_title(name, fontsize=10)
            ax.text(0, -(tallest + 2.25), f"{params:,} parameters, {total_macs / 1e6:,.1f}M MACs",
                    ha="center", fontsize=9)  # fmt: skip
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def plot_gradient_norms(runs, *, title: str | None = None, ax=None, ylabel: str | None = None):
    """The gradient norm of every weight layer, input to output, on a log scale, for one or
    several measurements: ``runs`` is ``{label: {layer: norm}}`` as
    :func:`cnnlib.analysis.gradient_norms` returns. ``ylabel`` replaces the axis label (for
    example for relative norms, ``gradient_norms(..., relative=True)``). Returns the ``Figure``."""
    if not runs or not any(runs.values()):
        raise ValueError("plot_gradient_norms: no gradient norms")
    with book_style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(7.0, 3.6))
        else:
            fig = ax.figure
        for i, (label, norms) in enumerate(runs.items()):
            values = list(norms.values())
            ax.plot(range(1, len(values) + 1), values, "-", marker=".", markersize=4,
                    color=PALETTE[i % len(PALETTE)], label=label)  # fmt: skip
        ax.set_yscale("log")
        ax.set_xlabel("weight layer (1 = first convolution, last = fc)")
        ax.set_ylabel(ylabel or "gradient norm ||dL/dW|| (log)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_layer_responses(runs, *, title: str | None = None):
    """The ResNet paper's figure 7: the standard deviation of each layer's response, in network
    order (left) and sorted in descending order (right), for several networks. ``runs`` is
    ``{label: {layer: std}}`` as :func:`cnnlib.analysis.response_stds` returns. Returns the
    ``Figure``."""
    if not runs or not any(runs.values()):
        raise ValueError("plot_layer_responses: no layer responses")
    with book_style():
        fig, (ax_order, ax_sorted) = plt.subplots(1, 2, figsize=(9.0, 3.4), sharey=True)
        for i, (label, stds) in enumerate(runs.items()):
            values = list(stds.values())
            colour = PALETTE[i % len(PALETTE)]
            style = "--" if "plain" in label.lower() else "-"
            x = range(1, len(values) + 1)
            ax_order.plot(x, values, style, color=colour, label=label, lw=1.2)
            ax_sorted.plot(x, sorted(values, reverse=True), style, color=colour, label=label,
                           lw=1.2)  # fmt: skip
        ax_order.set_xlabel("layer index (original order)")
        ax_sorted.set_xlabel("layer index (sorted by magnitude)")
        ax_order.set_ylabel("std of the response")
        for ax in (ax_order, ax_sorted):
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax_sorted.legend(fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 7: Jacobian spectra, path lengths, lesion studies
# ---------------------------------------------------------------------------------------------


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


def plot_path_lengths(counts, *, title: str | None = None, ax=None):
    """The distribution of path lengths of an unrolled residual network: ``counts[k]`` paths pass
    through ``k`` residual branches (:func:`cnnlib.gradients.path_length_distribution`), drawn
    as the fraction of all paths. Returns the ``Figure``."""
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
        ax.set_xlabel("path length (residual branches passed through)")
        ax.set_ylabel("fraction of paths")
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_lesion(studies, *, chance: float | None = None, title: str | None = None):
    """Test accuracy after deleting one unit at a time, one panel per study: ``studies`` is
    ``{label: rows}`` with the rows of :func:`cnnlib.gradients.lesion_study` (the first row is
    the intact model, drawn as a dashed line; downsampling units are hatched). Returns the
    ``Figure``."""
    if not studies or not all(len(rows) > 1 for rows in studies.values()):
        raise ValueError("plot_lesion: every study needs the intact row and at least one lesion")
    with book_style():
        widths = [len(rows) - 1 for rows in studies.values()]
        size = (min(12.0, 2.0 + 0.42 * sum(widths)), 3.8)
        fig, axes = plt.subplots(1, len(studies), figsize=size, sharey=True, squeeze=False,
                                 gridspec_kw={"width_ratios": widths})  # fmt: skip
        for i, (ax, (label, rows)) in enumerate(zip(axes[0], studies.items(), strict=True)):
            intact, lesions = rows[0], rows[1:]
            bars = ax.bar(range(len(lesions)), [r["acc"] for r in lesions],
                          color=PALETTE[i % len(PALETTE)])  # fmt: skip
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
        axes[0][0].set_ylabel("test accuracy")
        axes[0][-1].legend(fontsize=8, loc="upper right", framealpha=0.9, frameon=True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
