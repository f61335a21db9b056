"""In-memory image datasets: CIFAR-10's constants, uint8 tensor datasets, balanced subsets.

Every dataset cnnlib loads into memory is an :class:`ImageTensorDataset` (uint8 images, int64
labels, a name and a source without absolute paths); the smoke profile's synthetic set is one too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from cnnlib.runtime import CnnlibError

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DataCorruptError",
    "DataNotFoundError",
    "ImageTensorDataset",
    "balanced_counts",
    "balanced_indices",
    "dataset_labels",
    "subset_dataset",
    "synthetic_cifar10",
]


#: The CIFAR-10 classes, in the order of the official labels (alphabetical, as ImageFolder).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: Per-channel mean and standard deviation of the CIFAR-10 training images (in [0, 1]).
CIFAR10_MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)
#: The ImageNet statistics torchvision's models use.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class DataNotFoundError(CnnlibError, FileNotFoundError):
    """The dataset was found nowhere; the message lists every place looked at and the fix."""


class DataCorruptError(CnnlibError, ValueError):
    """A data file exists but cannot be read (a truncated zip, a damaged batch or image file);
    the message names the file."""


# --------------------------------------------------------------------------------------------
# In-memory datasets
# --------------------------------------------------------------------------------------------


@dataclass(eq=False)
class ImageTensorDataset(Dataset):
    """Images as one uint8 tensor ``(N, 3, H, W)`` with int64 labels ``(N,)``.

    ``name`` is what users are shown ("CIFAR-10 (JPEG copy)"), ``source`` where it came from
    without any absolute path ("cifar10-jpeg.zip"). Indexing returns ``(uint8 image, label)``, so
    the set also works with a standard ``DataLoader``; :class:`DeviceLoader` is the fast path.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...] = CIFAR10_CLASSES
    name: str = "CIFAR-10"
    source: str = ""
    split: str = "train"
    mean: tuple[float, ...] = CIFAR10_MEAN
    std: tuple[float, ...] = CIFAR10_STD
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be a uint8 tensor (N, C, H, W); got {self.images.dtype} "
                f"of shape {tuple(self.images.shape)}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},); got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.images[index], int(self.labels[index])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, split={self.split!r}, size={len(self)}, "
            f"image_shape={tuple(self.images.shape[1:])}, source={self.source!r})"
        )

    def class_counts(self) -> list[int]:
        """Images per class, in class order."""
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def subset(
        self, per_class: int | None = None, *, total: int | None = None, seed: int = 0
    ) -> ImageTensorDataset:
        """A deterministic class-balanced subset: ``per_class`` images of each class, or
        ``total`` images spread as evenly as possible (see :func:`balanced_indices`)."""
        if per_class is None and total is None:
            return self
        if total is not None:
            if per_class is not None:
                raise ValueError("give per_class or total, not both")
            counts = balanced_counts(total, len(self.classes))
        else:
            counts = [per_class] * len(self.classes)
        index = balanced_indices(self.labels, counts, seed=seed)
        return ImageTensorDataset(
            self.images[index],
            self.labels[index],
            classes=self.classes,
            name=self.name,
            source=self.source,
            split=self.split,
            mean=self.mean,
            std=self.std,
            info={**self.info, "subset_of": len(self), "subset_seed": seed},
        )


def balanced_counts(total: int, num_classes: int) -> list[int]:
    """``total`` images spread over ``num_classes`` classes as evenly as possible."""
    if total < num_classes:
        raise ValueError(
            f"a class-balanced subset needs at least one image per class: got {total} images "
            f"for {num_classes} classes"
        )
    base, extra = divmod(total, num_classes)
    return [base + (1 if c < extra else 0) for c in range(num_classes)]


