"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

* ``resnet18`` ... ``resnet152``: torchvision-compatible (module names, ``state_dict`` keys,
  constructor arguments). torchvision's bottleneck puts the stride-2 in its 3x3 convolution
  ("ResNet v1.5"), which is *not* the paper.
* ``resnet50_paper``, ``resnet101_paper``, ``resnet152_paper``: the paper's bottleneck ("v1"),
  stride 2 in the first 1x1 convolution. Same ``state_dict`` keys as torchvision's.
* ``resnet20/32/44/56/110`` and ``plain20/32/44/56/110``: the CIFAR-10 networks of the paper's
  section 4.2 (6n+2 layers, 16/32/64 channels, option A shortcuts; plain = no shortcuts).

Tools of the ResNet chapter:

* :func:`deepen`: a deeper copy of a residual network that computes exactly the same function
  (residual blocks appended whose last batch-norm scale is zero), the paper's "identity mapping"
  argument made concrete;
* :func:`table1`: the paper's table 1 (output size, blocks and MACs per stage of ResNet-18 ...
  152) generated from the models, with :data:`PAPER_TABLE1_GFLOPS` to compare against.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlib.models import register
from cnnlib.models._utils import check_input, load_weights, overwrite_named_param, resolve_weights

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "CifarResNet",
    "ZeroPadShortcut",
    "PAPER_TABLE1_GFLOPS",
    "TABLE1_ARCHS",
    "deepen",
    "table1",
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


def _init_resnet(model: nn.Module, zero_init_residual: bool) -> None:
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
    ) -> None:
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self._block_kwargs: dict[str, Any] = {"stride_in_1x1": True} if stride_in_1x1 else {}
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
        _init_resnet(self, zero_init_residual)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            # Option B of the paper: a projection (1x1 conv + BN) where the shape changes.
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                norm_layer(planes * block.expansion),
            )
        layers = [
            block(self.inplanes, planes, stride, downsample, norm_layer, **self._block_kwargs)
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, norm_layer=norm_layer, **self._block_kwargs))
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
        _init_resnet(self, zero_init_residual)

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


# --- the ResNet chapter: identity mapping and the paper's table 1 ------------------------------


def _stages(model: nn.Module) -> list[tuple[str, nn.Sequential]]:
    """The ``layer1``, ``layer2``, ... stages of a ResNet or CIFAR ResNet, in order."""
    stages = []
    for i in range(1, 10):
        stage = getattr(model, f"layer{i}", None)
        if not isinstance(stage, nn.Sequential):
            break
        stages.append((f"layer{i}", stage))
    return stages


def deepen(model: ResNet | CifarResNet, blocks: int | Sequence[int] = 1) -> ResNet | CifarResNet:
    """A deeper copy of ``model`` that computes exactly the same function.

    ``blocks`` residual blocks (one number for every stage, or one per stage) are appended at the
    end of each stage, of the stage's block type and width, He-initialised like the rest, with
    the scale of their last batch norm set to zero. The residual branch of such a block outputs
    exactly zero (``0 * normalised + 0``), the shortcut is the identity, and the input of the
    block is the output of a ReLU, so ``relu(0 + x) == x``: the new network's outputs equal the
    old one's bit for bit, in eval and in training mode. This is the construction of the paper's
    section 1 ("the added layers are identity mapping, and the other layers are copied from the
    learned shallower model"), with the zero scale of Goyal et al. (2017) as the identity.

    ``model`` itself is not changed. The copy's weights can then be trained further: the new
    blocks start as the identity and learn a residual ``F(x)`` on top of it.

    Raises:
        ValueError: ``model`` has no ``layer1, layer2, ...`` stages of residual blocks, is a plain
            network (a plain block cannot be made the identity by a zero scale: its output would
            be ``relu(0) = 0``), or ``blocks`` is negative or of the wrong length.
    """
    stages = _stages(model)
    if not stages or not all(isinstance(b, (BasicBlock, Bottleneck)) for _, s in stages for b in s):
        raise ValueError(
            f"deepen expects a ResNet or CifarResNet (stages layer1, layer2, ... of BasicBlock or "
            f"Bottleneck); got {type(model).__name__}"
        )
    if any(not b.shortcut for _, s in stages for b in s):
        raise ValueError(
            "deepen needs residual blocks: a plain block (no shortcut) with a zero scale outputs "
            "relu(0) = 0, not its input; use a ResNet, not a plain net"
        )
    counts = [blocks] * len(stages) if isinstance(blocks, int) else list(blocks)
    if len(counts) != len(stages) or any(not isinstance(n, int) or n < 0 for n in counts):
        raise ValueError(
            f"blocks must be a non-negative int or one per stage ({len(stages)} stages); "
            f"got {blocks!r}"
        )
    deeper = copy.deepcopy(model)
    reference = next(deeper.parameters())
    added = 0
    for (name, _), n in zip(stages, counts, strict=True):
        stage = getattr(deeper, name)
        last = stage[-1]
        block_type = type(last)
        planes = last.conv1.out_channels
        inplanes = planes * block_type.expansion
        # v1 or v1.5 (no difference without a stride, but the copy says what it is)
        kwargs: dict[str, Any] = dict(getattr(deeper, "_block_kwargs", {}))
        for _ in range(n):
            block = block_type(inplanes, planes, **kwargs)
            _init_resnet(block, zero_init_residual=True)
            block.train(deeper.training)
            stage.append(block.to(device=reference.device, dtype=reference.dtype))
            added += 1
    if isinstance(deeper, CifarResNet):
        deeper.depth = model.depth + 2 * added  # two weighted layers per basic block
    return deeper


