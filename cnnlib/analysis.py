"""Analysis of a model: parameters, multiply-accumulates, receptive fields and per-layer tables.

Everything here is *computed* from a model by running it once, never typed in, so the book's
tables stay true to the code.

* :func:`count_params`: number of parameters.
* :func:`count_macs`: multiply-accumulates (MACs) for one image, counted by PyTorch's
  :class:`torch.utils.flop_counter.FlopCounterMode`.
* :func:`receptive_field` / :func:`receptive_fields`: the analytic receptive field of a layer's
  output, through inception branches (concatenation) and residual shortcuts (addition).
* :func:`layer_table`: one row per layer with its output shape, parameters, MACs and receptive
  field, rendered as Markdown or HTML in a notebook.
* :func:`summary`: parameters, MACs and output shape in a small dict.
* :func:`gradient_norms`: the gradient norm of every weight layer after one backward pass.
* :func:`weight_norms`: the norm of every weight layer's weight (the scale a gradient acts on).
* :func:`response_stds`: the standard deviation of every layer's output on a batch (the ResNet
  paper's figure 7).
* :func:`network_depth`: weight layers and activations on the longest path from input to output.

Conventions
-----------

**MACs.** ``FlopCounterMode`` counts the arithmetic of convolutions and matrix products (linear
layers) only; batch norm, activations, pooling and additions count zero. This is the convention
of torchvision's published "GFLOPS", which are in fact giga multiply-accumulates: one MAC is one
multiplication plus one addition, so MACs = FLOPs / 2. :func:`count_macs` reports MACs *per
image* (the count for the batch divided by the batch size).

**Receptive fields.** The receptive field of a unit is the region of the input image it can see.
It is computed analytically, following Araujo, Norris & Sim, "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019:

* every layer with kernel ``k``, stride ``s`` and dilation ``d`` maps a receptive field of size
  ``r`` and *jump* ``j`` (the distance, in input pixels, between neighbouring units) to
  ``r + (k - 1) * d * j`` and ``j * s``; the input image has ``r = 1`` and ``j = 1``. This gives
  ``r = 1 + sum_l (k_l - 1) * d_l * prod_{i<l} s_i``;
* padding is ignored, so the size can exceed the image (ResNet-50's ``layer4`` sees 483 pixels of
  a 224-pixel image): it is the extent of the region, not its intersection with the image;
* where paths merge (concatenation in an inception module, addition at a residual shortcut, any
  operation with several inputs) the largest receptive field and the largest jump win;
* strided slicing (``x[:, :, ::2, ::2]``, the option A shortcut of the ResNet paper) multiplies
  the jump by the step and leaves the size alone;
* adaptive pooling from ``H`` to ``O`` positions acts as a window of ``max_i(end_i - start_i)``
  positions with a stride of the largest gap between window starts, which is exact when ``O``
  divides ``H`` (the case of all the book's models at their native input size) and an upper
  bound otherwise. A global average (``O = 1``, or a mean over the spatial axes) sees the whole
  feature map: its receptive field is the union of all its inputs' receptive fields,
  ``r + (H - 1) * j``, and its jump is ``H * j``.

The receptive fields are tracked at the level of PyTorch's operators (``aten.convolution``,
``aten.max_pool2d_with_indices``, ``aten.cat``, ``aten.add_``...) by a
:class:`~torch.utils._python_dispatch.TorchDispatchMode` during a real forward pass, and each
module's output is recorded by a forward hook. Python control flow in ``forward`` (GoogLeNet's
auxiliary classifiers, ``torch.jit.is_scripting()``) therefore needs no special care. The model
runs in eval mode under ``torch.no_grad()`` on a zero tensor of ``input_size`` placed on the
model's device; the training flags of all modules are restored afterwards.
"""

from __future__ import annotations

import contextlib
import difflib
import html
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode
from torch.utils.weak import WeakTensorKeyDictionary

__all__ = [
    "ReceptiveField",
    "LayerRow",
    "LayerTable",
    "count_params",
    "count_macs",
    "count_macs_by_module",
    "receptive_field",
    "receptive_fields",
    "layer_table",
    "summary",
    "gradient_norms",
    "weight_norms",
    "response_stds",
    "time_by_module",
    "network_depth",
]

IMAGENET_INPUT = (1, 3, 224, 224)

aten = torch.ops.aten


