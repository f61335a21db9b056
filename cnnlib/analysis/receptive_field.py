"""Receptive fields, computed analytically through branches and shortcuts.

Following Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks"
(Distill 2019): a layer with kernel ``k``, stride ``s`` and dilation ``d`` maps a receptive field
of size ``r`` and jump ``j`` to ``r + (k - 1) * d * j`` and ``j * s``; padding is ignored (the
size may exceed the image); where paths merge (concatenation, addition) the largest field and
jump win. :class:`ReceptiveFieldMode` applies these rules to PyTorch's operators during one
forward pass (:func:`cnnlib.analysis.tracing.trace`), so branches, shortcuts, strided slicing
and adaptive or global pooling need no special care.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakTensorKeyDictionary

from cnnlib.analysis.tracing import (
    IMAGENET_INPUT,
    ModuleRecord,
    Trace,
    check_module_name,
    in_call_order,
    trace,
)

__all__ = ["ReceptiveField", "ReceptiveFieldMode", "receptive_field", "receptive_fields"]

aten = torch.ops.aten


@dataclass(frozen=True)
class ReceptiveField:
    """The receptive field of the output of one layer, in input pixels.

    Attributes:
        name: the layer's name in ``model.named_modules()``.
        size: the side of the receptive field (the largest over the spatial axes).
        stride: the distance between the receptive fields of neighbouring output units, a.k.a.
            the *jump* or effective stride (the largest over the spatial axes).
        sizes: the size along each spatial axis (height, width).
        strides: the stride along each spatial axis.
        output_shape: the layer's output shape, without the batch dimension.
    """

    name: str
    size: int
    stride: int
    sizes: tuple[int, ...]
    strides: tuple[int, ...]
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class _RF:
    """Receptive-field size and jump along each spatial axis, aligned with a tensor's last axes."""

    sizes: tuple[int, ...]
    jumps: tuple[int, ...]

    @staticmethod
    def merge(fields: Sequence[_RF]) -> _RF:
        """Where paths meet, the largest receptive field and the largest jump win."""
        return _RF(
            tuple(max(axis) for axis in zip(*(f.sizes for f in fields), strict=True)),
            tuple(max(axis) for axis in zip(*(f.jumps for f in fields), strict=True)),
        )

    def window(
        self, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int] = ()
    ) -> _RF:
        """A sliding window (convolution, pooling) over the last ``len(kernel)`` axes.

        Windows over more axes than are tracked (the channel axis of local response
        normalisation's pooling) use their last entries.
        """
        n = len(self.sizes)
        kernel, stride = _last(kernel, n), _last(stride, n)
        dilation = _last(dilation, n) if dilation else (1,) * len(kernel)
        sizes, jumps = list(self.sizes), list(self.jumps)
        for axis in range(1, len(kernel) + 1):  # aligned from the last axis
            sizes[-axis] += (kernel[-axis] - 1) * dilation[-axis] * jumps[-axis]
            jumps[-axis] *= stride[-axis]
        return _RF(tuple(sizes), tuple(jumps))


def _last(values: Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in values)[-n:]


