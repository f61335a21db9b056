"""cnnlib.notebook.setup: the first call of every chapter (profile, seeds, run card)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cnnlib.notebook import setup
from cnnlib.profile import Profile


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in ("CNNLIB_PROFILE", "CNNLIB_DEVICE", "CNNLIB_DATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))


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
