"""AlexNet (Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks", NeurIPS 2012).

* ``alexnet``: torchvision's version, which follows Krizhevsky's later "one weird trick" paper
  (2014): 64-192-384-256-256 filters, one tower, no LRN, padding 2 in conv1 so a 224 input works.
* ``alexnet_paper``: the 2012 paper: 96-256-384-384-256 filters, the two GPU towers as
  ``groups=2`` in conv2/4/5, local response normalisation after conv1 and conv2, overlapping
  3x3/2 max pooling, 227x227 input (the paper's text says 224, but (224 - 11) / 4 + 1 is not an
  integer; 227 gives the 55x55 maps of its figure 2).
* ``convnet4_cifar``: the four-layer CIFAR-10 net of the paper's figure 1 (ReLU vs tanh), as
  Krizhevsky's cuda-convnet ships it (``layers-80sec.cfg``): three 5x5 convolutions with 32, 32
  and 64 filters, each followed by a 3x3/2 pool (max, then average, average), and one linear
  layer (:class:`ConvNet4`).
* ``alexnet_cifar``: a CIFAR-scale (32x32) teaching model with AlexNet's layout, far fewer
  channels (a CPU trains it in minutes) and the activation, dropout, LRN and first layer as
  arguments, which is what chapters 2-3 vary (:class:`AlexNetCifar`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models._registry import register
from cnnlib.models.layers import (
    alexnet_classifier,
    check_input,
    load_weights,
    overwrite_named_param,
    paper_lrn,
    resolve_weights,
)

__all__ = ["ACTIVATIONS", "AlexNet", "AlexNetCifar", "AlexNetPaper"]


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
        self.classifier = alexnet_classifier(256 * 6 * 6, num_classes, dropout)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.features(x)  # (N, 256, 6, 6) for 224x224
        x = torch.flatten(self.avgpool(x), 1)  # (N, 9216)
        return self.classifier(x)


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
        self.classifier = alexnet_classifier(256 * 6 * 6, num_classes, dropout)
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


# --- CIFAR-scale teaching model (chapters 2-3) -------------------------------------------------

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class AlexNetCifar(nn.Module):
    """AlexNet's layout at CIFAR scale (a teaching model, not the paper's network); module names
    follow torchvision's AlexNet.

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


class ConvNet4(nn.Module):
    """The four weight layers of the paper's figure 1 (cuda-convnet's ``layers-80sec.cfg``)::

        conv1 5x5, 32 -> act -> maxpool 3x3/2    (32x32 -> 16x16)
        conv2 5x5, 32 -> act -> avgpool 3x3/2    (-> 8x8)
        conv3 5x5, 64 -> act -> avgpool 3x3/2    (-> 4x4)
        fc 1024 -> num_classes

    Departures: no LRN (the paper does not say its figure-1 net had any); PyTorch's pooling
    pads by 1 where cuda-convnet rounds the last window up (the same 16-8-4 map sizes).
    """

    min_input_size = 8

    def __init__(self, num_classes: int = 10, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
        act = ACTIVATIONS[activation]
        self.activation = activation
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=5, padding=2),
            act(),
            _pool(),
            nn.Conv2d(32, 32, kernel_size=5, padding=2),
            act(),
            nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False),
            nn.Conv2d(32, 64, kernel_size=5, padding=2),
            act(),
            nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))  # a no-op at 32x32
        self.classifier = nn.Linear(64 * 4 * 4, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _pool() -> nn.MaxPool2d:
    """AlexNet's overlapping pooling (3x3 windows, stride 2); padding 1 halves even sizes."""
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


@register
def convnet4_cifar(**kwargs: Any) -> ConvNet4:
    """The four-layer CIFAR-10 net of AlexNet's figure 1 (``activation="relu"`` or ``"tanh"``)."""
    return ConvNet4(**kwargs)


@register
def alexnet_cifar(**kwargs: Any) -> AlexNetCifar:
    """AlexNet-style CIFAR-10 net (teaching model): conv1 5x5 stride 2."""
    return AlexNetCifar(**kwargs)
