"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

* ``resnet18`` ... ``resnet152``: torchvision-compatible (module names, ``state_dict`` keys,
  constructor arguments). torchvision's bottleneck puts the stride-2 in its 3x3 convolution
  ("ResNet v1.5"), which is *not* the paper.
* ``resnet50_paper``, ``resnet101_paper``, ``resnet152_paper``: the paper's bottleneck ("v1"),
  stride 2 in the first 1x1 convolution. Same ``state_dict`` keys as torchvision's.
* ``resnet20/32/44/56/110`` and ``plain20/32/44/56/110``: the CIFAR-10 networks of the paper's
  section 4.2 (6n+2 layers, 16/32/64 channels, option A shortcuts; plain = no shortcuts).

The paper's table 1 is :func:`cnnlib.analysis.resnet_table1`; ``deepen`` and the other tools of
the residual chapters are in :mod:`cnnlib.residual`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlib.models._registry import register
from cnnlib.models.layers import check_input, load_weights, overwrite_named_param, resolve_weights

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "CifarResNet",
    "ZeroPadShortcut",
    "conv1x1",
    "conv3x3",
    "init_weights",
]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias (a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A shortcut of the paper (section 4.2): identity, subsampled by ``stride``, with the
    extra output channels filled with zeros. It has no parameters."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        if out_planes < in_planes:
            raise ValueError(f"option A cannot shrink channels ({in_planes} -> {out_planes})")
        self.stride = stride
        self.extra = out_planes - in_planes

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra))  # zeros appended along the channel axis

    def extra_repr(self) -> str:
        return f"stride={self.stride}, zero_channels={self.extra}"


class BasicBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut: out = relu(F(x) + shortcut(x)) (paper, figure 2).

    ``shortcut=False`` turns it into the "plain" block of the paper's comparison (no addition).
    """

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride
        self.shortcut = shortcut

    def residual(self, x: Tensor) -> Tensor:
        """F(x): the residual branch alone."""
        out = self.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(out))

    def forward(self, x: Tensor) -> Tensor:
        out = self.residual(x)
        if self.shortcut:
            identity = x if self.downsample is None else self.downsample(x)
            out = out + identity  # H(x) = F(x) + x
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 -> 1x1 (expand x4) plus a shortcut (paper, figure 5 right).

    ``stride_in_1x1=False`` (default, torchvision) puts the stride in the 3x3 convolution
    ("v1.5"); ``stride_in_1x1=True`` puts it in the first 1x1 as the paper does ("v1"), which
    skips three quarters of the input pixels before any 3x3 sees them and costs fewer MACs.
    """

    expansion: int = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
        shortcut: bool = True,
        stride_in_1x1: bool = False,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = planes
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, s1)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, s3)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.shortcut = shortcut

    def residual(self, x: Tensor) -> Tensor:
        """F(x): the residual branch alone."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))

    def forward(self, x: Tensor) -> Tensor:
        out = self.residual(x)
        if self.shortcut:
            identity = x if self.downsample is None else self.downsample(x)
            out = out + identity
        return self.relu(out)


def init_weights(model: nn.Module, zero_init_residual: bool = False) -> None:
    """He initialisation (paper, section 3.4), BN scale 1 and shift 0.

    ``zero_init_residual`` sets the last BN scale of every residual branch to zero, so each block
    starts as the identity (Goyal et al. 2017; not in the paper)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                nn.init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                nn.init.constant_(m.bn2.weight, 0)


