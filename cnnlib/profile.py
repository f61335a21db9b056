"""Run profiles: how big a run the book's notebooks make on the machine at hand.

``smoke`` (``CNNLIB_PROFILE=smoke``: the tests; tiny data, real if present, else synthetic),
``cpu`` (the default without CUDA: CIFAR-10 subsets, <= 10 minutes per notebook on 2 cores) and
``gpu`` (the default with CUDA: full CIFAR-10, <= 10 minutes on a Colab T4); book/running.md has
the table. A profile is plain data: whoever needs one is given one (a notebook by
:func:`cnnlib.notebook.setup`, the CLI by ``--profile``); nothing here keeps a current profile.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch

from cnnlib.runtime import CnnlibError, default_device

__all__ = ["PROFILES", "Profile", "ProfileError", "get_profile"]

#: Environment variable that selects the profile (``smoke``, ``cpu`` or ``gpu``).
PROFILE_ENV = "CNNLIB_PROFILE"


class ProfileError(CnnlibError, ValueError):
    """An unknown profile name."""


@dataclass(frozen=True)
class Profile:
    """The sizes of a run: dataset, epochs, batch size, and the device it runs on.

    ``train_per_class`` / ``test_per_class`` of ``None`` mean the full split (5,000 / 1,000
    images per class for CIFAR-10); otherwise a deterministic class-balanced subset of that many
    images per class is used (:meth:`cnnlib.data.ImageTensorDataset.subset`).
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
        where = (
            f"${PROFILE_ENV}"
            if name == os.environ.get(PROFILE_ENV, "").strip().lower()
            else "argument"
        )
        raise ProfileError(
            f"unknown profile {name!r} (from the {where}); expected one of: {', '.join(PROFILES)}"
        )
    device = device or default_device()
    try:
        torch.device(device)
    except RuntimeError as err:
        raise ProfileError(f"invalid device {device!r}: {err}") from None
    return replace(PROFILES[name], device=device)