# ---------------------------------------------------------------------------------------------
# Running a model once
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every module in eval mode and restore each module's own training flag afterwards."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in flags:
            module.training = training


def _example_input(model: nn.Module, input_size: Sequence[int]) -> Tensor:
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


def _first_tensor(output: Any) -> Tensor | None:
    """The first tensor in a module's output (a tensor, a tuple, a named tuple, a dict...)."""
    leaves, _ = tree_flatten(output)
    return next((leaf for leaf in leaves if isinstance(leaf, Tensor)), None)


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (shared parameters counted once).

    Args:
        model: the model.
        trainable_only: count only the parameters with ``requires_grad=True``.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT) -> int:
    """Multiply-accumulates of one forward pass, per image.

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (FLOPs / 2, divided by the batch
    size) with the model in eval mode under ``torch.no_grad()``; the training flags are restored
    afterwards. Only convolutions and matrix products (linear layers) count, which is the
    convention of torchvision's published "GFLOPS" (e.g. 4.09 for ResNet-50); batch norm,
    activations, pooling and additions are free.

    Args:
        model: the model.
        input_size: ``(batch, channels, height, width)`` of the input.
    """
    x = _example_input(model, input_size)
    with _eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return _flops_to_macs(counter.get_total_flops(), x.shape[0])


def _flops_to_macs(flops: int, batch_size: int) -> int:
    return round(flops / (2 * batch_size))


# ---------------------------------------------------------------------------------------------
# Receptive-field tracking
# ---------------------------------------------------------------------------------------------


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


class _ReceptiveFieldMode(TorchDispatchMode):
    """Propagates receptive-field metadata (:class:`_RF`) from operator inputs to outputs.

    The metadata is held in a dictionary keyed weakly by tensor, so activations are freed as
    usual. Operations without a rule of their own pass the largest receptive field of their
    inputs to every output whose spatial shape is that of the input (or a broadcast of it):
    activations, batch norm, views, additions, concatenation along channels... An operation that
    changes the spatial shape without a rule (a transposed convolution, upsampling, a flatten)
    drops the metadata, and its name is remembered for error messages.
    """

    def __init__(self, num_spatial: int) -> None:
        super().__init__()
        self.num_spatial = num_spatial
        self.fields: WeakTensorKeyDictionary = WeakTensorKeyDictionary()
        self.untracked: set[str] = set()

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


# ---------------------------------------------------------------------------------------------
# One instrumented forward pass
# ---------------------------------------------------------------------------------------------


@dataclass
class _ModuleRecord:
    """What one module did during the forward pass (the output is that of its last call)."""

    order: int | None = None  # position of the first call in the forward pass
    calls: int = 0
    flops: int = 0
    output_shape: tuple[int, ...] | None = None
    rf: _RF | None = None
    open_calls: list[int] = field(default_factory=list)  # FLOP counts at the open calls


@dataclass
class _Trace:
    records: dict[str, _ModuleRecord]
    num_spatial: int
    batch_size: int
    total_flops: int
    output_shape: tuple[int, ...] | None
    untracked: set[str]


def _trace(model: nn.Module, input_size: Sequence[int], receptive_fields: bool = True) -> _Trace:
    """Run ``model`` once, recording each module's output shape, receptive field and FLOPs."""
    x = _example_input(model, input_size)
    modules = dict(model.named_modules())
    records = {name: _ModuleRecord() for name in modules}
    rf_mode = _ReceptiveFieldMode(num_spatial=x.dim() - 2) if receptive_fields else None
    counter = FlopCounterMode(display=False)
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
            tensor = _first_tensor(output)
            record.output_shape = tuple(tensor.shape[1:]) if tensor is not None else None
            record.rf = rf_mode.get(tensor) if rf_mode is not None and tensor is not None else None

        return hook

    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
            handles.append(module.register_forward_hook(post_hook(name)))
        with _eval_mode(model), torch.no_grad(), counter:
            # the receptive-field mode sits on top: it sees each operator before the counter
            # decomposes it
            with rf_mode if rf_mode is not None else contextlib.nullcontext():
                if rf_mode is not None:
                    spatial = x.dim() - 2
                    rf_mode.fields[x] = _RF((1,) * spatial, (1,) * spatial)
                output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    tensor = _first_tensor(output)
    return _Trace(
        records=records,
        num_spatial=x.dim() - 2,
        batch_size=x.shape[0],
        total_flops=counter.get_total_flops(),
        output_shape=tuple(tensor.shape[1:]) if tensor is not None else None,
        untracked=rf_mode.untracked if rf_mode is not None else set(),
    )


