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
* :func:`table1`: the paper's table 1 regenerated from a model, beside :data:`PAPER_TABLE1`;
  :func:`gradient_norms_by_head`: weight gradients from the main and the auxiliary losses.
"""

from __future__ import annotations

import warnings
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnlib.models import register
from cnnlib.models._utils import check_input, load_weights, overwrite_named_param, resolve_weights

__all__ = [
    "GoogLeNet",
    "GoogLeNetPaper",
    "GoogLeNetOutputs",
    "Inception",
    "InceptionNaive",
    "InceptionAux",
    "InceptionAuxPaper",
    "BasicConv2d",
    "ConvReLU",
    "INCEPTION_CONFIGS",
    "GoogLeNetCifar",
    "InceptionAuxCifar",
    "scaled_inception_configs",
    "PAPER_TABLE1",
    "TABLE1_COLUMNS",
    "table1",
    "gradient_norms_by_head",
]

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
    side by side on the same input, concatenated along channels.

    The pool keeps all ``in_channels``, so the output always grows by the input's width, and
    the 3x3/5x5 convolutions run on the full input width: this is what makes it expensive.
    """

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


class InceptionAuxPaper(nn.Module):
    """The paper's auxiliary head (section 5): 5x5/3 average pool (14x14 -> 4x4), 1x1 conv 128
    + ReLU, FC 1024 + ReLU, dropout 70%, FC to the classes (softmax in the loss)."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = ConvReLU(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)
        if x.shape[-2:] != (4, 4):
            # The paper's FC 1024 takes exactly 128x4x4 inputs: a 14x14 to 16x16 map here, that
            # is a 223 to 255 pixel image (224 in the paper).
            raise ValueError(
                "the paper's auxiliary head expects a 14x14 to 16x16 feature map (a 224x224 "
                f"image); its 5x5/3 pool gave {tuple(x.shape[-2:])} instead of (4, 4). Use a "
                "224x224 input, or aux_logits=False"
            )
        x = self.conv(x)  # (N, 128, 4, 4)
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)


class _GoogLeNetBase(nn.Module):
    """The trunk shared by both versions: stem, nine Inception modules, pooling, classifier."""

    min_input_size = 1

    def _build_inceptions(self, **inception_kwargs: Any) -> None:
        for name, cfg in INCEPTION_CONFIGS.items():
            setattr(self, name, Inception(*cfg, **inception_kwargs))
            if name == "inception3b":
                self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 28 -> 14
            elif name == "inception4e":
                # torchvision's 2x2/2; table 1 of the paper has 3x3/2 here. Both give 14 -> 7
                # and have no weights; shared by googlenet_paper so that the two differ only
                # where the chapter compares them (departure from the paper, named here).
                self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 14 -> 7

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
        self.aux1: nn.Module | None = None
        self.aux2: nn.Module | None = None
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
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

    # The trunk's smallest input. In training mode the paper's auxiliary heads need a 223 to
    # 255 pixel input; ``InceptionAuxPaper`` checks that itself.
    min_input_size = 15

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
        self._build_inceptions(conv_block=ConvReLU, branch3_kernel=5)
        self.aux1: nn.Module | None = None
        self.aux2: nn.Module | None = None
        if aux_logits:
            self.aux1 = InceptionAuxPaper(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAuxPaper(528, num_classes, dropout=dropout_aux)
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
            model.aux_logits = False
            model.aux1 = None
            model.aux2 = None
        else:
            warnings.warn(
                "the auxiliary heads of the pretrained googlenet are not pretrained", stacklevel=2
            )
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


class InceptionAuxCifar(nn.Module):
    """The paper's auxiliary head at CIFAR scale: the same 5x5/3 average pool (8x8 -> 2x2
    instead of 14x14 -> 4x4), 1x1 convolution, FC + ReLU, dropout 70%, FC to the classes."""

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
        self.fc1 = nn.Linear(conv_channels * 2 * 2, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(x)  # (N, C, 2, 2) for the 8x8 maps of a 32x32 image
        if x.shape[-2:] != (2, 2):
            raise ValueError(
                "the CIFAR auxiliary head expects an 8x8 to 10x10 feature map (a 32x32 image); "
                f"its 5x5/3 pool gave {tuple(x.shape[-2:])} instead of (2, 2). Use a 32x32 "
                "input, or aux_logits=False"
            )
        x = torch.flatten(self.conv(x), 1)  # (N, conv_channels * 4)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)


class GoogLeNetCifar(_GoogLeNetBase):
    """GoogLeNet's layout for 32x32 images (a teaching model, not the paper's network).

    The nine Inception modules of table 1 in the same three stages, with every width multiplied
    by ``width`` (:func:`scaled_inception_configs`), and the same two auxiliary heads after
    inception4a and inception4d (loss weight 0.3 in the paper)::

        stem: conv 3x3 (64w) -> conv 1x1 (64w) -> conv 3x3 (192w) -> max-pool 3x3/2   32 -> 16
        inception3a, 3b                      -> max-pool 3x3/2                       16 -> 8
        inception4a (aux1), 4b, 4c, 4d (aux2), 4e -> max-pool 3x3/2                   8 -> 4
        inception5a, 5b -> global average pool -> dropout 40% -> FC

    Departures from the paper, for the 32-pixel input: the stem is two 3x3 convolutions and a
    1x1 with one pooling (224 -> 28 in the paper, 32 -> 16 here), so the three stages run at
    16, 8 and 4 pixels instead of 28, 14 and 7; no LRN; the auxiliary heads pool 8x8 to 2x2.
    ``batch_norm=False`` (the default) is the paper's convolution + bias + ReLU with Xavier
    initialisation, as ``googlenet_paper``; ``batch_norm=True`` uses torchvision's
    convolution + batch norm + ReLU blocks. ``branch3_kernel`` is 5 (the paper; torchvision has 3).
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
        self.aux1: nn.Module | None = None
        self.aux2: nn.Module | None = None
        if aux_logits:
            aux = {"conv_channels": max(1, round(128 * width)), "hidden": round(1024 * width),
                   "dropout": dropout_aux, "conv_block": block}  # fmt: skip
            self.aux1 = InceptionAuxCifar(configs["inception4b"][0], num_classes, **aux)
            self.aux2 = InceptionAuxCifar(configs["inception4e"][0], num_classes, **aux)
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


