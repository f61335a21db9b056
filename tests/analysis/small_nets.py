"""Small hand-built networks whose receptive fields and layer tables are known by hand, shared by
test_receptive_field.py and test_tables.py (imported as a plain module: pytest puts this folder
on sys.path)."""

from __future__ import annotations

import torch
from torch import nn


def conv(k: int, stride: int = 1, dilation: int = 1, channels: int = 4, in_channels: int = 4):
    return nn.Conv2d(
        in_channels, channels, k, stride, padding=dilation * (k // 2), dilation=dilation
    )


class Branches(nn.Module):
    """An inception-like module: parallel branches concatenated along the channels."""

    def __init__(self) -> None:
        super().__init__()
        self.a = conv(1)
        self.b = nn.Sequential(conv(1), conv(3), conv(3))  # 5
        self.c = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(1))  # 3

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), self.c(x)], 1)
