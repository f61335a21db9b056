"""GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015).

* ``googlenet``: torchvision-compatible. It departs from the paper: batch norm after every
  convolution (``BasicConv2d``), a 3x3 kernel in the "5x5" branch (a known torchvision bug kept
  for weight compatibility), no LRN, auxiliary heads with adaptive 4x4 pooling.
* ``googlenet_paper``: the paper's network (table 1, figure 3): convolutions with bias and ReLU,
  no batch norm, a real 5x5 branch, LRN after the stem's pool and conv3, the paper's auxiliary
  heads (5x5/3 average pool, 1x1 conv 128, FC 1024, dropout 0.7, FC) and 40% dropout before
  the classifier.
* ``InceptionNaive`` and ``Inception``: the two modules of the paper's figure 2.
* ``googlenet_cifar``: a CIFAR-scale teaching model with GoogLeNet's layout (table 1's widths
  scaled by ``width``, the two auxiliary heads, optional batch norm), see ``GoogLeNetCifar``.
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlib.models._registry import register
from cnnlib.models.layers import check_input, load_weights, overwrite_named_param, resolve_weights

__all__ = [
    "GoogLeNet", "GoogLeNetPaper", "GoogLeNetCifar", "GoogLeNetOutputs", "INCEPTION_CONFIGS",
    "Inception", "InceptionNaive", "InceptionAux", "InceptionAuxPaper", "InceptionAuxCifar",
    "BasicConv2d", "ConvReLU", "scaled_inception_configs",
]  # fmt: skip

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

# Table 1 of the paper, as data: name -> (in, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
# pool proj). The module's output has #1x1 + #3x3 + #5x5 + pool proj channels.
INCEPTION_CONFIGS: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class BasicConv2d(nn.Module):
    """torchvision's conv block: convolution (no bias), batch norm (eps 1e-3), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class ConvReLU(nn.Module):
    """The paper's conv block: convolution with bias, then ReLU ("all convolutions, including
    those inside the Inception modules, use rectified linear activation")."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=True, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv(x), inplace=True)


class InceptionNaive(nn.Module):
    """The naive Inception module (figure 2a): 1x1, 3x3 and 5x5 convolutions and a 3x3 max-pool
    side by side on the same input, concatenated along channels. The pool keeps all
    ``in_channels`` (the output grows by the input's width) and the 3x3/5x5 convolutions run on
    the full input width: this is what makes it expensive."""

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3: int,
        ch5x5: int,
        conv_block: Callable[..., nn.Module] = ConvReLU,
    ) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = conv_block(in_channels, ch3x3, kernel_size=3, padding=1)
        self.branch3 = conv_block(in_channels, ch5x5, kernel_size=5, padding=2)
        # Stride 1 with padding 1 keeps the size: (H + 2*1 - 3) / 1 + 1 = H.
        self.branch4 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, 1)  # (N, ch1x1 + ch3x3 + ch5x5 + in_channels, H, W)


class Inception(nn.Module):
    """Inception module with dimension reductions (figure 2b): 1x1 convolutions shrink the input
    before the 3x3 and 5x5 convolutions, and project the pooled branch.

    ``conv_block=BasicConv2d, branch3_kernel=3`` is torchvision's module (same names);
    ``conv_block=ConvReLU, branch3_kernel=5`` is the paper's.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        conv_block: Callable[..., nn.Module] = BasicConv2d,
        branch3_kernel: int = 3,
    ) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1),
            conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1),
            conv_block(ch5x5red, ch5x5, kernel_size=branch3_kernel, padding=branch3_kernel // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)]
        return torch.cat(branches, 1)  # (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)


class InceptionAux(nn.Module):
    """torchvision's auxiliary head: adaptive 4x4 average pool, 1x1 conv 128 (BN), FC 1024,
    dropout, FC."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, (4, 4))  # (N, C, 4, 4)
        x = torch.flatten(self.conv(x), 1)  # (N, 2048)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))  # (N, 1024)
        return self.fc2(x)


class _PooledAuxHead(nn.Module):
    """An auxiliary head of the paper's design: 5x5/3 average pool to ``pooled`` x ``pooled``,
    1x1 convolution, FC + ReLU, dropout, FC to the classes (softmax in the loss)."""

    pooled = 4  # the FC layer takes exactly conv_channels x pooled x pooled inputs
    expects = "the paper's auxiliary head expects a 14x14 to 16x16 feature map (a 224x224 image)"
    image = "224x224"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        conv_channels: int = 128,
        hidden: int = 1024,
        dropout: float = 0.7,
        conv_block: Callable[..., nn.Module] = ConvReLU,
    ) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = conv_block(in_channels, conv_channels, kernel_size=1)
        self.fc1 = nn.Linear(conv_channels * self.pooled * self.pooled, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)  # (N, C, pooled, pooled)
        if x.shape[-2:] != (self.pooled, self.pooled):
            raise ValueError(
                f"{self.expects}; its 5x5/3 pool gave {tuple(x.shape[-2:])} instead of "
                f"{(self.pooled, self.pooled)}. Use a {self.image} input, or aux_logits=False"
            )
        x = torch.flatten(self.conv(x), 1)  # (N, conv_channels * pooled * pooled)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)


class InceptionAuxPaper(_PooledAuxHead):
    """The paper's auxiliary head (section 5): 5x5/3 average pool (14x14 -> 4x4), 1x1 conv 128
    + ReLU, FC 1024 + ReLU, dropout 70%, FC to the classes (softmax in the loss). Its 4x4 map
    needs a 14x14 to 16x16 input map: a 223 to 255 pixel image (224 in the paper)."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__(in_channels, num_classes, 128, 1024, dropout, ConvReLU)


class _GoogLeNetBase(nn.Module):
    """The trunk shared by both versions: stem, nine Inception modules, pooling, classifier."""

    min_input_size = 1

    def _build_inceptions(self, pool4: int = 2, **inception_kwargs: Any) -> None:
        for name, cfg in INCEPTION_CONFIGS.items():
            setattr(self, name, Inception(*cfg, **inception_kwargs))
            if name == "inception3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 28 -> 14
            elif name == "inception4e":
                # table 1 of the paper: 3x3/2 (pool4=3, googlenet_paper); torchvision: 2x2/2.
                # Both give 14 -> 7 with ceil rounding and have no weights.
                self.maxpool4 = nn.MaxPool2d(pool4, stride=2, ceil_mode=True)  # 14 -> 7

    def _inceptions(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        x = self.inception3a(x)  # (N, 256, 28, 28)
        x = self.inception3b(x)  # (N, 480, 28, 28)
        x = self.maxpool3(x)  # (N, 480, 14, 14)
        x = self.inception4a(x)  # (N, 512, 14, 14)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4b(x)  # (N, 512, 14, 14)
        x = self.inception4c(x)  # (N, 512, 14, 14)
        x = self.inception4d(x)  # (N, 528, 14, 14)
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.inception4e(x)  # (N, 832, 14, 14)
        x = self.maxpool4(x)  # (N, 832, 7, 7)
        x = self.inception5a(x)  # (N, 832, 7, 7)
        x = self.inception5b(x)  # (N, 1024, 7, 7)
        return x, aux1, aux2

    def _outputs(self, x: Tensor, aux1: Tensor | None, aux2: Tensor | None):
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


class GoogLeNet(_GoogLeNetBase):
    """torchvision's GoogLeNet (same names, ``state_dict`` keys and arguments).

    In training mode with ``aux_logits=True`` the forward returns ``GoogLeNetOutputs(logits,
    aux_logits2, aux_logits1)``; otherwise the logits.
    """

    min_input_size = 15

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool | None = None,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        if init_weights is None:
            init_weights = True  # torchvision's default (it warns about a future change)
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self._build_inceptions(conv_block=BasicConv2d, branch3_kernel=3)
        aux = partial(InceptionAux, num_classes=num_classes, dropout=dropout_aux)
        self.aux1, self.aux2 = (aux(512), aux(528)) if aux_logits else (None, None)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x: Tensor) -> Tensor:
        """Map ImageNet-normalised input to the (x - 0.5) / 0.5 scaling of the ported weights."""
        if not self.transform_input:
            return x
        x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return torch.cat((x_ch0, x_ch1, x_ch2), 1)

    def forward(self, x: Tensor):
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))  # (N, 64, 56, 56) for 224x224
        x = self.maxpool2(self.conv3(self.conv2(x)))  # (N, 192, 28, 28)
        x, aux1, aux2 = self._inceptions(x)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 1024)
        x = self.fc(self.dropout(x))
        return self._outputs(x, aux1, aux2)


