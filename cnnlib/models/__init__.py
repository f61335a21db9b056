"""The book's models, by name: ``create("resnet50")``, ``list_models("resnet*")``.

One file per family (``alexnet``, ``zfnet``, ``vgg``, ``googlenet``, ``resnet``,
``preact_resnet``; VGG's section-3.1 initialisations in ``vgg_init``), each holding
torchvision-compatible models (same names, ``state_dict`` keys and ``weights=``), the papers'
versions where torchvision departs from them, and CIFAR-scale twins; ``layers`` holds what the
families share. Builders are reached through :func:`create` or their family module
(``cnnlib.models.resnet.resnet50``).
"""

from __future__ import annotations

from cnnlib.models import (  # noqa: F401
    alexnet,
    googlenet,
    layers,
    preact_resnet,
    resnet,
    vgg,
    vgg_init,
    zfnet,
)
from cnnlib.models._registry import (
    UnknownModelError,
    closest_models,
    create,
    list_models,
    register,
)
from cnnlib.models.alexnet import AlexNet, AlexNetCifar, AlexNetPaper, ConvNet4
from cnnlib.models.googlenet import (
    GoogLeNet,
    GoogLeNetCifar,
    GoogLeNetPaper,
    Inception,
    InceptionAux,
    InceptionAuxPaper,
    InceptionNaive,
)
from cnnlib.models.preact_resnet import PreActBlock, PreActResNet
from cnnlib.models.resnet import BasicBlock, Bottleneck, CifarResNet, ResNet
from cnnlib.models.vgg import VGG, VGGCifar
from cnnlib.models.zfnet import ZFNet

__all__ = [
    "UnknownModelError",
    "closest_models",
    "create",
    "list_models",
    "register",
    "AlexNet",
    "AlexNetCifar",
    "AlexNetPaper",
    "ConvNet4",
    "BasicBlock",
    "Bottleneck",
    "CifarResNet",
    "GoogLeNet",
    "GoogLeNetCifar",
    "GoogLeNetPaper",
    "Inception",
    "InceptionAux",
    "InceptionAuxPaper",
    "InceptionNaive",
    "PreActBlock",
    "PreActResNet",
    "ResNet",
    "VGG",
    "VGGCifar",
    "ZFNet",
]
