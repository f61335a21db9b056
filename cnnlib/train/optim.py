"""The papers' optimiser (SGD with momentum and weight decay) and the usual lr schedules."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cnnlib.train.config import SCHEDULES, ConfigError

__all__ = ["build_optimizer", "build_scheduler", "default_milestones"]


def build_optimizer(
    model: nn.Module,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    nesterov: bool = False,
    lr_scale: Sequence[tuple[str, float]] = (),
) -> torch.optim.SGD:
    """SGD with momentum and weight decay on every parameter, as in the papers. ``lr_scale``:
    (module name, multiplier) pairs; that module's parameters train at ``lr`` x multiplier (one
    parameter group per multiplier, the unscaled group first)."""
    scales = dict(lr_scale)
    groups: dict[float, list[nn.Parameter]] = {1.0: []}
    matched = set()
    for name, p in model.named_parameters():
        owner = next((m for m in scales if name.startswith(m + ".")), None)
        matched.add(owner)
        groups.setdefault(scales.get(owner, 1.0), []).append(p)
    missing = sorted(set(scales) - matched)
    if missing:
        raise ValueError(f"lr_scale names modules without parameters in the model: {missing}")
    params = [{"params": ps, "lr": lr * s} for s, ps in groups.items() if ps]
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
    )


def default_milestones(epochs: int) -> list[int]:
    """The ResNet paper's CIFAR schedule: divide by 10 at 50% and 75% of training (32k and 48k
    of 64k iterations)."""
    return sorted({max(1, round(epochs * 0.5)), max(1, round(epochs * 0.75))})


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: str,
    *,
    epochs: int,
    steps_per_epoch: int,
    milestones: Sequence[int] | None = None,
    gamma: float = 0.1,
    warmup_epochs: float = 0.0,
) -> torch.optim.lr_scheduler.LRScheduler:
    """A learning-rate schedule stepped once per iteration.

    ``"step"`` multiplies by ``gamma`` at each of ``milestones`` (default
    :func:`default_milestones`); ``"cosine"`` decays to zero after the warm-up; ``"onecycle"`` is
    torch's OneCycleLR (its own warm-up); ``"constant"``. ``warmup_epochs`` adds a linear warm-up.
    """
    if schedule not in SCHEDULES:
        raise ConfigError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    total = epochs * steps_per_epoch
    if schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=[g["lr"] for g in optimizer.param_groups],
            total_steps=max(total, 1),
        )
    warmup = round(warmup_epochs * steps_per_epoch)
    marks = [m * steps_per_epoch for m in (milestones or default_milestones(epochs))]

    def factor(step: int) -> float:
        w = (step + 1) / warmup if step < warmup else 1.0
        if schedule == "step":
            return w * gamma ** sum(step >= m for m in marks)
        if schedule == "cosine":
            if step < warmup:
                return w
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
        return w

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
