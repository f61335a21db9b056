"""cnnlib.data.loaders: the device-resident loader (order, augmentation, resume, shards) and
cifar10_loaders."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF

from cnnlib import data
from cnnlib.data import (
    DeviceLoader,
    ImageTensorDataset,
    random_crop_flip,
)

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
