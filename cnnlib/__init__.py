"""cnnlib: the library behind the Classic CNNs book.

Models of AlexNet, ZFNet, VGG, GoogLeNet and ResNet (torchvision-compatible and paper-faithful),
their analysis (parameters, MACs, receptive fields), data, training and plots.
"""

__version__ = "0.1.0"

from cnnlib import models  # noqa: E402,F401

__all__ = ["__version__", "models"]
