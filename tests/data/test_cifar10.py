"""cnnlib.data.sources and cnnlib.data.cifar10: finding, decoding and caching CIFAR-10, clear
errors for missing and corrupt copies, and the real shared copy where it is present."""

from __future__ import annotations

import os
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlib import data
from cnnlib.data import (
    CIFAR10_CLASSES,
    DataNotFoundError,
    load_cifar10,
    sources,
)


def _stack(arrays):
    return torch.from_numpy(np.stack([a for _, a in arrays])).permute(0, 3, 1, 2)


# --- finding, decoding, caching --------------------------------------------------------------


def test_png_folder_decodes_exactly_and_is_named_a_copy(make_cifar_copy):
    root, arrays = make_cifar_copy("png", train=3, test=2)
    train, test = load_cifar10(root, download=False, progress=False)
    assert (len(train), len(test)) == (30, 20)
    assert train.name == "CIFAR-10 (PNG copy)" and test.split == "test"
    assert train.classes == CIFAR10_CLASSES
    assert torch.equal(train.images, _stack(arrays["train"]))
    assert train.labels.tolist() == [c for c, _ in arrays["train"]]
    assert torch.equal(test.images, _stack(arrays["test"]))
    assert str(root) not in train.source  # no absolute paths in what users see


def test_jpeg_copy_matches_pil_and_is_named_jpeg_copy(make_cifar_copy):
    root, _ = make_cifar_copy("jpg", train=2, test=1)
    train, _ = load_cifar10(root, download=False, progress=False)
    assert train.name == "CIFAR-10 (JPEG copy)"
    files = sorted((root / "train" / "cat").iterdir())
    expected = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    got = train.images[train.labels == CIFAR10_CLASSES.index("cat")].permute(0, 2, 3, 1)
    assert np.array_equal(got.numpy(), expected)


def test_zip_copy_found_in_directory_decoded_and_cached(make_cifar_copy, tmp_path):
    zip_dir, arrays = make_cifar_copy("png", train=2, test=1, zip_top="cifar10-tiny")
    train, test = load_cifar10(zip_dir, download=False, progress=False)
    assert train.info["loaded_from"] == "decoded"
    assert torch.equal(train.images, _stack(arrays["train"]))
    assert train.source == "copy.zip (zip of an image folder)"
    # the zip's directory is writable: the cache lives beside the data
    assert list((zip_dir / ".cnnlib-cache").glob("*.pt"))
    again, _ = load_cifar10(zip_dir, download=False, progress=False)
    assert again.info["loaded_from"] == "cache"
    assert torch.equal(again.images, train.images) and torch.equal(again.labels, train.labels)
    # the zip itself is also accepted as the argument
    direct, _ = load_cifar10(zip_dir / "copy.zip", download=False, progress=False)
    assert torch.equal(direct.images, train.images)


