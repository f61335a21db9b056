"""Looking inside a trained CNN, as Zeiler & Fergus did (arXiv 1311.2901): filters, feature maps,
deconvnet and guided-backprop reconstructions, occlusion sensitivity. The figures are drawn by
:mod:`cnnlib.plots`.

Every function takes any ``nn.Module``, runs it in eval mode and leaves it as it found it (hooks,
train flags, no ``.grad``), also when it raises. Layers are named as in ``named_modules()``
(``""`` is the model's output); a module called twice in one pass is captured at its first call.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from cnnlib.data import IMAGENET_MEAN, IMAGENET_STD
from cnnlib.runtime import eval_mode

__all__ = [
    "SAMPLE_IMAGES",
    "deconvnet",
    "denormalize",
    "feature_maps",
    "filter_grid",
    "first_layer_filters",
    "gradient_to_image",
    "guided_backprop",
    "layer_names",
    "normalize",
    "occlusion_sensitivity",
    "reconstruct",
    "sample_images",
]

#: The colour photographs that ship with scikit-image (no download needed), the default of
#: :func:`sample_images`.
SAMPLE_IMAGES: tuple[str, ...] = ("astronaut", "chelsea", "coffee")

_RULES = ("guided", "deconvnet", "gradient")


# --- helpers -----------------------------------------------------------------------------------


def _device_of(model: nn.Module, default: torch.device) -> torch.device:
    param = next(model.parameters(), None)
    if param is None:
        param = next(model.buffers(), None)
    return default if param is None else param.device


def _as_batch(x: Tensor, name: str = "x") -> tuple[Tensor, bool]:
    """``x`` as (N, C, H, W), and whether it was a single (C, H, W) image."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a tensor, got {type(x).__name__}")
    if x.dim() == 3:
        return x.unsqueeze(0), True
    if x.dim() != 4:
        raise ValueError(f"{name} must be (N, C, H, W) or (C, H, W); got shape {tuple(x.shape)}")
    return x, False


def _resolve_layers(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    modules = dict(model.named_modules())
    resolved = {}
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"layer names are strings, got {name!r}")
        if name not in modules:
            known = [n for n in modules if n]
            close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
            hint = (
                f"close matches: {', '.join(close)}"
                if close
                else f"its top-level modules are: {', '.join(n for n, _ in model.named_children())}"
            )
            raise ValueError(f"{type(model).__name__} has no layer {name!r}; {hint}")
        resolved[name] = modules[name]
    return resolved


class _StopForward(Exception):
    """Raised by a capture hook once every requested layer has been seen: the rest of the
    forward pass is not needed."""


@contextmanager
def _capture(modules: dict[str, nn.Module], *, detach: bool) -> Iterator[dict[str, Tensor]]:
    """Forward hooks that store each module's output (first call) into the yielded dict and stop
    the forward pass (``_StopForward``) once all are stored. With ``detach`` the outputs are
    detached copies, safe from later in-place operations (an ``nn.ReLU(inplace=True)`` after a
    convolution would overwrite the convolution's output)."""
    store: dict[str, Tensor] = {}

    def make_hook(name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if name in store:
                return
            if not isinstance(output, Tensor):
                raise TypeError(
                    f"layer {name!r} ({type(module).__name__}) returns {type(output).__name__}, "
                    "not a tensor; pick a layer inside it"
                )
            store[name] = output.detach().clone() if detach else output
            if len(store) == len(modules):
                raise _StopForward

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in modules.items()]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def _run_to_layers(model: nn.Module, x: Tensor, modules: dict[str, nn.Module], store: dict) -> None:
    try:
        model(x)
    except _StopForward:
        return
    missing = [name for name in modules if name not in store]
    if missing:
        raise ValueError(
            f"layer(s) {', '.join(map(repr, missing))} did not run in the forward pass of "
            f"{type(model).__name__} (in eval mode)"
        )


