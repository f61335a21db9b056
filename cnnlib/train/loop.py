"""The training loop: :func:`fit` in short named steps (complete the config, set up, resume or
seed, train one epoch, validate, record, save) and :func:`evaluate`. It reads top to bottom like
nanoGPT's ``train.py``; each step is a few lines below it."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from cnnlib.distributed import all_gather_objects, is_main, rank_and_world
from cnnlib.runtime import (
    CnnlibError,
    atomic_write_json,
    default_device,
    eval_mode,
    resolve_device,
    seed_everything,
)
from cnnlib.train.checkpoint import (
    CHECKPOINT,
    CheckpointError,
    check_resumable,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from cnnlib.train.config import ConfigError, TrainConfig
from cnnlib.train.metrics import Accumulator
from cnnlib.train.optim import build_optimizer, build_scheduler
from cnnlib.train.record import HISTORY, RUN_CARD, History, format_card, format_record, run_card

__all__ = ["NonFiniteLossError", "evaluate", "fit"]

LossFn = Callable[[Any, Tensor], Tensor]
_NEVER = 2**62  # "no bad step yet"


class NonFiniteLossError(CnnlibError, FloatingPointError):
    """The training or validation loss became NaN or infinite; the last checkpoint is kept."""


def fit(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    config: TrainConfig | None = None,
    *,
    loss_fn: LossFn | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
) -> History:
    """Train ``model`` on ``train_loader`` as ``config`` says; evaluate on ``val_loader`` after
    each epoch; return the :class:`History` (run card in ``history.run``).

    ``loss_fn(outputs, labels)`` replaces the cross-entropy. Given ``out_dir``, each epoch writes
    ``checkpoint.pt``, ``history.json`` and ``run.json`` atomically (rank 0 only); ``resume``
    continues from the checkpoint to exactly the result of an uninterrupted run; ``stop_after``
    stops after that epoch as if interrupted. Raises :class:`NonFiniteLossError` (keeping the last
    good checkpoint), :class:`CheckpointError` or :class:`ConfigError`.
    """
    started = time.perf_counter()
    quiet = quiet or not is_main()
    config = _complete(config or TrainConfig(), model, train_loader)
    run = _setup(model, train_loader, config, loss_fn, out_dir)
    history, first, wall_before = _resume_or_seed(run, train_loader, resume, quiet)
    card = history.run = run_card(
        config, run.model, train_loader, val_loader, run.device, run.amp_dtype
    )
    last = min(stop_after if stop_after is not None else config.epochs, config.epochs)
    bar = tqdm(
        total=max(0, last - first) * run.steps, unit="batch", disable=quiet, dynamic_ncols=True
    )
    with bar:
        for epoch in range(first, last):
            bar.set_description(f"{config.model} epoch {epoch + 1}/{config.epochs}")
            t0 = time.perf_counter()
            record = _train_one_epoch(run, train_loader, epoch, bar)
            if val_loader is not None:
                record |= _validate(run, val_loader, epoch, quiet)
            record["seconds"] = time.perf_counter() - t0
            history.append(record)
            _report(bar, record, config.epochs, quiet)
            card |= {
                "epochs_completed": epoch + 1,
                "wall_time_s": wall_before + time.perf_counter() - started,
            }
            _save(run, train_loader, history, card, epoch + 1)
    card |= {
        "epochs_completed": len(history),
        "wall_time_s": wall_before + time.perf_counter() - started,
    }
    if run.out is not None and is_main():
        atomic_write_json(run.out / RUN_CARD, card)
    if not quiet:
        print(format_card(card))
    return history


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
    """Mean cross-entropy and top-1 accuracy of ``model`` over ``loader``: ``{"loss", "acc",
    "n"}``, over every process under ``torch.distributed``. Restores the model's modes."""
    device = _loader_device(loader) if device is None else torch.device(device)
    dtype = _amp_dtype(amp, device)
    metrics = Accumulator(device)
    total = len(loader) if hasattr(loader, "__len__") else None
    batches = tqdm(
        loader, total=total, desc="evaluating", unit="batch", leave=False, disable=not progress
    )
    with eval_mode(model):
        for x, y in batches:
            x, y = _to_device(x, y, device, channels_last)
            with _autocast(device, dtype):
                logits, _ = _split_outputs(model(x))
            metrics.add(F.cross_entropy(logits.float(), y, reduction="sum"), logits, y)
    return metrics.result()