class GoogLeNetPaper(_GoogLeNetBase):
    """GoogLeNet as in the paper's table 1 and figure 3 (22 layers with parameters).

    Module names follow torchvision's; the stem's convolutions are ``conv1.conv`` etc., so only
    the batch-norm keys differ. Forward returns ``GoogLeNetOutputs`` in training mode when
    ``aux_logits`` is set (the paper weights each auxiliary loss by 0.3), else the logits.
    """

    # the trunk's: its 3x3/2 pool before 5a needs a 2x2 map (31 pixels); in training the aux
    # heads check their own (223 to 255)
    min_input_size = 31

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        dropout: float = 0.4,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = ConvReLU(3, 64, kernel_size=7, stride=2, padding=3)  # 224 -> 112
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # -> 56
        # The paper gives no LRN constants: these are the Caffe reference model's (size 5,
        # alpha 1e-4, beta 0.75, k 1; Caffe, like PyTorch, divides alpha by the size).
        self.lrn1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2 = ConvReLU(64, 64, kernel_size=1)  # "3x3 reduce" of the stem
        self.conv3 = ConvReLU(64, 192, kernel_size=3, padding=1)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # -> 28
        self._build_inceptions(pool4=3, conv_block=ConvReLU, branch3_kernel=5)
        aux = partial(InceptionAuxPaper, num_classes=num_classes, dropout=dropout_aux)
        self.aux1, self.aux2 = (aux(512), aux(528)) if aux_logits else (None, None)
        # Departure: adaptive instead of the paper's 7x7 average pool (the same at 224).
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        # Departure: the paper does not give its initialisation (DistBelief); Xavier uniform for
        # convolutions and FC layers with zero biases, as the Caffe reference model does.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor):
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.lrn1(self.maxpool1(self.conv1(x)))  # (N, 64, 56, 56)
        x = self.maxpool2(self.lrn2(self.conv3(self.conv2(x))))  # (N, 192, 28, 28)
        x, aux1, aux2 = self._inceptions(x)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 1024)
        x = self.fc(self.dropout(x))
        return self._outputs(x, aux1, aux2)


