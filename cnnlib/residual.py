"""Residual networks analysed: block Jacobians, gradients at initialisation, paths, lesions,
and ``deepen`` (a deeper net computing exactly the same function), for the ResNet chapters
(He et al. 2016; Veit, Wilber & Belongie 2016)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from cnnlib.analysis.dynamics import gradient_norms
from cnnlib.models import create
from cnnlib.models.preact_resnet import PreActBlock
from cnnlib.models.resnet import (
    BasicBlock,
    Bottleneck,
    CifarResNet,
    ResNet,
    ZeroPadShortcut,
    init_weights,
)
from cnnlib.runtime import eval_mode

__all__ = [
    "BlockJacobian",
    "block_jacobian",
    "spectrum",
    "without_batchnorm",
    "block_gains",
    "scale_shortcuts",
    "init_gradient_norms",
    "count_paths",
    "path_length_distribution",
    "blocks",
    "is_downsampling",
    "remove_block",
    "remove_layer",
    "removable_layers",
    "lesion_study",
    "deepen",
]

_BLOCKS = (BasicBlock, Bottleneck, PreActBlock)


# ---------------------------------------------------------------------------------------------
# The Jacobian of one residual block
# ---------------------------------------------------------------------------------------------


@dataclass
class BlockJacobian:
    """Jacobians of a residual block ``block(x) = relu(F(x) + x)`` at one input, as ``(D, D)``
    matrices over the flattened input (``D = C * H * W``), in float64.

    ``residual`` is ``dF/dx``; ``total`` is ``d(F(x) + x)/dx`` (the block without its last
    ReLU, which is what a pre-activation ResNet computes); ``block`` is the whole block's
    Jacobian, ReLU included; ``mask`` is the ReLU's derivative ``1[F(x) + x > 0]``.
    """

    residual: Tensor
    total: Tensor
    block: Tensor
    mask: Tensor

    @property
    def size(self) -> int:
        return self.total.shape[0]

    @property
    def max_error(self) -> float:
        """``max |total - (residual + I)|``: zero up to rounding if ``dH/dx = dF/dx + I``."""
        eye = torch.eye(self.size, dtype=self.total.dtype)
        return float((self.total - self.residual - eye).abs().max())

    @property
    def relu_error(self) -> float:
        """``max |block - diag(mask) (residual + I)|``: the ReLU after the addition."""
        eye = torch.eye(self.size, dtype=self.total.dtype)
        return float((self.block - self.mask[:, None] * (self.residual + eye)).abs().max())


def _check_block(block: nn.Module) -> None:
    if not isinstance(block, _BLOCKS) or not hasattr(block, "residual"):
        raise ValueError(f"expected a BasicBlock or Bottleneck; got {type(block).__name__}")
    if not block.shortcut:
        raise ValueError("expected a residual block with a shortcut; got a plain block")
    if block.downsample is not None:
        raise ValueError(
            "expected a block with an identity shortcut (same shape in and out); this one "
            f"downsamples ({type(block.downsample).__name__}), so its Jacobian is not square"
        )


def block_jacobian(block: nn.Module, x: Tensor) -> BlockJacobian:
    """The Jacobians of ``block`` (identity shortcut) at the single input ``x``.

    ``x`` is one feature map ``(C, H, W)`` or a batch of one ``(1, C, H, W)``; keep ``C * H * W``
    to a few thousand (the Jacobian has ``(C*H*W)**2`` entries). The block is copied, put in eval
    mode (batch norm uses its running statistics, so the block is a function of ``x`` alone) and
    run in float64 through :func:`torch.autograd.functional.jacobian`.
    """
    _check_block(block)
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(
            f"x must be one feature map (C, H, W) or (1, C, H, W); got {tuple(x.shape)}"
        )
    f = copy.deepcopy(block).double().eval()
    for m in f.modules():  # the in-place ReLU would overwrite a tensor autograd needs
        if isinstance(m, nn.ReLU):
            m.inplace = False
    x = x.detach().to("cpu", torch.float64)
    f = f.to("cpu")
    d = x.numel()

    def flat(fn: Callable[[Tensor], Tensor]) -> Tensor:
        return torch.autograd.functional.jacobian(fn, x, vectorize=True).reshape(d, d)

    with torch.no_grad():
        mask = (f.residual(x) + x > 0).to(torch.float64).reshape(d)
    return BlockJacobian(
        residual=flat(f.residual),
        total=flat(lambda t: f.residual(t) + t),
        block=flat(f),
        mask=mask,
    )


def spectrum(jacobian: Tensor) -> dict[str, Tensor]:
    """Eigenvalues (complex) and singular values (descending) of a square matrix."""
    if jacobian.dim() != 2 or jacobian.shape[0] != jacobian.shape[1]:
        raise ValueError(f"expected a square matrix; got shape {tuple(jacobian.shape)}")
    return {
        "eigenvalues": torch.linalg.eigvals(jacobian),
        "singular_values": torch.linalg.svdvals(jacobian),
    }


def block_gains(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, dict[str, Tensor]]:
    """What each identity-shortcut block does to the gradient that really reaches it.

    ``model`` runs in eval mode on ``(x, y)``; for every block with an identity shortcut, ``g``
    is the loss gradient at its output, per image. Returned per block name, one value per image:
    ``gain`` ``||J^T g|| / ||g||`` through the whole block (its ReLU included), ``branch``
    ``||J_F^T (m * g)|| / ||g||`` through the residual branch alone, and ``blocked`` the
    fraction of units whose sum ``F(x) + x`` the final ReLU sets to zero (``m = 0``).
    """
    names = [n for n in blocks(model) if model.get_submodule(n).shortcut
             and model.get_submodule(n).downsample is None]  # fmt: skip
    if not names:
        raise ValueError("block_gains needs residual blocks with identity shortcuts")
    seen: dict[str, tuple[Tensor, Tensor]] = {}

    def keep(name: str):
        def hook(module: nn.Module, args: tuple, out: Tensor) -> None:
            out.retain_grad()
            seen[name] = (args[0], out)

        return hook

    with eval_mode(model):
        handles = [model.get_submodule(n).register_forward_hook(keep(n)) for n in names]
        try:
            xg = x.detach().requires_grad_()
            nn.functional.cross_entropy(model(xg), y, reduction="sum").backward()
        finally:
            for h in handles:
                h.remove()
        return {n: _gain(model.get_submodule(n), *seen[n]) for n in names}


def _gain(block: nn.Module, x_in: Tensor, out: Tensor) -> dict[str, Tensor]:
    g = out.grad.detach()
    x = x_in.detach().requires_grad_()
    s = block.residual(x) + x
    mask = (s > 0).to(g.dtype)
    (through_block,) = torch.autograd.grad(s, x, mask * g, retain_graph=True)
    (through_branch,) = torch.autograd.grad(s - x, x, mask * g)
    norm = g.flatten(1).norm(dim=1)
    return {
        "gain": through_block.flatten(1).norm(dim=1) / norm,
        "branch": through_branch.flatten(1).norm(dim=1) / norm,
        "blocked": 1 - mask.flatten(1).mean(dim=1),
    }


def scale_shortcuts(model: nn.Module, scale: float) -> nn.Module:
    """A copy of ``model`` whose identity shortcuts are multiplied by ``scale``:
    ``x_{l+1} = scale * x_l + F(x_l)`` (before any final ReLU), the "constant scaling" of the
    Identity Mappings paper's section 3.1, which makes the shortcut path's gradient
    ``scale ** (L - l)`` instead of 1."""
    model = copy.deepcopy(model)
    for name in blocks(model):
        block = model.get_submodule(name)
        if block.shortcut and block.downsample is None:
            after = None if isinstance(block, PreActBlock) else block.relu

            def forward(x, block=block, after=after):
                out = scale * x + block.residual(x)
                return after(out) if after is not None else out

            block.forward = forward
    return model


# ---------------------------------------------------------------------------------------------
# Gradient norms at initialisation
# ---------------------------------------------------------------------------------------------


def without_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every batch-norm layer replaced by ``nn.Identity``.

    The book's ResNets have no convolution biases (a batch norm follows each convolution), so
    the copy has no shift parameters either: what is left is convolutions, ReLUs, shortcuts and
    the classifier. The original is left unchanged.
    """
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _BatchNorm):
                setattr(parent, name, nn.Identity())
    return model


