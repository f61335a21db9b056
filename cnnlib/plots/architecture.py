"""Architecture figures: parameter and MAC shares, width and receptive field by depth, cost by
stage, residual blocks drawn from their modules."""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from torch import nn

from cnnlib.analysis import count_macs_by_module
from cnnlib.models.preact_resnet import PreActBlock
from cnnlib.models.resnet import BasicBlock, Bottleneck, ZeroPadShortcut
from cnnlib.plots.style import PALETTE, book_style

__all__ = [
    "plot_param_share",
    "plot_residual_blocks",
    "plot_stage_costs",
    "plot_width_and_receptive_field",
]


def plot_param_share(layers, *, title: str | None = None):
    """Share (%) of the parameters and of the MACs per layer, as paired horizontal bars.

    ``layers`` maps a layer name to ``(params, macs)``; the first layer is drawn at the top.
    Returns the ``Figure``.
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


def _width_and_rf(ax_c, ax_rf, i: int, label: str, table) -> None:
    """One model's channels (annotated with the output size) and receptive fields."""
    rows = [r for r in table if r.type == "Conv2d" and r.output_shape is not None]
    if not rows:
        raise ValueError(f"plot_width_and_receptive_field: {label!r} has no Conv2d rows")
    xs = list(range(1, len(rows) + 1))
    colour = PALETTE[i % len(PALETTE)]
    channels = [r.output_shape[0] for r in rows]
    ax_c.plot(xs, channels, "-o", color=colour, label=label, markersize=4)
    for x, c, r in zip(xs, channels, rows, strict=True):
        ax_c.annotate(str(r.output_shape[-1]), (x, c), xytext=(0, 5 if i % 2 == 0 else -11),
                      textcoords="offset points", ha="center", fontsize=7,
                      color=colour)  # fmt: skip
    ax_rf.plot(xs, [r.rf_size for r in rows], "-o", color=colour, label=label, markersize=4)


def plot_width_and_receptive_field(tables, title: str | None = None):
    """Channels (left, log scale) and receptive-field size (right) of each convolution, by its
    position in the network, for one or several models.

    ``tables`` is ``{label: LayerTable}`` from :func:`cnnlib.analysis.layer_table`; its ``Conv2d``
    rows are drawn in forward order, each channel point annotated with the side of its output
    map. Returns the ``Figure`` (2 axes).
    """
    with book_style():
        fig, (ax_c, ax_rf) = plt.subplots(1, 2, figsize=(9.0, 3.8))
        for i, (label, table) in enumerate(tables.items()):
            _width_and_rf(ax_c, ax_rf, i, label, table)
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


def plot_stage_costs(stages, *, fc=None, title: str | None = None):
    """Per stage of a network: MACs, activations (values per image) and parameters, as bars.

    ``stages`` is a list of dicts with the keys ``stage``, ``size``, ``channels``, ``macs``,
    ``activations`` and ``params``. Bars are labelled with their values, the x labels give each
    stage's map size and channels. ``fc`` (optional, a dict with ``macs``, ``activations`` and
    ``params``) adds the fully connected layers as a last, hatched bar in every panel, so that
    where the parameters are is seen next to where the computation is. Returns the ``Figure``
    (3 axes).
    """
    if not stages:
        raise ValueError("plot_stage_costs: no stages")
    if fc is not None:
        stages = [*stages, {"stage": "FC", "size": "", "channels": "layers", **fc}]
    panels = [("macs", 1e9, "MACs per image (billions)"),
              ("activations", 1e6, "conv outputs per image (millions)"),
              ("params", 1e6, "parameters (millions)")]  # fmt: skip
    with book_style():
        fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.4))
        xs = list(range(len(stages)))
        ticks = [
            f"{s['stage']}\n{s['size']}\n{s['channels']}" + ("" if s["stage"] == "FC" else " ch")
            for s in stages
        ]
        for i, (ax, (key, scale, label)) in enumerate(zip(axes, panels, strict=True)):
            values = [s[key] / scale for s in stages]
            bars = ax.bar(xs, values, color=PALETTE[i], width=0.65)
            if fc is not None:
                bars[-1].set_hatch("//")
                bars[-1].set_facecolor("white")
                bars[-1].set_edgecolor(PALETTE[i])
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


