"""cnnlib: the library behind the Classic CNNs book.

Models of AlexNet, ZFNet, VGG, GoogLeNet and ResNet (torchvision-compatible and paper-faithful),
their analysis (parameters, MACs, receptive fields), data, training and plots. Submodules load on
first use: ``cnnlib.analysis``, ``cnnlib.data``, ``cnnlib.train``, ``cnnlib.viz``,
``cnnlib.history``, ``cnnlib.profile``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from cnnlib import models  # noqa: E402,F401

_LAZY = (
    "analysis",
    "augment",
    "data",
    "gradients",
    "history",
    "notebook",
    "profile",
    "train",
    "visualize",
    "viz",
)

__all__ = ["__version__", "models", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"cnnlib.{name}")
    raise AttributeError(f"module 'cnnlib' has no attribute {name!r}")
