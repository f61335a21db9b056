"""A network read as a diagram: the layers it runs, in order, with its shortcuts and side heads.

:func:`network_diagram` runs the model once and keeps what an architecture figure draws: one
:class:`Node` per convolution, pooling, normalisation or fully connected layer (or per whole
Inception module), the :class:`Shortcut` of each residual block, the auxiliary heads and the
towers of a grouped convolution (AlexNet's two GPUs). ``cnnlib.plots.diagrams`` draws it; since
both read the model, a figure cannot disagree with the code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnlib.models.googlenet import Inception, InceptionAux, InceptionNaive, _PooledAuxHead
from cnnlib.models.resnet import ZeroPadShortcut

__all__ = ["Diagram", "Node", "Shortcut", "network_diagram"]

_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_ATOMIC = (nn.Conv2d, nn.Linear, nn.LocalResponseNorm, *_POOLS)
_HEADS = (InceptionAux, _PooledAuxHead)


@dataclass(frozen=True)
class Node:
    """One drawn layer: ``kind`` is ``conv``, ``pool``, ``norm``, ``fc`` or ``inception``."""

    name: str  # the module's name in the model
    kind: str
    label: str  # "3x3 conv, 64, /2" (per tower where ``towers`` > 1)
    shape: tuple[int, ...]  # the output shape, without the batch
    towers: int = 1  # how many towers its output is split into (grouped convolutions)
    crosses: bool = False  # True where it reads all towers of the layer before


@dataclass(frozen=True)
class Shortcut:
    """A residual block's shortcut, around trunk nodes ``first`` to ``last`` (indices).

    ``kind`` is ``identity``, ``projection`` (a 1x1 convolution, option B) or ``pad`` (the
    subsampled, zero-padded identity of option A).
    """

    block: str
    first: int
    last: int
    kind: str


@dataclass
class Diagram:
    """The trunk's nodes, the shortcuts, and the side heads as ``{head: (trunk index it reads,
    its nodes)}``."""

    name: str
    input_shape: tuple[int, ...]
    nodes: list[Node]
    shortcuts: list[Shortcut] = field(default_factory=list)
    heads: dict[str, tuple[int, list[Node]]] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        """How many trunk nodes of ``kind`` there are (an Inception module counts once)."""
        return sum(n.kind == kind for n in self.nodes)


def _size(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _label(name: str, module: nn.Module, towers: int, shape: tuple[int, ...]) -> str:
    """The figure's text for one layer, as the papers write it."""
    if isinstance(module, nn.Conv2d):
        (kh, kw), s = module.kernel_size, module.stride[0]
        return f"{kh}x{kw} conv, {module.out_channels // towers}" + (f", /{s}" if s > 1 else "")
    if isinstance(module, nn.Linear):
        return f"fc {module.out_features}"
    if isinstance(module, nn.LocalResponseNorm):
        return "LRN"
    if isinstance(module, (Inception, InceptionNaive)):
        tag = re.sub(r"^.*inception", "", name) or name
        return f"inception ({tag}), {shape[0]}"
    kind = "max" if "Max" in type(module).__name__ else "avg"
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return f"global {kind} pool" if shape[-2:] == (1, 1) else f"{kind} pool to {shape[-1]}"
    (kh, kw), s = _size(module.kernel_size), _size(module.stride)[0]
    return f"{kh}x{kw} {kind} pool" + (f", /{s}" if s > 1 else "")


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, nn.Linear):
        return "fc"
    if isinstance(module, nn.LocalResponseNorm):
        return "norm"
    return "inception" if isinstance(module, (Inception, InceptionNaive)) else "pool"


def _is_block(module: nn.Module) -> bool:
    """A residual block is a module with a ``residual`` branch and a ``shortcut`` flag."""
    return callable(getattr(module, "residual", None)) and hasattr(module, "shortcut")


def _run(model: nn.Module, input_size: Sequence[int]):
    """Each module's call order, input and output shapes, on a copy in training mode (so that
    auxiliary heads run) without gradients."""
    calls: dict[str, list] = {}
    net = copy.deepcopy(model).train()
    names = {m: n for n, m in net.named_modules()}

    def pre(m, args):
        shape = tuple(args[0].shape[1:]) if args and torch.is_tensor(args[0]) else ()
        calls.setdefault(names[m], [len(calls), shape, None])

    def post(m, args, out):
        if torch.is_tensor(out):
            calls[names[m]][2] = tuple(out.shape[1:])

    handles = [h for m in net.modules() for h in (m.register_forward_pre_hook(pre),
                                                   m.register_forward_hook(post))]  # fmt: skip
    param = next(net.parameters(), None)
    device = param.device if param is not None else "cpu"
    generator = torch.Generator().manual_seed(0)
    try:
        with torch.no_grad():
            net(torch.randn(2, *input_size, generator=generator).to(device))
    finally:
        for h in handles:
            h.remove()
    return net, calls


