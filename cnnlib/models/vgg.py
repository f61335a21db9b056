"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015).

The configurations of table 1 are data (``CONFIGS``): an ``int`` is a 3x3 convolution with that
many channels, ``(channels, 1)`` a 1x1 convolution (C), ``"M"`` a 2x2/2 max-pool, ``"LRN"``
local response normalisation (A-LRN).

* ``vgg11`` ... ``vgg19`` (+ ``_bn``, not in the paper): torchvision-compatible (A, B, D, E);
  ``vgg11_lrn`` (A-LRN) and ``vgg16_c`` (C): the configurations torchvision does not build.
* ``vgg11_cifar`` ... ``vgg19_cifar``, ``vgg11_lrn_cifar`` and ``vgg_cifar`` (any configuration,
  also ``STACK_CONFIGS``): :class:`VGGCifar`, CIFAR-scale teaching models of chapter 4.
* :func:`conv_stack`: the tiny stacks of section 2.3 (three 3x3 layers vs one 7x7).

The initialisations of section 3.1 (the paper's random start, the start from net A) are in
:mod:`cnnlib.models.vgg_init`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models._registry import register
from cnnlib.models.layers import (
    check_input,
    load_weights,
    overwrite_named_param,
    paper_lrn,
    resolve_weights,
)

__all__ = [
    "VGG",
    "VGGCifar",
    "CONFIGS",
    "STACK_CONFIGS",
    "get_config",
    "make_layers",
    "scale_config",
    "conv_stack",
]

Layer = int | tuple[int, int] | str

CONFIGS: dict[str, list[Layer]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        (256, 1),
        "M",
        512,
        512,
        (512, 1),
        "M",
        512,
        512,
        (512, 1),
        "M",
    ],  # fmt: skip
    "D": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        "M",
    ],  # fmt: skip
    "E": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],  # fmt: skip
}

# One large kernel against a stack of small ones with the same receptive field (section 2.3),
# at CIFAR scale: each stage is a 3x3 convolution that sets the width, then either one 7x7 or
# three 3x3 convolutions from that width to itself (49 C^2 against 27 C^2 weights).
STACK_CONFIGS: dict[str, list[Layer]] = {
    "7x7": [32, (32, 7), "M", 64, (64, 7), "M", 128, (128, 7), "M"],
    "3x3x3": [32, 32, 32, 32, "M", 64, 64, 64, 64, "M", 128, 128, 128, 128, "M"],
}


def _check_config(cfg: Any) -> None:
    """Raise ``ValueError`` unless ``cfg`` is a list of valid layer entries."""
    expected = "a list of layers: int (3x3 conv channels), (channels, kernel) tuples, 'M' or 'LRN'"
    if isinstance(cfg, str) or not isinstance(cfg, (list, tuple)) or not cfg:
        raise ValueError(f"a VGG configuration must be {expected}; got {cfg!r}")
    for v in cfg:
        ok = (
            v in ("M", "LRN")
            if isinstance(v, str)
            else (
                isinstance(v, int)
                and not isinstance(v, bool)
                and v > 0
                or isinstance(v, tuple)
                and len(v) == 2
                and all(isinstance(x, int) and x > 0 for x in v)
                and v[1] % 2 == 1
            )
        )
        if not ok:
            raise ValueError(
                f"bad VGG configuration entry {v!r}: expected {expected} (odd kernels only)"
            )


def _weight_layers(cfg: list[Layer]) -> int:
    """The paper's "weight layers" of a configuration: its convolutions and three FC layers."""
    return sum(not isinstance(v, str) for v in cfg) + 3


