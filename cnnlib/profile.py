"""Run profiles: how big a run the book's notebooks make on the machine at hand.

Three profiles, one per kind of machine (see DESIGN.md, "Profiles"):

========  ==========================================  =================================  ==========
profile   chosen when                                 data                               budget
========  ==========================================  =================================  ==========
smoke     ``CNNLIB_PROFILE=smoke`` (CI, nbval)        real CIFAR-10 if present, else a   60 s per
                                                      small synthetic set; tiny          notebook
cpu       default without CUDA                        class-balanced CIFAR-10 subsets    10 min on
                                                                                         2 cores
gpu       default with CUDA                           full CIFAR-10                      10 min on
                                                                                         a Colab T4
========  ==========================================  =================================  ==========

A notebook's first cell calls :func:`setup`, which picks the profile and the device, seeds every
random number generator and prints a short run card::

    from cnnlib.profile import setup
    P = setup(seed=0)
    history = fit(model, train, test, epochs=P.epochs, ...)

The sizes were chosen from measurements of ``resnet20`` (0.27M parameters): about 200-300
training images per second on 2 CPU cores (so the cpu profile trains two such models in well
under 10 minutes) and several thousand per second on a T4 with mixed precision and the
device-resident loader.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

__all__ = [
    "PROFILES",
    "Profile",
    "current_profile",
    "device_name",
    "get_profile",
    "seed_everything",
    "setup",
    "versions",
]

#: Environment variable that selects the profile (``smoke``, ``cpu`` or ``gpu``).
PROFILE_ENV = "CNNLIB_PROFILE"
#: Environment variable that overrides the device (for example ``cpu`` on a CUDA machine).
DEVICE_ENV = "CNNLIB_DEVICE"


@dataclass(frozen=True)
class Profile:
    """The sizes of a run: dataset, epochs, batch size, and the device it runs on.

    ``train_per_class`` / ``test_per_class`` of ``None`` mean the full split (5,000 / 1,000
    images per class for CIFAR-10); otherwise a deterministic class-balanced subset of that many
    images per class is used (:func:`cnnlib.data.balanced_subset`).
    """

    name: str
    device: str
    train_per_class: int | None
    test_per_class: int | None
    epochs: int
    batch_size: int
    lr: float = 0.1
    #: May the data fall back to a synthetic CIFAR-shaped set when no real data is found?
    allow_synthetic: bool = False
    #: Mixed precision (CUDA only) and the channels_last memory format (faster on CUDA and, with
    #: oneDNN, on the CPU too: about 1.15x for resnet20 on 2 cores, see benchmarks/train.py).
    amp: bool = False
    channels_last: bool = False
    #: DataLoader worker processes for datasets too large for memory (Imagenette).
    num_workers: int = 0
    description: str = ""

    @property
    def train_size(self) -> int | None:
        """Training images for 10 classes (``None``: the full split)."""
        return None if self.train_per_class is None else 10 * self.train_per_class

    @property
    def test_size(self) -> int | None:
        """Test images for 10 classes (``None``: the full split)."""
        return None if self.test_per_class is None else 10 * self.test_per_class

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (for run cards)."""
        return asdict(self)

    def fit_kwargs(self) -> dict[str, Any]:
        """The arguments of :func:`cnnlib.train.fit` this profile fixes:
        ``fit(model, train, test, **profile.fit_kwargs())``."""
        return {
            "epochs": self.epochs,
            "lr": self.lr,
            "device": self.device,
            "amp": self.amp,
            "channels_last": self.channels_last,
            "profile": self,
        }


def _cuda_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