def test_changed_source_is_not_served_stale(make_cifar_copy):
    root, arrays = make_cifar_copy("png", train=2, test=1)
    first, _ = load_cifar10(root, download=False, progress=False)
    victim = root / "train" / "bird" / "0000.png"
    new = np.full((32, 32, 3), 7, dtype=np.uint8)
    Image.fromarray(new).save(victim)
    os.utime(victim, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    second, _ = load_cifar10(root, download=False, progress=False)
    assert second.info["loaded_from"] == "decoded"
    index = CIFAR10_CLASSES.index("bird") * 2
    assert torch.equal(second.images[index], torch.full((3, 32, 32), 7, dtype=torch.uint8))
    assert not torch.equal(first.images[index], second.images[index])


def test_changed_zip_is_not_served_stale(make_cifar_copy):
    zip_dir, _ = make_cifar_copy("png", train=1, test=1, zip_top="top")
    zpath = zip_dir / "copy.zip"
    load_cifar10(zip_dir, download=False, progress=False)
    # rewrite one member with other pixels, keeping the zip's size and modification time
    st = zpath.stat()
    with zipfile.ZipFile(zpath) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    name = "top/train/ship/0000.png"
    buf = Image.new("RGB", (32, 32), (1, 2, 3))
    from io import BytesIO

    b = BytesIO()
    buf.save(b, format="PNG")
    members[name] = b.getvalue()
    with zipfile.ZipFile(zpath, "w") as zf:
        for n, blob in members.items():
            zf.writestr(n, blob)
    os.utime(zpath, ns=(st.st_atime_ns, st.st_mtime_ns))
    sources._ZIP_MEMO.clear()
    train, _ = load_cifar10(zip_dir, download=False, progress=False)
    assert train.info["loaded_from"] == "decoded"
    assert train.images[CIFAR10_CLASSES.index("ship")][:, 0, 0].tolist() == [1, 2, 3]


def test_read_only_data_dir_is_never_written(make_cifar_copy, tmp_path):
    zip_dir, _ = make_cifar_copy("png", train=1, test=1, zip_top="top")
    before = sorted(p.name for p in zip_dir.iterdir())
    zip_dir.chmod(0o555)
    try:
        train, _ = load_cifar10(zip_dir, download=False, progress=False)
        again, _ = load_cifar10(zip_dir, download=False, progress=False)
    finally:
        zip_dir.chmod(0o755)
    assert sorted(p.name for p in zip_dir.iterdir()) == before
    assert list((tmp_path / "cache" / "decoded").glob("*.pt"))
    assert again.info["loaded_from"] == "cache"


def test_torchvision_batches_are_read(tmp_path, monkeypatch):
    """The original pickled format (cifar-10-batches-py), faked with 4 images per batch."""
    import torchvision.datasets.cifar

    # the fake files cannot have the real md5 sums torchvision checks
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    base = tmp_path / "orig" / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    expected = {"train": [], "test": []}
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        pixels = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        with open(base / name, "wb") as f:
            pickle.dump({"data": pixels, "labels": labels}, f)
        expected["test" if name == "test_batch" else "train"].append((pixels, labels))
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CIFAR10_CLASSES)}, f)
    train, test = load_cifar10(tmp_path / "orig", download=False, progress=False)
    assert train.name == "CIFAR-10" and "torchvision" in train.source
    want = np.concatenate([p for p, _ in expected["train"]]).reshape(-1, 3, 32, 32)
    assert np.array_equal(train.images.numpy(), want)
    assert train.labels.tolist() == sum((lab for _, lab in expected["train"]), [])
    assert len(test) == 4


def test_cnnlib_data_env_is_honoured(make_cifar_copy, monkeypatch):
    root, _ = make_cifar_copy("png", train=1, test=1)
    monkeypatch.setenv("CNNLIB_DATA", str(root))
    train, _ = load_cifar10(download=False, progress=False)
    assert len(train) == 10
    assert data.describe_cifar10_source() == f"CIFAR-10 (PNG copy) from {root.name}/ (image folder)"


def test_missing_data_error_names_every_place(tmp_path, monkeypatch):
    empty, elsewhere = tmp_path / "empty", tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.setenv("CNNLIB_DATA", str(elsewhere))
    with pytest.raises(DataNotFoundError) as info:
        load_cifar10(empty, download=False)
    msg = str(info.value)
    for expected in (str(empty), str(elsewhere), "$CNNLIB_DATA", "does not exist", "--data-dir",
                     "download", "cifar-10-batches-py", "zip"):  # fmt: skip
        assert expected in msg, expected


def test_synthetic_fallback_only_when_allowed(tmp_path):
    from cnnlib.profile import get_profile

    with pytest.raises(DataNotFoundError):
        load_cifar10(tmp_path, download=False, profile=get_profile("cpu"))
    with pytest.warns(UserWarning, match="synthetic"):
        train, test = load_cifar10(tmp_path, download=False, profile=get_profile("smoke"))
    smoke = get_profile("smoke")
    assert (len(train), len(test)) == (smoke.train_size, smoke.test_size)
    assert "synthetic" in train.name and "synthetic" in train.source


def test_wrong_classes_and_sizes_are_clear_errors(make_cifar_copy):
    root, _ = make_cifar_copy("png", train=1, test=1)
    (root / "train" / "dog").rename(root / "train" / "doggo")
    with pytest.raises(ValueError, match="expected the 10 CIFAR-10 class folders"):
        load_cifar10(root, download=False, progress=False)
    (root / "train" / "doggo").rename(root / "train" / "dog")
    Image.new("RGB", (40, 32)).save(root / "test" / "cat" / "big.png")
    with pytest.raises(ValueError, match=r"big\.png: expected a 32x32 RGB"):
        load_cifar10(root, download=False, progress=False)


# --- the real CIFAR-10 copy (skipped where it is absent) -------------------------------------


