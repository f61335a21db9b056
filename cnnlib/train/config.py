"""One :class:`TrainConfig`: what the CLI builds, what ``fit`` takes, what the checkpoint stores
and what the run card prints (nanoGPT keeps its config the same way)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from cnnlib.runtime import CnnlibError

__all__ = ["SCHEDULES", "ConfigError", "TrainConfig"]

SCHEDULES = ("step", "cosine", "onecycle", "constant")
#: Fields that do not change what a run computes, so a resumed run may differ in them.
RESUME_FREE = ("device", "compile", "channels_last", "profile")


class ConfigError(CnnlibError, ValueError):
    """A training setting outside its range; the message names the setting (``field``, also an
    attribute) and the range."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run. ``None`` means "decide from the data": the model's class
    name, the loader's batch size, the loader's device."""

    epochs: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    schedule: str = "step"
    milestones: tuple[int, ...] | None = None  # step schedule; default 50% and 75% of epochs
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    aux_weight: float | None = None  # weight of auxiliary heads' losses (GoogLeNet: 0.3)
    #: (module name, multiplier) pairs: the parameters of each named module (and its children)
    #: train at lr x multiplier, every other parameter at lr
    lr_scale: tuple[tuple[str, float], ...] = ()
    batch_size: int | None = None
    seed: int | None = None
    model: str | None = None
    device: str | None = None
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    profile: str | None = None

    @classmethod
    def from_profile(cls, profile: Any, **changes: Any) -> TrainConfig:
        """The profile's epochs, lr, device, amp and channels_last, then ``changes``."""
        base = {
            "epochs": profile.epochs,
            "lr": profile.lr,
            "device": profile.device,
            "amp": profile.amp,
            "channels_last": profile.channels_last,
            "profile": profile.name,
        }
        return cls(**(base | changes)).validated()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (milestones as a list; ``lr_scale`` as a list of pairs, left
        out when empty, as records were written before it existed)."""
        d = asdict(self)
        d["milestones"] = list(self.milestones) if self.milestones is not None else None
        if self.lr_scale:
            d["lr_scale"] = [[name, scale] for name, scale in self.lr_scale]
        else:
            del d["lr_scale"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """The inverse of :meth:`to_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(unknown)}")
        d = dict(d)
        if d.get("milestones") is not None:
            d["milestones"] = tuple(d["milestones"])
        d["lr_scale"] = tuple((name, scale) for name, scale in d.get("lr_scale", ()))
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes``, validated."""
        return replace(self, **changes).validated()

    def validated(self) -> TrainConfig:
        """``self`` if every setting is in range, else :class:`ConfigError` naming the first
        that is not."""
        for name, problem in _problems(self):
            raise ConfigError(f"{name}: {problem}", field=name)
        return self


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


#: The range of every numeric setting: (test of a finite value, what is expected).
_RANGES = {
    "lr": (lambda v: v > 0, "a finite number > 0"),
    "momentum": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": (lambda v: v >= 0, "a finite number >= 0"),
    "label_smoothing": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "gamma": (lambda v: v > 0, "a finite number > 0"),
    "warmup_epochs": (lambda v: v >= 0, "a finite number >= 0"),
    "aux_weight": (lambda v: v >= 0, "a finite number >= 0 or None"),
}


def _is_count(v: Any, minimum: int = 1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _problems(c: TrainConfig) -> list[tuple[str, str]]:
    """``(setting, what is wrong)`` for every setting out of its range."""
    out = [
        (name, f"expected {expected}, got {getattr(c, name)!r}")
        for name, (ok, expected) in _RANGES.items()
        if not (name == "aux_weight" and c.aux_weight is None)
        and not (_finite(getattr(c, name)) and ok(getattr(c, name)))
    ]
    if not _is_count(c.epochs):
        out.append(("epochs", f"expected an integer >= 1, got {c.epochs!r}"))
    if c.batch_size is not None and not _is_count(c.batch_size):
        out.append(("batch_size", f"expected an integer >= 1, got {c.batch_size!r}"))
    if c.nesterov and not (_finite(c.momentum) and c.momentum > 0):
        out.append(("nesterov", "needs a momentum > 0"))
    if c.schedule not in SCHEDULES:
        out.append(("schedule", f"expected one of {', '.join(SCHEDULES)}, got {c.schedule!r}"))
    if c.milestones is not None and not all(_is_count(m) and m <= c.epochs for m in c.milestones):
        out.append(("milestones", f"expected epochs in [1, {c.epochs}], got {c.milestones!r}"))
    if not all(
        isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) and pair[0]
        and _finite(pair[1]) and pair[1] > 0
        for pair in c.lr_scale
    ):  # fmt: skip
        out.append(
            ("lr_scale", f"expected (module name, multiplier > 0) pairs, got {c.lr_scale!r}")
        )
    return out
