"""Small, CIFAR-scale (32x32) versions of AlexNet and ZFNet for the experiments of chapters 2-3.

They are *teaching models*, not the papers' networks: the same design (five convolutions, the
first one large and strided, overlapping 3x3/2 max-pools, optional LRN, three fully connected
layers with dropout) with far fewer channels, so that a CPU trains them in minutes. The
activation, dropout, LRN and the first layer's kernel and stride are arguments, which is what
the chapters vary (ReLU vs tanh, with vs without dropout, AlexNet's vs ZFNet's first layer).

``alexnet_cifar``: conv1 5x5 stride 2 (large and strided for a 32-pixel image, as AlexNet's
11x11/4 is for 224). ``zfnet_cifar``: ZFNet's fix at this scale, a smaller, stride-1 conv1 and a
stride-2 conv2 (as 7x7/2 and a stride-2 conv2 replaced 11x11/4 in ZFNet).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models import register
from cnnlib.models._utils import check_input
from cnnlib.models.alexnet import paper_lrn

__all__ = ["AlexNetCifar", "ACTIVATIONS"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class AlexNetCifar(nn.Module):
    """AlexNet's layout at CIFAR scale. Module names follow torchvision's AlexNet.

    ::

        conv1 k x k / s, widths[0]   -> act -> (LRN) -> maxpool 3x3/2
        conv2 5x5 / conv2_stride      -> act -> (LRN) -> maxpool 3x3/2
        conv3, conv4, conv5 3x3       -> act            -> maxpool 3x3/2
        adaptive avgpool 2x2, FC hidden, FC hidden, FC num_classes (dropout before each hidden)
    """

    min_input_size = 16

    def __init__(
        self,
        num_classes: int = 10,
        activation: str = "relu",
        dropout: float = 0.5,
        lrn: bool = False,
        conv1: tuple[int, int] = (5, 2),
        conv2_stride: int = 1,
        widths: tuple[int, int, int, int, int] = (32, 64, 96, 96, 64),
        hidden: int = 256,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
        act = ACTIVATIONS[activation]
        k1, s1 = conv1
        c1, c2, c3, c4, c5 = widths
        layers: list[nn.Module] = [nn.Conv2d(3, c1, kernel_size=k1, stride=s1, padding=k1 // 2)]
        layers += [act(), *([paper_lrn()] if lrn else []), _pool()]
        layers += [nn.Conv2d(c1, c2, kernel_size=5, stride=conv2_stride, padding=2), act()]
        layers += [*([paper_lrn()] if lrn else []), _pool()]
        layers += [nn.Conv2d(c2, c3, kernel_size=3, padding=1), act()]
        layers += [nn.Conv2d(c3, c4, kernel_size=3, padding=1), act()]
        layers += [nn.Conv2d(c4, c5, kernel_size=3, padding=1), act(), _pool()]
        self.activation = activation
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * 2 * 2, hidden),
            act(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            act(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.features(x)  # (N, widths[4], 2, 2) for 32x32
        x = torch.flatten(self.avgpool(x), 1)
        return self.classifier(x)


def _pool() -> nn.MaxPool2d:
    """AlexNet's overlapping pooling (3x3 windows, stride 2); padding 1 halves even sizes."""
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


@register
def alexnet_cifar(**kwargs: Any) -> AlexNetCifar:
    """AlexNet-style CIFAR-10 net (teaching model): conv1 5x5 stride 2."""
    return AlexNetCifar(**kwargs)


@register
def zfnet_cifar(**kwargs: Any) -> AlexNetCifar:
    """ZFNet-style CIFAR-10 net (teaching model): conv1 3x3 stride 1, conv2 stride 2."""
    kwargs.setdefault("conv1", (3, 1))
    kwargs.setdefault("conv2_stride", 2)
    return AlexNetCifar(**kwargs)