def make_layers(cfg: list[Layer], batch_norm: bool = False) -> nn.Sequential:
    """Turn a configuration list into the ``features`` stack (torchvision's layer order)."""
    _check_config(cfg)
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":
            # A-LRN uses AlexNet's LRN (section 2.1, "parameters of [Krizhevsky et al.]").
            layers.append(paper_lrn())
        else:
            channels, kernel = v if isinstance(v, tuple) else (v, 3)
            conv = nn.Conv2d(in_channels, channels, kernel_size=kernel, padding=kernel // 2)
            layers.append(conv)
            if batch_norm:
                layers.append(nn.BatchNorm2d(channels))
            layers.append(nn.ReLU(inplace=True))
            in_channels = channels
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """torchvision's VGG: ``features`` (the config), ``avgpool`` and three FC layers."""

    min_input_size = 32  # five 2x2/2 pools need at least 32 pixels

    def __init__(
        self,
        features: nn.Module,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.features = features
        # Departure: the paper has no adaptive pooling (224 input -> 7x7 already); torchvision
        # adds it so other sizes work; it is the identity at 224.
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),  # FC6: 102,764,544 parameters, most of the network
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            # Departure: the paper initialised A randomly (N(0, 0.01)) and deeper nets from A;
            # this is torchvision's He initialisation, which trains deep configs from scratch.
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.features(x)  # (N, 512, 7, 7) for 224x224
        x = torch.flatten(self.avgpool(x), 1)  # (N, 25088)
        return self.classifier(x)


def _vgg(
    cfg: str, batch_norm: bool, arch: str | None, weights: Any, progress: bool, **kwargs: Any
) -> VGG:
    if arch is not None:
        weights = resolve_weights(arch, weights)
    elif weights is not None:
        raise ValueError(f"No published weights for VGG config {cfg}; use weights=None")
    if weights is not None:
        overwrite_named_param(kwargs, "init_weights", False)
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = VGG(make_layers(CONFIGS[cfg], batch_norm=batch_norm), **kwargs)
    if weights is not None:
        load_weights(model, weights, progress=progress)
    return model


def _builder(name: str, cfg: str, batch_norm: bool, torchvision_name: bool = True):
    def build(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
        arch = name if torchvision_name else None
        return _vgg(cfg, batch_norm, arch, weights, progress, **kwargs)

    layers = _weight_layers(CONFIGS[cfg])
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"VGG config {cfg} ({layers} weight layers){' with batch norm' if batch_norm else ''}"
        + ("; torchvision-compatible." if torchvision_name else "; not in torchvision.")
    )
    return register(build)


vgg11 = _builder("vgg11", "A", False)
vgg11_bn = _builder("vgg11_bn", "A", True)
vgg13 = _builder("vgg13", "B", False)
vgg13_bn = _builder("vgg13_bn", "B", True)
vgg16 = _builder("vgg16", "D", False)
vgg16_bn = _builder("vgg16_bn", "D", True)
vgg19 = _builder("vgg19", "E", False)
vgg19_bn = _builder("vgg19_bn", "E", True)
vgg11_lrn = _builder("vgg11_lrn", "A-LRN", False, torchvision_name=False)
vgg16_c = _builder("vgg16_c", "C", False, torchvision_name=False)


# ---------------------------------------------------------------------------------------------
# CIFAR-scale VGG (teaching models of chapter 4)
# ---------------------------------------------------------------------------------------------


def get_config(config: str | list[Layer]) -> list[Layer]:
    """A configuration by name (``CONFIGS``, ``STACK_CONFIGS``) or as a list (checked)."""
    if isinstance(config, str):
        known = {**CONFIGS, **STACK_CONFIGS}
        if config not in known:
            raise ValueError(
                f"Unknown VGG configuration {config!r}; expected one of {', '.join(known)} "
                "or a list of layers"
            )
        return list(known[config])
    _check_config(config)
    return list(config)


def scale_config(cfg: list[Layer], width: float) -> list[Layer]:
    """``cfg`` with the channels of every convolution multiplied by ``width`` (rounded, >= 1).

    >>> scale_config(CONFIGS["A"], 0.25)[:4]
    [16, 'M', 32, 'M']
    """
    if not isinstance(width, (int, float)) or isinstance(width, bool) or width <= 0:
        raise ValueError(
            f"width must be a positive number (1.0: the paper's channels); got {width!r}"
        )
    _check_config(cfg)

    def scaled(c: int) -> int:
        return max(1, round(c * width))

    return [
        v if isinstance(v, str) else (scaled(v[0]), v[1]) if isinstance(v, tuple) else scaled(v)
        for v in cfg
    ]


class VGGCifar(nn.Module):
    """A VGG configuration on 32x32 images (teaching model).

    ::

        features    the configuration (make_layers), batch norm after every conv by default
        avgpool     global average (5 pools leave 1x1 maps at 32x32: then it is the identity)
        classifier  FC hidden -> ReLU -> dropout -> FC hidden -> ReLU -> dropout -> FC classes
                    (fc_layers=3, as the paper's three FC layers) or one FC (fc_layers=1)

    Departures from the paper, for 32x32 images and short runs: batch norm (Ioffe & Szegedy
    2015, after the paper) so that every depth trains from scratch; the FC layers are as wide as
    the last convolution (``hidden``) instead of 4096, on a 1x1 map instead of 7x7; ``width``
    scales every convolution's channels (1.0: the paper's 64-128-256-512-512).
    ``input_scale`` multiplies the input: cnnlib's loaders standardise pixels to unit spread,
    the paper only subtracted the mean RGB value from 0-255 pixels
    (:data:`cnnlib.models.vgg_init.PAPER_INPUT_STD` gives the paper's input scale, which its
    N(0, 0.01^2) start depends on).
    """

    def __init__(
        self,
        cfg: list[Layer],
        num_classes: int = 10,
        batch_norm: bool = True,
        fc_layers: int = 3,
        hidden: int | None = None,
        dropout: float = 0.5,
        width: float = 1.0,
        input_scale: float = 1.0,
    ) -> None:
        super().__init__()
        _check_config(cfg)
        if not input_scale > 0:
            raise ValueError(f"input_scale must be a positive number; got {input_scale!r}")
        self.input_scale = float(input_scale)
        self.width = width  # what ``cfg`` was scaled by (vgg_cifar); vgg_paper_init_ reads it
        if fc_layers not in (1, 3):
            raise ValueError(f"fc_layers must be 1 or 3; got {fc_layers!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
        channels = [v[0] if isinstance(v, tuple) else v for v in cfg if not isinstance(v, str)]
        if not channels:
            raise ValueError("a VGG configuration needs at least one convolution")
        self.cfg = list(cfg)
        self.min_input_size = 2 ** sum(v == "M" for v in cfg)
        self.features = make_layers(cfg, batch_norm=batch_norm)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = channels[-1]
        hidden = hidden or last
        if fc_layers == 3:
            self.classifier = nn.Sequential(
                nn.Linear(last, hidden),
                nn.ReLU(True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, hidden),
                nn.ReLU(True),
                nn.Dropout(p=dropout),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.classifier = nn.Sequential(nn.Linear(last, num_classes))
        # He initialisation of the convolutions as in torchvision (the paper trained A from
        # N(0, 0.01) and initialised deeper nets from A). The FC layers keep PyTorch's default:
        # torchvision's N(0, 0.01) suits 4096 units, but fades the signal in layers this narrow.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    @property
    def weight_layers(self) -> int:
        """Convolutions plus fully connected layers (the paper's "weight layers")."""
        return sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in self.modules())

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        if self.input_scale != 1.0:  # the paper's pixel scale (vgg_init.PAPER_INPUT_STD)
            x = x * self.input_scale
        x = self.features(x)  # (N, C, 1, 1) for 32x32 and five pools
        x = torch.flatten(self.avgpool(x), 1)  # (N, C)
        return self.classifier(x)


@register
def vgg_cifar(
    config: str | list[Layer] = "D", width: float = 1.0, batch_norm: bool = True, **kwargs: Any
) -> VGGCifar:
    """CIFAR-scale VGG of any configuration: a name of ``CONFIGS`` ("A" ... "E", "A-LRN") or
    ``STACK_CONFIGS`` ("7x7", "3x3x3"), or a list; ``width`` scales the channels."""
    return VGGCifar(
        scale_config(get_config(config), width), batch_norm=batch_norm, width=width, **kwargs
    )


def _cifar_builder(name: str, cfg: str):
    def build(*, width: float = 1.0, batch_norm: bool = True, **kwargs: Any) -> VGGCifar:
        return vgg_cifar(cfg, width=width, batch_norm=batch_norm, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"VGG config {cfg} at CIFAR scale ({_weight_layers(CONFIGS[cfg])} weight layers, "
        "batch norm by default, ``width`` scales the channels): a teaching model."
    )
    return register(build)


vgg11_cifar = _cifar_builder("vgg11_cifar", "A")
vgg11_lrn_cifar = _cifar_builder("vgg11_lrn_cifar", "A-LRN")
vgg13_cifar = _cifar_builder("vgg13_cifar", "B")
vgg16_cifar = _cifar_builder("vgg16_cifar", "D")
vgg19_cifar = _cifar_builder("vgg19_cifar", "E")


# ---------------------------------------------------------------------------------------------
# The stacks of section 2.3
# ---------------------------------------------------------------------------------------------


def conv_stack(kernels: list[int], channels: int, in_channels: int | None = None) -> nn.Sequential:
    """Stride-1 convolutions with ``padding = k // 2`` (the size is kept), each followed by a
    ReLU: ``conv_stack([3, 3, 3], 64)`` is three 3x3 layers, ``conv_stack([7], 64)`` one 7x7
    layer with the same receptive field. The first takes ``in_channels`` (default
    ``channels``)."""
    if not kernels or any(not isinstance(k, int) or k < 1 or k % 2 == 0 for k in kernels):
        raise ValueError(
            f"kernels must be a non-empty list of odd sizes, e.g. [3, 3]; got {kernels!r}"
        )
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"channels must be a positive int; got {channels!r}")
    layers: list[nn.Module] = []
    c_in = in_channels or channels
    for k in kernels:
        layers += [nn.Conv2d(c_in, channels, kernel_size=k, padding=k // 2), nn.ReLU(inplace=True)]
        c_in = channels
    return nn.Sequential(*layers)