def init_gradient_norms(
    names: Sequence[str],
    x: Tensor,
    y: Tensor,
    *,
    batchnorm: bool = True,
    seed: int = 0,
    **kwargs: Any,
) -> dict[str, dict[str, float]]:
    """``{name: {layer: ||dL/dW||}}`` for freshly initialised models (``cnnlib.models.create``).

    Every model is built after ``torch.manual_seed(seed)``, without batch norm when
    ``batchnorm=False`` (:func:`without_batchnorm`), on ``x``'s device, and measured by
    :func:`cnnlib.analysis.gradient_norms` on ``(x, y)`` in training mode; ``kwargs`` go to it.
    """
    if not names:
        raise ValueError("names must list at least one model name")
    out: dict[str, dict[str, float]] = {}
    for name in names:
        torch.manual_seed(seed)
        model = create(name)
        if not batchnorm:
            model = without_batchnorm(model)
        out[name] = gradient_norms(model.to(x.device), x, y, **kwargs)
    return out


# ---------------------------------------------------------------------------------------------
# The unrolled view: paths
# ---------------------------------------------------------------------------------------------


def _check_n(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n must be a non-negative number of blocks; got {n!r}")


def count_paths(n: int) -> int:
    """Paths from input to output through ``n`` residual blocks: each block is either entered
    (its residual branch) or skipped (its shortcut), so ``2**n``."""
    _check_n(n)
    return 2**n


def path_length_distribution(n: int) -> list[int]:
    """How many of the ``2**n`` paths pass through ``k`` residual branches, ``k = 0 ... n``:
    the binomial coefficients ``C(n, k)`` (exact integers; divide by ``2**n`` for the
    fractions of Veit et al.'s figure)."""
    _check_n(n)
    return [math.comb(n, k) for k in range(n + 1)]


# ---------------------------------------------------------------------------------------------
# Lesion study
# ---------------------------------------------------------------------------------------------


def blocks(model: nn.Module) -> list[str]:
    """Names of the model's residual blocks (basic, bottleneck or pre-activation; residual or
    plain), input to output."""
    return [n for n, m in model.named_modules() if isinstance(m, _BLOCKS)]


def _in_out(block: nn.Module) -> tuple[int, int]:
    last = block.conv3 if isinstance(block, Bottleneck) else block.conv2
    return block.conv1.in_channels, last.out_channels


def is_downsampling(block: nn.Module) -> bool:
    """Does the block change the shape (stride 2, or more channels out than in)?"""
    cin, cout = _in_out(block)
    return block.stride != 1 or cin != cout


def _shortcut_of(block: nn.Module) -> nn.Module:
    if block.shortcut and block.downsample is not None:
        return copy.deepcopy(block.downsample)
    if not is_downsampling(block):
        return nn.Identity()
    cin, cout = _in_out(block)
    return ZeroPadShortcut(cin, cout, block.stride)  # a plain block: option A, no parameters


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def remove_block(model: nn.Module, name: str) -> nn.Module:
    """A copy of ``model`` in which block ``name`` is replaced by its shortcut alone.

    The replacement computes ``relu(shortcut(x))``, which is the block with its residual branch
    deleted. A residual block keeps its own shortcut (identity, option A or B); a plain block, or
    a block without one, gets the identity or, where the shape changes, option A (subsample and
    pad with zeros), so that the rest of the network still fits.
    """
    names = blocks(model)
    if name not in names:
        raise ValueError(f"{name!r} is not a block of this model; its blocks: {', '.join(names)}")
    model = copy.deepcopy(model)
    block = model.get_submodule(name)
    after = nn.Identity() if isinstance(block, PreActBlock) else nn.ReLU()  # nothing after "+"
    _set_module(model, name, nn.Sequential(_shortcut_of(block), after))
    return model


def removable_layers(model: nn.Module) -> list[str]:
    """Convolutions inside the model's blocks that keep the shape (stride 1, as many channels
    out as in), so that :func:`remove_layer` can delete them."""
    out = []
    for b in blocks(model):
        for n, m in model.get_submodule(b).named_children():
            if isinstance(m, nn.Conv2d) and m.stride == (1, 1) and m.in_channels == m.out_channels:
                out.append(f"{b}.{n}")
    return out


def remove_layer(model: nn.Module, name: str) -> nn.Module:
    """A copy of ``model`` with the convolution ``name`` and its batch norm (``convK`` ->
    ``bnK``) replaced by the identity: one layer of a plain net deleted. The ReLU after it stays.
    """
    allowed = removable_layers(model)
    if name not in allowed:
        raise ValueError(
            f"{name!r} is not a shape-keeping convolution inside a block; removable layers: "
            f"{', '.join(allowed) or '(none)'}"
        )
    model = copy.deepcopy(model)
    _set_module(model, name, nn.Identity())
    parent, _, conv = name.rpartition(".")
    bn = f"{parent}.{conv.replace('conv', 'bn')}"
    if isinstance(model.get_submodule(parent), _BLOCKS) and hasattr(
        model.get_submodule(parent), conv.replace("conv", "bn")
    ):
        _set_module(model, bn, nn.Identity())
    return model


def lesion_study(
    model: nn.Module,
    loader: Iterable,
    units: Sequence[str] | None = None,
    *,
    remove: Callable[[nn.Module, str], nn.Module] = remove_block,
    device: str | torch.device | None = None,
    channels_last: bool = False,
) -> list[dict[str, Any]]:
    """Test accuracy of ``model`` with each of ``units`` deleted in turn (one at a time).

    ``remove`` is :func:`remove_block` (default; ``units`` defaults to every block) or
    :func:`remove_layer`. Returns one row per unit, ``{"removed", "acc", "change",
    "downsampling"}``, after a first row ``removed="(none)"`` for the intact model; ``change``
    is the accuracy minus the intact model's. Accuracies from :func:`cnnlib.train.evaluate`.
    """
    from cnnlib.train import evaluate

    units = list(blocks(model) if units is None else units)
    if not units:
        raise ValueError("nothing to remove: the model has no blocks and no units were given")

    def acc(m: nn.Module) -> float:
        return evaluate(m, loader, device=device, channels_last=channels_last)["acc"]

    base = acc(model)
    rows = [{"removed": "(none)", "acc": base, "change": 0.0, "downsampling": False}]
    for unit in units:
        block = unit if unit in blocks(model) else unit.rpartition(".")[0]
        lesioned = remove(model, unit)
        a = acc(lesioned)
        down = block in blocks(model) and is_downsampling(model.get_submodule(block))
        rows.append({"removed": unit, "acc": a, "change": a - base, "downsampling": down})
    return rows


# ---------------------------------------------------------------------------------------------
# Identity mapping: a deeper net that computes the same function
# ---------------------------------------------------------------------------------------------


def _stages(model: nn.Module) -> list[tuple[str, nn.Sequential]]:
    """The ``layer1``, ``layer2``, ... stages of a ResNet or CIFAR ResNet, in order."""
    stages = []
    for i in range(1, 10):
        stage = getattr(model, f"layer{i}", None)
        if not isinstance(stage, nn.Sequential):
            break
        stages.append((f"layer{i}", stage))
    return stages


def _check_deepen(stages: list, model: nn.Module, blocks: int | Sequence[int]) -> list[int]:
    """The number of blocks to add to each stage, or ``ValueError``."""
    if not stages or not all(isinstance(b, (BasicBlock, Bottleneck)) for _, s in stages for b in s):
        raise ValueError(
            f"deepen expects a ResNet or CifarResNet (stages layer1, layer2, ... of BasicBlock or "
            f"Bottleneck); got {type(model).__name__}"
        )
    if any(not b.shortcut for _, s in stages for b in s):
        raise ValueError(
            "deepen needs residual blocks: a plain block (no shortcut) with a zero scale outputs "
            "relu(0) = 0, not its input; use a ResNet, not a plain net"
        )
    counts = [blocks] * len(stages) if isinstance(blocks, int) else list(blocks)
    if len(counts) != len(stages) or any(not isinstance(n, int) or n < 0 for n in counts):
        raise ValueError(
            f"blocks must be a non-negative int or one per stage ({len(stages)} stages); "
            f"got {blocks!r}"
        )
    return counts


def deepen(model: ResNet | CifarResNet, blocks: int | Sequence[int] = 1) -> ResNet | CifarResNet:
    """A deeper copy of ``model`` that computes exactly the same function, bit for bit.

    Appends ``blocks`` residual blocks (one number, or one per stage) to each stage, of the
    stage's type and width, He-initialised with a zero last batch-norm scale: each new block is
    the identity (the paper's section 1 construction). ``model`` is unchanged. Raises
    ``ValueError`` for a plain net, a model without residual stages, or bad ``blocks``.
    """
    stages = _stages(model)
    counts = _check_deepen(stages, model, blocks)
    deeper = copy.deepcopy(model)
    reference = next(deeper.parameters())
    added = 0
    for (name, _), n in zip(stages, counts, strict=True):
        stage = getattr(deeper, name)
        last = stage[-1]
        block_type = type(last)
        planes = last.conv1.out_channels
        inplanes = planes * block_type.expansion
        # v1 or v1.5 (no difference without a stride, but the copy says what it is)
        kwargs: dict[str, Any] = (
            {"stride_in_1x1": True} if getattr(deeper, "stride_in_1x1", False) else {}
        )
        for _ in range(n):
            block = block_type(inplanes, planes, **kwargs)
            init_weights(block, zero_init_residual=True)
            block.train(deeper.training)
            stage.append(block.to(device=reference.device, dtype=reference.dtype))
            added += 1
    if isinstance(deeper, CifarResNet):
        deeper.depth = model.depth + 2 * added  # two weighted layers per basic block
    return deeper
