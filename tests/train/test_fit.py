"""cnnlib.train.loop: fit and evaluate, run files, exact resume, checkpoints, the NaN guard,
auxiliary heads, DistributedDataParallel on CPU, torch.compile."""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from torch import nn

from cnnlib.data import DeviceLoader, synthetic_cifar10
from cnnlib.train import (
    CheckpointError,
    ConfigError,
    History,
    NonFiniteLossError,
    TrainConfig,
    evaluate,
    fit,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)


class TinyNet(nn.Module):
    """conv-BN-ReLU-pool-dropout-linear: exercises BN buffers and dropout's RNG in resume."""

    def __init__(self, bn: bool = True, dropout: float = 0.2, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=not bn)
        self.bn = nn.BatchNorm2d(8) if bn else nn.Identity()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * 4 * 4, num_classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)
        return self.fc(self.drop(x))


Outputs = namedtuple("Outputs", ["logits", "aux2", "aux1"])


class AuxNet(TinyNet):
    """Returns (logits, aux2, aux1) in training, like GoogLeNet."""

    def __init__(self) -> None:
        super().__init__(dropout=0.0)
        self.aux = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(torch.relu(self.bn(self.conv(x))), 4).flatten(1)
        if self.training:
            return Outputs(self.fc(x), self.aux(x), self.aux(x) * 0.5)
        return self.fc(x)


@pytest.fixture(scope="module")
def synth():
    return synthetic_cifar10(30, 10, seed=0)


def _loaders(synth, batch=32, seed=0):
    train, test = synth
    return DeviceLoader(train, batch, seed=seed), DeviceLoader(test, 100, train=False)


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- fit, evaluate, files ---------------------------------------------------------------------


@pytest.mark.slow
def test_fit_learns_and_writes_history_run_card_checkpoint(synth, tmp_path):
    torch.manual_seed(0)
    model = TinyNet()
    train, val = _loaders(synth)
    config = TrainConfig(
        epochs=4, lr=0.05, seed=0, schedule="cosine", warmup_epochs=1, model="tiny"
    )
    history = fit(model, train, val, config, out_dir=tmp_path / "run", quiet=True)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    for r in history:
        assert set(r) == {
            "epoch",
            "train_loss",
            "train_acc",
            "val_loss",
            "val_acc",
            "lr",
            "seconds",
            "images_per_s",
        }
        assert r["images_per_s"] > 0 and r["seconds"] > 0 and 0 <= r["val_acc"] <= 1
    assert history[-1]["val_acc"] > 0.5  # chance is 0.1
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    run = tmp_path / "run"
    assert json.loads((run / "history.json").read_text()) == [dict(r) for r in history]
    card = json.loads((run / "run.json").read_text())
    assert card["config"] == config.replace(batch_size=32, device="cpu").to_dict()
    assert card["model"] == "tiny" and card["epochs_completed"] == 4
    assert card["dataset"] == "synthetic CIFAR-shaped data" and "synthetic" in card["data_source"]
    assert card["train_size"] == 300 and card["val_size"] == 100
    assert {"torch", "torchvision", "cnnlib"} <= set(card["versions"])
    assert card["device_name"] and card["wall_time_s"] > 0
    text = (run / "run.json").read_text()
    assert str(tmp_path) not in text and str(Path.home()) not in text and str(REPO) not in text
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert _states_equal(ckpt["model"], model.state_dict())
    assert {"optimizer", "scheduler", "scaler", "rng", "loader", "history"} <= set(ckpt)
    assert ckpt["config"] == card["config"]  # the checkpoint stores the config the card prints
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]  # atomic writes cleaned up
    assert History.load(run).run["model"] == "tiny"