def _shortcut_kind(block: nn.Module) -> str | None:
    if not block.shortcut:
        return None
    downsample = getattr(block, "downsample", None)
    if downsample is None:
        return "identity"
    return "pad" if isinstance(downsample, ZeroPadShortcut) else "projection"


def _add_towers(nodes: list[Node], modules: dict[str, nn.Module]) -> list[Node]:
    """Split the trunk into towers where grouped convolutions keep them apart: a convolution's
    output has as many towers as it has groups, or as the next convolution has (AlexNet's conv1
    and conv3 feed two towers); pooling and LRN keep them; a layer with fewer groups than the
    towers before it reads across them."""
    convs = [i for i, n in enumerate(nodes) if n.kind == "conv"]
    out, towers = [], 1
    for i, node in enumerate(nodes):
        module = modules[node.name]
        crosses = False
        if node.kind == "conv":
            after = [j for j in convs if j > i]
            groups = module.groups
            following = modules[nodes[after[0]].name].groups if after else 1
            crosses, towers = groups < towers, max(groups, following)
        elif node.kind in ("fc", "inception"):
            crosses, towers = towers > 1, 1
        label = node.label
        if node.kind == "conv" and towers > 1:
            label = _label(node.name, module, towers, node.shape)
        out.append(Node(node.name, node.kind, label, node.shape, towers, crosses))
    return out


def _nodes(net: nn.Module, calls: dict, expand_inception: bool):
    """Trunk nodes, head nodes by head, and blocks, in call order."""
    modules = dict(net.named_modules())
    skip: list[str] = []
    trunk: list[Node] = []
    heads: dict[str, tuple[int, list[Node]]] = {}
    blocks: list[str] = []
    for name in sorted(calls, key=lambda n: calls[n][0]):
        module, (_, in_shape, shape) = modules[name], calls[name]
        if not name or any(name == p or name.startswith(f"{p}.") for p in skip):
            continue
        if _is_block(module):
            blocks.append(name)
            if getattr(module, "downsample", None) is not None:
                skip.append(f"{name}.downsample")  # the shortcut path is drawn as a shortcut
            continue
        if isinstance(module, _HEADS):
            heads[name] = (len(trunk) - 1, [])
            continue
        unit = isinstance(module, (Inception, InceptionNaive)) and not expand_inception
        if not (unit or isinstance(module, _ATOMIC)) or shape is None:
            continue
        skip.append(name)
        adaptive = isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d))
        if adaptive and shape == in_shape:
            continue  # an adaptive pool that does nothing at this input size
        node = Node(name, _kind(module), _label(name, module, 1, shape), shape)
        head = next((h for h in heads if name.startswith(f"{h}.")), None)
        (heads[head][1] if head else trunk).append(node)
    return trunk, heads, blocks


def network_diagram(
    model: nn.Module,
    input_size: Sequence[int] = (3, 224, 224),
    *,
    name: str | None = None,
    expand_inception: bool = False,
) -> Diagram:
    """Read ``model`` as a diagram by running a copy once on a ``(2, *input_size)`` batch.

    Batch norms, activations and dropout belong to the layer before them and are not drawn;
    an Inception module is one node unless ``expand_inception`` (then its branches' layers are
    nodes, in call order). The model itself is not changed.
    """
    if len(input_size) != 3:
        raise ValueError(f"network_diagram: input_size must be (C, H, W); got {input_size}")
    net, calls = _run(model, input_size)
    modules = dict(net.named_modules())
    trunk, heads, blocks = _nodes(net, calls, expand_inception)
    shortcuts = []
    for block in blocks:
        inside = [i for i, n in enumerate(trunk) if n.name.startswith(f"{block}.")]
        kind = _shortcut_kind(modules[block])
        if inside and kind:
            shortcuts.append(Shortcut(block, inside[0], inside[-1], kind))
    return Diagram(
        name=name or type(model).__name__,
        input_shape=tuple(input_size),
        nodes=_add_towers(trunk, modules),
        shortcuts=shortcuts,
        heads=heads,
    )
