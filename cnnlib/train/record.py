"""What a run leaves behind: its :class:`History` (one record per epoch) and its run card."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlib.distributed import rank_and_world
from cnnlib.runtime import atomic_write_json, device_name, versions
from cnnlib.train.config import TrainConfig

__all__ = ["HISTORY", "RUN_CARD", "History", "format_card", "format_record", "run_card"]

HISTORY = "history.json"
RUN_CARD = "run.json"


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
        """Write the records to ``path`` as strict JSON (atomically)."""
        atomic_write_json(path, list(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read ``history.json`` (or a run directory holding it, with its ``run.json``)."""
        path = Path(path)
        run = {}
        if path.is_dir():
            if (path / RUN_CARD).is_file():
                run = json.loads((path / RUN_CARD).read_text())
            path = path / HISTORY
        return cls(json.loads(path.read_text()), run=run)


def _describe(loader: Any) -> dict[str, Any]:
    ds = getattr(loader, "dataset", None) if loader is not None else None
    return {
        "name": getattr(ds, "name", type(ds).__name__ if ds is not None else None),
        "source": getattr(ds, "source", None),
        "size": len(ds) if ds is not None and hasattr(ds, "__len__") else None,
    }


def run_card(
    config: TrainConfig,
    model: nn.Module,
    train_loader: Any,
    val_loader: Any,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> dict[str, Any]:
    """What a reader needs to know about where a result came from (no absolute paths)."""
    train_d, val_d = _describe(train_loader), _describe(val_loader)
    return {
        "model": config.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "dataset": train_d["name"],
        "data_source": train_d["source"],
        "train_size": train_d["size"],
        "val_size": val_d["size"] if val_loader is not None else None,
        "device": device.type,
        "device_name": device_name(device),
        "world_size": rank_and_world()[1],
        "amp": {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype],
        "versions": versions(),
        "config": config.to_dict(),
    }


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def format_card(card: Mapping[str, Any]) -> str:
    """The run card as the few lines ``fit`` prints at the end."""
    v, c = card["versions"], card["config"]
    size = f"{card['train_size']:,} train" if card.get("train_size") is not None else "?"
    if card.get("val_size") is not None:
        size += f" / {card['val_size']:,} test"
    return "\n".join(
        [
            "run card",
            f"  model     {card['model']} ({card['parameters']:,} parameters)",
            f"  data      {card['dataset']} from {card['data_source']}: {size}",
            f"  training  {_epochs(c['epochs'])}, batch {c['batch_size']}, lr {c['lr']:g}"
            f" ({c['schedule']}), seed {c['seed']}, profile {c['profile']}",
            f"  device    {card['device_name']} x {card['world_size']}, amp {card['amp']},"
            f" channels_last {c['channels_last']}, compile {c['compile']}",
            f"  versions  torch {v['torch']}, torchvision {v['torchvision']}, cnnlib {v['cnnlib']}",
            f"  time      {card.get('wall_time_s', 0):.1f} s for "
            f"{_epochs(card.get('epochs_completed', 0))}",
        ]
    )


def format_record(r: Mapping[str, Any], epochs: int) -> str:
    """One epoch's record as the line ``fit`` prints."""
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
