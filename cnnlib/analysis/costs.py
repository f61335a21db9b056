"""What a model costs: parameters, multiply-accumulates (MACs), time per layer, depth.

MACs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` for one image: only
convolutions and matrix products count (batch norm, activations, pooling and additions are
free), the convention of torchvision's published "GFLOPS", which are in fact multiply-
accumulates (MACs = FLOPs / 2). Every count runs the model once in eval mode without gradients
and restores its training flags.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode
from torch.utils.weak import WeakTensorKeyDictionary

from cnnlib.analysis.tracing import (
    IMAGENET_INPUT,
    example_input,
    first_tensor,
    flops_to_macs,
    in_call_order,
    trace,
)
from cnnlib.runtime import eval_mode

__all__ = [
    "count_macs",
    "count_macs_by_module",
    "count_params",
    "network_depth",
    "summary",
    "time_by_module",
]

aten = torch.ops.aten


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (shared parameters counted once); with
    ``trainable_only``, only those with ``requires_grad=True``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT) -> int:
    """Multiply-accumulates of one forward pass on ``input_size`` (batch, channels, H, W), per
    image (e.g. 4.09e9 for ResNet-50 at 224, torchvision's published "GFLOPS")."""
    x = example_input(model, input_size)
    with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return flops_to_macs(counter.get_total_flops(), x.shape[0])


def count_macs_by_module(
    model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT
) -> dict[str, int]:
    """Multiply-accumulates per image of every module that ran, children included.

    A module's count is the counter's growth during its calls, so the root's (``""``) count is
    the model's and a container's is the sum of its children's plus any arithmetic in its own
    ``forward``. Keys are in the order of the forward pass.
    """
    result = trace(model, input_size)
    return {
        name: flops_to_macs(record.flops, result.batch_size)
        for name, record in in_call_order(result.records)
        if record.calls
    }


def summary(model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT) -> dict[str, Any]:
    """Parameters, trainable parameters, MACs per image and output shape, in one forward pass.

    >>> summary(torchvision.models.resnet50())
    {'params': 25557032, 'trainable_params': 25557032, 'macs': 4089184256,
     'input_size': (1, 3, 224, 224), 'output_shape': (1000,)}
    """
    result = trace(model, input_size)
    return {
        "params": count_params(model),
        "trainable_params": count_params(model, trainable_only=True),
        "macs": flops_to_macs(result.total_flops, result.batch_size),
        "input_size": tuple(int(s) for s in input_size),
        "output_shape": result.output_shape,
    }


def time_by_module(
    model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT, *, repeats: int = 3
) -> dict[str, float]:
    """Wall-clock seconds of the forward pass of every leaf module, and of the model (``""``):
    the median of ``repeats`` passes after a warm-up (on CUDA, synchronised around every
    module). Compare layers of one model on one machine; never exact numbers."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1; got {repeats}")
    x = example_input(model, input_size)
    sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda: None)
    leaves = [(n, m) for n, m in model.named_modules() if n and next(m.children(), None) is None]
    passes: list[dict[str, float]] = []
    starts: dict[str, float] = {}

    def pre_hook(name: str):
        def hook(module: nn.Module, args: Any) -> None:
            sync()
            starts[name] = time.perf_counter()

        return hook

    def post_hook(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            sync()
            passes[-1][name] = passes[-1].get(name, 0.0) + time.perf_counter() - starts[name]

        return hook

    handles = []
    for name, module in leaves:
        handles.append(module.register_forward_pre_hook(pre_hook(name)))
        handles.append(module.register_forward_hook(post_hook(name)))
    try:
        with eval_mode(model), torch.no_grad():
            for _ in range(repeats + 1):
                passes.append({})
                sync()
                start = time.perf_counter()
                model(x)
                sync()
                passes[-1][""] = time.perf_counter() - start
    finally:
        for handle in handles:
            handle.remove()
    timed = passes[1:]  # the first pass warms up
    return {
        name: statistics.median(p.get(name, 0.0) for p in timed)
        for name in ["", *(n for n, _ in leaves)]
        if any(name in p for p in timed)
    }


# Depth: the longest chains through the operators of one forward pass.
_WEIGHT_OPS = {aten.convolution, aten._convolution, aten.addmm, aten.mm, aten.bmm, aten.linear}
_NONLINEAR_OPS = {aten.relu, aten.relu_, aten.gelu, aten.tanh, aten.tanh_, aten.sigmoid,
                  aten.sigmoid_, aten.hardtanh, aten.hardtanh_, aten.elu, aten.leaky_relu,
                  aten.leaky_relu_, aten.silu, aten.silu_}  # fmt: skip


class _DepthMode(TorchDispatchMode):
    """Longest chains of weight layers and of activations from the input to each tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.depth: WeakTensorKeyDictionary = WeakTensorKeyDictionary()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, Tensor)]
        weights, nonlinear = 0, 0
        for t in inputs:
            w, a = self.depth.get(t, (0, 0))
            weights, nonlinear = max(weights, w), max(nonlinear, a)
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        weights += packet in _WEIGHT_OPS
        nonlinear += packet in _NONLINEAR_OPS
        for t in tree_flatten(out)[0]:
            if isinstance(t, Tensor):
                self.depth[t] = (weights, nonlinear)
        return out


def network_depth(model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT) -> dict[str, int]:
    """``{"weight_layers", "nonlinearities"}``: convolutions and matrix products on the longest
    input-output chain (the papers' "layers with parameters": VGG-16 16, GoogLeNet 22), and the
    activations on the path with the most of them, traced at the level of PyTorch's operators."""
    x = example_input(model, input_size)
    mode = _DepthMode()
    with eval_mode(model), torch.no_grad(), mode:
        out = first_tensor(model(x))
    weights, nonlinear = mode.depth.get(out, (0, 0))
    return {"weight_layers": weights, "nonlinearities": nonlinear}