@pytest.fixture(scope="module")
def real_cifar10(shared_data_dir, tmp_path_factory):
    """The shared CIFAR-10 copy, decoded once into a fresh cache (timed)."""
    if shared_data_dir is None:
        pytest.skip("the shared CIFAR-10 copy (../shared/data or $CNNLIB_DATA) is absent")
    cache = tmp_path_factory.mktemp("real-cache")
    old = os.environ.get("CNNLIB_CACHE")
    os.environ["CNNLIB_CACHE"] = str(cache)
    try:
        start = time.perf_counter()
        train, test = load_cifar10(shared_data_dir, download=False, progress=False)
        first = time.perf_counter() - start
        yield shared_data_dir, cache, train, test, first
    finally:
        if old is None:
            os.environ.pop("CNNLIB_CACHE", None)
        else:
            os.environ["CNNLIB_CACHE"] = old


def test_real_cifar10_full_splits(real_cifar10):
    _, _, train, test, first = real_cifar10
    print(f"first load (decode + cache) of the real copy: {first:.1f} s")
    assert (len(train), len(test)) == (50_000, 10_000)
    assert train.class_counts() == [5000] * 10 and test.class_counts() == [1000] * 10
    if train.source.endswith("(zip of an image folder)"):
        assert train.name == "CIFAR-10 (JPEG copy)"
    # a sane image distribution: per-channel means near the published CIFAR-10 statistics
    means = train.images[::50].float().mean(dim=(0, 2, 3)) / 255
    assert torch.allclose(means, torch.tensor(data.CIFAR10_MEAN), atol=0.02)


def test_real_cifar10_second_load_is_fast_and_identical(real_cifar10, monkeypatch):
    root, cache, train, test, _ = real_cifar10
    monkeypatch.setenv("CNNLIB_CACHE", str(cache))
    sources._ZIP_MEMO.clear()
    start = time.perf_counter()
    again, again_test = load_cifar10(root, download=False, progress=False)
    seconds = time.perf_counter() - start
    print(f"second load of the real copy: {seconds:.2f} s")
    assert again.info["loaded_from"] == "cache"
    assert seconds < 2.0
    assert torch.equal(again.images, train.images) and torch.equal(again_test.labels, test.labels)


def test_real_cifar10_matches_pil_and_balanced_subsets(real_cifar10):
    root, _, train, _, _ = real_cifar10
    zips = sorted(Path(root).glob("*.zip"))
    if not zips:
        pytest.skip("the shared copy is not a zip")
    with zipfile.ZipFile(zips[0]) as zf:
        names = sorted(n for n in zf.namelist() if "/train/horse/" in n)[:3]
        pil = [np.asarray(Image.open(zf.open(n)).convert("RGB")) for n in names]
    horses = train.images[train.labels == CIFAR10_CLASSES.index("horse")][:3]
    assert np.array_equal(horses.permute(0, 2, 3, 1).numpy(), np.stack(pil))
    sub = train.subset(100, seed=0)
    assert sub.class_counts() == [100] * 10 and torch.equal(sub.images, train.subset(100).images)


# --- corrupt copies are reported as corrupt, naming the file ---------------------------------


def test_truncated_zip_is_reported_corrupt_not_missing(make_cifar_copy):
    zip_dir, _ = make_cifar_copy("png", train=2, test=1, zip_top="cifar10-tiny")
    path = zip_dir / "copy.zip"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for root in (zip_dir, path):  # the directory holding it, or the zip itself
        sources._ZIP_MEMO.clear()
        with pytest.raises(data.DataCorruptError, match=f"{path} is not a readable zip.*corrupt"):
            load_cifar10(root, download=False, progress=False)


def test_corrupt_image_in_a_zip_is_named(make_cifar_copy, tmp_path):
    root, _ = make_cifar_copy("png", train=2, test=1)
    (root / "train" / "cat" / "0001.png").write_bytes(b"\x89PNG not really")
    zpath = tmp_path / "bad" / "bad.zip"
    zpath.parent.mkdir()
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(root.rglob("*.png")):
            zf.write(p, f"top/{p.relative_to(root).as_posix()}")
    with pytest.raises(
        data.DataCorruptError, match=r"top/train/cat/0001\.png: not a readable image"
    ):
        load_cifar10(zpath.parent, download=False, progress=False)


def test_corrupt_batch_file_is_named(tmp_path):
    base = tmp_path / "orig" / "cifar-10-batches-py"
    base.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]:
        (base / name).write_bytes(b"not a pickle")
    with pytest.raises(data.DataCorruptError, match=r"data_batch_1 is corrupt"):
        load_cifar10(tmp_path / "orig", download=False, progress=False)