# --------------------------------------------------------------------------------------------
# The steps of fit
# --------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What one training run holds between its steps."""

    config: TrainConfig
    model: nn.Module  # the model itself: what is saved
    train_model: nn.Module  # compiled and/or DistributedDataParallel
    eval_model: nn.Module  # compiled or not, never DDP
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    device: torch.device
    amp_dtype: torch.dtype | None
    steps: int  # batches per epoch
    loss_fn: LossFn | None
    out: Path | None

    @property
    def facts(self) -> dict[str, int]:
        """What the data fixes, beside the config, for an exact resume."""
        return {"steps_per_epoch": self.steps, "world_size": rank_and_world()[1]}


def _complete(config: TrainConfig, model: nn.Module, loader: Any) -> TrainConfig:
    """``config`` with the model name, batch size and device the run will really use."""
    batch_size = getattr(loader, "batch_size", None)
    if config.batch_size is not None and batch_size is not None and batch_size != config.batch_size:
        raise ConfigError(
            f"batch_size: the config says {config.batch_size}, but train_loader gives batches "
            f"of {batch_size}; leave batch_size to the loader or make them agree"
        )
    device = config.device or getattr(loader, "device", None) or default_device()
    return config.replace(
        model=config.model or type(model).__name__,
        batch_size=config.batch_size or batch_size,
        device=str(resolve_device(device)),
    )


def _setup(
    model: nn.Module,
    loader: Any,
    config: TrainConfig,
    loss_fn: LossFn | None,
    out_dir: str | os.PathLike | None,
) -> _Run:
    """Move the model, build the optimiser, schedule and scaler; compile and wrap for DDP."""
    device = torch.device(config.device)
    raw = model.to(device)
    if config.channels_last:
        raw = raw.to(memory_format=torch.channels_last)
    amp_dtype = _amp_dtype(config.amp, device)
    steps = len(loader)
    optimizer = build_optimizer(
        raw, config.lr, config.momentum, config.weight_decay, config.nesterov, config.lr_scale
    )
    scheduler = build_scheduler(
        optimizer,
        config.schedule,
        epochs=config.epochs,
        steps_per_epoch=steps,
        milestones=config.milestones,
        gamma=config.gamma,
        warmup_epochs=config.warmup_epochs,
    )
    train_model = eval_model = torch.compile(raw) if config.compile else raw
    if rank_and_world()[1] > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
        train_model = DDP(train_model, device_ids=ids)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    out = Path(out_dir) if out_dir is not None else None
    return _Run(
        config,
        raw,
        train_model,
        eval_model,
        optimizer,
        scheduler,
        scaler,
        device,
        amp_dtype,
        steps,
        loss_fn,
        out,
    )


