"""cnnlib.runtime: devices, versions, seeding, eval mode, atomic and strict-JSON writes."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from cnnlib import runtime


def test_device_name_is_readable():
    name = runtime.device_name("cpu")
    assert name and "threads" in name
    assert set(runtime.versions()) == {"python", "torch", "torchvision", "cnnlib"}


def test_resolve_device_refuses_what_is_not_here(monkeypatch):
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="invalid device 'toaster'"):
        runtime.resolve_device("toaster")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda:1' requested, but this machine has no CUDA GPU"):
        runtime.resolve_device("cuda:1")
    monkeypatch.setenv("CNNLIB_DEVICE", "cpu")
    assert runtime.resolve_device() == torch.device("cpu")


def test_seed_everything_repeats_every_generator():
    runtime.seed_everything(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(5)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())


def test_eval_mode_restores_each_modules_own_flag():
    net = nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2))
    net[1].eval()  # mixed flags: the dropout trains, the batch norm does not
    with runtime.eval_mode(net) as same:
        assert same is net and not any(m.training for m in net.modules())
    assert [m.training for m in net.modules()] == [True, True, False]


def test_atomic_write_json_is_strict_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "d" / "x.json"
    runtime.atomic_write_json(path, {"a": [1.5, math.nan], "b": {"c": -math.inf}})
    assert json.loads(path.read_text()) == {"a": [1.5, None], "b": {"c": None}}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]

    def fail(f):
        f.write("partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        runtime.atomic_write(path, fail, mode="w")
    assert json.loads(path.read_text())["a"] == [1.5, None]  # the old file is intact
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_cnnlib_errors_share_one_base():
    from cnnlib.data import DataCorruptError, DataNotFoundError
    from cnnlib.profile import ProfileError
    from cnnlib.train import CheckpointError, ConfigError, NonFiniteLossError

    for cls in (DataCorruptError, DataNotFoundError, ProfileError, CheckpointError, ConfigError,
                NonFiniteLossError):  # fmt: skip
        assert issubclass(cls, runtime.CnnlibError), cls
