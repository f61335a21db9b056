"""ImageNet-style data through torchvision: transforms, image folders, Imagenette.

The standard path for images too large to keep in memory: torchvision datasets with PIL
transforms, fed to :class:`~cnnlib.data.EpochDataLoader`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlib.data.datasets import IMAGENET_MEAN, IMAGENET_STD, DataNotFoundError
from cnnlib.data.sources import DATA_ENV, download_root, is_writable_dir

__all__ = ["imagenet_transforms", "load_image_folder", "load_imagenette"]


def imagenet_transforms(train: bool, image_size: int = 128) -> Any:
    """torchvision's usual ImageNet-style pipeline: ``RandomResizedCrop`` + flip for training,
    resize to ``image_size / 0.875`` + centre crop for evaluation; ImageNet normalisation."""
    from torchvision import transforms as T

    if train:
        steps = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        steps = [T.Resize(round(image_size / 0.875)), T.CenterCrop(image_size)]
    return T.Compose([*steps, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _label_dataset(ds: Any, name: str, source: str) -> Any:
    ds.name, ds.source = name, source
    return ds


def load_image_folder(
    root: str | os.PathLike,
    *,
    image_size: int = 128,
    train_dir: str = "train",
    val_dirs: Sequence[str] = ("val", "test"),
    name: str | None = None,
) -> tuple[Any, Any]:
    """An image-folder dataset (``train/<class>/*`` and ``val/`` or ``test/``) through
    ``torchvision.datasets.ImageFolder`` with :func:`imagenet_transforms`."""
    from torchvision.datasets import ImageFolder

    root = Path(root).expanduser()
    val = next((root / d for d in val_dirs if (root / d).is_dir()), None)
    if not (root / train_dir).is_dir() or val is None:
        raise DataNotFoundError(
            f"{root}: expected an image folder with {train_dir}/<class>/* and one of "
            f"{', '.join(d + '/<class>/*' for d in val_dirs)}"
        )
    name = name or root.name
    train_ds = ImageFolder(str(root / train_dir), transform=imagenet_transforms(True, image_size))
    val_ds = ImageFolder(str(val), transform=imagenet_transforms(False, image_size))
    label = f"{root.name}/ (image folder)"
    return _label_dataset(train_ds, name, label), _label_dataset(val_ds, name, label)


def load_imagenette(
    root: str | os.PathLike | None = None,
    *,
    size: str = "160px",
    image_size: int = 128,
    download: bool = True,
) -> tuple[Any, Any]:
    """Imagenette (10 easy ImageNet classes) through ``torchvision.datasets.Imagenette``.

    ``root`` defaults to ``$CNNLIB_DATA``, then the download directory. Returns the train and
    val datasets with :func:`imagenet_transforms`; feed them to :class:`EpochDataLoader`.
    """
    from torchvision.datasets import Imagenette

    roots = [Path(root).expanduser()] if root is not None else []
    if os.environ.get(DATA_ENV):
        roots.append(Path(os.environ[DATA_ENV]).expanduser())
    roots.append(download_root())
    report = []

    def make(r: Path, dl: bool) -> tuple[Any, Any]:
        tr = Imagenette(str(r), "train", size, dl, transform=imagenet_transforms(True, image_size))
        va = Imagenette(
            str(r), "val", size, False, transform=imagenet_transforms(False, image_size)
        )
        name = f"Imagenette ({size})"
        label = "torchvision.datasets.Imagenette"
        return _label_dataset(tr, name, label), _label_dataset(va, name, label)

    for r in roots:
        try:
            return make(r, False)
        except RuntimeError:
            report.append(f"{r}: no imagenette2-{size.replace('px', '')}/ (train/, val/)")
    if download:
        target = roots[0] if is_writable_dir(roots[0]) else download_root()
        try:
            target.mkdir(parents=True, exist_ok=True)
            return make(target, True)
        except Exception as err:  # noqa: BLE001
            report.append(f"torchvision download into {target} failed: {type(err).__name__}: {err}")
    raise DataNotFoundError(
        "Imagenette was not found. Looked at:\n"
        + "\n".join(f"  {i}. {r}" for i, r in enumerate(report, 1))
        + f"\nTo fix it, run where the internet is reachable (torchvision downloads it), or set "
        f"{DATA_ENV} to a directory holding torchvision's imagenette2-{size.replace('px', '')}/."
    )
