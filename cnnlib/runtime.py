"""The machine a run happens on: seeding, devices, versions, atomic file writes, eval mode.

The bottom of cnnlib: it imports nothing from the package, so every other module may use it. It
holds the package's version, which ``cnnlib.__version__`` re-exports.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

__version__ = "0.1.0"

__all__ = [
    "CnnlibError",
    "atomic_write",
    "atomic_write_json",
    "default_device",
    "device_name",
    "eval_mode",
    "resolve_device",
    "seed_everything",
    "versions",
]

#: Environment variable that overrides the default device (for example ``cpu`` on a CUDA machine).
DEVICE_ENV = "CNNLIB_DEVICE"


class CnnlibError(Exception):
    """Base of the errors cnnlib raises on purpose: bad input, missing data, a failed run.

    Command-line entry points catch these (one clear line, non-zero exit) and nothing else, so a
    bug still shows its traceback.
    """


# ---------------------------------------------------------------------------------------------
# Seeds and devices
# ---------------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (on every device)."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def default_device() -> str:
    """``$CNNLIB_DEVICE`` if set, else ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    return os.environ.get(DEVICE_ENV, "").strip() or (
        "cuda" if torch.cuda.is_available() else "cpu"
    )


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` (default: :func:`default_device`) as a ``torch.device`` that exists here.

    Raises :class:`ValueError` for a malformed name and for a CUDA or MPS device that this
    machine does not have, instead of failing later inside the first ``.to(device)``.
    """
    try:
        dev = torch.device(device if device is not None else default_device())
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"invalid device {device!r}: {err}") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {str(dev)!r} requested, but this machine has no CUDA GPU")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {str(dev)!r} requested, but there are {count} CUDA GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested, but MPS is not available here")
    return dev


def device_name(device: str | torch.device) -> str:
    """A human-readable name of ``device``: the GPU model, or the CPU model and thread count."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_name(index)
    if device.type != "cpu":
        return str(device)
    model = ""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), ""
            )
    model = model or platform.processor() or platform.machine() or "CPU"
    return f"{model} ({torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    """Python, torch, torchvision and cnnlib versions."""
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cnnlib": __version__,
    }


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every module of ``model`` in eval mode; restore each module's own flag afterwards."""
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags:
            module.training = training


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO], Any], mode: str = "wb") -> None:
    """Write ``path`` through ``write(file)`` into a temporary file beside it, then
    ``os.replace`` it: readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    """Write ``obj`` to ``path`` as strict JSON (NaN and infinities become ``null``), atomically."""
    text = json.dumps(_strict(obj), indent=indent, allow_nan=False) + "\n"
    atomic_write(path, lambda f: f.write(text), mode="w")
