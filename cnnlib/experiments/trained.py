"""Trained CIFAR-10 models for the chapters that look inside a network: stored in
``results/trained/NAME/BUDGET.pt`` (half precision, under 4 MiB) with their run card, or trained
at that budget when missing. :func:`trained` says which it did."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlib import data, models
from cnnlib.experiments.registry import Arm, Budget, ExperimentError, settings
from cnnlib.experiments.setup import load_data, prepare
from cnnlib.experiments.store import check_writable, results_dir
from cnnlib.models.vgg_init import PAPER_INPUT_STD
from cnnlib.runtime import atomic_write, atomic_write_json, device_name, versions
from cnnlib.train import evaluate, fit

__all__ = ["TRAINED", "Recipe", "trained"]

MAX_BYTES = 4 * 2**20


@dataclass(frozen=True)
class Recipe:
    """How a stored model is trained: a registered model and a budget per name."""

    name: str
    model: str
    purpose: str
    budgets: dict[str, Budget]
    model_kwargs: dict[str, Any] = field(default_factory=dict)


_SMOKE = Budget(
    train_per_class=4,
    test_per_class=2,
    epochs=1,
    batch_size=20,
    seeds=(0, 1),
    allow_synthetic=True,
    note="seconds, for the tests",
)
# zfnet_cifar's budgets: all of CIFAR-10, no batch norm (as the paper's net), so the lsuv init
# and a smaller learning rate than the ResNets'.
_ZF_FULL = dict(
    train_per_class=None,
    test_per_class=None,
    lr=0.02,
    weight_decay=5e-4,
    init="lsuv",
    seeds=(0, 1),
)
# Net A without batch norm from the paper's random init (vgg_paper_init_), VGG's start for the
# deeper nets; the vgg_init experiment trains on the same budgets. The paper's input scale
# (mean-subtracted 0-255 pixels: without it the init's signal is 58 times weaker and even A
# stayed at chance for 8,000 steps in probes), lr 0.01, momentum 0.9, weight decay 5e-4,
# dropout 0.5; a constant rate (the paper lowered it only when the validation accuracy stopped
# improving), so that a stalled net is not mistaken for a slow one. Batch 32 instead of 256:
# leaving the plateau takes steps (about 1,500 for A in probes), and small batches buy them.
VGG_INIT = dict(
    train_per_class=500,
    test_per_class=100,
    batch_size=32,
    lr=0.01,
    weight_decay=5e-4,
    warmup_epochs=0.0,
    schedule="constant",
    eval_every=2,
    init="vgg_paper",
    model_kwargs={"batch_norm": False, "width": 0.25, "input_scale": PAPER_INPUT_STD},
)
VGG_A_BUDGETS = {
    "smoke": replace(
        _SMOKE,
        **(
            VGG_INIT
            | {"train_per_class": 4, "test_per_class": 2, "batch_size": 20}
            | {"model_kwargs": VGG_INIT["model_kwargs"] | {"width": 0.125}}
        ),
        train_eval_per_class=4,
    ),
    "cpu": Budget(
        **VGG_INIT,
        epochs=40,
        seeds=(0, 1, 2),
        note="5,000 images, 40 epochs of 157 steps, quarter-width nets without batch norm; "
        "about an hour on 2 CPU cores",
    ),
    "long": Budget(
        **(VGG_INIT | {"train_per_class": 1000}),
        epochs=40,
        seeds=(0, 1, 2),
        note="10,000 images, 40 epochs; 2 CPU cores",
    ),
    "gpu": Budget(
        **(
            VGG_INIT
            | {
                "train_per_class": None,
                "test_per_class": None,
                "batch_size": 128,
                "model_kwargs": VGG_INIT["model_kwargs"] | {"width": 1.0},
            }
        ),
        train_eval_per_class=500,
        epochs=30,
        seeds=(0, 1, 2),
        device="cuda",
        amp=True,
        note="full CIFAR-10, the paper's widths, 11,700 steps; one GPU",
    ),
}
TRAINED: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "resnet20",
            "resnet20",
            "a working CIFAR ResNet to look inside (responses, lesions)",
            budgets={
                "smoke": _SMOKE,
                "cpu": Budget(
                    train_per_class=500,
                    test_per_class=100,
                    epochs=15,
                    seeds=(0, 1),
                    note="5,000 images with crop and flip, "
                    "15 epochs; about 5 minutes on 2 CPU cores",
                ),
                "long": Budget(
                    train_per_class=None,
                    test_per_class=None,
                    epochs=30,
                    weight_decay=5e-4,
                    seeds=(0, 1),
                    note="full CIFAR-10 with crop and flip, 30 epochs (cosine, weight decay "
                    "5e-4, the usual choice for short schedules); about 80 minutes on 2 CPU "
                    "cores (16 epochs at the paper's 1e-4 reached only 83.8%)",
                ),
                "gpu": Budget(
                    train_per_class=None,
                    test_per_class=None,
                    epochs=30,
                    weight_decay=5e-4,
                    device="cuda",
                    amp=True,
                    seeds=(0, 1),
                    note="full CIFAR-10, 30 epochs; minutes on one GPU",
                ),
            },
        ),
        Recipe(
            "zfnet_cifar",
            "zfnet_cifar",
            "a working ZFNet-style CIFAR net to visualise (chapter 3: top-9 patches, deconvnet, "
            "occlusion)",
            budgets={
                "smoke": _SMOKE,
                "cpu": Budget(
                    **_ZF_FULL,
                    epochs=30,
                    note="full CIFAR-10 with crop and flip, 30 epochs (cosine, lsuv init, no "
                    "batch norm, as the paper's net); about 13 minutes on 2 CPU cores",
                ),
                "long": Budget(
                    **_ZF_FULL,
                    epochs=60,
                    note="full CIFAR-10, 60 epochs; about 26 minutes on 2 CPU cores",
                ),
                "gpu": Budget(
                    **_ZF_FULL,
                    epochs=60,
                    device="cuda",
                    amp=True,
                    note="full CIFAR-10, 60 epochs; minutes on one GPU",
                ),
            },
        ),
        Recipe(
            "vgg_a",
            "vgg11_cifar",
            "VGG's net A trained from the paper's random init: the start of the deep net in the "
            "vgg_init experiment (chapter 4)",
            budgets=VGG_A_BUDGETS,
        ),
    )
}


def _recipe(name: str, budget: str) -> tuple[Recipe, Budget]:
    if name not in TRAINED:
        raise ExperimentError(f"no trained-model recipe {name!r}; choose from {', '.join(TRAINED)}")
    recipe = TRAINED[name]
    if budget not in recipe.budgets:
        raise ExperimentError(
            f"{name!r} has no budget {budget!r}; choose from {', '.join(recipe.budgets)}"
        )
    return recipe, recipe.budgets[budget]


def trained(
    name: str,
    budget: str = "cpu",
    *,
    results: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    device: str | None = None,
    progress: bool = True,
) -> nn.Module:
    """The model ``name`` trained at ``budget``, in eval mode on ``device``: loaded from its
    stored checkpoint, or trained now (seed 0) and stored. Prints which, with its test error."""
    recipe, b = _recipe(name, budget)
    path = results_dir(results) / "trained" / name / f"{budget}.pt"
    if path.is_file():
        model = models.create(recipe.model, **(b.model_kwargs | recipe.model_kwargs))
        meta = json.loads(path.with_suffix(".json").read_text())
        if settings(meta.get("design")) != settings(b.to_dict()):
            raise ExperimentError(
                f"{path} was trained with another recipe than {name!r} at {budget!r} has now "
                "(its budget changed); remove it (and its .json) to train it again"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in state.items()})
        print(
            f"{name} ({budget}): loaded the stored checkpoint {path.name} "
            f"(test error {100 * meta['test_error']:.1f}%, {meta['card']['device']})"
        )
    else:
        check_writable(path.parent)
        print(
            f"{name} ({budget}): no stored checkpoint in {path.parent}; training it now ({b.note})"
        )
        work = path.parent / ".work" / budget  # checkpoints: a killed run resumes here
        model, meta = _train(recipe, b, budget, data_dir, progress, work)
        _store(model, meta, path)
        # the stored precision from now on: the next call, which loads it, gets the same weights
        model.load_state_dict(
            {k: v.half().to(v.dtype) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
        )  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    return model.to(device or "cpu").eval()


def _train(
    recipe: Recipe,
    b: Budget,
    budget: str,
    data_dir: str | os.PathLike | None,
    progress: bool,
    work: Path,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train the recipe's model from seed ``b.seeds[0]``, checkpointing in ``work`` (resumed
    from there when a checkpoint exists); return it and its metadata."""
    started, seed = time.perf_counter(), b.seeds[0]
    train_set, test_set = load_data(b, data_dir, progress)
    arm = Arm(recipe.name, recipe.model, recipe.model_kwargs)
    model, config, loader = prepare(arm, seed, b, train_set)
    device = config.device
    fit(model, loader, None, config, out_dir=work, resume=True, quiet=not progress)
    test = evaluate(model, data.DeviceLoader(test_set, 500, train=False, device=device))
    return model, {
        "name": recipe.name,
        "model": recipe.model,
        "budget": budget,
        "test_error": 1 - test["acc"],
        "design": b.to_dict(),
        "card": {
            "command": f"cnnlib.experiments.trained({recipe.name!r}, budget={budget!r})",
            "device": device_name(device),
            "versions": versions(),
            "seconds": time.perf_counter() - started,
        },
    }


def _store(model: nn.Module, meta: dict[str, Any], path: Path) -> None:
    """Half-precision floats, every other tensor as it is; refuse files over 4 MiB."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    size = sum(v.numel() * v.element_size() for v in state.values())
    if size > MAX_BYTES:
        raise ExperimentError(
            f"{meta['name']}: {size / 2**20:.1f} MiB in half precision, over "
            "the 4 MiB a stored checkpoint may take"
        )
    atomic_write(path, lambda f: torch.save(state, f))
    atomic_write_json(path.with_suffix(".json"), meta)
