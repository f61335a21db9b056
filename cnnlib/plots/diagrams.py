"""Architecture diagrams drawn from the models: whole networks as columns of layers (with towers,
shortcuts and auxiliary heads) and Inception modules as their branches.

Everything drawn comes from :func:`cnnlib.analysis.network_diagram`, so a diagram shows what the
code runs. Each drawn layer, shortcut, crossing and head carries a ``gid`` (``node:<module>``,
``shortcut:<kind>:<block>``, ``cross:<module>``, ``head:<module>``) that tests count.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from cnnlib.analysis import count_macs, count_params
from cnnlib.analysis.diagram import Diagram, Node, network_diagram
from cnnlib.plots.style import PALETTE, book_style

__all__ = ["plot_inception_modules", "plot_network"]

COLORS = {"conv": PALETTE[0], "pool": "#777777", "norm": PALETTE[4], "fc": PALETTE[1],
          "inception": PALETTE[2], "input": "#999999"}  # fmt: skip
ROW = 1.0  # vertical step between layers (data units)
BOX_H = 0.64
TOWER_W, TOWER_GAP, BOX_W = 2.5, 0.35, 2.9
SCALE_X, SCALE_Y = 0.5, 0.3  # inches per data unit


def _box(ax, x, y, w, text, kind, gid, fontsize=7.0) -> None:
    color = COLORS[kind]
    patch = FancyBboxPatch((x - w / 2, y - BOX_H / 2), w, BOX_H, boxstyle="round,pad=0.02",
                           fc=color + "2a" if color.startswith("#") and len(color) == 7 else color,
                           ec=color, lw=1.0)  # fmt: skip
    patch.set_gid(gid)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, gid=None, **kw) -> None:
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=6, lw=0.7,
                            color=kw.pop("color", "0.3"), shrinkA=0, shrinkB=0, **kw)  # fmt: skip
    if gid:
        patch.set_gid(gid)
    ax.add_patch(patch)


def _centres(cx: float, towers: int) -> list[float]:
    if towers == 1:
        return [cx]
    span = towers * TOWER_W + (towers - 1) * TOWER_GAP
    return [cx - span / 2 + TOWER_W / 2 + t * (TOWER_W + TOWER_GAP) for t in range(towers)]


def _width(d: Diagram) -> float:
    towers = max(n.towers for n in d.nodes)
    return BOX_W if towers == 1 else towers * TOWER_W + (towers - 1) * TOWER_GAP


def _connect(ax, prev: list[float], node: Node, cur: list[float], y: float) -> None:
    """Arrows from the layer above: tower to tower, or every tower to every tower where the
    layer reads across them (drawn as a crossing)."""
    top, bottom = y + ROW - BOX_H / 2, y + BOX_H / 2
    if len(prev) == len(cur) and not node.crosses:
        for a, b in zip(prev, cur, strict=True):
            _arrow(ax, (a, top), (b, bottom))
        return
    for a in prev:
        for b in cur:
            _arrow(ax, (a, top), (b, bottom), gid=f"cross:{node.name}" if node.crosses else None)


def _spatial(shape) -> str | None:
    return "×".join(map(str, shape[-2:])) if len(shape) == 3 else None


def _draw_trunk(ax, d: Diagram, cx: float) -> list[float]:
    """The input and the trunk's layers from the top; returns each layer's y."""
    width = _width(d)
    _box(ax, cx, 0.0, width, "image " + "×".join(map(str, d.input_shape[1:] + d.input_shape[:1])),
         "input", "input")  # fmt: skip
    prev, ys, last_size = [cx], [], _spatial(d.input_shape)
    for i, node in enumerate(d.nodes):
        y = -(i + 1) * ROW
        cur = _centres(cx, node.towers)
        _connect(ax, prev, node, cur, y)
        w = TOWER_W if node.towers > 1 else BOX_W
        for t, x in enumerate(cur):
            gid = f"node:{node.name}" if t == 0 else f"tower:{node.name}:{t}"
            _box(ax, x, y, w, node.label, node.kind, gid)
        size = _spatial(node.shape)
        if size and size != last_size:
            ax.text(cx - width / 2 - 0.15, y, size, ha="right", va="center", fontsize=6,
                    color="0.4")  # fmt: skip
        last_size = size or last_size
        prev, ys = cur, [*ys, y]
    return ys


def _draw_shortcuts(ax, d: Diagram, cx: float, ys: list[float]) -> None:
    """Each shortcut on the right of its block: solid for the identity, dotted where it projects
    (option B) or subsamples and pads with zeros (option A), as in the ResNet paper's figure 3."""
    right = cx + _width(d) / 2
    for k, s in enumerate(d.shortcuts):
        x = right + (0.35 if k % 2 == 0 else 0.6)
        y0, y1 = ys[s.first] + ROW / 2, ys[s.last] - ROW / 2 + 0.12
        style = "-" if s.kind == "identity" else ":"
        (line,) = ax.plot([right, x, x], [y0, y0, y1], color=PALETTE[3], lw=1.0, ls=style)
        line.set_gid(f"shortcut:{s.kind}:{s.block}")
        _arrow(ax, (x, y1), (cx, y1), color=PALETTE[3], ls=style)