def _check_name(model: nn.Module, name: str) -> None:
    names = [n for n, _ in model.named_modules()]
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5)
    examples = close or [n for n in names if n][:5] + (["..."] if len(names) > 6 else [])
    raise ValueError(
        f"{type(model).__name__} has no module named {name!r}; valid names include "
        f"{', '.join(repr(n) for n in examples)} (see model.named_modules())"
    )


def _to_receptive_field(name: str, record: _ModuleRecord, trace: _Trace) -> ReceptiveField:
    """The public :class:`ReceptiveField` of one module's record, or a clear error."""
    if record.calls == 0:
        raise ValueError(f"module {name!r} was not called during the forward pass")
    shape = record.output_shape
    if shape is None:
        raise ValueError(f"the output of {name!r} is not a tensor")
    if len(shape) < 1 + trace.num_spatial:
        raise ValueError(
            f"the output of {name!r} has shape {shape} (without the batch), not a spatial "
            f"(channels, {trace.num_spatial} spatial axes) map: it has no receptive field "
            f"to speak of; choose a convolutional or pooling layer"
        )
    if record.rf is None:
        lost = ", ".join(sorted(trace.untracked)) or "unknown operators"
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
    """The analytic receptive field of the output of the module named ``layer``.

    The largest path wins where branches merge, padding is ignored (see the module's docstring;
    this is the convention of Araujo et al., Distill 2019). For a module called several times
    (torchvision's ResNet blocks reuse one ``relu``), the last call counts.

    Args:
        model: the model.
        layer: a name from ``model.named_modules()``, e.g. ``"features.30"`` or ``"layer4"``.
        input_size: ``(batch, channels, height, width)`` of the input the model runs on.

    Raises:
        ValueError: if ``layer`` is not a module of ``model``, was not called, or its output is
            not a spatial map.

    Example::

        >>> receptive_field(torchvision.models.vgg16(), "features.30")
        ReceptiveField(name='features.30', size=212, stride=32, ...)
    """
    _check_name(model, layer)
    trace = _trace(model, input_size)
    return _to_receptive_field(layer, trace.records[layer], trace)


def receptive_fields(
    model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT
) -> dict[str, ReceptiveField]:
    """The receptive fields of all modules with a spatial output, in one forward pass.

    Keys are names from ``model.named_modules()`` in the order of the forward pass.
    """
    trace = _trace(model, input_size)
    return {
        name: _to_receptive_field(name, record, trace)
        for name, record in _in_call_order(trace.records)
        if record.rf is not None and len(record.output_shape or ()) > trace.num_spatial
    }


def _in_call_order(records: dict[str, _ModuleRecord]) -> list[tuple[str, _ModuleRecord]]:
    called = [(n, r) for n, r in records.items() if r.order is not None]
    uncalled = [(n, r) for n, r in records.items() if r.order is None]
    return sorted(called, key=lambda item: item[1].order) + uncalled


def count_macs_by_module(
    model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT
) -> dict[str, int]:
    """Multiply-accumulates per image of every module that ran, children included.

    Counted by :class:`~torch.utils.flop_counter.FlopCounterMode` like :func:`count_macs`; a
    module's count is the counter's growth during its calls, so the root's (``""``) count is the
    model's and a container's is the sum of its children's plus any arithmetic in its own
    ``forward``.
    """
    trace = _trace(model, input_size, receptive_fields=False)
    return {
        name: _flops_to_macs(record.flops, trace.batch_size)
        for name, record in _in_call_order(trace.records)
        if record.calls
    }