# --- filters and feature maps ------------------------------------------------------------------


def layer_names(model: nn.Module, types: type | tuple[type, ...] = nn.Conv2d) -> list[str]:
    """The names (as in ``named_modules``) of the modules of the given type(s), in order.

    >>> from cnnlib import models
    >>> layer_names(models.create("zfnet"))
    ['features.0', 'features.4', 'features.8', 'features.10', 'features.12']
    """
    return [name for name, m in model.named_modules() if isinstance(m, types)]


def first_layer_filters(model: nn.Module) -> Tensor:
    """A copy of the weights of the model's first ``nn.Conv2d`` (in ``named_modules`` order, the
    order of definition), shape (out_channels, in_channels / groups, kH, kW), on the CPU."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.weight.detach().cpu().clone()
    raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer")


def filter_grid(weights: Tensor, ncols: int | None = None, pad: int = 1) -> Tensor:
    """Filters (out, 1 or 3, kH, kW) tiled into one (1 or 3, H, W) image in [0, 1] for display.

    Each filter is min-max scaled on its own, over all its colour channels together (a constant
    one becomes 0.5); ``ncols`` filters per row (default: about twice as many columns as rows),
    ``pad`` white pixels between and around them. For other layers pick input channels first,
    such as ``weights[:, :1]``.
    """
    if weights.dim() != 4 or weights.shape[1] not in (1, 3):
        raise ValueError(
            "filter_grid expects weights (out, 1 or 3, kH, kW); got "
            f"{tuple(weights.shape)} (select input channels first, e.g. weights[:, :1])"
        )
    w = weights.detach().float().cpu()
    n, c, kh, kw = w.shape
    if ncols is None:
        ncols = max(1, math.ceil(math.sqrt(2 * n)))
    ncols = min(ncols, n)
    rows = math.ceil(n / ncols)
    flat = w.reshape(n, -1)
    lo = flat.min(dim=1).values.view(n, 1, 1, 1)
    span = (flat.max(dim=1).values.view(n, 1, 1, 1) - lo).clamp_min(0)
    scaled = torch.where(span > 0, (w - lo) / torch.where(span > 0, span, 1), 0.5)
    grid = torch.ones(c, rows * (kh + pad) + pad, ncols * (kw + pad) + pad)
    for i in range(n):
        r, col = divmod(i, ncols)
        top, left = pad + r * (kh + pad), pad + col * (kw + pad)
        grid[:, top : top + kh, left : left + kw] = scaled[i]
    return grid


def feature_maps(model: nn.Module, x: Tensor, layers: Sequence[str] | str) -> dict[str, Tensor]:
    """``{name: output}`` of the named ``layers`` (in that order) for the images ``x``.

    ``x`` is (N, C, H, W) or one (C, H, W) image, normalised as the model expects; the outputs are
    detached copies of each layer's first call, on the model's device, and the forward pass stops
    after the last one. An unknown name raises ``ValueError`` listing close matches.
    """
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = _resolve_layers(model, names)
    x, _ = _as_batch(x)
    x = x.to(_device_of(model, x.device))
    with eval_mode(model), torch.no_grad(), _capture(modules, detach=True) as store:
        _run_to_layers(model, x, modules, store)
    return {name: store[name] for name in names}


# --- deconvnet and guided backpropagation ------------------------------------------------------


class _RectifiedReLU(torch.autograd.Function):
    """ReLU whose backward pass follows a visualisation rule:

    * ``"guided"`` (Springenberg et al. 2015): pass the gradient where both the forward input
      and the gradient are positive, ``relu(grad) * (x > 0)``;
    * ``"deconvnet"`` (Zeiler & Fergus 2013): rectify the signal going back, ignoring the
      forward mask, ``relu(grad)``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, rule: str, inplace: bool) -> Tensor:
        if inplace:
            out = torch.relu_(x)
            ctx.mark_dirty(x)
        else:
            out = torch.relu(x)
        ctx.rule = rule
        if rule == "guided":
            ctx.save_for_backward(out)  # out > 0 exactly where x > 0
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        grad = grad.clamp(min=0)
        if ctx.rule == "guided":
            (out,) = ctx.saved_tensors
            grad = grad * (out > 0)
        return grad, None, None