def balanced_indices(labels: Tensor, per_class: int | Sequence[int], seed: int = 0) -> Tensor:
    """Indices of a deterministic class-balanced subset, in dataset order.

    Each class's images are shuffled by a generator seeded with ``seed`` and the first
    ``per_class`` taken, so a smaller subset is contained in a larger one of the same seed.
    """
    labels = torch.as_tensor(labels).cpu()
    num_classes = int(labels.max()) + 1 if labels.numel() else 0
    counts = [per_class] * num_classes if isinstance(per_class, int) else list(per_class)
    chosen = []
    for c, k in enumerate(counts):
        members = torch.nonzero(labels == c).flatten()
        if k > len(members):
            raise ValueError(
                f"class {c} has {len(members)} images; a subset of {k} per class was asked for"
            )
        g = torch.Generator().manual_seed(seed * 1000 + c)
        chosen.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(chosen).sort().values if chosen else torch.empty(0, dtype=torch.long)


def synthetic_cifar10(
    train_per_class: int = 20, test_per_class: int = 10, *, seed: int = 0, image_size: int = 32
) -> tuple[ImageTensorDataset, ImageTensorDataset]:
    """A small learnable CIFAR-shaped set (for the smoke profile when no real data is found).

    Each class has a fixed smooth colour pattern; an image is its class pattern, shifted by up to
    4 pixels, with pixel noise. A small CNN learns it within a few epochs.
    """
    g = torch.Generator().manual_seed(10_007 + seed)
    coarse = torch.randn(len(CIFAR10_CLASSES), 3, 4, 4, generator=g)
    patterns = F.interpolate(coarse, size=(image_size, image_size), mode="bicubic")
    patterns = 128 + 60 * patterns / patterns.abs().amax(dim=(1, 2, 3), keepdim=True)

    def make(per_class: int, split: str) -> ImageTensorDataset:
        labels = torch.arange(len(CIFAR10_CLASSES)).repeat_interleave(per_class)
        images = patterns[labels].clone()
        shifts = torch.randint(-4, 5, (len(labels), 2), generator=g)
        for i, (dy, dx) in enumerate(shifts.tolist()):
            images[i] = images[i].roll((dy, dx), dims=(1, 2))
        images += 25 * torch.randn(images.shape, generator=g)
        return ImageTensorDataset(
            images.round().clamp(0, 255).to(torch.uint8),
            labels,
            name="synthetic CIFAR-shaped data",
            source="synthetic (no real data found)",
            split=split,
            mean=(0.5, 0.5, 0.5),
            std=(0.25, 0.25, 0.25),
        )

    return make(train_per_class, "train"), make(test_per_class, "test")


def dataset_labels(dataset: Any) -> Tensor:
    """The labels of a dataset without loading its images (``labels``, ``targets`` or
    torchvision's ``_samples``)."""
    for attr in ("labels", "targets"):
        if hasattr(dataset, attr):
            return torch.as_tensor(getattr(dataset, attr))
    if hasattr(dataset, "_samples"):
        return torch.tensor([label for _, label in dataset._samples])
    if isinstance(dataset, torch.utils.data.Subset):
        return dataset_labels(dataset.dataset)[torch.as_tensor(dataset.indices)]
    raise TypeError(f"cannot find the labels of {type(dataset).__name__} (labels or targets)")


def subset_dataset(
    dataset: Any, per_class: int | None = None, *, total: int | None = None, seed: int = 0
) -> Any:
    """A deterministic class-balanced subset of any labelled dataset (see
    :meth:`ImageTensorDataset.subset`); keeps ``name`` and ``source``."""
    if isinstance(dataset, ImageTensorDataset):
        return dataset.subset(per_class, total=total, seed=seed)
    if per_class is None and total is None:
        return dataset
    labels = dataset_labels(dataset)
    num_classes = int(labels.max()) + 1
    counts = balanced_counts(total, num_classes) if total is not None else [per_class] * num_classes
    sub = torch.utils.data.Subset(dataset, balanced_indices(labels, counts, seed=seed).tolist())
    sub.name = getattr(dataset, "name", type(dataset).__name__)  # type: ignore[attr-defined]
    sub.source = getattr(dataset, "source", None)  # type: ignore[attr-defined]
    return sub
