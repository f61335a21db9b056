"""The book's data: CIFAR-10 found on disk, decoded once and kept on the device; ImageNet-style
sets through torchvision.

``datasets`` (in-memory datasets, subsets, constants), ``sources`` (where CIFAR-10 is),
``cifar10`` (decode, cache, load), ``loaders`` (DeviceLoader, EpochDataLoader), ``augment``
(batched crop/flip, PCA lighting), ``imagenet`` (transforms, image folders, Imagenette).
"""

from __future__ import annotations

from cnnlib.data import augment
from cnnlib.data.augment import random_crop_flip
from cnnlib.data.cifar10 import load_cifar10
from cnnlib.data.datasets import (
    CIFAR10_CLASSES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    DataCorruptError,
    DataNotFoundError,
    ImageTensorDataset,
    balanced_counts,
    balanced_indices,
    dataset_labels,
    subset_dataset,
    synthetic_cifar10,
)
from cnnlib.data.imagenet import imagenet_transforms, load_image_folder, load_imagenette
from cnnlib.data.loaders import DeviceLoader, EpochDataLoader, cifar10_loaders
from cnnlib.data.sources import DataSource, cache_dir, describe_cifar10_source, find_cifar10

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DataCorruptError",
    "DataNotFoundError",
    "DataSource",
    "DeviceLoader",
    "EpochDataLoader",
    "ImageTensorDataset",
    "augment",
    "balanced_counts",
    "balanced_indices",
    "cache_dir",
    "cifar10_loaders",
    "dataset_labels",
    "describe_cifar10_source",
    "find_cifar10",
    "imagenet_transforms",
    "load_cifar10",
    "load_image_folder",
    "load_imagenette",
    "random_crop_flip",
    "subset_dataset",
    "synthetic_cifar10",
]
