"""One run's ingredients, shared by the experiments (:mod:`~cnnlib.experiments.runner`) and the
trained models (:mod:`~cnnlib.experiments.trained`): the budget's data, the arm's model with its
initialisation, its training settings and its seeded loader."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from cnnlib import data, models
from cnnlib.analysis import gradient_norms_by_head, norms_by_block
from cnnlib.experiments.registry import Arm, Budget, ExperimentError
from cnnlib.models.layers import glorot_init_, lsuv_init_
from cnnlib.models.vgg_init import init_from_shallower_, vgg_paper_init_
from cnnlib.runtime import resolve_device
from cnnlib.train import TrainConfig

__all__ = ["aux_lr_scale", "load_data", "prepare"]


def load_data(b: Budget, data_dir: str | os.PathLike | None, progress: bool) -> tuple:
    """The budget's CIFAR-10 training and test subsets (the same images for every seed)."""
    return data.load_cifar10(
        data_dir,
        train_per_class=b.train_per_class,
        test_per_class=b.test_per_class,
        seed=0,
        allow_synthetic=b.allow_synthetic,
        progress=progress,
    )


def prepare(
    arm: Arm, seed: int, b: Budget, train_set: Any, shallow: nn.Module | None = None
) -> tuple:
    """``(model, config, loader)`` of one run: the arm's model initialised from ``seed`` on the
    budget's device, the matched training settings, the seeded training loader. An
    ``init="from:RECIPE"`` arm needs ``shallow``, the trained net it starts from
    (:func:`cnnlib.experiments.runner.prepare` finds it)."""
    device = str(resolve_device(b.device))
    torch.manual_seed(seed)
    kwargs = b.model_kwargs | arm.model_kwargs
    model = models.create(arm.model, **kwargs).to(device)
    init = arm.init or b.init
    # LSUV's and lr_scale's batch (loaded only for them): the first 256 training images, the
    # same for every arm and seed
    first = None
    if init == "lsuv" or arm.lr_scale == "aux":
        first = next(iter(data.DeviceLoader(train_set, 256, train=False, device=device)))
    _initialise(model, init, first, shallow)
    lr_scale = ()
    if arm.lr_scale == "aux":  # the same trunk with heads, from the same seed, measured
        torch.manual_seed(seed)
        twin = models.create(arm.model, **(kwargs | {"aux_logits": True})).to(device)
        _initialise(twin, init, first, shallow)
        lr_scale = aux_lr_scale(twin, *first, aux_weight=0.3)
    config = TrainConfig(
        epochs=b.epochs,
        lr=arm.lr or b.lr,
        schedule=b.schedule,
        warmup_epochs=b.warmup_epochs,
        weight_decay=b.weight_decay,
        seed=seed,
        model=arm.name,
        device=device,
        amp=b.amp,
        channels_last=device == "cpu",
        aux_weight=arm.aux_weight,
        lr_scale=lr_scale,
    )
    augment = arm.augmentation(b)
    loader = data.DeviceLoader(
        train_set, b.batch_size, train=True, augment=augment != "none", seed=seed, device=device
    )
    if augment == "crop_flip_pca":  # the paper's lighting noise, from the training images' PCA
        loader = data.augment.PCAColorLoader(
            loader, data.augment.rgb_pca(train_set.images), seed=seed
        )
    return model, config, loader


def _initialise(
    model: nn.Module, init: str, first: tuple | None, shallow: nn.Module | None
) -> None:
    """Apply one of :data:`INITS` (``"default"``: leave the model's own; ``"lsuv"`` on the
    images of ``first``), or VGG's start from a trained shallower net (``"from:RECIPE"``:
    ``shallow``'s layers into the paper's random init)."""
    if init == "lsuv":
        lsuv_init_(model, first[0])
    elif init == "glorot":
        glorot_init_(model)
    elif init == "vgg_paper":
        vgg_paper_init_(model)
    elif init.startswith("from:"):
        if shallow is None:
            raise ExperimentError(f"init {init!r} needs the trained net it starts from")
        vgg_paper_init_(model)
        init_from_shallower_(model, shallow.to(next(model.parameters()).device))


def aux_lr_scale(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, aux_weight: float = 0.3
) -> tuple[tuple[str, float], ...]:
    """For a GoogLeNet with auxiliary heads, each top-level block whose gradient the heads
    change: (block, norm of its weight gradient from main + ``aux_weight`` x auxiliary losses /
    from the main loss alone), at the model's current weights on ``(x, y)``."""
    norms = gradient_norms_by_head(model, x, y, aux_weight=aux_weight)
    main, total = norms_by_block(norms["main"]), norms_by_block(norms["total"])
    ratios = ((b, total[b] / main[b]) for b in main if main[b] > 0)
    return tuple((b, round(r, 4)) for b, r in ratios if abs(r - 1) > 1e-6)
