"""ZFNet (Zeiler & Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014;
arXiv 1311.2901, 2013), the model of their figure 3.

What changed from AlexNet, and why (section 4.1): conv1 shrinks from 11x11 stride 4 to 7x7 stride
2, and conv2 gets stride 2, because the visualisations of AlexNet's first layer showed aliasing
and dead filters. Trained on one GPU, so the towers' sparse connections become dense ones.

Output sizes of figure 3 for a 224x224 input: 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 13 -> 6
(conv1, pool1, conv2, pool2, conv3, conv4, conv5, pool5; the figure draws pool2 and conv3 as
one 13).

``zfnet_cifar``: ZFNet's fix at CIFAR scale (a teaching model, an :class:`AlexNetCifar`): a
smaller, stride-1 conv1 and a stride-2 conv2, as 7x7/2 and a stride-2 conv2 replaced 11x11/4.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models._registry import register
from cnnlib.models.alexnet import AlexNetCifar
from cnnlib.models.layers import alexnet_classifier, check_input, paper_lrn

__all__ = ["ZFNet"]


class ZFNet(nn.Module):
    """ZFNet with AlexNet-style module names (``features``, ``avgpool``, ``classifier``)."""

    min_input_size = 47

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        # Departure: the paper gives the map sizes but not the padding or rounding. Padding 1 in
        # conv1 and ceil rounding in the 3x3/2 pools (Caffe's convention, used at the time)
        # reproduce figure 3's sizes exactly. The paper's "contrast normalisation across feature
        # maps" in layers 1 and 2 is implemented as AlexNet's LRN.
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1),  # 224 -> 110
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # -> 55
            paper_lrn(),
            nn.Conv2d(96, 256, kernel_size=5, stride=2),  # -> 26
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # -> 13
            paper_lrn(),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # -> 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),  # -> 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # -> 13
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))  # identity at 224; as in torchvision AlexNet
        self.classifier = alexnet_classifier(256 * 6 * 6, num_classes, dropout)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.features(x)  # (N, 256, 6, 6) for 224x224
        x = torch.flatten(self.avgpool(x), 1)
        return self.classifier(x)


@register
def zfnet(**kwargs: Any) -> ZFNet:
    """ZFNet of Zeiler & Fergus (2013), figure 3, 224x224 input."""
    return ZFNet(**kwargs)


@register
def zfnet_cifar(**kwargs: Any) -> AlexNetCifar:
    """ZFNet-style CIFAR-10 net (teaching model): conv1 3x3 stride 1, conv2 stride 2."""
    kwargs.setdefault("conv1", (3, 1))
    kwargs.setdefault("conv2_stride", 2)
    return AlexNetCifar(**kwargs)