class ResNet(nn.Module):
    """The ImageNet ResNet of the paper's table 1 (torchvision's module names).

    ::

        conv1   7x7, 64, stride 2          -> 112x112
        maxpool 3x3, stride 2              -> 56x56
        layer1  blocks x [..], 64 planes   -> 56x56
        layer2  blocks x [..], 128 planes  -> 28x28
        layer3  blocks x [..], 256 planes  -> 14x14
        layer4  blocks x [..], 512 planes  -> 7x7
        avgpool global, fc 1000
    """

    min_input_size = 1

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        norm_layer: Callable[..., nn.Module] | None = None,
        stride_in_1x1: bool = False,
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.stride_in_1x1 = stride_in_1x1  # the paper's v1 bottleneck (else v1.5)
        self.shortcut = shortcut  # False: the plain net of the paper's figure 3 and table 2
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        init_weights(self, zero_init_residual)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        norm_layer = self._norm_layer
        kwargs: dict[str, Any] = {"stride_in_1x1": True} if self.stride_in_1x1 else {}
        kwargs["shortcut"] = self.shortcut
        downsample = None
        if self.shortcut and (stride != 1 or self.inplanes != planes * block.expansion):
            # Option B of the paper: a projection (1x1 conv + BN) where the shape changes.
            # Departure (resnet18/34, as torchvision): the paper's ResNet-18 and -34 of its table 2
            # and figure 4 use option A (zero-padding); B appears for ResNet-34 only in table 3.
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, norm_layer, **kwargs)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, norm_layer=norm_layer, **kwargs))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer1(x)  # (N, 64 * e, H/4, W/4)
        x = self.layer2(x)  # (N, 128 * e, H/8, W/8)
        x = self.layer3(x)  # (N, 256 * e, H/16, W/16)
        x = self.layer4(x)  # (N, 512 * e, H/32, W/32)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class CifarResNet(nn.Module):
    """The CIFAR-10 network of the paper's section 4.2: 6n+2 weighted layers.

    ::

        conv1  3x3, 16                     -> 32x32
        layer1 n blocks, 16 channels       -> 32x32
        layer2 n blocks, 32 channels       -> 16x16 (first block stride 2)
        layer3 n blocks, 64 channels       -> 8x8   (first block stride 2)
        avgpool global, fc 10

    ``shortcut="A"`` (the paper's choice here): identity shortcuts, zero-padded where channels
    double; ``"B"``: a 1x1 projection + BN where the shape changes; ``None``: the plain net.
    """

    min_input_size = 1

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        shortcut: str | None = "A",
        zero_init_residual: bool = False,
        widths: tuple[int, int, int] = (16, 32, 64),
    ) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110); got {depth}")
        if shortcut not in ("A", "B", None):
            raise ValueError(f"shortcut must be 'A', 'B' or None; got {shortcut!r}")
        n = (depth - 2) // 6
        self.depth = depth
        self.shortcut = shortcut
        self.inplanes = widths[0]
        self.conv1 = conv3x3(3, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(widths[0], n, stride=1)
        self.layer2 = self._make_layer(widths[1], n, stride=2)
        self.layer3 = self._make_layer(widths[2], n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        init_weights(self, zero_init_residual)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample: nn.Module | None = None
        if stride != 1 or self.inplanes != planes:
            if self.shortcut == "A":
                downsample = ZeroPadShortcut(self.inplanes, planes, stride)
            elif self.shortcut == "B":
                downsample = nn.Sequential(
                    conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes)
                )
        has_shortcut = self.shortcut is not None
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, shortcut=has_shortcut)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(planes, planes, shortcut=has_shortcut))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.relu(self.bn1(self.conv1(x)))  # (N, 16, 32, 32)
        x = self.layer1(x)  # (N, 16, 32, 32)
        x = self.layer2(x)  # (N, 32, 16, 16)
        x = self.layer3(x)  # (N, 64, 8, 8)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


# --- builders --------------------------------------------------------------------------------

_IMAGENET_CONFIGS: dict[str, tuple[type[BasicBlock | Bottleneck], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
    "resnet152": (Bottleneck, [3, 8, 36, 3]),
}


def _resnet(
    arch: str, weights: Any, progress: bool, stride_in_1x1: bool = False, **kwargs: Any
) -> ResNet:
    block, layers = _IMAGENET_CONFIGS[arch]
    weights = resolve_weights(arch, weights)
    if weights is not None:
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = ResNet(block, layers, stride_in_1x1=stride_in_1x1, **kwargs)
    if weights is not None:
        load_weights(model, weights, progress=progress)
    return model


@register
def resnet18(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-18 (torchvision-compatible; identical to the paper)."""
    return _resnet("resnet18", weights, progress, **kwargs)


@register
def resnet34(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-34 (torchvision-compatible; identical to the paper)."""
    return _resnet("resnet34", weights, progress, **kwargs)


@register
def resnet50(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50 as torchvision builds it (v1.5: stride in the 3x3 of the bottleneck)."""
    return _resnet("resnet50", weights, progress, **kwargs)


@register
def resnet101(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-101 as torchvision builds it (v1.5)."""
    return _resnet("resnet101", weights, progress, **kwargs)


@register
def resnet152(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-152 as torchvision builds it (v1.5)."""
    return _resnet("resnet152", weights, progress, **kwargs)


@register
def plain18(**kwargs: Any) -> ResNet:
    """Plain-18 of the paper's table 2: ResNet-18 without its shortcuts (no weights exist)."""
    return _resnet("resnet18", None, False, shortcut=False, **kwargs)


@register
def plain34(**kwargs: Any) -> ResNet:
    """Plain-34 of the paper's figure 3 (middle) and table 2: ResNet-34 without its shortcuts."""
    return _resnet("resnet34", None, False, shortcut=False, **kwargs)


@register
def resnet50_paper(**kwargs: Any) -> ResNet:
    """ResNet-50 of the paper (v1: stride in the first 1x1 of the bottleneck), 3.8 GMACs."""
    return _resnet("resnet50", None, False, stride_in_1x1=True, **kwargs)


@register
def resnet101_paper(**kwargs: Any) -> ResNet:
    """ResNet-101 of the paper (v1), 7.6 GMACs."""
    return _resnet("resnet101", None, False, stride_in_1x1=True, **kwargs)


@register
def resnet152_paper(**kwargs: Any) -> ResNet:
    """ResNet-152 of the paper (v1), 11.3 GMACs."""
    return _resnet("resnet152", None, False, stride_in_1x1=True, **kwargs)


def _cifar(depth: int, shortcut: str | None, **kwargs: Any) -> CifarResNet:
    return CifarResNet(depth, shortcut=shortcut, **kwargs)


@register
def resnet20(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-20 (n=3), 0.27M parameters, option A shortcuts."""
    return _cifar(20, kwargs.pop("shortcut", "A"), **kwargs)


@register
def resnet32(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-32 (n=5), 0.46M parameters."""
    return _cifar(32, kwargs.pop("shortcut", "A"), **kwargs)


@register
def resnet44(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-44 (n=7), 0.66M parameters."""
    return _cifar(44, kwargs.pop("shortcut", "A"), **kwargs)


@register
def resnet56(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-56 (n=9), 0.85M parameters."""
    return _cifar(56, kwargs.pop("shortcut", "A"), **kwargs)


@register
def resnet110(**kwargs: Any) -> CifarResNet:
    """CIFAR ResNet-110 (n=18), 1.7M parameters."""
    return _cifar(110, kwargs.pop("shortcut", "A"), **kwargs)


@register
def plain20(**kwargs: Any) -> CifarResNet:
    """The 20-layer plain net of the paper's figure 6: ResNet-20 without shortcuts."""
    return _cifar(20, None, **kwargs)


@register
def plain32(**kwargs: Any) -> CifarResNet:
    """32-layer plain net."""
    return _cifar(32, None, **kwargs)


@register
def plain44(**kwargs: Any) -> CifarResNet:
    """44-layer plain net."""
    return _cifar(44, None, **kwargs)


@register
def plain56(**kwargs: Any) -> CifarResNet:
    """56-layer plain net (the one that trains worse than plain20 in the paper)."""
    return _cifar(56, None, **kwargs)


@register
def plain110(**kwargs: Any) -> CifarResNet:
    """110-layer plain net."""
    return _cifar(110, None, **kwargs)
