"""What the model families share: blocks (the paper's LRN, AlexNet's classifier), the input
check every network runs first, and loading torchvision's published weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = [
    "alexnet_classifier",
    "check_input",
    "glorot_init_",
    "load_weights",
    "lsuv_init_",
    "overwrite_named_param",
    "paper_lrn",
    "resolve_weights",
]


def paper_lrn() -> nn.LocalResponseNorm:
    """LRN with the paper's constants k=2, n=5, alpha=1e-4, beta=0.75.

    The paper divides by (k + alpha * sum a^2)^beta; PyTorch's ``LocalResponseNorm`` divides
    by (k + alpha / n * sum a^2)^beta, so the paper's alpha is passed as ``alpha * n``.
    """
    size = 5
    return nn.LocalResponseNorm(size=size, alpha=1e-4 * size, beta=0.75, k=2.0)


def alexnet_classifier(in_features: int, num_classes: int, dropout: float) -> nn.Sequential:
    """FC6, FC7 (4096 each, dropout before each) and FC8, in torchvision's order."""
    return nn.Sequential(
        nn.Dropout(p=dropout),
        nn.Linear(in_features, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(p=dropout),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )


def check_input(x: Any, *, model: str, in_channels: int = 3, min_size: int = 1) -> None:
    """Raise ``ValueError`` naming the expected shape unless ``x`` is a valid image batch.

    Checked before the first layer, so a bad input never ends in a deep ``RuntimeError`` from
    inside torch.
    """
    expected = f"a 4-d tensor (N, {in_channels}, H, W) with H, W >= {min_size}"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{model} expects {expected}; got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{model} expects {expected}; got a {x.dim()}-d tensor {tuple(x.shape)}")
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{model} expects {expected}; got {x.shape[1]} channels in {tuple(x.shape)}"
        )
    if x.shape[2] < min_size or x.shape[3] < min_size:
        raise ValueError(
            f"{model} expects {expected}; got an image of {x.shape[2]}x{x.shape[3]}, "
            f"too small for this architecture"
        )


def overwrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """Set ``kwargs[param]`` or fail if the caller asked for a value the weights cannot have."""
    if param in kwargs and kwargs[param] != new_value:
        raise ValueError(
            f"The weights require {param}={new_value!r}, but {param}={kwargs[param]!r} was given"
        )
    kwargs[param] = new_value


def resolve_weights(arch: str, weights: Any):
    """Turn ``weights`` (an enum member, a name such as ``"DEFAULT"``/``"IMAGENET1K_V1"``, or
    ``None``) into torchvision's weight enum member for the architecture ``arch``."""
    if weights is None:
        return None
    from torchvision.models import get_model_weights

    enum = get_model_weights(arch)
    if isinstance(weights, str):
        try:
            return enum[weights]
        except KeyError:
            known = ", ".join(["DEFAULT", *enum.__members__])
            raise ValueError(
                f"Unknown weights {weights!r} for {arch}; expected one of: {known}"
            ) from None
    return enum.verify(weights)


def load_weights(model: nn.Module, weights: Any, *, progress: bool = True) -> None:
    """Load torchvision's published weights into ``model``, with a clear error when offline."""
    try:
        state_dict = weights.get_state_dict(progress=progress, check_hash=True)
    except OSError as err:  # URLError, socket errors and HTTP errors are all OSErrors
        raise RuntimeError(
            f"Could not download the torchvision weights {weights} from {weights.url} ({err}). "
            "This needs internet access (it works on Colab). Offline, copy the file "
            f"{weights.url.rsplit('/', 1)[-1]} into {torch.hub.get_dir()}/checkpoints/ "
            "or create the model with weights=None."
        ) from err
    model.load_state_dict(state_dict)


@torch.no_grad()
def glorot_init_(model: nn.Module) -> None:
    """Glorot & Bengio's normalised initialisation (2010) of every convolution and linear layer:
    weights uniform in +-sqrt(6 / (fan_in + fan_out)), biases zero. The VGG paper's footnote:
    with it, the deep configurations train without starting from net A."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@torch.no_grad()
def lsuv_init_(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Layer-sequential unit-variance initialisation (Mishkin & Matas, "All you need is a good
    init", 2016, without their orthonormal first step): each convolution and linear layer, in
    the order they run, gets He-normal weights (gain 1) and zero biases, then is rescaled so that
    its output on the batch ``x`` has standard deviation 1.

    Unlike a gain chosen for the activation, it also corrects for what the analytic rules leave
    out (max-pooling of ReLU outputs raises the scale of every layer after it), and it treats
    every activation alike: the init for comparing activations. Returns ``{layer: scale}``."""
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] < 2:
        raise ValueError(f"x must be a batch of at least 2 inputs; got {getattr(x, 'shape', x)!r}")
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    if not layers:
        raise ValueError("model has no convolution or linear layer to initialise")
    was_training, scales, seen = model.training, {}, []
    model.eval()
    for name, layer in layers:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="linear")
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
        seen.clear()
        handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(out))
        try:
            model(x)
        finally:
            handle.remove()
        scales[name] = 1 / float(seen[0].std())
        layer.weight.mul_(scales[name])
    model.train(was_training)
    return scales
