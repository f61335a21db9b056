"""The training loop: :func:`fit` and :func:`evaluate`, checkpoints, history, run cards, a CLI.

:func:`fit` trains with SGD and momentum (the papers' optimiser), weight decay and optional label
smoothing, under one of the usual learning-rate schedules (``"step"`` decay as in the papers,
``"cosine"`` with linear warm-up, ``"onecycle"``, ``"constant"``). On CUDA it can use automatic
mixed precision (bf16 where the GPU supports it, else fp16 with a gradient scaler),
channels_last and ``torch.compile``. Each epoch it evaluates, appends a row to the history and,
given ``out_dir``, writes ``history.json``, ``run.json`` (the run card) and ``checkpoint.pt``
atomically. ``resume=True`` continues from the checkpoint to exactly the result of an
uninterrupted run.

From the command line (also under ``torchrun`` for several GPUs)::

    python -m cnnlib.train --model resnet20 --epochs 2 --subset 1000 --out runs/x
    torchrun --nproc_per_node=2 -m cnnlib.train --model resnet20 --out runs/ddp
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from cnnlib import data as cdata
from cnnlib import distributed as cdist
from cnnlib import models
from cnnlib.data import atomic_write
from cnnlib.profile import (
    Profile,
    current_profile,
    device_name,
    get_profile,
    seed_everything,
    versions,
)

__all__ = [
    "CheckpointError",
    "History",
    "NonFiniteLossError",
    "build_optimizer",
    "build_scheduler",
    "evaluate",
    "fit",
    "main",
    "run_card",
]

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"
RUN_CARD = "run.json"
_CHECKPOINT_FORMAT = "cnnlib.train checkpoint"
_CHECKPOINT_VERSION = 1
SCHEDULES = ("step", "cosine", "onecycle", "constant")


class CheckpointError(RuntimeError):
    """A checkpoint could not be read, or belongs to a different run."""


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class History(list):
    """The per-epoch records of a run (a list of dicts), with the run card as ``.run``.

    Each record has ``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``,
    ``seconds`` and ``images_per_s`` (training images per second of that epoch, training only).
    Accuracies are fractions in [0, 1].
    """

    def __init__(self, records: Iterable[Mapping[str, Any]] = (), run: Mapping | None = None):
        super().__init__(dict(r) for r in records)
        self.run: dict[str, Any] = dict(run or {})

    def column(self, key: str) -> list[Any]:
        """One field over the epochs, e.g. ``history.column("val_acc")``."""
        return [r.get(key) for r in self]

    def best(self, key: str = "val_acc") -> dict[str, Any] | None:
        """The record with the highest ``key`` (``None`` for an empty history)."""
        rows = [r for r in self if r.get(key) is not None]
        return max(rows, key=lambda r: r[key]) if rows else None

    def save(self, path: str | os.PathLike) -> None:
        """Write the records to ``path`` as JSON (atomically)."""
        _atomic_write_text(Path(path), json.dumps(list(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read ``history.json`` (or a run directory holding it, with its ``run.json``)."""
        path = Path(path)
        if path.is_dir():
            run_path = path / RUN_CARD
            run = json.loads(run_path.read_text()) if run_path.is_file() else {}
            path = path / HISTORY
        else:
            run = {}
        return cls(json.loads(path.read_text()), run=run)


# --------------------------------------------------------------------------------------------
# Optimiser and schedules
# --------------------------------------------------------------------------------------------


