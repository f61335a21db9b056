"""cnnlib.data.datasets: class-balanced subsets and the synthetic set."""

from __future__ import annotations

import pytest
import torch

from cnnlib.data import (
    balanced_indices,
    synthetic_cifar10,
)

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