@register
def googlenet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> GoogLeNet:
    """torchvision's GoogLeNet (6,624,904 parameters without the auxiliary heads)."""
    weights = resolve_weights("googlenet", weights)
    original_aux_logits = kwargs.get("aux_logits", False)
    if weights is not None:
        kwargs.setdefault("transform_input", True)
        overwrite_named_param(kwargs, "aux_logits", True)
        overwrite_named_param(kwargs, "init_weights", False)
        overwrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = GoogLeNet(**kwargs)
    if weights is not None:
        load_weights(model, weights, progress=progress)
        if not original_aux_logits:
            model.aux_logits, model.aux1, model.aux2 = False, None, None
        else:
            msg = "the auxiliary heads of the pretrained googlenet are not pretrained"
            warnings.warn(msg, stacklevel=2)
    return model


@register
def googlenet_paper(**kwargs: Any) -> GoogLeNetPaper:
    """GoogLeNet as in the paper: no batch norm, real 5x5 branch, LRN, the paper's aux heads."""
    return GoogLeNetPaper(**kwargs)


# --- CIFAR-scale teaching model ----------------------------------------------------------------


def scaled_inception_configs(
    width: float = 1.0, in_channels: int | None = None
) -> dict[str, tuple[int, int, int, int, int, int, int]]:
    """Table 1's module widths (:data:`INCEPTION_CONFIGS`) times ``width``, rounded (at least 1).

    Each module's input width is the previous module's output width (``in_channels`` for
    inception3a, by default the scaled 192 of the stem), so the scaled configs chain exactly.
    """
    if width <= 0:
        raise ValueError(f"width must be a positive multiplier of table 1's widths; got {width}")

    def scale(c: int) -> int:
        return max(1, round(c * width))

    configs = {}
    c_in = scale(192) if in_channels is None else in_channels
    for name, (_, *cfg) in INCEPTION_CONFIGS.items():
        c1, c3r, c3, c5r, c5, pp = (scale(c) for c in cfg)
        configs[name] = (c_in, c1, c3r, c3, c5r, c5, pp)
        c_in = c1 + c3 + c5 + pp
    return configs