def build_optimizer(
    model: nn.Module,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    nesterov: bool = False,
) -> torch.optim.SGD:
    """SGD with momentum and weight decay on every parameter, as in the papers."""
    return torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
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

    * ``"step"``: multiply by ``gamma`` at each epoch of ``milestones`` (default: 50% and 75%
      of training, the ResNet paper's CIFAR schedule);
    * ``"cosine"``: cosine decay to zero over the epochs after the warm-up;
    * ``"onecycle"``: ``torch.optim.lr_scheduler.OneCycleLR`` up to the optimiser's lr;
    * ``"constant"``.

    ``warmup_epochs`` adds a linear warm-up from near zero (not with ``"onecycle"``, which has
    its own).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"Unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
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


# --------------------------------------------------------------------------------------------
# Loss, mixed precision, evaluation
# --------------------------------------------------------------------------------------------


def _split_outputs(out: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
    """(main logits, auxiliary logits) of a model's output (a tensor or a (named)tuple)."""
    if isinstance(out, Tensor):
        return out, ()
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        return out[0], tuple(o for o in out[1:] if o is not None)
    raise TypeError(
        f"expected the model to return logits (a Tensor) or a tuple (logits, aux...); "
        f"got {type(out).__name__}"
    )


def _objective(
    out: Any,
    y: Tensor,
    label_smoothing: float,
    aux_weight: float | None,
    loss_fn: Callable[[Any, Tensor], Tensor] | None,
) -> tuple[Tensor, Tensor]:
    """(loss to minimise, main logits)."""
    logits, aux = _split_outputs(out)
    if loss_fn is not None:
        return loss_fn(out, y), logits
    loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    if aux:
        if aux_weight is None:
            raise ValueError(
                f"the model returned {1 + len(aux)} outputs in training (main and auxiliary "
                f"logits); pass aux_weight= (0.3 in the GoogLeNet paper) or loss_fn="
            )
        for a in aux:
            loss = loss + aux_weight * F.cross_entropy(a, y, label_smoothing=label_smoothing)
    return loss, logits


def _amp_dtype(amp: bool, device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU has it natively, else fp16; ``None`` (off) on CPU or when not asked."""
    if not amp or device.type != "cuda":
        return None
    try:
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # older torch
        bf16 = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if bf16 else torch.float16


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _default_device(loader: Any) -> torch.device:
    dev = getattr(loader, "device", None)
    if dev is not None:
        return torch.device(dev)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_device(x: Tensor, y: Tensor, device: torch.device, channels_last: bool):
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    if channels_last and x.dim() == 4 and not x.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    device: str | torch.device | None = None,
    amp: bool = False,
    channels_last: bool = False,
    progress: bool = False,
) -> dict[str, float]:
    """Mean cross-entropy and top-1 accuracy of ``model`` over ``loader``.

    Returns ``{"loss", "acc", "n"}``. Under ``torch.distributed`` the sums are all-reduced, so
    every rank gets the result over the whole (sharded) set. Restores the model's training mode.
    """
    device = torch.device(device) if device is not None else _default_device(loader)
    dtype = _amp_dtype(amp, device)
    was_training = model.training
    model.eval()
    sums = torch.zeros(2, dtype=torch.float64, device=device)
    count = 0
    total = len(loader) if hasattr(loader, "__len__") else None
    try:
        for x, y in tqdm(loader, total=total, desc="evaluating", unit="batch", leave=False,
                         disable=not progress):  # fmt: skip
            x, y = _to_device(x, y, device, channels_last)
            with _autocast(device, dtype):
                logits, _ = _split_outputs(model(x))
            loss = F.cross_entropy(logits.float(), y, reduction="sum")
            sums += torch.stack([loss.double(), (logits.argmax(1) == y).sum().double()])
            count += len(y)
    finally:
        model.train(was_training)
    sums = torch.cat([sums, sums.new_tensor([count])])
    cdist.all_reduce_sum(sums)
    loss_sum, correct, n = sums.tolist()
    if n == 0:
        raise ValueError("evaluate: the loader yielded no images")
    return {"loss": loss_sum / n, "acc": correct / n, "n": int(n)}


# --------------------------------------------------------------------------------------------
# Files: atomic writes, checkpoints, RNG states, run cards
# --------------------------------------------------------------------------------------------


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text), mode="w")


def _rng_state() -> dict[str, Any]:
    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, keys.tolist(), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    import numpy as np

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read is reported the same way
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {err}). It was left "
            "untouched; delete it or choose another output directory to start afresh."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != _CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} is not a cnnlib.train checkpoint (expected a dict with "
            f"format={_CHECKPOINT_FORMAT!r}). It was left untouched."
        )
    if ckpt.get("version") != _CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {ckpt.get('version')}; this cnnlib reads version "
            f"{_CHECKPOINT_VERSION}. It was left untouched."
        )
    return ckpt


def _check_config(saved: Mapping[str, Any], now: Mapping[str, Any], path: Path) -> None:
    diffs = [
        f"{k}: {saved.get(k)!r} in the checkpoint, {now.get(k)!r} now"
        for k in sorted(set(saved) | set(now))
        if saved.get(k) != now.get(k)
    ]
    if diffs:
        raise CheckpointError(
            f"{path} belongs to a different run, so it cannot be resumed exactly:\n  "
            + "\n  ".join(diffs)
            + "\nIt was left untouched; use the same settings, another output directory, or "
            "start afresh without resume."
        )


def run_card(
    *,
    model: nn.Module,
    model_name: str | None,
    train_loader: Any,
    val_loader: Any,
    device: torch.device,
    seed: int | None,
    profile: Any,
    config: Mapping[str, Any],
    amp_dtype: torch.dtype | None,
    channels_last: bool,
    compiled: bool,
) -> dict[str, Any]:
    """What a reader needs to know about where a result came from (no absolute paths)."""

    def describe(loader: Any) -> dict[str, Any] | None:
        if loader is None:
            return None
        ds = getattr(loader, "dataset", None)
        return {
            "name": getattr(ds, "name", type(ds).__name__ if ds is not None else None),
            "source": getattr(ds, "source", None),
            "size": len(ds) if ds is not None and hasattr(ds, "__len__") else None,
        }

    train_d, val_d = describe(train_loader), describe(val_loader)
    return {
        "seed": seed,
        "profile": getattr(profile, "name", profile),
        "model": model_name or type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dataset": (train_d or {}).get("name"),
        "data_source": (train_d or {}).get("source"),
        "train_size": (train_d or {}).get("size"),
        "val_size": (val_d or {}).get("size"),
        "device": device.type,
        "device_name": device_name(device),
        "world_size": cdist.rank_and_world()[1],
        "versions": versions(),
        "amp": {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype],
        "channels_last": channels_last,
        "compile": compiled,
        "hyperparameters": dict(config),
    }


def _epochs(card: Mapping[str, Any]) -> str:
    n = card.get("epochs_completed", 0)
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _format_card(card: Mapping[str, Any]) -> str:
    v = card["versions"]
    size = f"{card['train_size']:,} train" if card.get("train_size") is not None else "?"
    if card.get("val_size") is not None:
        size += f" / {card['val_size']:,} test"
    hp = card["hyperparameters"]
    return "\n".join(
        [
            "run card",
            f"  model     {card['model']} ({card['parameters']:,} parameters)",
            f"  data      {card['dataset']} from {card['data_source']}: {size}",
            f"  training  {_epochs({'epochs_completed': hp['epochs']})}, batch {hp['batch_size']},"
            f" lr {hp['lr']:g}"
            f" ({hp['schedule']}), seed {card['seed']}, profile {card['profile']}",
            f"  device    {card['device_name']} x {card['world_size']}, amp {card['amp']},"
            f" channels_last {card['channels_last']}, compile {card['compile']}",
            f"  versions  torch {v['torch']}, torchvision {v['torchvision']}, cnnlib {v['cnnlib']}",
            f"  time      {card.get('wall_time_s', 0):.1f} s for {_epochs(card)}",
        ]
    )


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


def _loader_batch_size(loader: Any) -> int | None:
    return getattr(loader, "batch_size", None)


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    *,
    epochs: int,
    lr: float = 0.1,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay: float = 1e-4,
    label_smoothing: float = 0.0,
    schedule: str = "step",
    milestones: Sequence[int] | None = None,
    gamma: float = 0.1,
    warmup_epochs: float = 0.0,
    aux_weight: float | None = None,
    loss_fn: Callable[[Any, Tensor], Tensor] | None = None,
    device: str | torch.device | None = None,
    amp: bool = False,
    channels_last: bool = False,
    compile: bool = False,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    seed: int | None = None,
    profile: Any = None,
    model_name: str | None = None,
    quiet: bool = False,
) -> History:
    """Train ``model`` on ``train_loader`` for ``epochs`` epochs; evaluate on ``val_loader``.

    Args:
        model: the network; it is moved to ``device`` (and to channels_last if asked).
        train_loader: a :class:`cnnlib.data.DeviceLoader`, :class:`~cnnlib.data.EpochDataLoader`
            or any iterable of ``(images, labels)``; loaders with ``set_epoch`` are told the
            epoch, so a resumed run sees the same batches.
        val_loader: evaluated after each epoch (optional).
        epochs: total epochs of the run (a resumed run continues up to this).
        lr, momentum, nesterov, weight_decay: SGD's settings.
        label_smoothing: of the training cross-entropy.
        schedule, milestones, gamma, warmup_epochs: see :func:`build_scheduler`.
        aux_weight: weight of auxiliary losses for models that return ``(logits, aux...)`` in
            training (0.3 for GoogLeNet, as in the paper).
        loss_fn: ``loss_fn(outputs, labels) -> loss`` replaces the cross-entropy entirely.
        device: defaults to the loader's device, else CUDA when available.
        amp: mixed precision on CUDA (bf16 where supported, else fp16 with a gradient scaler);
            ignored on the CPU.
        channels_last: NHWC memory format for model and batches.
        compile: ``torch.compile`` the model.
        out_dir: where ``history.json``, ``run.json`` and ``checkpoint.pt`` are written at every
            epoch end (only by rank 0 under ``torch.distributed``).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists (a fresh start otherwise).
        stop_after: stop after this epoch as if interrupted (the checkpoint allows resuming).
        seed: seeds every RNG at the start of a fresh run and is recorded in the run card.
        profile, model_name: recorded in the run card (``profile`` defaults to the one
            :func:`cnnlib.profile.setup` chose).
        quiet: no progress bar and no printing.

    Returns:
        The :class:`History`, with the run card as ``history.run``.

    Raises:
        NonFiniteLossError: the loss became NaN or infinite (names the epoch and step).
        CheckpointError: ``resume`` found an unreadable or mismatched checkpoint (it is left
            untouched).
    """
    started = time.perf_counter()
    profile = profile if profile is not None else current_profile()
    rank, world = cdist.rank_and_world()
    main_proc = rank == 0
    quiet = quiet or not main_proc
    device = torch.device(device) if device is not None else _default_device(train_loader)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1; got {epochs}")
    raw_model = model.to(device)
    if channels_last:
        raw_model = raw_model.to(memory_format=torch.channels_last)
    amp_dtype = _amp_dtype(amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    steps = len(train_loader)  # type: ignore[arg-type]
    optimizer = build_optimizer(raw_model, lr, momentum, weight_decay, nesterov)
    scheduler = build_scheduler(
        optimizer,
        schedule,
        epochs=epochs,
        steps_per_epoch=steps,
        milestones=milestones,
        gamma=gamma,
        warmup_epochs=warmup_epochs,
    )
    config = {
        "model": model_name or type(raw_model).__name__,
        "epochs": epochs,
        "batch_size": _loader_batch_size(train_loader),
        "steps_per_epoch": steps,
        "lr": lr,
        "momentum": momentum,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
        "label_smoothing": label_smoothing,
        "schedule": schedule,
        "milestones": list(milestones) if milestones else None,
        "gamma": gamma,
        "warmup_epochs": warmup_epochs,
        "aux_weight": aux_weight,
        "seed": seed,
        "world_size": world,
        "amp": amp,
    }

    out = Path(out_dir) if out_dir is not None else None
    history = History()
    start_epoch, wall_before = 0, 0.0
    ckpt_path = out / CHECKPOINT if out is not None else None
    if resume and ckpt_path is None:
        raise ValueError("resume=True needs out_dir (where checkpoint.pt is)")
    if resume and ckpt_path is not None and ckpt_path.is_file():
        ckpt = _load_checkpoint(ckpt_path)
        _check_config(ckpt.get("config", {}), config, ckpt_path)
        try:
            raw_model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            scaler.load_state_dict(ckpt["scaler"])
            if ckpt.get("loader") is not None and hasattr(train_loader, "load_state_dict"):
                train_loader.load_state_dict(ckpt["loader"])
            rng = ckpt["rng"]
            _set_rng_state(rng[rank] if rank < len(rng) else rng[0])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(
                f"{ckpt_path} does not fit this model and training setup: {err}\n"
                "It was left untouched; use another output directory or start afresh."
            ) from None
        history = History(ckpt["history"])
        start_epoch = int(ckpt["epoch"])
        wall_before = float(ckpt.get("wall_time_s", 0.0))
        if not quiet:
            print(f"resuming from {CHECKPOINT} after epoch {start_epoch} of {epochs}")
    else:
        if resume and not quiet:
            print(f"no {CHECKPOINT} in {out}; starting from scratch")
        if seed is not None:
            seed_everything(seed)

    train_model: nn.Module = raw_model
    eval_model: nn.Module = raw_model
    if compile:
        train_model = eval_model = torch.compile(raw_model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
        train_model = DDP(train_model, device_ids=ids)

    card = run_card(
        model=raw_model,
        model_name=model_name,
        train_loader=train_loader,
        val_loader=val_loader,
        device=device,
        seed=seed,
        profile=profile,
        config=config,
        amp_dtype=amp_dtype,
        channels_last=channels_last,
        compiled=compile,
    )
    history.run = card
    last = stop_after if stop_after is not None else epochs
    last = min(last, epochs)
    check_every = 1 if device.type == "cpu" else 20
    never = 2**62
    bar = tqdm(
        total=max(0, last - start_epoch) * steps,
        desc=f"{config['model']}",
        unit="batch",
        disable=quiet,
        dynamic_ncols=True,
    )
    try:
        for epoch in range(start_epoch, last):
            bar.set_description(f"{config['model']} epoch {epoch + 1}/{epochs}")
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
            train_model.train()
            epoch_lr = optimizer.param_groups[0]["lr"]
            sums = torch.zeros(2, dtype=torch.float64, device=device)
            count = 0
            bad_step = torch.full((), never, dtype=torch.long, device=device)
            t0 = time.perf_counter()
            step = -1
            for step, (x, y) in enumerate(train_loader):
                x, y = _to_device(x, y, device, channels_last)
                with _autocast(device, amp_dtype):
                    loss, logits = _objective(
                        train_model(x), y, label_smoothing, aux_weight, loss_fn
                    )
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                with torch.no_grad():
                    loss_d = loss.detach().double()
                    bad_step = torch.where(
                        (bad_step == never) & ~torch.isfinite(loss_d), step, bad_step
                    )
                    sums += torch.stack([loss_d * len(y), (logits.argmax(1) == y).sum().double()])
                    count += len(y)
                if (step + 1) % check_every == 0 or step + 1 == steps:
                    _raise_if_nonfinite(bad_step, never, epoch, steps, out)
                bar.update(1)
            if step + 1 != steps:
                raise RuntimeError(
                    f"train_loader yielded {step + 1} batches in epoch {epoch + 1}; "
                    f"len(train_loader) is {steps}"
                )
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            train_seconds = time.perf_counter() - t0
            sums = torch.cat([sums, sums.new_tensor([count])])
            cdist.all_reduce_sum(sums)
            loss_sum, correct, n = sums.tolist()
            record: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": loss_sum / n,
                "train_acc": correct / n,
                "val_loss": None,
                "val_acc": None,
                "lr": epoch_lr,
            }
            if val_loader is not None:
                result = evaluate(
                    eval_model,
                    val_loader,
                    device=device,
                    amp=amp,
                    channels_last=channels_last,
                    progress=not quiet,
                )
                record["val_loss"], record["val_acc"] = result["loss"], result["acc"]
            record["seconds"] = time.perf_counter() - t0
            record["images_per_s"] = n / train_seconds
            history.append(record)
            bar.set_postfix(
                loss=f"{record['train_loss']:.3f}",
                val_acc="-" if record["val_acc"] is None else f"{record['val_acc']:.1%}",
            )
            if not quiet:
                bar.write(_format_record(record, epochs))
            card["epochs_completed"] = epoch + 1
            card["wall_time_s"] = wall_before + time.perf_counter() - started
            rng_states = cdist.all_gather_objects(_rng_state())
            if main_proc and out is not None:
                _save_run(
                    out,
                    raw_model=raw_model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    scaler=scaler,
                    rng_states=rng_states,
                    train_loader=train_loader,
                    history=history,
                    config=config,
                    card=card,
                    epoch=epoch + 1,
                )
    finally:
        bar.close()
    card["epochs_completed"] = len(history)
    card["wall_time_s"] = wall_before + time.perf_counter() - started
    if main_proc and out is not None:
        _atomic_write_text(out / RUN_CARD, json.dumps(card, indent=1) + "\n")
    if not quiet:
        print(_format_card(card))
    return history


def _raise_if_nonfinite(bad_step: Tensor, never: int, epoch: int, steps: int, out: Any) -> None:
    flag = bad_step.clone()
    if cdist.rank_and_world()[1] > 1:
        import torch.distributed as dist

        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    step = int(flag)
    if step != never:
        kept = (
            f" The last checkpoint in {out} (from before epoch {epoch + 1}) is kept."
            if out is not None
            else ""
        )
        raise NonFiniteLossError(
            f"The training loss became NaN or infinite at epoch {epoch + 1}, step {step + 1} "
            f"of {steps}. Training stopped.{kept} Try a lower learning rate, a warm-up "
            "(warmup_epochs), or check the data for NaNs."
        )


def _format_record(r: Mapping[str, Any], epochs: int) -> str:
    val = (
        ""
        if r["val_acc"] is None
        else f"  val loss {r['val_loss']:.3f} acc {100 * r['val_acc']:5.1f}%"
    )
    return (
        f"epoch {r['epoch']:>3}/{epochs}  train loss {r['train_loss']:.3f} "
        f"acc {100 * r['train_acc']:5.1f}%{val}  lr {r['lr']:.3g}  {r['seconds']:.1f} s  "
        f"{r['images_per_s']:,.0f} img/s"
    )


def _save_run(
    out: Path,
    *,
    raw_model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    rng_states: list[dict[str, Any]],
    train_loader: Any,
    history: History,
    config: Mapping[str, Any],
    card: Mapping[str, Any],
    epoch: int,
) -> None:
    """Write checkpoint.pt, history.json and run.json, each atomically."""
    ckpt = {
        "format": _CHECKPOINT_FORMAT,
        "version": _CHECKPOINT_VERSION,
        "epoch": epoch,
        "model": raw_model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng_states,
        "loader": train_loader.state_dict() if hasattr(train_loader, "state_dict") else None,
        "history": list(history),
        "config": dict(config),
        "wall_time_s": card.get("wall_time_s", 0.0),
    }
    atomic_write(out / CHECKPOINT, lambda f: torch.save(ckpt, f))
    history.save(out / HISTORY)
    _atomic_write_text(out / RUN_CARD, json.dumps(card, indent=1) + "\n")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``cnnlib-train`` / ``python -m cnnlib.train`` argument parser."""
    p = argparse.ArgumentParser(
        prog="python -m cnnlib.train",
        description="Train a cnnlib model; writes history.json, run.json and checkpoint.pt "
        "into --out. Runs unchanged under `torchrun --nproc_per_node=N -m cnnlib.train ...` "
        "(DistributedDataParallel; only rank 0 writes). Settings left out come from the "
        "profile.",
    )
    p.add_argument("--model", required=True, help="a name of cnnlib.models.list_models()")
    p.add_argument(
        "--dataset",
        choices=("cifar10", "imagenette"),
        default="cifar10",
        help="cifar10 lives on the device (DeviceLoader); imagenette uses torchvision's "
        "Dataset/DataLoader (default: %(default)s)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="directory holding cifar-10-batches-py/, an image folder (train/, test/) or a "
        "zip of one (default: $CNNLIB_DATA, then the download directory)",
    )
    p.add_argument("--no-download", action="store_true", help="never try torchvision's download")
    p.add_argument(
        "--profile",
        choices=("smoke", "cpu", "gpu"),
        default=None,
        help="sizes, epochs and batch size for the flags left out (default: $CNNLIB_PROFILE, "
        "else gpu with CUDA, cpu without); smoke may fall back to synthetic data",
    )
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the profile's)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="batch size per process (default: the profile's)",
    )
    p.add_argument(
        "--lr", type=float, default=None, help="peak learning rate (default: the profile's)"
    )
    p.add_argument(
        "--momentum", type=float, default=0.9, help="SGD momentum (default: %(default)s)"
    )
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum")
    p.add_argument(
        "--weight-decay", type=float, default=1e-4, help="L2 weight decay (default: %(default)s)"
    )
    p.add_argument(
        "--label-smoothing", type=float, default=0.0, help="label smoothing (default: %(default)s)"
    )
    p.add_argument(
        "--schedule", choices=SCHEDULES, default="step", help="lr schedule (default: %(default)s)"
    )
    p.add_argument(
        "--milestones",
        type=int,
        nargs="+",
        default=None,
        help="epochs at which the step schedule divides the lr (default: 50%% and 75%%)",
    )
    p.add_argument(
        "--warmup-epochs",
        type=float,
        default=0.0,
        help="epochs of linear lr warm-up (default: %(default)s)",
    )
    p.add_argument(
        "--aux-weight",
        type=float,
        default=0.3,
        help="weight of auxiliary-classifier losses for models with several outputs "
        "(GoogLeNet; default: %(default)s, as in the paper)",
    )
    p.add_argument(
        "--subset",
        type=int,
        default=None,
        help="train on N class-balanced images (default: the profile's size)",
    )
    p.add_argument(
        "--test-subset",
        type=int,
        default=None,
        help="evaluate on N class-balanced test images (default: the profile's size)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=128,
        help="crop size for imagenette in pixels (default: %(default)s)",
    )
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (imagenette)")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of model, data order and subsets (default: %(default)s)",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    p.add_argument(
        "--stop-after", type=int, default=None, help="stop after this epoch (resume later)"
    )
    p.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mixed precision on CUDA (default: the profile's; no-op on CPU)",
    )
    p.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels_last memory format (default: the profile's)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: automatic)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or printing")
    return p


def _positive(parser: argparse.ArgumentParser, name: str, value: int | float | None) -> None:
    if value is not None and value <= 0:
        parser.error(f"argument --{name}: expected a positive number, got {value}")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "lr", "subset", "test_subset", "stop_after"):
        _positive(parser, name.replace("_", "-"), getattr(args, name))
    try:
        prof = get_profile(args.profile, device=args.device)
    except ValueError as err:
        parser.error(str(err))
    info = cdist.init_from_env(prof.device)
    try:
        return _run(args, prof, info)
    except (
        cdata.DataNotFoundError,
        CheckpointError,
        NonFiniteLossError,
        ValueError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        cdist.cleanup()


def _run(args: argparse.Namespace, prof: Profile, info: cdist.DistInfo) -> int:
    """Load the data, build the model and loaders, and fit (the CLI's work)."""
    device = torch.device(info.device)
    epochs = args.epochs or prof.epochs
    batch_size = args.batch_size or prof.batch_size
    lr = args.lr or prof.lr
    amp = prof.amp if args.amp is None else args.amp
    channels_last = prof.channels_last if args.channels_last is None else args.channels_last
    quiet = args.quiet or not info.is_main
    if args.model not in models.list_models():
        raise ValueError(
            f"unknown model {args.model!r}; known models: {', '.join(models.list_models())}"
        )

    def load() -> tuple[Any, Any]:
        if args.dataset == "cifar10":
            return cdata.load_cifar10(
                args.data_dir,
                train_per_class=None if args.subset else prof.train_per_class,
                train_total=args.subset,
                test_per_class=None if args.test_subset else prof.test_per_class,
                seed=args.seed,
                download=not args.no_download,
                allow_synthetic=prof.allow_synthetic,
                progress=not quiet,
            )
        train, test = cdata.load_imagenette(
            args.data_dir, image_size=args.image_size, download=not args.no_download
        )
        if args.subset:
            train = cdata.subset_dataset(train, total=args.subset, seed=args.seed)
        if args.test_subset:
            test = cdata.subset_dataset(test, total=args.test_subset, seed=args.seed)
        return train, test

    # rank 0 decodes (and caches) first, the others then read the cache
    if info.is_main:
        train_set, test_set = load()
    cdist.barrier()
    if not info.is_main:
        train_set, test_set = load()
    if args.dataset == "cifar10" and args.test_subset:
        test_set = test_set.subset(total=args.test_subset, seed=args.seed)
    if len(train_set) < batch_size * max(1, info.world_size) and not quiet:
        print(f"note: {len(train_set)} training images, fewer than one batch per process")

    if args.dataset == "cifar10":
        train_loader = cdata.DeviceLoader(
            train_set, batch_size, train=True, device=device, seed=args.seed,
            channels_last=channels_last,
        )  # fmt: skip
        val_loader = cdata.DeviceLoader(
            test_set, 2 * batch_size, train=False, device=device, channels_last=channels_last
        )
    else:
        workers = prof.num_workers if args.workers is None else args.workers
        train_loader = cdata.EpochDataLoader(
            train_set, batch_size, train=True, num_workers=workers, seed=args.seed
        )
        val_loader = cdata.EpochDataLoader(
            test_set, 2 * batch_size, train=False, num_workers=workers, seed=args.seed
        )
    seed_everything(args.seed)
    model = models.create(args.model, num_classes=10)
    fit(
        model,
        train_loader,
        val_loader,
        epochs=epochs,
        lr=lr,
        momentum=args.momentum,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        schedule=args.schedule,
        milestones=args.milestones,
        warmup_epochs=args.warmup_epochs,
        aux_weight=args.aux_weight,
        device=device,
        amp=amp,
        channels_last=channels_last,
        compile=args.compile,
        out_dir=args.out,
        resume=args.resume,
        stop_after=args.stop_after,
        seed=args.seed,
        profile=prof.name,
        model_name=args.model,
        quiet=quiet,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
