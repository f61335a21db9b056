"""The book's models, by name: ``create("resnet50")``, ``list_models()``.

Three kinds (see each file for the departures from the paper, named where they happen):

* torchvision-compatible: same module names, ``state_dict`` keys and constructor arguments as
  ``torchvision.models``, so torchvision's ImageNet weights load unchanged (``weights=``);
* paper-faithful twins where torchvision departs from the paper (``*_paper``, ``zfnet``,
  ``vgg11_lrn``, ``vgg16_c``);
* the CIFAR-10 networks of the ResNet paper, section 4.2 (``resnet20`` ... and their ``plain``
  twins), and small CIFAR-scale teaching versions of AlexNet and ZFNet (``alexnet_cifar``,
  ``zfnet_cifar``).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: make a model builder available under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """The names ``create`` accepts, sorted."""
    return sorted(_MODELS)


def create(name: str, **kwargs) -> nn.Module:
    """Build the model called ``name`` (for example ``"resnet50"``), passing ``kwargs`` on.

    >>> create("resnet20").fc.out_features
    10
    """
    try:
        builder = _MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown model {name!r}; known models: {', '.join(list_models())}"
        ) from None
    return builder(**kwargs)


from cnnlib.models import alexnet, cifar, googlenet, resnet, vgg, zfnet  # noqa: E402,F401,I001
from cnnlib.models.alexnet import AlexNet, AlexNetPaper  # noqa: E402
from cnnlib.models.cifar import AlexNetCifar  # noqa: E402
from cnnlib.models.googlenet import (  # noqa: E402
    GoogLeNet,
    GoogLeNetPaper,
    Inception,
    InceptionAux,
    InceptionAuxPaper,
    InceptionNaive,
)
from cnnlib.models.resnet import BasicBlock, Bottleneck, CifarResNet, ResNet  # noqa: E402
from cnnlib.models.vgg import VGG  # noqa: E402
from cnnlib.models.zfnet import ZFNet  # noqa: E402

# As in torchvision, every builder is also an attribute: ``cnnlib.models.resnet50(num_classes=10)``
# (this shadows the family modules of the same name; import those as ``cnnlib.models.alexnet``
# through ``importlib`` or use the classes below).
globals().update(_MODELS)

__all__ = [
    "create",
    "list_models",
    "register",
    *_MODELS,
    "AlexNet",
    "AlexNetPaper",
    "AlexNetCifar",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "GoogLeNet",
    "GoogLeNetPaper",
    "Inception",
    "InceptionAux",
    "InceptionAuxPaper",
    "InceptionNaive",
    "ResNet",
    "VGG",
    "ZFNet",
]
