"""Loaders that :func:`cnnlib.train.fit` can resume exactly: on the device, or through DataLoader.

:class:`DeviceLoader` keeps a small dataset on the training device as uint8 and builds each batch
there (seeded shuffle, batched random crop and flip, normalisation); :class:`EpochDataLoader` is
torchvision's standard path for data too large for memory. Both are seeded by ``(seed, epoch)``
and, under ``torch.distributed``, give each rank a disjoint shard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from cnnlib.data.augment import random_crop_flip
from cnnlib.data.cifar10 import load_cifar10
from cnnlib.data.datasets import CIFAR10_MEAN, CIFAR10_STD
from cnnlib.distributed import rank_and_world
from cnnlib.profile import Profile

__all__ = ["DeviceLoader", "EpochDataLoader", "cifar10_loaders"]


def _epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % (2**63)


def _rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """The given rank and world size, each defaulting to the process group's (else 0 and 1)."""
    group_rank, group_world = rank_and_world()
    rank = group_rank if rank is None else rank
    world_size = group_world if world_size is None else world_size
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}); got {rank}")
    return rank, world_size


class DeviceLoader:
    """Batches of an in-memory uint8 dataset, built on the training device.

    The whole dataset is moved to ``device`` once (CIFAR-10 is 184 MB as uint8). For each epoch
    a CPU generator seeded by ``(seed, epoch)`` draws the order and the augmentation of every
    image (crop offsets and flips, as ``RandomCrop(32, padding=4)`` and
    ``RandomHorizontalFlip()``), so the data of an epoch depends on nothing else and a run
    resumed from :meth:`state_dict` sees exactly the same batches. Batches are normalised floats
    (``(x / 255 - mean) / std``), optionally in channels_last memory format.

    Under ``torch.distributed`` (or with ``rank``/``world_size``) each rank takes every
    ``world_size``-th image of the epoch's order: disjoint shards whose union is the epoch. For
    training the order is padded by wrapping around (as ``DistributedSampler``) so all ranks make
    the same number of steps; for evaluation (``train=False``) every image is seen exactly once.

    Args:
        dataset: an :class:`ImageTensorDataset` (or anything with uint8 ``images`` and
            ``labels`` tensors).
        batch_size: images per batch (per rank).
        train: shuffle and augment (defaults for ``shuffle`` and ``augment``).
        device: where the data lives and batches are built.
        seed: the seed of the shuffles and augmentations.
        drop_last: drop the last incomplete batch (default: no).
        mean, std: normalisation (default: the dataset's, else CIFAR-10's).
        padding: zero padding of the random crop.
        channels_last: return batches in channels_last memory format.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        *,
        train: bool = True,
        shuffle: bool | None = None,
        augment: bool | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        drop_last: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        padding: int = 4,
        channels_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
        self.dataset = dataset
        self.device = torch.device(device)
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        self.batch_size = batch_size
        self.train = train
        self.shuffle = train if shuffle is None else shuffle
        self.augment = train if augment is None else augment
        self.seed = seed
        self.drop_last = drop_last
        self.padding = padding
        self.channels_last = channels_last
        self.rank, self.world_size = _rank_world(rank, world_size)
        mean = mean if mean is not None else getattr(dataset, "mean", CIFAR10_MEAN)
        std = std if std is not None else getattr(dataset, "std", CIFAR10_STD)
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1)
        self.epoch = 0
        self.position = 0  # batches of the current epoch already handed out

    # -- size -----------------------------------------------------------------------------
    def _samples_per_rank(self) -> int:
        n = len(self.labels)
        if self.world_size == 1:
            return n
        if self.train:
            return -(-n // self.world_size)  # padded by wrapping
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        n = self._samples_per_rank()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # -- the epoch plan -------------------------------------------------------------------
    def _plan(self, epoch: int) -> tuple[Tensor, Tensor, Tensor]:
        """This rank's image order, crop offsets and flips for ``epoch`` (on the CPU)."""
        n = len(self.labels)
        g = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=g)
        flips = torch.rand(n, generator=g) < 0.5
        if self.world_size > 1:
            if self.train:
                total = -(-n // self.world_size) * self.world_size
                wrap = torch.arange(total) % n
                order, offsets, flips = order[wrap], offsets[wrap], flips[wrap]
            order = order[self.rank :: self.world_size]
            offsets = offsets[self.rank :: self.world_size]
            flips = flips[self.rank :: self.world_size]
        return order, offsets, flips

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` (from its first batch) at the next iteration."""
        self.epoch, self.position = epoch, 0

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order, offsets, flips = (t.to(self.device) for t in self._plan(self.epoch))
        num_batches = len(self)
        while self.position < num_batches:
            b = self.position
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            index = order[sl]
            x = self.images[index]
            if self.augment:
                x = random_crop_flip(x, offsets[sl], flips[sl], self.padding)
            x = x.float().div_(255).sub_(self.mean).div_(self.std)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            self.position = b + 1
            yield x, self.labels[index]
        self.epoch, self.position = self.epoch + 1, 0

    # -- resume ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, int]:
        """The loader's position: the epoch and the batches of it already handed out."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue from a :meth:`state_dict` (the same seed is required)."""
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"loader state was saved with seed {state['seed']}, this loader has {self.seed}"
            )
        if not 0 <= state["position"] <= len(self):
            raise ValueError(f"loader position {state['position']} outside [0, {len(self)}]")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def cifar10_loaders(
    profile: Profile,
    *,
    root: str | os.PathLike | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    download: bool = True,
) -> tuple[DeviceLoader, DeviceLoader]:
    """CIFAR-10 at ``profile``'s sizes as training and test :class:`DeviceLoader` s on its device
    (the notebooks' one call for data); the test loader's batches are twice as large."""
    train, test = load_cifar10(root, seed=seed, download=download, profile=profile)
    batch_size = batch_size or profile.batch_size
    common = {"device": profile.device, "channels_last": profile.channels_last}
    return (
        DeviceLoader(train, batch_size, train=True, seed=seed, **common),
        DeviceLoader(test, 2 * batch_size, train=False, **common),
    )


# --------------------------------------------------------------------------------------------
# The standard path: torchvision's DataLoader, one per epoch (data too large for memory)
# --------------------------------------------------------------------------------------------


class _StridedSampler(Sampler[int]):
    """Every ``world_size``-th index from ``rank``, in order (evaluation shards, no padding)."""

    def __init__(self, n: int, rank: int, world_size: int) -> None:
        self.indices = range(rank, n, world_size)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class EpochDataLoader:
    """A ``DataLoader`` per epoch, shuffled and seeded by ``(seed, epoch)``: the standard path
    for datasets too large for memory, resumable at epoch boundaries.

    Training shuffles with ``DistributedSampler`` (one replica when not distributed); the
    workers' random augmentations are seeded from a generator seeded by ``(seed, epoch)``.
    Evaluation (``train=False``) reads every image once, in order, sharded across ranks.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        train: bool = True,
        num_workers: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        pin_memory: bool | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.train = train
        self.num_workers = num_workers
        self.seed = seed
        self.drop_last = drop_last
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.rank, self.world_size = _rank_world(rank, world_size)
        if train:
            self.sampler: Sampler[int] = DistributedSampler(
                dataset, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=seed
            )
        else:
            self.sampler = _StridedSampler(len(dataset), self.rank, self.world_size)
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(self.epoch)
        loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.num_workers,
            drop_last=self.drop_last,
            pin_memory=self.pin_memory,
            generator=torch.Generator().manual_seed(_epoch_seed(self.seed, self.epoch)),
        )
        yield from loader
        self.epoch += 1

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": 0, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("position", 0):
            raise ValueError("EpochDataLoader resumes at epoch boundaries only")
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(
                f"loader state was saved with seed {state['seed']}, this loader has {self.seed}"
            )
        self.epoch = int(state["epoch"])
