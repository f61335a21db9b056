"""cnnlib.data: finding, decoding and caching CIFAR-10; subsets; the device-resident loader; the
standard torchvision path (Imagenette, image folders)."""

from __future__ import annotations

import os
import pickle
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from cnnlib import data
from cnnlib.data import (
    CIFAR10_CLASSES,
    DataNotFoundError,
    DeviceLoader,
    EpochDataLoader,
    ImageTensorDataset,
    balanced_indices,
    load_cifar10,
    random_crop_flip,
    synthetic_cifar10,
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads the user's data or cache, or writes into them."""
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    data._ZIP_MEMO.clear()


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
    assert train.source == "cifar10-tiny.zip (zip of an image folder)" or "zip" in train.source
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
    data._ZIP_MEMO.clear()
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
    for name in [*data._BATCH_FILES, "test_batch"]:
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


# --- subsets and the synthetic set -----------------------------------------------------------


def test_balanced_indices_are_balanced_deterministic_and_nested():
    labels = torch.arange(10).repeat(50)[
        torch.randperm(500, generator=torch.Generator().manual_seed(1))
    ]
    small = balanced_indices(labels, 5, seed=3)
    assert torch.bincount(labels[small]).tolist() == [5] * 10
    assert torch.equal(small, balanced_indices(labels, 5, seed=3))
    assert not torch.equal(small, balanced_indices(labels, 5, seed=4))
    large = balanced_indices(labels, 20, seed=3)
    assert set(small.tolist()) <= set(large.tolist())
    with pytest.raises(ValueError, match="class 0 has 50 images"):
        balanced_indices(labels, 51)


def test_subset_total_spreads_remainder():
    train, _ = synthetic_cifar10(20, 1)
    sub = train.subset(total=25, seed=0)
    assert sorted(sub.class_counts(), reverse=True) == [3] * 5 + [2] * 5
    assert sub.name == train.name


def test_synthetic_set_is_deterministic_and_class_dependent():
    a, _ = synthetic_cifar10(10, 2, seed=0)
    b, _ = synthetic_cifar10(10, 2, seed=0)
    assert torch.equal(a.images, b.images) and a.images.dtype == torch.uint8
    assert a.images.shape == (100, 3, 32, 32)
    means = torch.stack([a.images[a.labels == c].float().mean(0) for c in range(10)])
    within = (a.images.float() - means[a.labels]).abs().mean()
    between = torch.cdist(means.flatten(1), means.flatten(1)).sum() / 90 / (3 * 32 * 32) ** 0.5
    assert between > 0.5 * within  # the classes differ by more than their noise


# --- the device-resident loader --------------------------------------------------------------


def _toy(n=40, classes=10):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return ImageTensorDataset(images, torch.arange(n) % classes)


def test_random_crop_flip_matches_torchvision():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    offsets = torch.tensor([[0, 0], [8, 8], [3, 5], [8, 0], [0, 8], [4, 4]])
    flips = torch.tensor([False, True, True, False, True, False])
    got = random_crop_flip(x, offsets, flips, padding=4)
    for i in range(6):
        ref = TF.crop(TF.pad(x[i], [4]), int(offsets[i, 0]), int(offsets[i, 1]), 32, 32)
        ref = TF.hflip(ref) if flips[i] else ref
        assert torch.equal(got[i], ref), i


def test_eval_loader_is_ordered_and_normalised():
    ds = _toy()
    loader = DeviceLoader(ds, 16, train=False)
    batches = list(loader)
    assert [len(y) for _, y in batches] == [16, 16, 8] and len(loader) == 3
    x = torch.cat([b[0] for b in batches])
    mean, std = torch.tensor(ds.mean).view(1, 3, 1, 1), torch.tensor(ds.std).view(1, 3, 1, 1)
    assert torch.allclose((x * std + mean) * 255, ds.images.float(), atol=1e-3)
    assert torch.equal(torch.cat([b[1] for b in batches]), ds.labels)


def test_train_loader_epochs_are_seeded_permutations_with_augmentation():
    ds = _toy()
    a, b = DeviceLoader(ds, 8, seed=5), DeviceLoader(ds, 8, seed=5)
    ep0 = list(a)
    ep1 = list(a)  # the loader moves on to the next epoch by itself
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(ep0, list(b), strict=True))
    labels0, labels1 = torch.cat([y for _, y in ep0]), torch.cat([y for _, y in ep1])
    assert sorted(labels0.tolist()) == sorted(ds.labels.tolist())
    assert not torch.equal(labels0, labels1)
    order, offsets, flips = a._plan(0)
    assert sorted(order.tolist()) == list(range(40))
    assert offsets.min() >= 0 and offsets.max() <= 8 and 0 < flips.sum() < 40
    # batch k is exactly the crop-and-flip of the planned images
    x = torch.cat([x for x, _ in ep0])
    want = random_crop_flip(ds.images[order], offsets, flips).float().div(255)
    want = (want - torch.tensor(ds.mean).view(1, 3, 1, 1)) / torch.tensor(ds.std).view(1, 3, 1, 1)
    assert torch.allclose(x, want, atol=1e-6)
    assert a.state_dict()["epoch"] == 2