# ---------------------------------------------------------------------------------------------
# Per-layer tables
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One row of a :class:`LayerTable`.

    Attributes:
        name: the module's name in ``model.named_modules()``.
        type: the module's class name.
        output_shape: the output shape without the batch (of the last call), ``None`` if the
            module did not run.
        params: the parameters of the module (see :func:`layer_table`).
        macs: multiply-accumulates per image, over all calls, children included.
        rf_size: receptive-field size in input pixels, ``None`` where the output is not spatial.
        rf_stride: receptive-field stride (jump) in input pixels, ``None`` likewise.
        calls: how many times the module ran in the forward pass.
    """

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    rf_size: int | None
    rf_stride: int | None
    calls: int = 1


_COLUMNS = ("Layer", "Type", "Output shape", "Params", "MACs", "RF size", "RF stride")


def _format_shape(shape: tuple[int, ...] | None) -> str:
    return "—" if shape is None else " × ".join(str(s) for s in shape)


def _format_int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@dataclass
class LayerTable:
    """A per-layer table of a model, as returned by :func:`layer_table`.

    ``rows`` holds :class:`LayerRow` objects in the order of the forward pass; ``total_params``
    and ``total_macs`` are the whole model's (:func:`count_params`, :func:`count_macs`). In a
    notebook the table displays itself; :meth:`to_markdown`, :meth:`to_html` and
    :meth:`to_pandas` export it. ``table["features.30"]`` looks a row up by name.
    """

    rows: list[LayerRow]
    input_size: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    total_params: int
    total_macs: int

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[LayerRow]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> LayerRow:
        if isinstance(key, int):
            return self.rows[key]
        for row in self.rows:
            if row.name == key:
                return row
        raise KeyError(key)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries (keys: the fields of :class:`LayerRow`)."""
        return [asdict(row) for row in self.rows]

    def to_pandas(self):  # -> pandas.DataFrame
        """The rows as a :class:`pandas.DataFrame` (needs pandas, which cnnlib does not)."""
        try:
            import pandas as pd
        except ImportError as error:
            raise ImportError(
                "LayerTable.to_pandas() needs pandas: pip install pandas "
                "(or use .to_dicts() / .to_markdown())"
            ) from error
        return pd.DataFrame(self.to_dicts())

    def _cells(self) -> tuple[list[list[str]], list[str]]:
        body = [
            [
                row.name or "(model)",
                row.type,
                _format_shape(row.output_shape),
                _format_int(row.params),
                _format_int(row.macs),
                _format_int(row.rf_size),
                _format_int(row.rf_stride),
            ]
            for row in self.rows
        ]
        total = [
            "Total",
            "",
            _format_shape(self.output_shape),
            _format_int(self.total_params),
            _format_int(self.total_macs),
            "",
            "",
        ]
        return body, total

    def to_markdown(self) -> str:
        """A Markdown (GitHub / MyST) table, numbers right-aligned, with a bold total row."""
        body, total = self._cells()
        lines = [
            "| " + " | ".join(_COLUMNS) + " |",
            "|" + "|".join([":---"] * 3 + ["---:"] * 4) + "|",
        ]
        for cells in body:
            lines.append("| " + " | ".join(_escape_markdown(c) for c in cells) + " |")
        lines.append("| " + " | ".join(f"**{c}**" if c else "" for c in total) + " |")
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table, numbers right-aligned, with a bold total row."""
        body, total = self._cells()

        def row_html(cells: list[str], tag: str = "td") -> str:
            return (
                "<tr>"
                + "".join(
                    f'<{tag} style="text-align:{"left" if i < 3 else "right"}">'
                    f"{html.escape(c)}</{tag}>"
                    for i, c in enumerate(cells)
                )
                + "</tr>"
            )

        return (
            "<table>\n<thead>"
            + row_html(list(_COLUMNS), "th")
            + "</thead>\n<tbody>\n"
            + "\n".join(row_html(cells) for cells in body)
            + "\n</tbody>\n<tfoot>"
            + row_html([f"{c}" for c in total], "th")
            + "</tfoot>\n</table>"
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        body, total = self._cells()
        table = [list(_COLUMNS), *body, total]
        widths = [max(len(cells[i]) for cells in table) for i in range(len(_COLUMNS))]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i < 3 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        rule = "-" * len(line(["-" * w for w in widths]))
        return "\n".join([line(table[0]), rule, *map(line, body), rule, line(total)])


def _escape_markdown(text: str) -> str:
    return text.replace("|", "\\|")


def _select_layers(model: nn.Module, depth: int | None) -> list[str]:
    """The leaves (``depth=None``) or the modules cut at ``depth`` (with shallower leaves)."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be None (leaves) or at least 1, got {depth}")
    selected = []
    for name, module in model.named_modules():
        is_leaf = next(module.children(), None) is None
        level = name.count(".") + 1 if name else 0
        if depth is None and is_leaf:
            selected.append(name)
        elif depth is not None and (level == depth or (is_leaf and level < depth)):
            selected.append(name)
    return selected