def test_evaluate_matches_a_manual_computation(synth):
    torch.manual_seed(0)
    model = TinyNet().eval()
    _, val = _loaders(synth)
    result = evaluate(model, val)
    x = torch.cat([b[0] for b in val])
    y = torch.cat([b[1] for b in val])
    with torch.no_grad():
        logits = model(x)
    assert result["n"] == 100
    assert result["acc"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert result["loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    model.train()
    evaluate(model, val)
    assert model.training  # restored


def test_amp_is_a_no_op_on_cpu_and_channels_last_runs(synth):
    results = []
    for amp in (False, True):
        torch.manual_seed(0)
        model = TinyNet()
        h = fit(model, *_loaders(synth), TrainConfig(epochs=1, amp=amp, seed=0), quiet=True)
        results.append((model.state_dict(), h.run["amp"]))
    assert _states_equal(results[0][0], results[1][0]) and results[1][1] == "off"
    torch.manual_seed(0)
    model = TinyNet()
    h = fit(model, *_loaders(synth), TrainConfig(epochs=1, channels_last=True, seed=0), quiet=True)
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert h.run["config"]["channels_last"] is True and h[0]["val_acc"] is not None


# --- exact resume, checkpoints ----------------------------------------------------------------


def _run(synth, out, **kw):
    torch.manual_seed(123)  # the same initial weights every time
    model = TinyNet()
    train, val = _loaders(synth, seed=7)
    config = TrainConfig(epochs=3, lr=0.05, schedule="cosine", warmup_epochs=0.5, seed=7)
    history = fit(model, train, val, config, out_dir=out, quiet=True, **kw)
    return model, history


@pytest.mark.slow
def test_resume_is_bit_identical(synth, tmp_path):
    full_model, full = _run(synth, tmp_path / "full")
    _, first = _run(synth, tmp_path / "split", stop_after=1)
    assert len(first) == 1
    torch.manual_seed(999)  # a resumed process starts with other RNG states and weights
    resumed_model, resumed = _run(synth, tmp_path / "split", resume=True)
    assert [r["epoch"] for r in resumed] == [1, 2, 3]
    assert _states_equal(full_model.state_dict(), resumed_model.state_dict())
    for a, b in zip(full, resumed, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert a[key] == b[key], key
    # resuming a finished run trains no further
    done_model, done = _run(synth, tmp_path / "split", resume=True)
    assert _states_equal(done_model.state_dict(), full_model.state_dict()) and len(done) == 3


def test_corrupt_checkpoint_is_a_clear_error_and_untouched(synth, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        _run(synth, out, resume=True)
    assert (out / "checkpoint.pt").read_bytes() == b"not a checkpoint"
    torch.save({"model": {}}, out / "checkpoint.pt")
    before = (out / "checkpoint.pt").read_bytes()
    with pytest.raises(CheckpointError, match="not a cnnlib.train checkpoint"):
        _run(synth, out, resume=True)
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.slow
def test_mismatched_checkpoint_is_a_clear_error_and_untouched(synth, tmp_path):
    out = tmp_path / "run"
    _run(synth, out, stop_after=1)
    before = (out / "checkpoint.pt").read_bytes()
    torch.manual_seed(0)
    with pytest.raises(CheckpointError, match=r"lr: 0\.05 in the checkpoint, 0\.1 now"):
        fit(
            TinyNet(),
            *_loaders(synth, seed=7),
            TrainConfig(epochs=3, lr=0.1, schedule="cosine", warmup_epochs=0.5, seed=7),
            out_dir=out,
            resume=True,
            quiet=True,
        )
    with pytest.raises(CheckpointError, match="does not fit this model"):
        fit(
            TinyNet(bn=False),
            *_loaders(synth, seed=7),
            TrainConfig(epochs=3, lr=0.05, schedule="cosine", warmup_epochs=0.5, seed=7),
            out_dir=out,
            resume=True,
            quiet=True,
        )
    assert (out / "checkpoint.pt").read_bytes() == before


@pytest.mark.slow
def test_nan_loss_stops_naming_epoch_and_step(synth, tmp_path):
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if calls["n"] == 13 else loss  # epoch 2, step 3 (10 per epoch)

    torch.manual_seed(0)
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 3 of 10"):
        fit(
            TinyNet(),
            *_loaders(synth),
            TrainConfig(epochs=3),
            loss_fn=loss_fn,
            out_dir=tmp_path / "r",
            quiet=True,
        )
    ckpt = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1  # nothing from the diverged epoch was written


# --- several outputs (GoogLeNet's auxiliary heads) --------------------------------------------


@pytest.mark.slow
def test_auxiliary_outputs_need_a_weight_and_are_weighted(synth):
    from cnnlib.train.loop import _objective

    torch.manual_seed(0)
    model = AuxNet()
    with pytest.raises(ConfigError, match="aux_weight"):
        fit(model, *_loaders(synth), TrainConfig(epochs=1), quiet=True)
    x, y = next(iter(_loaders(synth)[0]))
    out = model(x)
    loss, logits = _objective(out, y, TrainConfig(aux_weight=0.3), None)
    ce = nn.functional.cross_entropy
    expected = ce(out.logits, y) + 0.3 * (ce(out.aux2, y) + ce(out.aux1, y))
    assert torch.allclose(loss, expected) and logits is out.logits
    h = fit(model, *_loaders(synth), TrainConfig(epochs=2, aux_weight=0.3), quiet=True)
    assert h[-1]["val_acc"] > 0.3
    custom = fit(
        AuxNet(),
        *_loaders(synth),
        TrainConfig(epochs=1),
        quiet=True,
        loss_fn=lambda out, y: ce(out[0], y),
    )
    assert len(custom) == 1


# --- several processes: DistributedDataParallel with gloo on CPU ------------------------------


def _ddp_worker(rank: int, world: int, init_file: str, out: str, batch: int, result: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group(
            "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
        )
    train, test = synthetic_cifar10(32, 10, seed=0)
    torch.manual_seed(0)
    model = TinyNet(bn=False, dropout=0.0)
    fit(
        model,
        DeviceLoader(train, batch, seed=3),
        DeviceLoader(test, 50, train=False),
        TrainConfig(epochs=2, lr=0.05, seed=0),
        out_dir=f"{out}/rank{rank}",
        quiet=True,
    )
    if rank == 0:
        torch.save(model.state_dict(), result)
    if world > 1:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_processes_match_one_with_double_batch(tmp_path):
    import torch.multiprocessing as mp

    _ddp_worker(0, 1, "", str(tmp_path / "single"), 32, str(tmp_path / "single.pt"))
    mp.spawn(
        _ddp_worker,
        args=(2, str(tmp_path / "init"), str(tmp_path / "ddp"), 16, str(tmp_path / "ddp.pt")),
        nprocs=2,
        join=True,
    )
    single = torch.load(tmp_path / "single.pt", weights_only=True)
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], rtol=0, atol=1e-5)
    assert (tmp_path / "ddp" / "rank0" / "checkpoint.pt").is_file()
    assert not (tmp_path / "ddp" / "rank1").exists()  # only rank 0 writes
    h1 = json.loads((tmp_path / "single" / "rank0" / "history.json").read_text())
    h2 = json.loads((tmp_path / "ddp" / "rank0" / "history.json").read_text())
    for a, b in zip(h1, h2, strict=True):  # metrics are all-reduced over both shards
        assert b["train_loss"] == pytest.approx(a["train_loss"], abs=1e-5)
        assert b["val_acc"] == pytest.approx(a["val_acc"])
    run = json.loads((tmp_path / "ddp" / "rank0" / "run.json").read_text())
    assert run["world_size"] == 2 and run["val_size"] == 100


@pytest.mark.slow
def test_compile_trains_and_checkpoints_the_plain_model(synth, tmp_path):
    """torch.compile (inductor, so a C++ compiler on the CPU); the checkpoint's "model" entry is
    the uncompiled model's state_dict (no ``_orig_mod.`` prefixes)."""
    torch.manual_seed(0)
    model = TinyNet(dropout=0.0)
    train, val = _loaders(synth)
    h = fit(model, train, val, TrainConfig(epochs=2, compile=True), out_dir=tmp_path, quiet=True)
    assert h.run["config"]["compile"] is True and h[-1]["train_loss"] < h[0]["train_loss"]
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(ckpt["model"]) == set(TinyNet(dropout=0.0).state_dict())
    assert _states_equal(ckpt["model"], model.state_dict())


def test_amp_picks_bf16_where_supported_else_fp16(monkeypatch):
    from cnnlib.train.loop import _amp_dtype

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert _amp_dtype(True, cpu) is None and _amp_dtype(False, cuda) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert _amp_dtype(True, cuda) == torch.bfloat16
    # a T4 (sm_75) has no native bf16: fp16, with a gradient scaler in fit
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation
    )
    assert _amp_dtype(True, cuda) == torch.float16


def test_from_profile_takes_the_profile_and_batch_size_from_the_loader(synth):
    from cnnlib.profile import get_profile

    p = get_profile("smoke", device="cpu")
    torch.manual_seed(0)
    h = fit(TinyNet(), *_loaders(synth), TrainConfig.from_profile(p, epochs=1), quiet=True)
    c = h.run["config"]
    assert c["profile"] == "smoke" and c["channels_last"] == p.channels_last and c["lr"] == p.lr
    assert c["batch_size"] == 32 and c["model"] == "TinyNet" and c["device"] == "cpu"
    assert (
        fit(TinyNet(), *_loaders(synth), TrainConfig(epochs=1), quiet=True).run["config"]["profile"]
        is None
    )
    with pytest.raises(
        ConfigError, match="the config says 64, but train_loader gives batches of 32"
    ):
        fit(TinyNet(), *_loaders(synth), TrainConfig(epochs=1, batch_size=64), quiet=True)


class NaNOnEval(TinyNet):
    """Finite in training, NaN logits in eval mode: a validation loss that is not finite."""

    def forward(self, x):
        out = super().forward(x)
        return out if self.training else out * float("nan")


@pytest.mark.slow
def test_nan_validation_loss_stops_keeps_the_last_checkpoint_and_strict_json(synth, tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "r"
    config = TrainConfig(epochs=2, model="tiny")
    fit(TinyNet(), *_loaders(synth), config, out_dir=out, stop_after=1, quiet=True)
    before = (out / "checkpoint.pt").read_bytes()
    model = NaNOnEval()
    with pytest.raises(
        NonFiniteLossError,
        match="validation loss became NaN or infinite after epoch 2.*last checkpoint .* is kept",
    ):
        fit(model, *_loaders(synth), config, out_dir=out, resume=True, quiet=True)
    assert (out / "checkpoint.pt").read_bytes() == before

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))

    assert len(strict((out / "history.json").read_text())) == 1
    strict((out / "run.json").read_text())


def test_history_save_writes_strict_json(tmp_path):
    History([{"epoch": 1, "train_loss": float("nan"), "val_acc": float("inf")}]).save(
        tmp_path / "h.json"
    )
    text = (tmp_path / "h.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == [{"epoch": 1, "train_loss": None, "val_acc": None}]