#: The paper's table 1, last row: "FLOPs" (in fact multiply-adds) x 10^9 for a 224x224 image.
PAPER_TABLE1_GFLOPS: dict[str, float] = {
    "resnet18": 1.8,
    "resnet34": 3.6,
    "resnet50": 3.8,
    "resnet101": 7.6,
    "resnet152": 11.3,
}

#: The five networks of table 1 as the paper builds them (v1 bottlenecks for 50 and deeper).
TABLE1_ARCHS = ("resnet18", "resnet34", "resnet50_paper", "resnet101_paper", "resnet152_paper")


def _conv_cell(conv: nn.Conv2d) -> str:
    k = conv.kernel_size[0]
    stride = f", stride {conv.stride[0]}" if conv.stride[0] != 1 else ""
    return f"{k}×{k}, {conv.out_channels}{stride}"


def _stage_cell(stage: nn.Sequential) -> str:
    """``[3×3, 64; 3×3, 64] × 2``: the convolutions of a stage's blocks and how many blocks."""
    block = stage[-1]  # a block without a stride: the stage's repeated pattern
    convs = [m for n, m in block.named_children() if n.startswith("conv")]
    inner = "; ".join(f"{c.kernel_size[0]}×{c.kernel_size[1]}, {c.out_channels}" for c in convs)
    return f"[{inner}] × {len(stage)}"


def _arch_label(name: str) -> str:
    match = re.fullmatch(r"resnet(\d+)(_paper)?", name)
    return f"{match.group(1)}-layer" if match else name


def table1(archs: Sequence[str] = TABLE1_ARCHS, image_size: int = 224) -> list[dict[str, str]]:
    """The paper's table 1, generated from the models: one row per stage, one column per net.

    Rows: ``conv1``, ``conv2_x`` (with the 3x3 max pool) to ``conv5_x``, the classifier, then
    the multiply-accumulates per image counted by :func:`cnnlib.analysis.count_macs`
    (``MACs (10^9)``), the paper's published values where it has them (``paper (10^9)``, from
    :data:`PAPER_TABLE1_GFLOPS`) and the parameters (``params (10^6)``). The ``output size``
    column is measured by running the first model on a ``image_size`` x ``image_size`` image.
    Columns are labelled ``18-layer`` ... as in the paper (the ``_paper`` suffix dropped) and
    ``archs`` may include torchvision's v1.5 nets (``"resnet50"``), labelled by their name when
    two columns would otherwise share a label.

    >>> [row["layer name"] for row in table1(["resnet18"])][:3]
    ['conv1', 'conv2_x', 'conv3_x']
    """
    from cnnlib.analysis import count_macs, count_params
    from cnnlib.models import create

    if isinstance(archs, str):
        archs = [archs]
    archs = list(archs)
    if not archs:
        raise ValueError("table1 needs at least one architecture, e.g. 'resnet50_paper'")
    if not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int of at least 32 pixels; got {image_size!r}")
    labels = [_arch_label(a) for a in archs]
    labels = [a if labels.count(lb) > 1 else lb for a, lb in zip(archs, labels, strict=True)]
    names = ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "classifier"]
    rows: list[dict[str, str]] = [{"layer name": n, "output size": ""} for n in names]
    extra = [{"layer name": n, "output size": ""} for n in ("MACs (10^9)", "paper (10^9)")]
    extra.append({"layer name": "params (10^6)", "output size": ""})
    for arch, label in zip(archs, labels, strict=True):
        model = create(arch)
        if not isinstance(model, ResNet):
            raise ValueError(
                f"table1 needs ImageNet ResNets (resnet18 ... resnet152); got {arch!r}"
            )
        stages = _stages(model)
        model.eval()
        with torch.no_grad():  # output sizes, stage by stage (one forward pass)
            x = model.relu(model.bn1(model.conv1(torch.zeros(1, 3, image_size, image_size))))
            sizes = [tuple(x.shape[1:])]
            x = model.maxpool(x)
            for _, stage in stages:
                x = stage(x)
                sizes.append(tuple(x.shape[1:]))
            sizes.append((model.fc.out_features,))
        macs = count_macs(model, (1, 3, image_size, image_size))
        if not rows[0]["output size"]:
            for row, shape in zip(rows, sizes, strict=True):
                row["output size"] = "1×1" if len(shape) == 1 else f"{shape[-2]}×{shape[-1]}"
        cells = [_conv_cell(model.conv1)]
        pool = model.maxpool
        cells.append(f"{pool.kernel_size}×{pool.kernel_size} max pool, stride {pool.stride}; "
                     + _stage_cell(stages[0][1]))  # fmt: skip
        cells += [_stage_cell(stage) for _, stage in stages[1:]]
        cells.append(f"average pool, {model.fc.out_features}-d fc, softmax")
        for row, cell in zip(rows, cells, strict=True):
            row[label] = cell
        base = arch.removesuffix("_paper")
        published = PAPER_TABLE1_GFLOPS.get(base) if arch.endswith("_paper") or base in (
            "resnet18", "resnet34"
        ) else None  # fmt: skip
        extra[0][label] = f"{macs / 1e9:.2f}"
        extra[1][label] = "—" if published is None else f"{published:g}"
        extra[2][label] = f"{count_params(model) / 1e6:.1f}"
    return rows + extra