# --- Table 1 of the paper, regenerated from a model --------------------------------------------

#: Table 1 of Szegedy et al. (2015) as printed, one entry per row (softmax left out):
#: (type, patch size/stride, output size, depth, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
#: pool proj, params in K, ops in M). ``None`` where the paper leaves the cell empty. The
#: paper's "K" is 1024 weights (biases not counted: 3a has 163,328 weights = 159.5K) and its
#: "ops" are multiply-accumulates in millions.
PAPER_TABLE1: dict[str, tuple] = {
    "conv1": ("convolution", "7x7/2", "112x112x64", 1, *[None] * 6, 2.7, 34),
    "maxpool1": ("max pool", "3x3/2", "56x56x64", 0, *[None] * 6, None, None),
    "conv2+conv3": (
        "convolution",
        "3x3/1",
        "56x56x192",
        2,
        None,
        64,
        192,
        None,
        None,
        None,
        112,
        360,
    ),  # fmt: skip
    "maxpool2": ("max pool", "3x3/2", "28x28x192", 0, *[None] * 6, None, None),
    "inception3a": ("inception", None, "28x28x256", 2, 64, 96, 128, 16, 32, 32, 159, 128),
    "inception3b": ("inception", None, "28x28x480", 2, 128, 128, 192, 32, 96, 64, 380, 304),
    "maxpool3": ("max pool", "3x3/2", "14x14x480", 0, *[None] * 6, None, None),
    "inception4a": ("inception", None, "14x14x512", 2, 192, 96, 208, 16, 48, 64, 364, 73),
    "inception4b": ("inception", None, "14x14x512", 2, 160, 112, 224, 24, 64, 64, 437, 88),
    "inception4c": ("inception", None, "14x14x512", 2, 128, 128, 256, 24, 64, 64, 463, 100),
    "inception4d": ("inception", None, "14x14x528", 2, 112, 144, 288, 32, 64, 64, 580, 119),
    "inception4e": ("inception", None, "14x14x832", 2, 256, 160, 320, 32, 128, 128, 840, 170),
    "maxpool4": ("max pool", "3x3/2", "7x7x832", 0, *[None] * 6, None, None),
    "inception5a": ("inception", None, "7x7x832", 2, 256, 160, 320, 32, 128, 128, 1072, 54),
    "inception5b": ("inception", None, "7x7x1024", 2, 384, 192, 384, 48, 128, 128, 1388, 71),
    "avgpool": ("avg pool", "7x7/1", "1x1x1024", 0, *[None] * 6, None, None),
    "dropout": ("dropout (40%)", None, "1x1x1024", 0, *[None] * 6, None, None),
    "fc": ("linear", None, "1x1x1000", 1, *[None] * 6, 1000, 1),
}
TABLE1_COLUMNS = ("type", "patch size/stride", "output size", "depth", "#1x1", "#3x3 reduce",
                  "#3x3", "#5x5 reduce", "#5x5", "pool proj", "params (K)", "ops (M)")  # fmt: skip