def _adaptive_window(in_size: int, out_size: int) -> tuple[int, int]:
    """Kernel and stride equivalent to adaptive pooling from ``in_size`` to ``out_size``.

    Window ``i`` covers ``[floor(i * H / O), ceil((i + 1) * H / O))``; the kernel is the widest
    window, the stride the largest gap between window starts. This is exact when ``O`` divides
    ``H``; otherwise (and when ``O > H``, which upsamples) it is an upper bound.
    """
    starts = [(i * in_size) // out_size for i in range(out_size)]
    ends = [-((-(i + 1) * in_size) // out_size) for i in range(out_size)]
    kernel = max(e - s for s, e in zip(starts, ends, strict=True))
    if out_size == 1:
        return kernel, in_size
    return kernel, max(b - a for a, b in zip(starts, starts[1:], strict=False))


def _bind(func: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The arguments of an aten call by name (the defaults of its schema filled in)."""
    bound = {}
    for i, argument in enumerate(func._schema.arguments):
        if i < len(args):
            bound[argument.name] = args[i]
        elif argument.name in kwargs:
            bound[argument.name] = kwargs[argument.name]
        elif argument.has_default_value():
            bound[argument.name] = argument.default_value
    return bound


def _as_list(value: Any, n: int) -> list[int]:
    if isinstance(value, int):
        return [value] * n
    value = [int(v) for v in value]
    return value * n if len(value) == 1 else value


_CONVOLUTIONS = {aten.convolution, aten._convolution}
_POOLINGS = {
    aten.max_pool1d,
    aten.max_pool2d,
    aten.max_pool3d,
    aten.max_pool1d_with_indices,
    aten.max_pool2d_with_indices,
    aten.max_pool3d_with_indices,
    aten.avg_pool1d,
    aten.avg_pool2d,
    aten.avg_pool3d,
}
_ADAPTIVE_POOLINGS = {
    aten._adaptive_avg_pool2d,
    aten._adaptive_avg_pool3d,
    aten.adaptive_avg_pool1d,
    aten.adaptive_max_pool1d,
    aten.adaptive_max_pool2d,
    aten.adaptive_max_pool3d,
}
_REDUCTIONS = {aten.mean, aten.sum, aten.amax, aten.amin, aten.max, aten.min}
_PADDINGS = {
    aten.constant_pad_nd,
    aten.pad,
    aten.reflection_pad1d,
    aten.reflection_pad2d,
    aten.reflection_pad3d,
    aten.replication_pad1d,
    aten.replication_pad2d,
    aten.replication_pad3d,
}


class ReceptiveFieldMode(TorchDispatchMode):
    """Propagates receptive-field metadata (:class:`_RF`) from operator inputs to outputs.

    The metadata is held in a dictionary keyed weakly by tensor, so activations are freed as
    usual. Operations without a rule of their own pass the largest receptive field of their
    inputs to every output whose spatial shape is that of the input (or a broadcast of it):
    activations, batch norm, views, additions, concatenation along channels... An operation that
    changes the spatial shape without a rule (a transposed convolution, upsampling, a flatten)
    drops the metadata, and its name is remembered for error messages.
    """

    def __init__(self) -> None:
        super().__init__()
        self.num_spatial = 0
        self.fields: WeakTensorKeyDictionary = WeakTensorKeyDictionary()
        self.untracked: set[str] = set()

    def start(self, x: Tensor) -> None:
        """Make ``x`` (batch, channels, *spatial) the input: a field of 1 pixel, jump 1."""
        self.num_spatial = x.dim() - 2
        self.fields[x] = _RF((1,) * self.num_spatial, (1,) * self.num_spatial)

    def get(self, tensor: Tensor) -> _RF | None:
        return self.fields.get(tensor)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        try:
            self._propagate(func, args, kwargs, out)
        except Exception:  # a rule that does not fit must never break the forward pass
            self._drop(func, [t for t in tree_flatten(out)[0] if isinstance(t, Tensor)])
        return out

    # -- rules -------------------------------------------------------------------------------

    def _spatial(self, tensor: Tensor) -> tuple[int, ...] | None:
        if tensor.dim() < self.num_spatial:
            return None
        return tuple(tensor.shape[tensor.dim() - self.num_spatial :])

    def _propagate(self, func, args: tuple, kwargs: dict, out: Any) -> None:
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, Tensor)]
        tracked = [(t, self.fields[t]) for t in inputs if t in self.fields]
        if not tracked:
            return
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, Tensor)]
        packet = func._overloadpacket
        first = args[0] if args and isinstance(args[0], Tensor) else None
        rf = self.fields.get(first) if first is not None else None

        if packet in _CONVOLUTIONS and rf is not None:
            bound = _bind(func, args, kwargs)
            if bound.get("transposed"):
                return self._drop(func, outputs)
            kernel = list(bound["weight"].shape[2:])
            new = rf.window(
                kernel,
                _as_list(bound["stride"], len(kernel)),
                _as_list(bound["dilation"], len(kernel)),
            )
        elif packet in _POOLINGS and rf is not None:
            bound = _bind(func, args, kwargs)
            kernel = _as_list(bound["kernel_size"], first.dim() - 2)
            stride = _as_list(bound.get("stride") or kernel, len(kernel))
            dilation = _as_list(bound.get("dilation", 1), len(kernel))
            new = rf.window(kernel, stride, dilation)
        elif packet in _ADAPTIVE_POOLINGS and rf is not None:
            windows = [
                _adaptive_window(i, o)
                for i, o in zip(self._spatial(first), self._spatial(outputs[0]), strict=True)
            ]
            new = rf.window([k for k, _ in windows], [s for _, s in windows])
        elif packet in _REDUCTIONS and rf is not None and "dim" in _bind(func, args, kwargs):
            return self._reduce(func, args, kwargs, rf, first, outputs)
        elif packet is aten.slice and rf is not None:
            bound = _bind(func, args, kwargs)
            axis = bound["dim"] % first.dim() - first.dim()  # negative: counted from the end
            new = rf
            if -axis <= self.num_spatial and bound.get("step", 1) != 1:
                jumps = list(rf.jumps)
                jumps[axis] *= int(bound["step"])
                new = _RF(rf.sizes, tuple(jumps))
        elif packet in _PADDINGS and rf is not None:
            new = rf  # padding is ignored (Araujo et al.)
        else:
            return self._generic(func, tracked, outputs)
        for tensor in outputs:
            self.fields[tensor] = new

    def _reduce(self, func, args, kwargs, rf: _RF, first: Tensor, outputs: list[Tensor]) -> None:
        """A reduction over axes (``x.mean((2, 3), keepdim=True)``, global pooling)."""
        bound = _bind(func, args, kwargs)
        dims = bound.get("dim")
        if dims is None or isinstance(dims, int):
            dims = [] if dims is None else [dims]
        ndim = first.dim()
        axes = {d % ndim - ndim for d in dims} if dims else set(range(-ndim, 0))
        spatial_axes = {a for a in axes if -a <= self.num_spatial}
        if spatial_axes and not bound.get("keepdim", False):
            return self._drop(func, outputs)  # the spatial axes are gone
        shape = self._spatial(first)
        kernel = [shape[a] if a in spatial_axes else 1 for a in range(-self.num_spatial, 0)]
        new = rf.window(kernel, kernel)
        for tensor in outputs[:1]:  # not the indices of max.dim / min.dim
            self.fields[tensor] = new

    def _generic(self, func, tracked: list[tuple[Tensor, _RF]], outputs: list[Tensor]) -> None:
        """Outputs inherit the largest receptive field of the inputs of the same spatial shape."""
        for tensor in outputs:
            shape = self._spatial(tensor)
            if shape is None:
                continue
            fields = [rf for t, rf in tracked if self._feeds(t, tensor)]
            if fields:
                self.fields[tensor] = _RF.merge(fields)
            elif tensor.dim() > self.num_spatial:
                self.untracked.add(str(func))

    def _feeds(self, source: Tensor, result: Tensor) -> bool:
        """Whether ``result`` keeps the spatial axes of ``source``.

        That is, the same sizes, or a broadcast of them (``(N, C, 1, 1) * (N, C, H, W)``), but
        never a flatten (``(N, C, 1, 1) -> (N, C)``).
        """
        a, b = self._spatial(source), self._spatial(result)
        if a is None or b is None:
            return False
        if a == b:
            return True
        return source.dim() <= result.dim() and all(x in (y, 1) for x, y in zip(a, b, strict=True))

    def _drop(self, func, outputs: list[Tensor]) -> None:
        self.untracked.add(str(func))
        for tensor in outputs:
            self.fields.pop(tensor, None)


def _to_receptive_field(
    name: str, record: ModuleRecord, result: Trace, untracked: set[str]
) -> ReceptiveField:
    """The public :class:`ReceptiveField` of one module's record, or a clear error."""
    if record.calls == 0:
        raise ValueError(f"module {name!r} was not called during the forward pass")
    shape = record.output_shape
    if shape is None:
        raise ValueError(f"the output of {name!r} is not a tensor")
    if len(shape) < 1 + result.num_spatial:
        raise ValueError(
            f"the output of {name!r} has shape {shape} (without the batch), not a spatial "
            f"(channels, {result.num_spatial} spatial axes) map: it has no receptive field "
            f"to speak of; choose a convolutional or pooling layer"
        )
    if record.rf is None:
        lost = ", ".join(sorted(untracked)) or "unknown operators"
        raise ValueError(
            f"the receptive field of {name!r} (output {shape}) could not be tracked; "
            f"operators without a receptive-field rule on the way: {lost}"
        )
    rf = record.rf
    return ReceptiveField(
        name=name,
        size=max(rf.sizes),
        stride=max(rf.jumps),
        sizes=rf.sizes,
        strides=rf.jumps,
        output_shape=shape,
    )


def receptive_field(
    model: nn.Module, layer: str, input_size: Sequence[int] = IMAGENET_INPUT
) -> ReceptiveField:
    """The receptive field of the output of the module named ``layer`` (its last call).

    ``input_size`` is ``(batch, channels, height, width)``. Raises ``ValueError`` if ``layer``
    is not a module of ``model``, was not called, or its output is not a spatial map.

    >>> receptive_field(torchvision.models.vgg16(), "features.30")
    ReceptiveField(name='features.30', size=212, stride=32, ...)
    """
    check_module_name(model, layer)
    mode = ReceptiveFieldMode()
    result = trace(model, input_size, mode)
    return _to_receptive_field(layer, result.records[layer], result, mode.untracked)


def receptive_fields(
    model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT
) -> dict[str, ReceptiveField]:
    """The receptive fields of all modules with a spatial output, in one forward pass.

    Keys are names from ``model.named_modules()`` in the order of the forward pass.
    """
    mode = ReceptiveFieldMode()
    result = trace(model, input_size, mode)
    return {
        name: _to_receptive_field(name, record, result, mode.untracked)
        for name, record in in_call_order(result.records)
        if record.rf is not None and len(record.output_shape or ()) > result.num_spatial
    }
