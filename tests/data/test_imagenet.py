"""cnnlib.data.imagenet and EpochDataLoader: the standard torchvision path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlib import data
from cnnlib.data import (
    DataNotFoundError,
    EpochDataLoader,
)

# --- the standard torchvision path -----------------------------------------------------------


def _write_jpegs(root: Path, classes, n: int, size=(48, 40)):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(img).save(root / c / f"img{i}.JPEG")


def test_image_folder_epoch_loader(tmp_path):
    _write_jpegs(tmp_path / "folder" / "train", ["a", "b", "c"], 4)
    _write_jpegs(tmp_path / "folder" / "val", ["a", "b", "c"], 2)
    train, val = data.load_image_folder(tmp_path / "folder", image_size=32)
    loader = EpochDataLoader(train, 5, seed=0)
    x, y = next(iter(loader))
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.float32 and len(loader) == 3
    # the same epoch gives the same batches (order and augmentation); the next one differs
    loader.set_epoch(0)
    again = [b[1] for b in loader]
    loader.set_epoch(0)
    assert all(torch.equal(u, v) for u, v in zip(again, [b[1] for b in loader], strict=True))
    val_loader = EpochDataLoader(val, 4, train=False)
    assert sorted(torch.cat([y for _, y in val_loader]).tolist()) == [0, 0, 1, 1, 2, 2]
    sub = data.subset_dataset(train, total=6, seed=0)
    assert sorted(data.dataset_labels(sub).tolist()) == [0, 0, 1, 1, 2, 2]


def test_imagenette_offline_from_its_folder_layout(tmp_path):
    from torchvision.datasets import Imagenette

    wnids = sorted(Imagenette._WNID_TO_CLASS)
    base = tmp_path / "imagenette2-160"
    _write_jpegs(base / "train", wnids, 2, size=(64, 48))
    _write_jpegs(base / "val", wnids, 1, size=(64, 48))
    train, val = data.load_imagenette(tmp_path, image_size=32, download=False)
    assert (len(train), len(val)) == (20, 10) and train.name == "Imagenette (160px)"
    x, y = next(iter(EpochDataLoader(train, 4)))
    assert x.shape == (4, 3, 32, 32)
    with pytest.raises(DataNotFoundError, match="Imagenette was not found"):
        data.load_imagenette(tmp_path / "none", download=False)