def layer_table(
    model: nn.Module,
    input_size: Sequence[int] = IMAGENET_INPUT,
    depth: int | None = None,
    layers: Iterable[str] | None = None,
) -> LayerTable:
    """One row per layer: type, output shape, parameters, MACs and receptive field.

    Everything comes from one forward pass (forward hooks, the receptive-field tracking of
    :func:`receptive_field` and :class:`~torch.utils.flop_counter.FlopCounterMode` together).

    Args:
        model: the model.
        input_size: ``(batch, channels, height, width)`` of the input.
        depth: ``None`` (default) for one row per leaf module (a module without children), or
            an integer to cut the module tree at that depth: ``depth=1`` gives one row per
            child of the model (``features``, ``avgpool``, ``classifier`` for VGG), plus the
            leaves above the cut.
        layers: explicit module names instead (containers allowed); overrides ``depth``.

    Rows follow the order of the forward pass (modules that did not run come last, with no
    output shape). With ``depth``, the rows partition the model: each parameter is counted in
    the first row holding it, and the parameters and MACs that no row holds (arithmetic in a
    container's own ``forward``, parameters owned by a container) go to a final row named
    ``(other)``, so the columns sum to :func:`count_params` and :func:`count_macs`. With
    ``layers``, each row counts all the parameters and MACs of its module, children included,
    and rows may overlap.
    """
    modules = dict(model.named_modules())
    if layers is not None:
        selected = list(layers)
        for name in selected:
            _check_name(model, name)
    else:
        selected = _select_layers(model, depth)
    trace = _trace(model, input_size)

    seen: set[int] = set()
    params: dict[str, int] = {}
    for name in selected:
        module_params = list(modules[name].parameters())
        if layers is None:  # partition: each parameter once
            module_params = [p for p in module_params if id(p) not in seen]
            seen.update(id(p) for p in module_params)
        params[name] = sum(p.numel() for p in module_params)

    order = {name: i for i, (name, _) in enumerate(_in_call_order(trace.records))}
    rows = []
    for name in sorted(selected, key=order.__getitem__):
        record = trace.records[name]
        rf = record.rf
        rows.append(
            LayerRow(
                name=name,
                type=type(modules[name]).__name__,
                output_shape=record.output_shape if record.calls else None,
                params=params[name],
                macs=_flops_to_macs(record.flops, trace.batch_size),
                rf_size=max(rf.sizes) if rf is not None else None,
                rf_stride=max(rf.jumps) if rf is not None else None,
                calls=record.calls,
            )
        )

    total_params = count_params(model)
    total_macs = _flops_to_macs(trace.total_flops, trace.batch_size)
    if layers is None:
        other_params = total_params - sum(row.params for row in rows)
        other_macs = total_macs - sum(row.macs for row in rows)
        if other_params or other_macs:
            rows.append(LayerRow("(other)", "", None, other_params, other_macs, None, None, 0))
    return LayerTable(
        rows=rows,
        input_size=tuple(int(s) for s in input_size),
        output_shape=trace.output_shape,
        total_params=total_params,
        total_macs=total_macs,
    )


def summary(model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT) -> dict[str, Any]:
    """Parameters, trainable parameters, MACs per image and output shape, in one forward pass.

    Example::

        >>> summary(torchvision.models.resnet50())
        {'params': 25557032, 'trainable_params': 25557032, 'macs': 4089184256,
         'input_size': (1, 3, 224, 224), 'output_shape': (1000,)}
    """
    trace = _trace(model, input_size, receptive_fields=False)
    return {
        "params": count_params(model),
        "trainable_params": count_params(model, trainable_only=True),
        "macs": _flops_to_macs(trace.total_flops, trace.batch_size),
        "input_size": tuple(int(s) for s in input_size),
        "output_shape": trace.output_shape,
    }