def test_loader_resumes_mid_epoch_exactly():
    ds = _toy()
    a = DeviceLoader(ds, 6, seed=1)
    a.set_epoch(3)
    it = iter(a)
    first = [next(it) for _ in range(2)]
    state = a.state_dict()
    rest = list(it)
    b = DeviceLoader(ds, 6, seed=1)
    b.load_state_dict(state)
    resumed = list(b)
    assert len(first) + len(rest) == len(a) and len(resumed) == len(rest)
    for (x1, y1), (x2, y2) in zip(rest, resumed, strict=True):
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    with pytest.raises(ValueError, match="seed"):
        DeviceLoader(ds, 6, seed=2).load_state_dict(state)


def test_loader_shards_are_disjoint_and_cover_the_epoch():
    ds = _toy(n=37)
    full_order = DeviceLoader(ds, 4, seed=2)._plan(0)[0]
    shards = [DeviceLoader(ds, 4, seed=2, rank=r, world_size=3) for r in range(3)]
    orders = [s._plan(0)[0] for s in shards]
    assert len({len(s) for s in shards}) == 1  # every rank makes the same number of steps
    interleaved = torch.stack(orders, 1).flatten()
    assert torch.equal(interleaved[:37], full_order)  # rank r takes every 3rd image from r
    evals = [DeviceLoader(ds, 4, train=False, rank=r, world_size=3) for r in range(3)]
    seen = sorted(int(y) for e in evals for _, ys in e for y in ys)
    assert seen == sorted(ds.labels.tolist())


def test_loader_channels_last_and_device():
    loader = DeviceLoader(_toy(), 8, channels_last=True, device="cpu")
    x, y = next(iter(loader))
    assert x.is_contiguous(memory_format=torch.channels_last) and x.dtype == torch.float32
    assert y.dtype == torch.long and x.device.type == "cpu"


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
    data._ZIP_MEMO.clear()
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


def test_cifar10_loaders_follow_the_profile(make_cifar_copy, monkeypatch):
    from cnnlib import profile

    root, _ = make_cifar_copy("png", train=3, test=2)
    p = profile.get_profile("smoke", device="cpu")
    small = profile.Profile(**{**p.as_dict(), "train_per_class": 2, "test_per_class": 1,
                               "batch_size": 4})  # fmt: skip
    train, test = data.cifar10_loaders(small, root=root, download=False)
    assert (len(train.dataset), len(test.dataset)) == (20, 10)
    assert (train.batch_size, test.batch_size) == (4, 8)
    assert train.augment and not test.augment and train.channels_last == small.channels_last