# --- residual blocks, read from their modules ----------------------------------------------------


def _trace_residual(block: nn.Module, x: torch.Tensor) -> list[tuple[nn.Module, tuple]]:
    """Each leaf module called by ``block.residual(x)`` (eval mode, no grad), with its output
    shape, in call order; the block's hooks and train flag are restored."""
    calls = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: calls.append((m, tuple(o.shape[1:]))))
        for m in block.modules()
        if next(m.children(), None) is None
    ]
    training = block.training
    try:
        block.eval()
        with torch.no_grad():
            block.residual(x)
    finally:
        block.train(training)
        for h in hooks:
            h.remove()
    return calls


def _branch_boxes(block: nn.Module, calls, macs: dict[str, int]) -> list[list]:
    """``[title, followers, shape, params, macs]`` per convolution of the residual branch; the
    batch norms and activations after a convolution are its followers, those before the first
    one (a pre-activation block) lead its title; both add their params."""
    names = {m: n for n, m in block.named_modules()}
    boxes, leading, lead_params = [], [], 0
    for module, shape in calls:
        name = "BN" if isinstance(module, nn.BatchNorm2d) else type(module).__name__
        params = sum(p.numel() for p in module.parameters())
        if isinstance(module, nn.Conv2d):
            k, s = module.kernel_size, module.stride[0]
            title = f"{k[0]}x{k[1]} conv, {module.out_channels}" + (f", /{s}" if s > 1 else "")
            if leading:
                title = f"{', '.join(leading)} -> {title}"
            boxes.append([title, [], shape, params + lead_params, macs.get(names[module], 0)])
            leading, lead_params = [], 0
        elif boxes and not isinstance(block, PreActBlock):
            boxes[-1][1].append(name)
            boxes[-1][3] += params
        else:  # pre-activation: BN and ReLU belong to the convolution after them
            leading.append(name)
            lead_params += params
    return boxes


def _shortcut_label(block: nn.Module) -> tuple[str | None, int]:
    """The shortcut's label (``None`` for a plain block) and its parameter count."""
    shortcut = block.downsample
    if not block.shortcut:
        return None, 0
    if shortcut is None:
        return "identity", 0
    if isinstance(shortcut, ZeroPadShortcut):
        return f"identity, /{shortcut.stride},\n+{shortcut.extra} zero channels", 0
    conv = next((m for m in shortcut.modules() if isinstance(m, nn.Conv2d)), None)
    label = "projection" if conv is None else (
        f"projection\n1x1 conv, {conv.out_channels}" + (
            f", /{conv.stride[0]}" if conv.stride[0] > 1 else "") + " + BN"
    )  # fmt: skip
    return label, sum(p.numel() for p in shortcut.parameters())


def _block_layers(block, size: int):
    """A residual block read from its modules, run once on a ``size`` x ``size`` input.

    Returns ``(input shape, boxes, shortcut label, shortcut params, block MACs, what follows the
    addition)`` with the boxes of :func:`_branch_boxes`. Raises ``ValueError`` for anything but
    a ``BasicBlock``, ``Bottleneck`` or ``PreActBlock``.
    """
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    if not isinstance(block, (BasicBlock, Bottleneck, PreActBlock)) or not convs:
        raise ValueError(
            "plot_residual_blocks needs a residual block (cnnlib's BasicBlock, Bottleneck or "
            f"PreActBlock); got {type(block).__name__}"
        )
    x = torch.zeros(1, convs[0].in_channels, size, size, device=convs[0].weight.device)
    calls = _trace_residual(block, x)
    macs = count_macs_by_module(block, tuple(x.shape))
    label, sc_params = _shortcut_label(block)
    after = "(nothing: the next block)" if isinstance(block, PreActBlock) else "ReLU"
    boxes = _branch_boxes(block, calls, macs)
    return x.shape[1:], boxes, label, sc_params, macs.get("", 0), after


def _arrow(ax, start, end, color: str = "0.25", lw: float = 1.0) -> None:
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, color=color, lw=lw)
    )