def time_by_module(
    model: nn.Module, input_size: Sequence[int] = IMAGENET_INPUT, *, repeats: int = 3
) -> dict[str, float]:
    """Wall-clock seconds of the forward pass of every leaf module, and of the model (``""``).

    Runs ``repeats`` timed passes (after one warm-up pass) in eval mode under ``torch.no_grad()``
    on a zero tensor of ``input_size`` and returns each module's median over the passes (summed
    over its calls within a pass). On CUDA the device is synchronised around every module, which
    makes the total a little slower than an unhooked pass. Timings depend on the machine and its
    load: use them to compare layers of one model on one machine, never as exact numbers.
    """
    import statistics
    import time

    if repeats < 1:
        raise ValueError(f"repeats must be at least 1; got {repeats}")
    x = _example_input(model, input_size)
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
        with _eval_mode(model), torch.no_grad():
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


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------


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
    """L2 norm of the weight gradient of every ``layers`` module after one backward pass.

    Runs ``loss_fn(model(x), y)`` (cross-entropy by default) once, back-propagates, and returns
    ``{module name: ||dL/dW||_2}`` in the order the modules are registered (input to output for
    the book's models). The model's existing ``.grad`` tensors and its train/eval flags are
    restored afterwards, so the call has no side effect on a training run. ``train_mode=True``
    (the default) measures what training sees: batch norm uses batch statistics.

    ``relative=True`` divides each norm by the norm of the layer's weight,
    ``||dL/dW|| / ||W||``: the size of a plain SGD step relative to the weight it changes. For a
    layer followed by batch norm this is the number that matters: batch norm makes the output
    independent of the weight's scale, so the gradient shrinks as ``1 / ||W||`` when the weight
    grows and the absolute norm alone says little.

    >>> norms = gradient_norms(create("plain20"), torch.randn(8, 3, 32, 32), torch.zeros(8).long())
    >>> list(norms)[:2]
    ['conv1', 'layer1.0.conv1']
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
        out = _first_tensor(model(x))
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
    """L2 norm of the weight of every ``layers`` module, ``{module name: ||W||_2}``.

    The companion of :func:`gradient_norms` (same names, same order): with batch norm after a
    layer, the layer's output does not depend on the scale of ``W``, so a growing ``||W||``
    shrinks both the gradient (as ``1 / ||W||``) and the relative step (as ``1 / ||W||^2``).

    >>> list(weight_norms(create("plain20")))[-1]
    'fc'
    """
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
    """Standard deviation of the output of every ``layers`` module on the batch ``x``.

    ``{module name: std}`` in the order the modules run, measured in eval mode (batch norm uses
    its running statistics) without gradients; the model's modes are restored. With the default
    ``layers`` this is the ResNet paper's figure 7: "the outputs of each 3x3 layer, after BN and
    before other nonlinearity (ReLU/addition)", which for the book's CIFAR networks are exactly
    their batch norms. In a residual block the last batch norm's output is the residual
    ``F(x)``, so small values mean the block changes its input little.

    >>> stds = response_stds(create("resnet20"), torch.randn(4, 3, 32, 32))
    >>> list(stds)[:2]
    ['bn1', 'layer1.0.bn1']
    """
    if x.dim() != 4:
        raise ValueError(f"x must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    names = {m: n for n, m in model.named_modules() if isinstance(m, layers)}
    if not names:
        raise ValueError(f"model has no {layers} layers")
    stds: dict[str, float] = {}

    def record(module: nn.Module, _inputs: Any, output: Any) -> None:
        out = _first_tensor(output)
        if out is not None:  # measured now: an in-place ReLU may overwrite the tensor later
            stds[names[module]] = float(out.float().std())

    handles = [m.register_forward_hook(record) for m in names]
    try:
        with _eval_mode(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return stds


# ---------------------------------------------------------------------------------------------
# Depth
# ---------------------------------------------------------------------------------------------

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
    """The depth of ``model``: weight layers and activations on the longest input-output path.

    ``weight_layers`` counts convolutions and matrix products (linear layers) along the longest
    chain from the input to the output, the papers' "layers with parameters" (VGG-16: 16,
    GoogLeNet: 22, where parallel inception branches count once); ``nonlinearities`` counts the
    activation functions (ReLU, tanh, ...) on the path that has the most of them. Traced at the
    level of PyTorch's operators in one eval-mode forward pass, so functional calls (``F.relu``)
    count.
    """
    x = _example_input(model, input_size)
    mode = _DepthMode()
    with _eval_mode(model), torch.no_grad(), mode:
        out = _first_tensor(model(x))
    weights, nonlinear = mode.depth.get(out, (0, 0))
    return {"weight_layers": weights, "nonlinearities": nonlinear}