class InceptionAuxCifar(_PooledAuxHead):
    """The paper's auxiliary head at CIFAR scale: the same 5x5/3 average pool (8x8 -> 2x2
    instead of 14x14 -> 4x4), 1x1 convolution, FC + ReLU, dropout 70%, FC to the classes."""

    pooled = 2
    expects = "the CIFAR auxiliary head expects an 8x8 to 10x10 feature map (a 32x32 image)"
    image = "32x32"


class GoogLeNetCifar(_GoogLeNetBase):
    """GoogLeNet's layout for 32x32 images (a teaching model, not the paper's network).

    Table 1's nine Inception modules in its three stages, every width times ``width``
    (:func:`scaled_inception_configs`), and the two auxiliary heads after inception4a and
    inception4d::

        stem: conv 3x3 (64w) -> conv 1x1 (64w) -> conv 3x3 (192w) -> max-pool 3x3/2   32 -> 16
        inception3a, 3b                      -> max-pool 3x3/2                       16 -> 8
        inception4a (aux1), 4b, 4c, 4d (aux2), 4e -> max-pool 3x3/2                   8 -> 4
        inception5a, 5b -> global average pool -> dropout 40% -> FC

    Departures from the paper, for the 32-pixel input: a stem of two 3x3 convolutions and a 1x1
    with one pooling, so the stages run at 16, 8 and 4 pixels instead of 28, 14 and 7; no LRN;
    the auxiliary heads pool 8x8 to 2x2. ``batch_norm=False`` (default): the paper's conv + bias
    + ReLU with Xavier initialisation; ``True``: torchvision's conv + batch norm + ReLU blocks.
    ``branch3_kernel`` is 5 (the paper; torchvision has 3).
    """

    min_input_size = 8

    def __init__(
        self,
        num_classes: int = 10,
        width: float = 0.25,
        aux_logits: bool = True,
        batch_norm: bool = False,
        branch3_kernel: int = 5,
        dropout: float = 0.4,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        if branch3_kernel not in (3, 5):
            raise ValueError(f"branch3_kernel must be 5 (the paper) or 3; got {branch3_kernel}")
        self.aux_logits = aux_logits
        self.width = width
        block: Callable[..., nn.Module] = BasicConv2d if batch_norm else ConvReLU
        configs = scaled_inception_configs(width)
        c64, c192 = max(1, round(64 * width)), configs["inception3a"][0]
        self.conv1 = block(3, c64, kernel_size=3, padding=1)  # 32 -> 32
        self.conv2 = block(c64, c64, kernel_size=1)
        self.conv3 = block(c64, c192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 32 -> 16
        for name, cfg in configs.items():
            setattr(self, name, Inception(*cfg, conv_block=block, branch3_kernel=branch3_kernel))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 16 -> 8
        self.maxpool4 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 8 -> 4 (3x3/2 as table 1)
        aux = partial(InceptionAuxCifar, num_classes=num_classes, dropout=dropout_aux,
                      conv_channels=max(1, round(128 * width)), hidden=round(1024 * width),
                      conv_block=block)  # fmt: skip
        inputs = (configs["inception4b"][0], configs["inception4e"][0])
        self.aux1, self.aux2 = [aux(c) for c in inputs] if aux_logits else (None, None)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        out = configs["inception5b"]
        self.fc = nn.Linear(out[1] + out[3] + out[5] + out[6], num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor):
        check_input(x, model=type(self).__name__, min_size=self.min_input_size)
        x = self.conv3(self.conv2(self.conv1(x)))  # (N, 192w, 32, 32)
        x = self.maxpool2(x)  # (N, 192w, 16, 16)
        x, aux1, aux2 = self._inceptions(x)  # (N, 1024w, 4, 4); heads on the 8x8 maps
        x = torch.flatten(self.avgpool(x), 1)  # (N, 1024w)
        x = self.fc(self.dropout(x))
        return self._outputs(x, aux1, aux2)


@register
def googlenet_cifar(**kwargs: Any) -> GoogLeNetCifar:
    """GoogLeNet's layout for CIFAR-10 (teaching model): table 1's widths x 0.25, aux heads."""
    return GoogLeNetCifar(**kwargs)
