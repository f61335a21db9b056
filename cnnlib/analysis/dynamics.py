"""Training dynamics of a model: gradient, weight and response norms, layer by layer.

Each function measures one batch and leaves the model as it found it (gradients, training flags
and batch-norm statistics restored).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlib.analysis.tracing import first_tensor
from cnnlib.runtime import eval_mode

__all__ = [
    "gradient_norms",
    "gradient_norms_by_head",
    "norms_by_block",
    "response_stds",
    "weight_norms",
]


def gradient_norms(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    loss_fn: Any = None,
    layers: type | tuple[type, ...] = (nn.Conv2d, nn.Linear),
    train_mode: bool = True,
    relative: bool = False,
) -> dict[str, float]:
    """``{module name: ||dL/dW||_2}`` of every ``layers`` module after one backward pass of
    ``loss_fn(model(x), y)`` (cross-entropy by default), in registration order.

    ``train_mode=True`` measures what training sees (batch norm on batch statistics);
    ``relative=True`` divides each norm by the weight's, ``||dL/dW|| / ||W||``: the size of an SGD
    step relative to the weight, the number that matters before a batch norm.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    if y.shape[:1] != x.shape[:1]:
        raise ValueError(f"y must hold one label per image: x has {x.shape[0]}, y has {y.shape[0]}")
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, layers)]
    named = [(n, m) for n, m in named if getattr(m, "weight", None) is not None]
    if not named:
        raise ValueError(f"model has no {layers} layers with weights")
    loss_fn = loss_fn if loss_fn is not None else nn.functional.cross_entropy
    saved_grads = {p: p.grad for p in model.parameters()}
    flags = {m: m.training for m in model.modules()}
    # batch norm updates its running statistics in training mode: keep them as they were
    saved_buffers = {b: b.clone() for b in model.buffers()}
    try:
        model.train(train_mode)
        for p in model.parameters():
            p.grad = None
        out = first_tensor(model(x))
        loss_fn(out, y).backward()
        norms = {
            n: float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0 for n, m in named
        }
        if relative:
            weights = weight_norms(model, layers)
            norms = {
                n: g / weights[n] if weights[n] > 0 else float("inf") for n, g in norms.items()
            }
        return norms
    finally:
        for p, g in saved_grads.items():
            p.grad = g
        for m, flag in flags.items():
            m.training = flag
        with torch.no_grad():
            for b, saved in saved_buffers.items():
                b.copy_(saved)


def weight_norms(
    model: nn.Module, layers: type | tuple[type, ...] = (nn.Conv2d, nn.Linear)
) -> dict[str, float]:
    """``{module name: ||W||_2}`` of every ``layers`` module: the companion of
    :func:`gradient_norms` (same names, same order)."""
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, layers)]
    norms = {
        n: float(m.weight.detach().norm())
        for n, m in named
        if getattr(m, "weight", None) is not None
    }
    if not norms:
        raise ValueError(f"model has no {layers} layers with weights")
    return norms


def response_stds(
    model: nn.Module, x: Tensor, layers: type | tuple[type, ...] = nn.BatchNorm2d
) -> dict[str, float]:
    """``{module name: std}`` of the output of every ``layers`` module on the batch ``x``, in
    the order they run, in eval mode. With the default ``layers``, the ResNet paper's figure 7
    (each 3x3 layer's output after BN; in a residual block the last one is ``F(x)``)."""
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    names = {m: n for n, m in model.named_modules() if isinstance(m, layers)}
    if not names:
        raise ValueError(f"model has no {layers} layers")
    stds: dict[str, float] = {}

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        out = first_tensor(output)
        if out is not None:  # measured now: an in-place ReLU may overwrite the tensor later
            stds[names[module]] = float(out.float().std())

    handles = [m.register_forward_hook(record) for m in names]
    try:
        with eval_mode(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return stds


def gradient_norms_by_head(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    aux_weight: float = 0.3,
    layers: type | tuple[type, ...] = nn.Conv2d,
) -> dict[str, dict[str, float]]:
    """The weight-gradient norm of every ``layers`` module of a GoogLeNet with auxiliary heads,
    from the main loss and from ``aux_weight`` times the auxiliary losses separately:
    ``{"main": {name: norm}, "aux": {...}, "total": {...}}`` (the total: the norm of the sum, the
    gradient training follows), after one training-mode forward pass."""
    if x.dim() != 4 or y.shape[:1] != x.shape[:1]:
        raise ValueError(f"expected images (N, C, H, W) and N labels; got x {tuple(x.shape)}, "
                         f"y {tuple(y.shape)}")  # fmt: skip
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, layers)]
    saved = {p: p.grad for p in model.parameters()}
    flags = {m: m.training for m in model.modules()}
    try:
        model.train()
        out = model(x)
        if isinstance(out, Tensor) or len(out) < 2 or any(o is None for o in out[1:]):
            raise ValueError(
                "gradient_norms_by_head needs a model with auxiliary heads (aux_logits=True) "
                "that returns (logits, aux...) in training"
            )
        main = F.cross_entropy(out[0], y)
        aux = aux_weight * sum(F.cross_entropy(a, y) for a in out[1:])
        grads = {}
        for key, loss in (("main", main), ("aux", aux)):
            for p in model.parameters():
                p.grad = None
            loss.backward(retain_graph=key == "main")
            grads[key] = {n: m.weight.grad.detach().clone() if m.weight.grad is not None
                          else torch.zeros_like(m.weight) for n, m in named}  # fmt: skip
        result = {k: {n: float(g.norm()) for n, g in v.items()} for k, v in grads.items()}
        result["total"] = {n: float((grads["main"][n] + grads["aux"][n]).norm()) for n, _ in named}
        return result
    finally:
        for p, g in saved.items():
            p.grad = g
        for m, flag in flags.items():
            m.training = flag


def norms_by_block(norms: dict[str, float], skip: tuple[str, ...] = ("aux",)) -> dict[str, float]:
    """Per-layer norms (``{"inception3a.branch2.1.conv": norm, ...}``, as the gradient functions
    above return) combined per top-level block (``inception3a``): the square root of the sum of
    squares, the norm of the block's weights taken together, in network order. Blocks whose
    name starts with one of ``skip`` are left out (GoogLeNet's heads: their gradient is theirs
    alone)."""
    blocks: dict[str, float] = {}
    for layer, norm in norms.items():
        block = layer.split(".")[0]
        if not block.startswith(skip):
            blocks[block] = blocks.get(block, 0.0) + norm**2
    return {block: total**0.5 for block, total in blocks.items()}