def _draw_heads(ax, d: Diagram, cx: float, ys: list[float]) -> None:
    """Auxiliary heads beside the trunk: one box listing the head's layers, fed from the layer
    it reads."""
    x0 = cx + _width(d) / 2
    hx = x0 + 0.5 + BOX_W / 2
    for name, (index, nodes) in d.heads.items():
        y = ys[index] - 0.2 - 0.25 * len(nodes)
        text = f"{name}:\n" + "\n".join(n.label for n in nodes)
        h = 0.34 * (len(nodes) + 1)
        patch = FancyBboxPatch((hx - BOX_W / 2, y - h / 2), BOX_W, h, boxstyle="round,pad=0.02",
                               fc=PALETTE[1] + "22", ec=PALETTE[1], ls="--")  # fmt: skip
        patch.set_gid(f"head:{name}")
        ax.add_patch(patch)
        ax.text(hx, y, text, ha="center", va="center", fontsize=6)
        _arrow(ax, (x0, ys[index]), (hx - BOX_W / 2, y + h / 2 - 0.2), color=PALETTE[1])


def _column_extent(d: Diagram) -> tuple[float, float]:
    """Space left and right of a column's centre: sizes, shortcuts, heads."""
    half = _width(d) / 2
    right = half + (0.9 if d.shortcuts else 0.3) + (BOX_W + 0.7 if d.heads else 0.0)
    return half + 1.0, right


def _as_diagrams(networks, input_size) -> list[Diagram]:
    if isinstance(networks, (Diagram, nn.Module)):
        networks = {None: networks}
    if not networks:
        raise ValueError("plot_network: no networks to draw")
    out = []
    for name, net in networks.items():
        if isinstance(net, nn.Module):
            net = network_diagram(net, input_size, name=name)
        elif not isinstance(net, Diagram):
            raise TypeError(
                f"plot_network: expected a model or a Diagram, got {type(net).__name__}"
            )
        out.append(net)
    return out


def plot_network(networks, *, input_size=(3, 224, 224), title: str | None = None):
    """Networks drawn side by side as columns of layers, from the input at the top, as in the
    figures of the AlexNet, VGG and ResNet papers.

    ``networks`` is a model, a :class:`~cnnlib.analysis.diagram.Diagram`, or ``{column title:
    model or Diagram}``; models are read with :func:`~cnnlib.analysis.network_diagram` at
    ``input_size``. A grouped convolution is drawn as towers (crossing arrows where a layer reads
    all towers), a residual block with its shortcut on the right (dotted where it projects or
    pads), an auxiliary head as a dashed box beside the layer it reads. Output sizes are written
    on the left where they change. Returns the ``Figure``.
    """
    diagrams = _as_diagrams(networks, input_size)
    extents = [_column_extent(d) for d in diagrams]
    width = sum(left + right for left, right in extents) + 0.4 * (len(diagrams) - 1)
    rows = max(len(d.nodes) for d in diagrams) + 1
    with book_style():
        fig, ax = plt.subplots(figsize=(width * SCALE_X, rows * ROW * SCALE_Y + 0.6))
        x = 0.0
        for d, (left, right) in zip(diagrams, extents, strict=True):
            cx = x + left
            ys = _draw_trunk(ax, d, cx)
            _draw_shortcuts(ax, d, cx, ys)
            _draw_heads(ax, d, cx, ys)
            ax.text(cx, ROW * 0.75, d.name, ha="center", va="bottom", fontsize=8.5,
                    fontweight="bold")  # fmt: skip
            x = cx + right + 0.4
        ax.set_xlim(0, width)
        ax.set_ylim(-rows * ROW + 0.2, ROW * 1.3)
        ax.axis("off")
        if title:
            ax.set_title(title)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.97 if not title else 0.93, bottom=0.01)
    return fig


