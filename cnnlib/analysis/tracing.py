"""One instrumented forward pass, shared by the cost counts, receptive fields and layer tables.

:func:`trace` runs a model once on a zero input and records, for every module, when it first
ran, how often, its output shape, the multiply-accumulates spent inside it and, given a tracker
(the receptive-field mode of :mod:`cnnlib.analysis.receptive_field`), what the tracker knows
about its output.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from cnnlib.runtime import eval_mode

__all__ = [
    "IMAGENET_INPUT",
    "ModuleRecord",
    "Trace",
    "check_module_name",
    "example_input",
    "first_tensor",
    "flops_to_macs",
    "in_call_order",
    "trace",
]

IMAGENET_INPUT = (1, 3, 224, 224)


def example_input(model: nn.Module, input_size: Sequence[int]) -> Tensor:
    """A zero tensor of ``input_size`` on the device (and floating dtype) of the model."""
    input_size = tuple(int(s) for s in input_size)
    if len(input_size) < 3:
        raise ValueError(
            f"input_size must be (batch, channels, *spatial), e.g. (1, 3, 224, 224); "
            f"got {input_size}"
        )
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    device = tensor.device if tensor is not None else torch.device("cpu")
    dtype = tensor.dtype if tensor is not None and tensor.is_floating_point() else torch.float32
    return torch.zeros(input_size, device=device, dtype=dtype)


def first_tensor(output: Any) -> Tensor | None:
    """The first tensor in a module's output (a tensor, a tuple, a named tuple, a dict...)."""
    leaves, _ = tree_flatten(output)
    return next((leaf for leaf in leaves if isinstance(leaf, Tensor)), None)


def flops_to_macs(flops: int, batch_size: int) -> int:
    """``FlopCounterMode``'s FLOPs of a batch as multiply-accumulates per image."""
    return round(flops / (2 * batch_size))


def check_module_name(model: nn.Module, name: str) -> None:
    """Raise ``ValueError`` naming the closest valid names unless ``model`` has module ``name``."""
    names = [n for n, _ in model.named_modules()]
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5)
    examples = close or [n for n in names if n][:5] + (["..."] if len(names) > 6 else [])
    raise ValueError(
        f"{type(model).__name__} has no module named {name!r}; valid names include "
        f"{', '.join(repr(n) for n in examples)} (see model.named_modules())"
    )


@dataclass
class ModuleRecord:
    """What one module did during the forward pass (the output is that of its last call)."""

    order: int | None = None  # position of the first call in the forward pass
    calls: int = 0
    flops: int = 0
    output_shape: tuple[int, ...] | None = None
    rf: Any = None  # what the tracker knows of the output (its receptive field)
    open_calls: list[int] = field(default_factory=list)  # FLOP counts at the open calls


@dataclass
class Trace:
    """The records of one forward pass, by module name (``""`` is the model)."""

    records: dict[str, ModuleRecord]
    num_spatial: int
    batch_size: int
    total_flops: int
    output_shape: tuple[int, ...] | None


def _hooks(records: dict[str, ModuleRecord], counter: FlopCounterMode, tracker: Any):
    """The forward pre-hook and hook factories that fill ``records``."""
    order = itertools.count()

    def pre_hook(name: str):
        def hook(module: nn.Module, args: Any) -> None:
            record = records[name]
            if record.order is None:
                record.order = next(order)
            record.open_calls.append(counter.get_total_flops())

        return hook

    def post_hook(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            record = records[name]
            start = record.open_calls.pop()
            if not record.open_calls:  # the outermost call of a recursive module counts
                record.flops += counter.get_total_flops() - start
            record.calls += 1
            tensor = first_tensor(output)
            record.output_shape = tuple(tensor.shape[1:]) if tensor is not None else None
            record.rf = tracker.get(tensor) if tracker is not None and tensor is not None else None

        return hook

    return pre_hook, post_hook


def trace(model: nn.Module, input_size: Sequence[int], tracker: Any = None) -> Trace:
    """Run ``model`` once, recording each module's output shape, FLOPs and tracker annotation.

    The model runs in eval mode under ``torch.no_grad()`` on a zero tensor of ``input_size`` on
    its device; its training flags are restored. ``tracker`` is a dispatch mode with
    ``start(x)`` and ``get(tensor)`` (:class:`~cnnlib.analysis.receptive_field.ReceptiveFieldMode`)
    or ``None``.
    """
    x = example_input(model, input_size)
    modules = dict(model.named_modules())
    records = {name: ModuleRecord() for name in modules}
    counter = FlopCounterMode(display=False)
    pre_hook, post_hook = _hooks(records, counter, tracker)
    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name)))
        with eval_mode(model), torch.no_grad(), counter:
            # the tracker sits on top: it sees each operator before the counter decomposes it
            with tracker if tracker is not None else contextlib.nullcontext():
                if tracker is not None:
                    tracker.start(x)
                output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    tensor = first_tensor(output)
    return Trace(
        records=records,
        num_spatial=x.dim() - 2,
        batch_size=x.shape[0],
        total_flops=counter.get_total_flops(),
        output_shape=tuple(tensor.shape[1:]) if tensor is not None else None,
    )


def in_call_order(records: dict[str, ModuleRecord]) -> list[tuple[str, ModuleRecord]]:
    """``records`` in the order of the forward pass, the modules that did not run last."""
    called = [(n, r) for n, r in records.items() if r.order is not None]
    uncalled = [(n, r) for n, r in records.items() if r.order is None]
    return sorted(called, key=lambda item: item[1].order) + uncalled