def _draw_branch(ax, boxes) -> tuple[float, int]:
    """The residual branch, one box per convolution from the top; returns the y below the last
    box and the branch's parameters."""
    y, params = 0.3, 0
    for i, (conv, after, shape, p, macs) in enumerate(boxes):
        top = -i * 1.25 - 0.3
        _arrow(ax, (0, y), (0, top))
        ax.add_patch(FancyBboxPatch((-1.0, top - 0.75), 2.0, 0.75, boxstyle="round,pad=0.02",
                                    fc=PALETTE[0] + "22", ec=PALETTE[0]))  # fmt: skip
        ax.text(0, top - 0.27, conv, ha="center", va="center", fontsize=9)
        ax.text(0, top - 0.56, ", ".join(after) or " ", ha="center", va="center",
                fontsize=8, color="0.35")  # fmt: skip
        ax.text(-1.1, top - 0.38, f"{'×'.join(map(str, shape))}\n{p:,} params\n"
                f"{macs / 1e6:,.1f}M MACs", ha="right", va="center", fontsize=7,
                color="0.3")  # fmt: skip
        params += p
        y = top - 0.75
    return y, params


def _draw_merge(ax, y: float, label: str | None, after: str) -> None:
    """The addition (empty for a plain block), what follows it and the shortcut line."""
    add_y = y - 0.55
    _arrow(ax, (0, y), (0, add_y + 0.18))
    ax.add_patch(Circle((0, add_y), 0.18, fc="white", ec="0.25"))
    ax.text(0, add_y, "+" if label else "", ha="center", va="center", fontsize=11)
    _arrow(ax, (0, add_y - 0.18), (0, add_y - 0.6))
    ax.text(0, add_y - 0.8, after, ha="center", va="center", fontsize=9)
    if label:
        ax.plot([0, 1.6, 1.6], [0.3, 0.3, add_y], color=PALETTE[1], lw=1.5)
        _arrow(ax, (1.6, add_y), (0.18, add_y), color=PALETTE[1], lw=1.5)
        ax.text(1.68, (0.3 + add_y) / 2, label, rotation=90, ha="left", va="center",
                fontsize=8, color=PALETTE[1])  # fmt: skip


def _draw_block(ax, name: str, drawn, tallest: int) -> None:
    in_shape, boxes, label, sc_params, total_macs, after = drawn
    ax.set_xlim(-2.2, 2.4)
    ax.set_ylim(-(tallest + 2.4), 1.0)
    ax.axis("off")
    ax.text(0, 0.55, "x: " + "×".join(map(str, in_shape)), ha="center", fontsize=9)
    y, params = _draw_branch(ax, boxes)
    _draw_merge(ax, y, label, after)
    ax.set_title(name, fontsize=10)
    ax.text(0, -(tallest + 2.25), f"{sc_params + params:,} parameters, "
            f"{total_macs / 1e6:,.1f}M MACs", ha="center", fontsize=9)  # fmt: skip


def plot_residual_blocks(blocks, *, size: int = 56, title: str | None = None):
    """Residual blocks drawn from their modules, side by side, as in figures 2 and 5 of the
    ResNet paper: a box per convolution of the residual branch (with the batch norm and ReLU
    after it, its output shape, parameters and MACs), the shortcut (identity, zero-padded
    identity or projection), the addition and the final ReLU.

    ``blocks`` is ``{title: block}`` of :class:`~cnnlib.models.resnet.BasicBlock`,
    :class:`~cnnlib.models.resnet.Bottleneck` or
    :class:`~cnnlib.models.preact_resnet.PreActBlock` (its batch norm and ReLU lead each
    convolution, and nothing follows the addition), each run once on a ``size`` x ``size``
    input.
    Returns the ``Figure``.
    """
    if not blocks:
        raise ValueError("plot_residual_blocks: no blocks")
    drawn = {t: _block_layers(b, size) for t, b in blocks.items()}
    tallest = max(len(d[1]) for d in drawn.values())
    with book_style():
        fig, axes = plt.subplots(
            1, len(drawn), figsize=(4.2 * len(drawn), 1.25 * tallest + 2.6), squeeze=False
        )
        for ax, (name, d) in zip(axes[0], drawn.items(), strict=True):
            _draw_block(ax, name, d, tallest)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig
