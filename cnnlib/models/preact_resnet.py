"""Pre-activation ResNets for CIFAR-10 (He et al. 2016b, "Identity Mappings in Deep Residual
Networks"): batch norm and ReLU moved in front of each convolution, so that nothing follows the
addition and the shortcut path from any block to any later one is the identity.

::

    post-activation (2016a):  x_{l+1} = relu(x_l + BN(conv(relu(BN(conv(x_l))))))
    pre-activation (2016b):   x_{l+1} = x_l + conv(relu(BN(conv(relu(BN(x_l))))))

The network is the CIFAR ResNet of the 2016a paper's section 4.2 (6n+2 layers, 16-32-64
channels) with pre-activation blocks, plus the final BN and ReLU that the 2016b paper adds
after the last addition (its section 4.1, "an extra activation").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.models._registry import register
from cnnlib.models.layers import check_input
from cnnlib.models.resnet import ZeroPadShortcut, conv1x1, conv3x3, init_weights

__all__ = ["PreActBlock", "PreActResNet"]


class PreActBlock(nn.Module):
    """BN -> ReLU -> 3x3 conv -> BN -> ReLU -> 3x3 conv, plus the shortcut; no ReLU after the
    addition (figure 1b and 4e of the 2016b paper).

    Where the shape changes, the shortcut is option B (a 1x1 projection, as in the authors'
    released code) or option A (subsample and pad with zeros), and it reads the pre-activated
    input ``relu(BN(x))``, which both branches then share (the authors' code does the same).
    ``shortcut=False`` gives the plain pre-activation block.
    """

    expansion: int = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        option: str = "B",
        shortcut: bool = True,
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)  # acts on BN outputs, never on the shortcut x
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.stride = stride
        self.shortcut = shortcut
        self.downsample: nn.Module | None = None
        if shortcut and (stride != 1 or inplanes != planes):
            if option == "A":
                self.downsample = ZeroPadShortcut(inplanes, planes, stride)
            else:
                self.downsample = conv1x1(inplanes, planes, stride)

    def residual(self, x: Tensor) -> Tensor:
        """F(x): the residual branch alone."""
        out = self.conv1(self.relu(self.bn1(x)))
        return self.conv2(self.relu(self.bn2(out)))

    def forward(self, x: Tensor) -> Tensor:
        if not self.shortcut:
            return self.residual(x)
        if self.downsample is None:
            return x + self.residual(x)  # x_{l+1} = x_l + F(x_l)
        pre = self.relu(self.bn1(x))  # shared by both branches where the shape changes
        out = self.conv2(self.relu(self.bn2(self.conv1(pre))))
        return self.downsample(pre) + out


class PreActResNet(nn.Module):
    """The CIFAR ResNet (6n+2 layers) with pre-activation blocks and a final BN + ReLU.

    ::

        conv1  3x3, 16                                  -> 32x32
        layer1 n pre-activation blocks, 16 channels     -> 32x32
        layer2 n blocks, 32 channels (first stride 2)   -> 16x16
        layer3 n blocks, 64 channels (first stride 2)   -> 8x8
        bn, relu, global average pool, fc 10
    """

    min_input_size = 1

    def __init__(
        self,
        depth: int,
        num_classes: int = 10,
        option: str = "B",
        shortcut: bool = True,
        widths: tuple[int, int, int] = (16, 32, 64),
    ) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110); got {depth}")
        if option not in ("A", "B"):
            raise ValueError(f"option must be 'A' or 'B'; got {option!r}")
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1 = conv3x3(3, widths[0])
        blocks, inplanes = [], widths[0]
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            layer = [PreActBlock(inplanes, planes, stride, option, shortcut)]
            layer += [PreActBlock(planes, planes, 1, option, shortcut) for _ in range(1, n)]
            blocks.append(nn.Sequential(*layer))
            inplanes = planes
        self.layer1, self.layer2, self.layer3 = blocks
        self.bn = nn.BatchNorm2d(widths[2])  # the extra activation after the last addition
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.conv1(x)  # (N, 16, 32, 32): no BN or ReLU here, the first block begins with them
        x = self.layer3(self.layer2(self.layer1(x)))  # (N, 64, 8, 8)
        x = self.relu(self.bn(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


@register
def preact_resnet20(**kwargs: Any) -> PreActResNet:
    """Pre-activation CIFAR ResNet-20 (projection shortcuts where the shape changes)."""
    return PreActResNet(20, **kwargs)


@register
def preact_resnet56(**kwargs: Any) -> PreActResNet:
    """Pre-activation CIFAR ResNet-56."""
    return PreActResNet(56, **kwargs)


@register
def preact_resnet110(**kwargs: Any) -> PreActResNet:
    """Pre-activation CIFAR ResNet-110, the 2016b paper's table 3 network (1.7M parameters)."""
    return PreActResNet(110, **kwargs)