class _ReLURule(TorchFunctionMode):
    """While active, every ReLU called through ``nn.ReLU``, ``F.relu``, ``F.relu_``,
    ``torch.relu(_)`` or ``Tensor.relu(_)`` is a :class:`_RectifiedReLU` with the given rule.
    Nothing in the model is replaced or hooked, so nothing has to be restored."""

    def __init__(self, rule: str) -> None:
        super().__init__()
        self.rule = rule

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.relu:
            inplace = kwargs.get("inplace", args[1] if len(args) > 1 else False)
            return _RectifiedReLU.apply(args[0], self.rule, bool(inplace))
        if func in (F.relu_, torch.relu_, Tensor.relu_):
            return _RectifiedReLU.apply(args[0], self.rule, True)
        if func in (torch.relu, Tensor.relu):
            return _RectifiedReLU.apply(args[0], self.rule, False)
        return func(*args, **kwargs)


def _strongest(activation: Tensor, channel: int | None) -> Tensor:
    """The sum over the batch of each sample's strongest activation (of ``channel``, or of the
    whole layer)."""
    n = activation.shape[0]
    flat = activation.reshape(n, activation.shape[1], -1) if activation.dim() > 1 else None
    if flat is None:
        flat = activation.reshape(n, 1, 1)
    if channel is None:
        return flat.reshape(n, -1).max(dim=1).values.sum()
    if not 0 <= channel < flat.shape[1]:
        raise ValueError(
            f"channel {channel} out of range: the layer has {flat.shape[1]} channels "
            f"(output shape {tuple(activation.shape)})"
        )
    return flat[:, channel].max(dim=1).values.sum()


def reconstruct(
    model: nn.Module,
    x: Tensor,
    layer: str,
    channel: int | None = None,
    rule: str = "guided",
) -> Tensor:
    """Project the strongest activation of ``layer`` (or of its ``channel``) back to the input.

    Per image, the single strongest activation is kept, all others zeroed, and the signal goes
    back through the network (Zeiler & Fergus, section 2.1): pooling through its forward
    switches, convolutions and linear layers through their transposed weights, other layers by
    their gradient. The ReLUs follow ``rule``: ``"deconvnet"`` rectifies the signal,
    ``"guided"`` (Springenberg et al. 2015) also keeps the forward mask, ``"gradient"`` is the
    plain gradient. Only ReLUs called as ``nn.ReLU``, ``F.relu(_)``, ``torch.relu(_)`` or
    ``Tensor.relu(_)`` are changed (a ``TorchFunctionMode``; the model itself is not).

    ``x`` is (N, C, H, W) or one (C, H, W) image, normalised as the model expects; ``layer=""``
    with ``channel=k`` reconstructs the evidence for class ``k``. Returns a detached tensor
    shaped like ``x`` (see :func:`gradient_to_image`).
    """
    if rule not in _RULES:
        raise ValueError(f"Unknown rule {rule!r}; expected one of {', '.join(_RULES)}")
    modules = _resolve_layers(model, [layer])
    batch, single = _as_batch(x)
    inp = batch.detach().to(_device_of(model, batch.device)).clone().requires_grad_(True)
    relu_rule = _ReLURule(rule) if rule != "gradient" else nullcontext()
    with eval_mode(model), torch.enable_grad():
        with relu_rule, _capture(modules, detach=False) as store:
            _run_to_layers(model, inp, modules, store)
        objective = _strongest(store[layer], channel)
        if not objective.requires_grad:
            raise ValueError(f"layer {layer!r} does not depend on the input")
        (grad,) = torch.autograd.grad(objective, inp)
    return grad[0] if single else grad