def _resume_or_seed(
    run: _Run, loader: Any, resume: bool, quiet: bool
) -> tuple[History, int, float]:
    """Restore every state from the checkpoint, or seed a fresh run: (history, epoch, seconds)."""
    if resume and run.out is None:
        raise ConfigError("resume=True needs out_dir (where checkpoint.pt is)")
    path = run.out / CHECKPOINT if run.out is not None else None
    if not (resume and path is not None and path.is_file()):
        if resume and not quiet:
            print(f"no {CHECKPOINT} in {run.out}; starting from scratch")
        if run.config.seed is not None:
            seed_everything(run.config.seed)
        return History(), 0, 0.0
    ckpt = load_checkpoint(path)
    check_resumable(ckpt, run.config.to_dict(), run.facts, path)
    try:
        run.model.load_state_dict(ckpt["model"])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        run.scheduler.load_state_dict(ckpt["scheduler"])
        run.scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("loader") is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(ckpt["loader"])
        rank, rngs = rank_and_world()[0], ckpt["rng"]
        set_rng_state(rngs[rank] if rank < len(rngs) else rngs[0])
    except (KeyError, RuntimeError, ValueError) as err:
        raise CheckpointError(
            f"{path} does not fit this model and training setup: {err}\n"
            "It was left untouched; use another output directory or start afresh."
        ) from None
    if not quiet:
        print(f"resuming from {CHECKPOINT} after epoch {ckpt['epoch']} of {run.config.epochs}")
    return History(ckpt["history"]), int(ckpt["epoch"]), float(ckpt.get("wall_time_s", 0.0))


def _train_one_epoch(run: _Run, loader: Any, epoch: int, bar: tqdm) -> dict[str, Any]:
    """One pass over ``loader``: the epoch's record (training loss and accuracy, lr, speed)."""
    if hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)
    run.train_model.train()
    lr = run.optimizer.param_groups[0]["lr"]
    metrics = Accumulator(run.device)
    bad_step = torch.full((), _NEVER, dtype=torch.long, device=run.device)
    check_every = 1 if run.device.type == "cpu" else 20  # a host sync every few steps on GPU
    t0, step = time.perf_counter(), -1
    for step, (x, y) in enumerate(loader):
        loss, logits, y = _step(run, x, y)
        with torch.no_grad():
            loss = loss.detach().double()
            bad_step = torch.where((bad_step == _NEVER) & ~torch.isfinite(loss), step, bad_step)
            metrics.add(loss * len(y), logits, y)
        if (step + 1) % check_every == 0 or step + 1 == run.steps:
            _raise_if_nonfinite(bad_step, epoch, run)
        bar.update(1)
    if step + 1 != run.steps:
        raise RuntimeError(
            f"train_loader yielded {step + 1} batches in epoch {epoch + 1}; "
            f"len(train_loader) is {run.steps}"
        )
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    seconds, m = time.perf_counter() - t0, metrics.result()
    return {
        "epoch": epoch + 1,
        "train_loss": m["loss"],
        "train_acc": m["acc"],
        "val_loss": None,
        "val_acc": None,
        "lr": lr,
        "images_per_s": m["n"] / seconds,
    }