#: The three profiles, without a device (``get_profile`` fills it in).
PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        device="cpu",
        train_per_class=20,
        test_per_class=10,
        epochs=2,
        batch_size=50,
        lr=0.05,
        allow_synthetic=True,
        channels_last=True,
        description="CI check: tiny data (real if present, else synthetic), <= 60 s each",
    ),
    "cpu": Profile(
        name="cpu",
        device="cpu",
        train_per_class=500,
        test_per_class=100,
        epochs=10,
        batch_size=128,
        lr=0.1,
        channels_last=True,
        description="2 CPU cores: CIFAR-10 subsets (5,000 train / 1,000 test), <= 10 min each",
    ),
    "gpu": Profile(
        name="gpu",
        device="cuda",
        train_per_class=None,
        test_per_class=None,
        epochs=15,
        batch_size=128,
        lr=0.1,
        amp=True,
        channels_last=True,
        num_workers=2,
        description="one GPU (Colab T4): full CIFAR-10, mixed precision, <= 10 min each",
    ),
}


_CURRENT: Profile | None = None


def current_profile() -> Profile | None:
    """The profile the last :func:`setup` chose (``None`` before any)."""
    return _CURRENT


def get_profile(name: str | None = None, device: str | None = None) -> Profile:
    """The profile called ``name``, or the one this machine runs by default.

    Without ``name``: ``$CNNLIB_PROFILE`` if set, else ``"gpu"`` when CUDA is available and
    ``"cpu"`` otherwise. The device is ``device``, else ``$CNNLIB_DEVICE``, else ``"cuda"`` when
    available and ``"cpu"`` otherwise (so the smoke and cpu profiles also use a GPU when there is
    one: they only fix the sizes).
    """
    if name is None:
        name = os.environ.get(PROFILE_ENV, "").strip().lower() or None
    if name is None:
        name = "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r} (from {'$' + PROFILE_ENV if name else 'argument'}); "
            f"expected one of: {', '.join(PROFILES)}"
        )
    device = device or os.environ.get(DEVICE_ENV, "").strip() or _cuda_device()
    try:
        torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"Invalid device {device!r}: {err}") from None
    return replace(PROFILES[name], device=device)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy (when installed) and torch on every device."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    torch.manual_seed(seed)  # also seeds every CUDA device


def device_name(device: str | torch.device) -> str:
    """A human-readable name of ``device``: the GPU model, or the CPU model and core count."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_name(index)
    if device.type == "cpu":
        model = ""
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        model = model or platform.processor() or platform.machine() or "CPU"
        return f"{model} ({torch.get_num_threads()} threads)"
    return str(device)


def versions() -> dict[str, str]:
    """torch, torchvision and cnnlib versions (and Python's)."""
    import torchvision

    import cnnlib

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cnnlib": cnnlib.__version__,
    }


def _data_source() -> str | None:
    """A short description of where CIFAR-10 would be read from, without decoding it."""
    try:
        from cnnlib import data
    except ImportError:  # pragma: no cover - data.py ships with cnnlib
        return None
    locate = getattr(data, "describe_cifar10_source", None)
    if locate is None:  # pragma: no cover
        return None
    try:
        return locate()
    except Exception:  # noqa: BLE001 - the run card must never fail
        return None


def setup(seed: int = 0, profile: str | None = None, verbose: bool = True) -> Profile:
    """Pick the profile and the device, seed everything, print a short run card.

    The first cell of every notebook calls this. Returns the :class:`Profile`, whose fields
    (``epochs``, ``batch_size``, ``train_per_class``, ...) the notebook passes on.
    """
    global _CURRENT
    prof = get_profile(profile)
    _CURRENT = prof
    seed_everything(seed)
    if prof.name == "gpu" and prof.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels
    if verbose:
        v = versions()
        source = _data_source()
        lines = [
            f"profile  {prof.name}: {prof.description}",
            f"device   {prof.device} ({device_name(prof.device)})",
            f"versions torch {v['torch']}, torchvision {v['torchvision']}, cnnlib {v['cnnlib']}"
            f" (Python {v['python']})",
            f"seed     {seed}",
        ]
        if source:
            lines.append(f"data     {source}")
        print("\n".join(lines))
    return prof
