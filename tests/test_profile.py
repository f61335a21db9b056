"""cnnlib.profile: choosing the profile and the device; profiles as plain data."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cnnlib import profile
from cnnlib.profile import PROFILES, ProfileError, get_profile


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
    with pytest.raises(
        ProfileError, match="'huge' .from the argument.; expected one of: smoke, cpu"
    ):
        get_profile("huge")
    monkeypatch.setenv("CNNLIB_PROFILE", "fast")
    with pytest.raises(ProfileError, match=r"'fast' \(from the \$CNNLIB_PROFILE\)"):
        get_profile()
    with pytest.raises(ValueError, match="invalid device"):
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


def test_profile_imports_no_data_and_keeps_no_current_profile():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(profile))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.startswith("cnnlib.") and m != "cnnlib.runtime"}
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Global)]
