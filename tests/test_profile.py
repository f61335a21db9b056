"""cnnlib.profile: choosing the profile and the device, seeding, the notebooks' setup()."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from cnnlib import profile
from cnnlib.profile import PROFILES, Profile, get_profile, setup


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("CNNLIB_PROFILE", "CNNLIB_DEVICE", "CNNLIB_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))


def test_default_follows_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile().name == "cpu" and get_profile().device == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    p = get_profile()
    assert p.name == "gpu" and p.device == "cuda"
    assert get_profile("smoke").device == "cuda"  # profiles fix sizes; the device follows CUDA


def test_env_and_argument_choose(monkeypatch):
    monkeypatch.setenv("CNNLIB_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    assert get_profile("cpu").name == "cpu"  # an argument wins over the environment
    monkeypatch.setenv("CNNLIB_PROFILE", " GPU ")
    assert get_profile().name == "gpu"
    monkeypatch.setenv("CNNLIB_DEVICE", "cpu")
    assert get_profile().device == "cpu"
    assert get_profile(device="meta").device == "meta"


def test_unknown_profile_and_device_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="expected one of: smoke, cpu, gpu"):
        get_profile("huge")
    monkeypatch.setenv("CNNLIB_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"'fast' \(from \$CNNLIB_PROFILE\)"):
        get_profile()
    with pytest.raises(ValueError, match="Invalid device"):
        get_profile("cpu", device="toaster")


def test_profiles_are_frozen_and_sized_for_their_budgets():
    p = get_profile("cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.epochs = 100  # type: ignore[misc]
    smoke, cpu, gpu = PROFILES["smoke"], PROFILES["cpu"], PROFILES["gpu"]
    assert smoke.allow_synthetic and not cpu.allow_synthetic and not gpu.allow_synthetic
    # the training work (images seen) grows from smoke to cpu to gpu
    work = [p.train_size * p.epochs for p in (smoke, cpu)] + [50_000 * gpu.epochs]
    assert work == sorted(work) and work[0] <= 1_000
    assert gpu.train_per_class is None and gpu.amp and gpu.channels_last
    assert cpu.train_size == 10 * cpu.train_per_class and gpu.train_size is None
    assert {"name", "device", "epochs", "batch_size"} <= set(p.as_dict())


def test_setup_seeds_everything_and_prints_a_run_card(capsys, monkeypatch):
    monkeypatch.setenv("CNNLIB_PROFILE", "smoke")
    p = setup(seed=3)
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    q = setup(seed=3)
    assert draws == (random.random(), np.random.rand(), torch.rand(1).item())
    assert isinstance(p, Profile) and p == q and p.name == "smoke"
    out = capsys.readouterr().out
    assert "profile  smoke" in out and ("device   cpu" in out or "device   cuda" in out)
    assert f"torch {torch.__version__}" in out and "cnnlib" in out and "seed     3" in out
    assert "data     CIFAR-10 not found locally" in out


def test_setup_names_the_data_source(capsys, monkeypatch, make_cifar_copy):
    root, _ = make_cifar_copy("jpg", train=1, test=1)
    monkeypatch.setenv("CNNLIB_DATA", str(root))
    setup(seed=0, profile="cpu")
    assert f"data     CIFAR-10 (JPEG copy) from {root.name}/" in capsys.readouterr().out
    setup(seed=0, profile="cpu", verbose=False)
    assert capsys.readouterr().out == ""


def test_device_name_is_readable():
    name = profile.device_name("cpu")
    assert name and "threads" in name
    assert set(profile.versions()) == {"python", "torch", "torchvision", "cnnlib"}