def _weight_depth(module: nn.Module) -> int:
    """Weight layers on the longest path through ``module`` (parallel branches count once)."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return 1
    if isinstance(module, (Inception, InceptionNaive)):
        return max(_weight_depth(b) for b in (module.branch1, module.branch2, module.branch3,
                                              module.branch4))  # fmt: skip
    if isinstance(module, nn.Sequential):
        return sum(_weight_depth(m) for m in module)
    return sum(_weight_depth(m) for m in module.children())


def _patch(module: nn.Module, in_shape: tuple[int, ...] | None) -> str | None:
    if isinstance(module, nn.AdaptiveAvgPool2d) and in_shape is not None:
        return f"{in_shape[-1]}x{in_shape[-1]}/1"  # global: one window over the whole map
    k, s = getattr(module, "kernel_size", None), getattr(module, "stride", None)
    if k is None:
        return None
    k, s = (k[0] if isinstance(k, tuple) else k), (s[0] if isinstance(s, tuple) else s)
    return f"{k}x{k}/{s}"


def table1(
    model: nn.Module | None = None, input_size: tuple[int, int, int, int] = (1, 3, 224, 224)
) -> dict[str, dict[str, Any]]:
    """Table 1 of the paper, computed from a GoogLeNet (default: ``googlenet_paper``).

    One entry per row of :data:`PAPER_TABLE1` (keys are the same), with the columns of
    :data:`TABLE1_COLUMNS` read off the model: the patch size and stride of the pooling and
    convolution layers, the output size (H x W x C) of one forward pass, the weight layers on the
    longest path ("depth"), the widths of the six convolutions of each Inception module, the
    parameters in the paper's unit (weights only, K = 1024) and the multiply-accumulates in
    millions (:func:`cnnlib.analysis.count_macs_by_module`). Two more columns, ``params`` and
    ``macs``, hold the exact counts (``params`` with the biases). Works for ``googlenet`` and
    ``googlenet_paper``; ``stem`` names the layers of the row "convolution 3x3/1".
    """
    from cnnlib.analysis import count_macs_by_module, layer_table

    if model is None:
        model = GoogLeNetPaper(aux_logits=False)
    stem = ("conv2", "conv3")
    groups = {name: (name,) for name in PAPER_TABLE1}
    groups["conv2+conv3"] = stem
    modules = dict(model.named_modules())
    missing = sorted({n for names in groups.values() for n in names} - set(modules))
    if missing:
        raise ValueError(f"table1 expects a GoogLeNet with the modules of table 1; {missing} "
                         "are missing")  # fmt: skip
    shapes = {r.name: r.output_shape for r in layer_table(model, input_size,
                                                          layers=list(modules)[1:])}  # fmt: skip
    macs = count_macs_by_module(model, input_size)
    rows: dict[str, dict[str, Any]] = {}
    previous = None  # the output of the row before (for the global pool's window)
    for key, names in groups.items():
        last = modules[names[-1]]
        shape = shapes[names[-1]]
        c = shape[0]
        out = f"{shape[1]}x{shape[2]}x{c}" if len(shape) == 3 else f"1x1x{c}"
        params = [p for n in names for p in modules[n].parameters()]
        weights = sum(p.numel() for p in params if p.dim() > 1)
        row = dict.fromkeys(TABLE1_COLUMNS)
        row["type"] = PAPER_TABLE1[key][0]
        if isinstance(last, nn.Dropout):
            row["type"] = f"dropout ({last.p:.0%})"
        if not isinstance(last, Inception):
            row["patch size/stride"] = _patch(
                last.conv if hasattr(last, "conv") else last, previous
            )
        row["output size"] = out
        row["depth"] = sum(_weight_depth(modules[n]) for n in names)
        if isinstance(last, Inception):
            convs = [last.branch1, last.branch2[0], last.branch2[1], last.branch3[0],
                     last.branch3[1], last.branch4[1]]  # fmt: skip
            widths = [(m.conv if hasattr(m, "conv") else m).out_channels for m in convs]
            for col, w in zip(TABLE1_COLUMNS[4:10], widths, strict=True):
                row[col] = w
        elif key == "conv2+conv3":
            row["#3x3 reduce"] = modules["conv2"].conv.out_channels
            row["#3x3"] = modules["conv3"].conv.out_channels
        if weights:
            row["params (K)"] = round(weights / 1024, 1)
            row["ops (M)"] = round(sum(macs.get(n, 0) for n in names) / 1e6, 1)
        row["params"] = sum(p.numel() for p in params)
        row["macs"] = sum(macs.get(n, 0) for n in names)
        rows[key] = row
        previous = shape
    return rows


# --- Where the gradient comes from: main loss vs auxiliary losses ------------------------------


def gradient_norms_by_head(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    aux_weight: float = 0.3,
    layers: type | tuple[type, ...] = nn.Conv2d,
) -> dict[str, dict[str, float]]:
    """The weight-gradient norm of every ``layers`` module, from the main loss and from the
    auxiliary losses separately.

    Runs one training-mode forward pass of a GoogLeNet with auxiliary heads (its output is
    ``(logits, aux_logits2, aux_logits1)``) and back-propagates the main cross-entropy and
    ``aux_weight`` times the sum of the auxiliary cross-entropies one after the other. Returns
    ``{"main": {name: norm}, "aux": {name: norm}, "total": {name: norm}}`` (the total is the
    norm of the sum, the gradient training follows, as in :func:`cnnlib.train.fit` with
    ``aux_weight``). The model's ``.grad`` tensors and training flags are restored.
    """
    if x.dim() != 4 or y.shape[:1] != x.shape[:1]:
        raise ValueError(f"expected images (N, C, H, W) and N labels; got x {tuple(x.shape)}, "
                         f"y {tuple(y.shape)}")  # fmt: skip
    named = [(n, m) for n, m in model.named_modules() if isinstance(m, layers)]
    saved = {p: p.grad for p in model.parameters()}
    flags = {m: m.training for m in model.modules()}
    try:
        model.train()
        out = model(x)
        if isinstance(out, Tensor) or len(out) < 2 or any(o is None for o in out[1:]):
            raise ValueError(
                "gradient_norms_by_head needs a model with auxiliary heads (aux_logits=True) "
                "that returns (logits, aux...) in training"
            )
        main = F.cross_entropy(out[0], y)
        aux = aux_weight * sum(F.cross_entropy(a, y) for a in out[1:])
        grads = {}
        for key, loss in (("main", main), ("aux", aux)):
            for p in model.parameters():
                p.grad = None
            loss.backward(retain_graph=key == "main")
            grads[key] = {n: m.weight.grad.detach().clone() if m.weight.grad is not None
                          else torch.zeros_like(m.weight) for n, m in named}  # fmt: skip
        result = {k: {n: float(g.norm()) for n, g in v.items()} for k, v in grads.items()}
        result["total"] = {n: float((grads["main"][n] + grads["aux"][n]).norm()) for n, _ in named}
        return result
    finally:
        for p, g in saved.items():
            p.grad = g
        for m, flag in flags.items():
            m.training = flag
