"""GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", CVPR 2015).

* ``googlenet``: torchvision-compatible. It departs from the paper: batch norm after every
  convolution (``BasicConv2d``), a 3x3 kernel in the "5x5" branch (a known torchvision bug kept
  for weight compatibility), no LRN, auxiliary heads with adaptive 4x4 pooling.
* ``googlenet_paper``: the paper's network (table 1, figure 3): convolutions with bias and ReLU,
  no batch norm, a real 5x5 branch, LRN after the stem's pool and conv3, the paper's auxiliary
  heads (5x5/3 average pool, 1x1 conv 128, FC 1024, dropout 0.7, FC) and 40% dropout before
  the classifier.
* ``InceptionNaive`` and ``Inception``: the two modules of the paper's figure 2.
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