def guided_backprop(model: nn.Module, x: Tensor, layer: str, channel: int | None = None) -> Tensor:
    """Guided backpropagation of the strongest activation of ``layer`` (or of ``channel``):
    :func:`reconstruct` with ``rule="guided"``."""
    return reconstruct(model, x, layer, channel, rule="guided")


def deconvnet(model: nn.Module, x: Tensor, layer: str, channel: int | None = None) -> Tensor:
    """Zeiler & Fergus's deconvnet projection of the strongest activation of ``layer`` (or of
    ``channel``): :func:`reconstruct` with ``rule="deconvnet"``."""
    return reconstruct(model, x, layer, channel, rule="deconvnet")


def gradient_to_image(g: Tensor, percentile: float = 99.0) -> Tensor:
    """Map a reconstruction (or any signed image) to [0, 1] for display, zero at grey.

    Each image is divided by the ``percentile``-th percentile of its absolute values (so a few
    extreme pixels do not wash out the rest), then ``0.5 + 0.5 * g`` is clipped to [0, 1].
    Works on (C, H, W) and (N, C, H, W); an all-zero image stays grey (0.5).
    """
    batch, single = _as_batch(g, "g")
    batch = batch.detach().float()
    n = batch.shape[0]
    scale = torch.quantile(batch.abs().reshape(n, -1), percentile / 100, dim=1).view(n, 1, 1, 1)
    scale = torch.where(
        scale > 0, scale, batch.abs().reshape(n, -1).max(dim=1).values.view(n, 1, 1, 1)
    )
    scale = torch.where(scale > 0, scale, 1.0)
    out = (0.5 + 0.5 * batch / scale).clamp(0, 1)
    return out[0] if single else out


# --- occlusion ---------------------------------------------------------------------------------


def _fill_value(fill, image: Tensor) -> Tensor:
    """``fill`` as a tensor that broadcasts over one (C, h, w) square of ``image``."""
    c = image.shape[1]
    fill_t = torch.as_tensor(fill, dtype=image.dtype, device=image.device)
    if fill_t.dim() == 1:
        if fill_t.numel() != c:
            raise ValueError(f"fill has {fill_t.numel()} values for an image of {c} channels")
        return fill_t.view(c, 1, 1)
    if fill_t.dim() != 0:
        raise ValueError("fill must be a number or one number per channel")
    return fill_t


def _occluded_probs(model, image, target, chunk, patch, fill_t) -> Tensor:
    """Probability of ``target`` for ``image`` with a square at each position of ``chunk``."""
    occluded = image.repeat(len(chunk), 1, 1, 1)
    for k, (i, j) in enumerate(chunk):
        occluded[k, :, i : i + patch, j : j + patch] = fill_t
    logits = model(occluded)
    if logits.dim() != 2 or not 0 <= target < logits.shape[1]:
        raise ValueError(
            f"target {target} is not a class of the model's output {tuple(logits.shape)}"
        )
    return logits.float().softmax(dim=1)[:, target].cpu()


