"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS 2012).

* ``alexnet``: torchvision's version, which follows Krizhevsky's later "one weird trick" paper
  (2014): 64-192-384-256-256 filters, one tower, no LRN, padding 2 in conv1 so a 224 input works.
* ``alexnet_paper``: the 2012 paper: 96-256-384-384-256 filters, the two GPU towers as
  ``groups=2`` in conv2/4/5, local response normalisation after conv1 and conv2, overlapping
  3x3/2 max pooling, 227x227 input (the paper's text says 224, but (224 - 11) / 4 + 1 is not an
  integer; 227 gives the 55x55 maps of its figure 2).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models import register
from cnnlib.models._utils import check_input, load_weights, overwrite_named_param, resolve_weights

__all__ = ["AlexNet", "AlexNetPaper", "paper_lrn"]


def paper_lrn() -> nn.LocalResponseNorm:
    """LRN with the paper's constants k=2, n=5, alpha=1e-4, beta=0.75.

    The paper divides by (k + alpha * sum a^2)^beta; PyTorch's ``LocalResponseNorm`` divides
    by (k + alpha / n * sum a^2)^beta, so the paper's alpha is passed as ``alpha * n``.
    """
    size = 5
    return nn.LocalResponseNorm(size=size, alpha=1e-4 * size, beta=0.75, k=2.0)


class AlexNet(nn.Module):
    """torchvision's AlexNet (same module names and ``state_dict`` keys)."""

    min_input_size = 63  # smallest input for which the last 3x3/2 pool still has a 3x3 window

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # 224 -> 55
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # -> 27
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # -> 13
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = _classifier(256 * 6 * 6, num_classes, dropout)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.features(x)  # (N, 256, 6, 6) for 224x224
        x = torch.flatten(self.avgpool(x), 1)  # (N, 9216)
        return self.classifier(x)


def _classifier(in_features: int, num_classes: int, dropout: float) -> nn.Sequential:
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


class AlexNetPaper(nn.Module):
    """The network of the 2012 paper, figure 2, with both GPU towers in one model.

    The towers become grouped convolutions: conv2, conv4 and conv5 only see the 48 (192) maps of
    their own tower (``groups=2``), conv3 and the FC layers see both. Module names follow
    torchvision's where the structure allows (``features``, ``avgpool``, ``classifier``).
    """

    min_input_size = 67

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, paper_init: bool = False):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),  # 227 -> 55
            nn.ReLU(inplace=True),
            paper_lrn(),  # section 3.3: LRN after the ReLU of conv1 and conv2
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pooling (3.4): 55 -> 27
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),  # tower-local: 27
            nn.ReLU(inplace=True),
            paper_lrn(),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 27 -> 13
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # both towers: 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 13 -> 6
        )
        # Departure: the paper has no adaptive pooling. For a 227 input it is the identity
        # (6x6 -> 6x6); it lets a 224 input through, as torchvision does.
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        # Departure: torchvision's order (dropout before FC6 and FC7); the paper only says
        # dropout is used "in the first two fully-connected layers".
        self.classifier = _classifier(256 * 6 * 6, num_classes, dropout)
        if paper_init:
            self._paper_init()

    def _paper_init(self) -> None:
        """Section 5: weights N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden FC
        layers (to give ReLUs positive inputs early), 0 elsewhere. The default (``paper_init=
        False``) keeps PyTorch's initialisation, which trains without the paper's tuning."""
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        fcs = [m for m in self.classifier if isinstance(m, nn.Linear)]
        for m in convs + fcs:
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
        for m in (convs[1], convs[3], convs[4], fcs[0], fcs[1]):
            nn.init.ones_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.features(x)  # (N, 256, 6, 6) for 227x227
        x = torch.flatten(self.avgpool(x), 1)  # (N, 9216)
        return self.classifier(x)


@register
def alexnet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """torchvision's AlexNet (61.1M parameters); ``weights`` loads its ImageNet weights."""
    weights = resolve_weights("alexnet", weights)
    if weights is not None:
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = AlexNet(**kwargs)
    if weights is not None:
        load_weights(model, weights, progress=progress)
    return model


@register
def alexnet_paper(**kwargs: Any) -> AlexNetPaper:
    """AlexNet as in the 2012 paper (60,965,224 parameters, 227x227 input)."""
    return AlexNetPaper(**kwargs)
