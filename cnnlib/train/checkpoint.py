"""Checkpoints that resume a run exactly: model, optimiser, schedule, scaler, loader position and
every RNG, written atomically; a checkpoint of another run is refused and left untouched."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cnnlib.runtime import CnnlibError, atomic_write
from cnnlib.train.config import RESUME_FREE

__all__ = [
    "CHECKPOINT",
    "CheckpointError",
    "check_resumable",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]

CHECKPOINT = "checkpoint.pt"
_FORMAT = "cnnlib.train checkpoint"
_VERSION = 2  # 2: "config" is a TrainConfig dict and "run" holds the loader's facts


class CheckpointError(CnnlibError, RuntimeError):
    """A checkpoint could not be read, or belongs to a different run."""


def rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's and torch's generators (CUDA's too, when in use)."""
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


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    import numpy as np

    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (model, optimizer, ..., config, run) to ``path`` atomically."""
    ckpt = {"format": _FORMAT, "version": _VERSION, **state}
    atomic_write(path, lambda f: torch.save(ckpt, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; :class:`CheckpointError` (naming the
    file, which is left untouched) if it is unreadable or of another format or version."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read is reported the same way
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {err}). It was left "
            "untouched; delete it or choose another output directory to start afresh."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        raise CheckpointError(
            f"{path} is not a cnnlib.train checkpoint (expected a dict with "
            f"format={_FORMAT!r}). It was left untouched."
        )
    if ckpt.get("version") != _VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {ckpt.get('version')}; this cnnlib reads version "
            f"{_VERSION}. It was left untouched."
        )
    return ckpt


def _comparable(ckpt_part: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ckpt_part.items() if k not in RESUME_FREE}


def check_resumable(ckpt: Mapping[str, Any], config: dict, run: dict, path: Path) -> None:
    """:class:`CheckpointError` listing every difference if ``ckpt`` was written by a run with
    other settings (``config``) or other data facts (``run``: batch size, steps, processes)."""
    saved = {**_comparable(ckpt.get("config", {})), **ckpt.get("run", {})}
    now = {**_comparable(config), **run}
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
