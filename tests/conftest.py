"""Fixtures of the data and training tests: tiny generated CIFAR-10 copies, the shared real copy."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _has_cifar(path: Path) -> bool:
    return path.is_dir() and (
        any(path.glob("*.zip"))
        or (path / "cifar-10-batches-py").is_dir()
        or (path / "train").is_dir()
    )


@pytest.fixture(scope="session")
def shared_data_dir() -> Path | None:
    """The shared CIFAR-10 copy: ``$CNNLIB_DATA`` if it holds one, else ``../shared/data``
    relative to the repository (where CI has it); ``None`` when neither exists."""
    for candidate in (os.environ.get("CNNLIB_DATA"), REPO.parent / "shared" / "data"):
        if candidate and _has_cifar(Path(candidate)):
            return Path(candidate)
    return None


@pytest.fixture
def make_cifar_copy(tmp_path):
    """A factory of tiny CIFAR-10 image-folder copies (10 classes, 32x32).

    ``make_cifar_copy(fmt="png"|"jpg", train=3, test=2, zip_top="cifar10-tiny"|None)`` writes
    ``train/<class>/NNNN.<fmt>`` and ``test/<class>/...`` (into a zip with that top folder when
    ``zip_top`` is given) and returns ``(path, arrays)`` where ``arrays[split]`` is a list of
    ``(class index, HWC uint8 array)`` in the order a loader sorts them.
    """

    def make(fmt: str = "png", train: int = 3, test: int = 2, zip_top: str | None = None,
             seed: int = 0, name: str = "copy"):  # fmt: skip
        rng = np.random.default_rng(seed)
        root = tmp_path / name
        arrays: dict[str, list] = {"train": [], "test": []}
        files = []
        for split, n in (("train", train), ("test", test)):
            for c, cls in enumerate(CLASSES):
                d = root / split / cls
                d.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                    p = d / f"{i:04d}.{fmt}"
                    Image.fromarray(img).save(p, **({"quality": 90} if fmt == "jpg" else {}))
                    arrays[split].append((c, img))
                    files.append(p)
        if zip_top is None:
            return root, arrays
        zpath = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
            for p in files:
                zf.write(p, f"{zip_top}/{p.relative_to(root).as_posix()}")
        zip_dir = tmp_path / f"{name}-zipdir"
        zip_dir.mkdir()
        final = zip_dir / zpath.name
        zpath.rename(final)
        return zip_dir, arrays

    return make


@pytest.fixture
def as_if_trained():
    """``as_if_trained(model, seed=0)``: random BN scales, shifts and running statistics, so
    nothing is at its initial value (returns the model)."""

    def _as_if_trained(model: nn.Module, seed: int = 0) -> nn.Module:
        """Random BN scales, shifts and running statistics, so nothing is at its initial value."""
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
                    m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
        return model

    return _as_if_trained
