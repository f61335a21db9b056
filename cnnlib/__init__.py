"""cnnlib: the library behind the Classic CNNs book.

Models of AlexNet, ZFNet, VGG, GoogLeNet and ResNet (torchvision-compatible and paper-faithful)
in ``models``; ``analysis`` (costs, receptive fields, tables, training dynamics); ``data``;
``train``; ``experiments`` (the book's experiments and their stored results); ``plots``;
``interpret`` (looking inside a trained net); ``patches`` (Zeiler & Fergus's top-9 patches
per unit); ``residual`` (residual-network analysis);
``ensemble`` (residual nets as ensembles of paths, shattered gradients); ``ilsvrc`` (the
challenge's results); ``profile``, ``runtime``, ``distributed`` and ``notebook``. Every
submodule but ``models`` loads on first use.
"""

from __future__ import annotations

import importlib

from cnnlib import models  # noqa: F401
from cnnlib.runtime import __version__

_LAZY = (
    "analysis",
    "data",
    "distributed",
    "ensemble",
    "experiments",
    "ilsvrc",
    "interpret",
    "notebook",
    "patches",
    "plots",
    "profile",
    "residual",
    "runtime",
    "train",
)

__all__ = ["__version__", "models", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"cnnlib.{name}")
    raise AttributeError(f"module 'cnnlib' has no attribute {name!r}")