def occlusion_sensitivity(
    model: nn.Module,
    x: Tensor,
    target: int,
    patch: int = 32,
    stride: int = 16,
    fill: float | Sequence[float] | Tensor = 0.0,
    batch_size: int = 64,
    progress: bool = True,
) -> Tensor:
    """Probability of class ``target`` as a ``patch`` x ``patch`` square of ``fill`` slides over
    one image ``x`` (Zeiler & Fergus, section 4.2 and figure 7).

    The square's top-left corner takes the positions ``0, stride, ...`` up to ``H - patch`` (and
    likewise across). ``fill`` is in the normalised input space, a number or one per channel (0,
    the default, is the normalisation's mean colour: the paper's grey square). ``model`` returns
    logits; ``batch_size`` occluded images go through it at a time. Returns the map
    ``((H - patch) // stride + 1, (W - patch) // stride + 1)`` on the CPU.
    """
    from tqdm.auto import tqdm

    batch, _ = _as_batch(x)
    if batch.shape[0] != 1:
        raise ValueError(f"occlusion_sensitivity takes one image; got a batch of {batch.shape[0]}")
    _, c, h, w = batch.shape
    if not 1 <= patch <= min(h, w):
        raise ValueError(
            f"patch must be between 1 and {min(h, w)} for a {h}x{w} image; got {patch}"
        )
    if stride < 1 or batch_size < 1:
        raise ValueError(f"stride and batch_size must be >= 1; got {stride} and {batch_size}")
    image = batch.detach().to(_device_of(model, batch.device))
    fill_t = _fill_value(fill, image)
    tops = range(0, h - patch + 1, stride)
    lefts = range(0, w - patch + 1, stride)
    positions = [(i, j) for i in tops for j in lefts]
    probs = []
    with (
        eval_mode(model),
        torch.no_grad(),
        tqdm(total=len(positions), desc="occlusion", disable=not progress, leave=False) as bar,
    ):
        for start in range(0, len(positions), batch_size):
            chunk = positions[start : start + batch_size]
            probs.append(_occluded_probs(model, image, target, chunk, patch, fill_t))
            bar.update(len(chunk))
    return torch.cat(probs).view(len(tops), len(lefts))


# --- sample images -----------------------------------------------------------------------------


def normalize(
    x: Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> Tensor:
    """``(x - mean) / std`` per channel, for (C, H, W) or (N, C, H, W) images in [0, 1]."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x - m) / s


def denormalize(
    x: Tensor, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> Tensor:
    """Undo :func:`normalize` (``x * std + mean``) and clip to [0, 1], for display. Pass
    ``cnnlib.data.CIFAR10_MEAN`` / ``CIFAR10_STD`` for CIFAR-10 images."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x.detach() * s + m).clamp(0, 1)


def _sample_image(name: str, size: int) -> Tensor:
    """``skimage.data.<name>()`` as (3, size, size) in [0, 1], resized and centre-cropped."""
    try:
        import skimage.data
    except ImportError as err:
        raise ImportError("sample_images needs scikit-image: pip install scikit-image") from err
    from torchvision.transforms.v2 import functional as TF

    loader = getattr(skimage.data, name, None)
    if name.startswith("_") or not callable(loader):
        raise ValueError(
            f"scikit-image has no sample image {name!r}; try {', '.join(SAMPLE_IMAGES)}, "
            "'rocket', 'camera' (see skimage.data)"
        )
    array = loader()
    if getattr(array, "ndim", 0) not in (2, 3):
        raise ValueError(f"skimage.data.{name}() is not an image")
    img = torch.as_tensor(array)
    img = img.float() / 255 if img.dtype == torch.uint8 else img.float()
    img = img.unsqueeze(-1) if img.dim() == 2 else img
    img = img[..., :3].permute(2, 0, 1).contiguous()
    if img.shape[0] == 1:
        img = img.expand(3, -1, -1)
    img = TF.resize(img, [size], antialias=True)
    return TF.center_crop(img, [size, size]).clamp(0, 1)


def sample_images(
    size: int = 224, names: Sequence[str] = SAMPLE_IMAGES, normalized: bool = True
) -> tuple[Tensor, list[str]]:
    """scikit-image's sample photographs (``names`` of ``skimage.data``, shipped with it) as one
    batch (N, 3, size, size) float32, and the names.

    Each photo is resized (antialiased) to shorter side ``size`` and centre-cropped, as
    torchvision's ImageNet evaluation does; grey photos get three channels, alpha is dropped.
    ``normalized`` applies ImageNet's normalisation (:func:`normalize`), else values are in [0, 1].
    """
    names = [names] if isinstance(names, str) else list(names)
    batch = torch.stack([_sample_image(name, size) for name in names])
    return (normalize(batch) if normalized else batch), names
