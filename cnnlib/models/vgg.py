"""VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
Recognition", ICLR 2015).

The configurations of the paper's table 1 are data (``CONFIGS``): an ``int`` is a 3x3
convolution with that many channels, ``(channels, 1)`` a 1x1 convolution (config C), ``"M"`` a
2x2/2 max-pool and ``"LRN"`` local response normalisation (config A-LRN).

* ``vgg11``, ``vgg13``, ``vgg16``, ``vgg19`` (+ ``_bn``): torchvision-compatible (configs A, B, D,
  E). Batch norm is not in the paper (it came later, Ioffe & Szegedy 2015).
* ``vgg11_lrn`` (A-LRN) and ``vgg16_c`` (C): the configurations torchvision does not build.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models import register
from cnnlib.models._utils import check_input, load_weights, overwrite_named_param, resolve_weights

__all__ = ["VGG", "CONFIGS", "make_layers", "PAPER_TABLE"]

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

# The paper's own numbers, for comparison in the book and the tests: weight layers, parameters
# in millions (table 2) and single-scale top-5 validation error in % (table 3, smallest side 256
# for A/A-LRN/B, scale jittering [256, 512] for C/D/E at test scale 384).
PAPER_TABLE: dict[str, dict[str, float]] = {
    "A": {"layers": 11, "params_m": 133, "top5": 10.4},
    "A-LRN": {"layers": 11, "params_m": 133, "top5": 10.5},
    "B": {"layers": 13, "params_m": 133, "top5": 9.9},
    "C": {"layers": 16, "params_m": 134, "top5": 8.7},
    "D": {"layers": 16, "params_m": 138, "top5": 8.1},
    "E": {"layers": 19, "params_m": 144, "top5": 8.0},
}


def make_layers(cfg: list[Layer], batch_norm: bool = False) -> nn.Sequential:
    """Turn a configuration list into the ``features`` stack (torchvision's layer order)."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "LRN":
            # A-LRN uses AlexNet's LRN (section 2.1, "parameters of [Krizhevsky et al.]").
            from cnnlib.models.alexnet import paper_lrn

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

    layers = PAPER_TABLE[cfg]["layers"]
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"VGG config {cfg} ({int(layers)} weight layers){' with batch norm' if batch_norm else ''}"
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