def _step(run: _Run, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Forward, backward and an optimiser step on one batch: (loss, main logits, labels)."""
    x, y = _to_device(x, y, run.device, run.config.channels_last)
    with _autocast(run.device, run.amp_dtype):
        loss, logits = _objective(run.train_model(x), y, run.config, run.loss_fn)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.scheduler.step()
    return loss, logits, y


def _validate(run: _Run, loader: Any, epoch: int, quiet: bool) -> dict[str, float]:
    """The validation loss and accuracy; :class:`NonFiniteLossError` if the loss is not finite."""
    c = run.config
    result = evaluate(
        run.eval_model,
        loader,
        device=run.device,
        amp=c.amp,
        channels_last=c.channels_last,
        progress=not quiet,
    )
    if not math.isfinite(result["loss"]):
        raise NonFiniteLossError(
            f"The validation loss became NaN or infinite after epoch {epoch + 1}. Training "
            f"stopped.{_kept(run, epoch)} Try a lower learning rate or a warm-up."
        )
    return {"val_loss": result["loss"], "val_acc": result["acc"]}


def _report(bar: tqdm, record: dict[str, Any], epochs: int, quiet: bool) -> None:
    val = record["val_acc"]
    bar.set_postfix(
        loss=f"{record['train_loss']:.3f}", val_acc="-" if val is None else f"{val:.1%}"
    )
    if not quiet:
        bar.write(format_record(record, epochs))


def _save(run: _Run, loader: Any, history: History, card: dict, epoch: int) -> None:
    """Write checkpoint.pt, history.json and run.json (rank 0; every rank gives its RNG state)."""
    if run.out is None:
        return
    rngs = all_gather_objects(rng_state())
    if not is_main():
        return
    save_checkpoint(
        run.out / CHECKPOINT,
        {
            "epoch": epoch,
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "scaler": run.scaler.state_dict(),
            "rng": rngs,
            "loader": loader.state_dict() if hasattr(loader, "state_dict") else None,
            "history": list(history),
            "config": run.config.to_dict(),
            "run": run.facts,
            "wall_time_s": card.get("wall_time_s", 0.0),
        },
    )
    history.save(run.out / HISTORY)
    atomic_write_json(run.out / RUN_CARD, card)


# --------------------------------------------------------------------------------------------
# Helpers: loss, non-finite checks, devices, mixed precision
# --------------------------------------------------------------------------------------------


def _split_outputs(out: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
    """(main logits, auxiliary logits) of a model's output (a tensor or a (named)tuple)."""
    if isinstance(out, Tensor):
        return out, ()
    if isinstance(out, tuple | list) and out and isinstance(out[0], Tensor):
        return out[0], tuple(o for o in out[1:] if o is not None)
    raise TypeError(
        f"expected the model to return logits (a Tensor) or a tuple (logits, aux...); "
        f"got {type(out).__name__}"
    )


def _objective(
    out: Any, y: Tensor, c: TrainConfig, loss_fn: LossFn | None
) -> tuple[Tensor, Tensor]:
    """(loss to minimise, main logits): cross-entropy plus ``aux_weight`` times each auxiliary
    head's, or ``loss_fn``."""
    logits, aux = _split_outputs(out)
    if loss_fn is not None:
        return loss_fn(out, y), logits
    loss = F.cross_entropy(logits, y, label_smoothing=c.label_smoothing)
    if aux and c.aux_weight is None:
        raise ConfigError(
            f"the model returned {1 + len(aux)} outputs in training (main and auxiliary logits); "
            "set aux_weight (--aux-weight; 0.3 in the GoogLeNet paper) or pass loss_fn="
        )
    for a in aux:
        loss = loss + c.aux_weight * F.cross_entropy(a, y, label_smoothing=c.label_smoothing)
    return loss, logits


def _kept(run: _Run, epoch: int) -> str:
    if run.out is None:
        return ""
    return f" The last checkpoint in {run.out} (from before epoch {epoch + 1}) is kept."


def _raise_if_nonfinite(bad_step: Tensor, epoch: int, run: _Run) -> None:
    """:class:`NonFiniteLossError` if any process saw a non-finite training loss this epoch."""
    flag = bad_step.clone()
    if rank_and_world()[1] > 1:
        import torch.distributed as dist

        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    step = int(flag)
    if step == _NEVER:
        return
    raise NonFiniteLossError(
        f"The training loss became NaN or infinite at epoch {epoch + 1}, step {step + 1} of "
        f"{run.steps}. Training stopped.{_kept(run, epoch)} Try a lower learning rate, a warm-up "
        "(warmup_epochs), or check the data for NaNs."
    )


def _loader_device(loader: Any) -> torch.device:
    dev = getattr(loader, "device", None)
    return torch.device(dev) if dev is not None else torch.device(default_device())


def _to_device(x: Tensor, y: Tensor, device: torch.device, channels_last: bool):
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    if channels_last and x.dim() == 4 and not x.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def _amp_dtype(amp: bool, device: torch.device) -> torch.dtype | None:
    """bf16 where the GPU has it natively, else fp16; ``None`` (off) on CPU or when not asked."""
    if not amp or device.type != "cuda":
        return None
    return (
        torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float16
    )


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)