def _branches(module: nn.Module, input_size) -> dict[str, list[Node]]:
    """The module's layers grouped by branch (its top-level children), in call order."""
    d = network_diagram(module, input_size, expand_inception=True)
    branches: dict[str, list[Node]] = {}
    for node in d.nodes:
        branches.setdefault(node.name.split(".")[0], []).append(node)
    return branches


def _draw_module(ax, cx: float, name: str, module: nn.Module, input_size, rows: int) -> None:
    branches = _branches(module, input_size)
    span = len(branches) * (BOX_W + 0.3) - 0.3
    c, h, w = input_size
    _box(ax, cx, 0.0, span, f"previous layer, {h}×{w}×{c}", "input", "input", fontsize=7.5)
    xs = [cx - span / 2 + BOX_W / 2 + i * (BOX_W + 0.3) for i in range(len(branches))]
    out = 0
    for x, (branch, nodes) in zip(xs, branches.items(), strict=True):
        y = 0.0
        for node in nodes:
            _arrow(ax, (x if y else cx, y - BOX_H / 2), (x, y - ROW * 1.2 + BOX_H / 2))
            y -= ROW * 1.2
            _box(ax, x, y, BOX_W, node.label, node.kind, f"node:{branch}:{node.name}")
        _arrow(ax, (x, y - BOX_H / 2), (x, -(rows + 1) * ROW * 1.2 + BOX_H / 2))
        out += nodes[-1].shape[0]
    bottom = -(rows + 1) * ROW * 1.2
    _box(ax, cx, bottom, span, f"filter concatenation, {h}×{w}×{out}", "inception", "concat",
         fontsize=7.5)  # fmt: skip
    macs = count_macs(module, (1, *input_size))
    cost = f"{count_params(module) / 1e3:,.0f}k parameters, {macs / 1e6:,.0f}M MACs"
    ax.text(cx, bottom - 0.8, cost, ha="center", va="top", fontsize=8)
    ax.text(cx, 0.75, name, ha="center", va="bottom", fontsize=9, fontweight="bold")


def plot_inception_modules(modules: dict[str, nn.Module], input_size, *, title: str | None = None):
    """Inception modules side by side (the GoogLeNet paper's figure 2): the previous layer, one
    column per branch with its layers, the filter concatenation, and the module's parameters and
    MACs at ``input_size`` ``(C, H, W)``. Returns the ``Figure``."""
    if not modules:
        raise ValueError("plot_inception_modules: no modules")
    rows = max(len(b) for m in modules.values() for b in _branches(m, input_size).values())
    widths = [len(_branches(m, input_size)) * (BOX_W + 0.3) + 0.6 for m in modules.values()]
    with book_style():
        fig, ax = plt.subplots(figsize=(sum(widths) * SCALE_X, (rows + 3.6) * 1.2 * SCALE_Y + 0.4))
        x = 0.0
        for (name, module), w in zip(modules.items(), widths, strict=True):
            _draw_module(ax, x + w / 2, name, module, input_size, rows)
            x += w
        ax.set_xlim(0, sum(widths))
        ax.set_ylim(-(rows + 2.8) * ROW * 1.2, ROW * 1.5)
        ax.axis("off")
        if title:
            ax.set_title(title)
        fig.subplots_adjust(left=0.01, right=0.99, top=0.97 if not title else 0.9, bottom=0.01)
    return fig
