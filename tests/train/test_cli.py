"""cnnlib.train.cli: help, usage errors before any work (exit 2, one line), failed runs (exit 1,
no traceback), training, stopping and resuming, torchrun with two processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnnlib.models as M
from cnnlib.train import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)


# --- help and usage errors ------------------------------------------------------------------


def test_cli_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--model",
        "--dataset",
        "--data-dir",
        "--epochs",
        "--batch-size",
        "--lr",
        "--subset",
        "--seed",
        "--out",
        "--resume",
        "--amp",
        "--channels-last",
        "--compile",
        "--profile",
        "--no-download",
        "--stop-after",
    ):
        assert flag in text, flag


def test_cli_bad_flags_are_argparse_errors(capsys, tmp_path):
    for argv in (
        ["--model", "resnet20", "--out", "x", "--bogus"],
        ["--model", "resnet20", "--out", "x", "--epochs", "two"],
        ["--model", "resnet20", "--out", "x", "--profile", "huge"],
        ["--model", "resnet20", "--out", "x", "--epochs", "0"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ": error: " in err  # one line


def _run_cli(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own session; on timeout kill the whole group (torchrun's workers too)."""
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd[:6])} ... timed out after {timeout} s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def test_cli_missing_data_exits_cleanly(tmp_path):
    env = {**os.environ, "CNNLIB_CACHE": str(tmp_path / "cache"), "CNNLIB_PROFILE": "cpu"}
    env.pop("CNNLIB_DATA", None)
    proc = _run_cli(
        [
            sys.executable,
            "-m",
            "cnnlib.train",
            "--model",
            "resnet20",
            "--data-dir",
            str(tmp_path / "nothing"),
            "--out",
            str(tmp_path / "out"),
            "--no-download",
        ],
        env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "CIFAR-10 was not found" in proc.stderr and str(tmp_path / "nothing") in proc.stderr
    assert "CNNLIB_DATA" in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_trains_stops_and_resumes(make_cifar_copy, tmp_path, capsys):
    zip_dir, _ = make_cifar_copy("jpg", train=10, test=5, zip_top="cifar10-jpeg")
    args = [
        "--model",
        "resnet20",
        "--data-dir",
        str(zip_dir),
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--lr",
        "0.05",
        "--subset",
        "60",
        "--test-subset",
        "30",
        "--seed",
        "0",
        "--out",
        str(tmp_path / "run"),
        "--profile",
        "cpu",
        "--quiet",
    ]
    assert main([*args, "--stop-after", "1"]) == 0
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 1
    assert main([*args, "--resume"]) == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    card = json.loads((tmp_path / "run" / "run.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert card["dataset"] == "CIFAR-10 (JPEG copy)" and card["train_size"] == 60
    assert card["val_size"] == 30 and card["model"] == "resnet20"
    assert card["config"]["profile"] == "cpu" and card["config"]["lr"] == 0.05
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    from cnnlib.models import create

    create("resnet20").load_state_dict(ckpt["model"])  # "model" is the model's state_dict


@pytest.mark.slow
def test_cli_under_torchrun_with_two_processes(make_cifar_copy, tmp_path):
    zip_dir, _ = make_cifar_copy("png", train=4, test=2, zip_top="tiny")
    env = {**os.environ, "CNNLIB_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    proc = _run_cli(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--standalone",
            "-m",
            "cnnlib.train",
            *_small_run(zip_dir, tmp_path / "run", 1),
        ],
        env,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = json.loads((tmp_path / "run" / "run.json").read_text())
    assert card["world_size"] == 2 and card["train_size"] == 40
    assert proc.stdout.count("run card") == 1  # only rank 0 prints


def _small_run(zip_dir, out, epochs: int, *extra: str) -> list[str]:
    """The flags of a tiny CPU run of plain20 on a generated zip copy, for the subprocess tests."""
    return [
        "--model",
        "plain20",
        "--data-dir",
        str(zip_dir),
        "--epochs",
        str(epochs),
        "--batch-size",
        "10",
        "--subset",
        "40",
        "--test-subset",
        "20",
        *extra,
        "--out",
        str(out),
        "--profile",
        "smoke",
        "--device",
        "cpu",
    ]


def _usage_error(capsys, argv: list[str]) -> str:
    """The one line a usage error prints (asserting exit status 2 and a single line)."""
    with pytest.raises(SystemExit) as info:
        main(argv, prog="cnnlib-train")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_unknown_model_suggests_the_closest_names(capsys, tmp_path):
    err = _usage_error(capsys, ["--model", "resnet2O", "--out", str(tmp_path / "o")])
    assert "cnnlib-train: error: argument --model: unknown model 'resnet2O'" in err
    assert "resnet20" in err.split("(closest: ")[1].split(", ")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--lr", "nan"], "argument --lr: lr: expected a finite number > 0, got nan"),
        (["--lr", "inf"], "argument --lr: lr: expected a finite number > 0, got inf"),
        (["--lr", "-1"], "argument --lr: lr: expected a finite number > 0, got -1.0"),
        (["--momentum", "1.5"], "argument --momentum: momentum: expected a number in [0, 1)"),
        (["--weight-decay", "inf"], "argument --weight-decay: weight_decay: expected a finite"),
        (["--weight-decay", "-0.1"], "argument --weight-decay: weight_decay: expected a finite"),
        (["--epochs", "0"], "argument --epochs: epochs: expected an integer >= 1, got 0"),
        (["--subset", "0"], "argument --subset: expected an integer >= 1, got 0"),
    ],
)
def test_out_of_range_numbers_are_usage_errors(capsys, tmp_path, flags, expected):
    err = _usage_error(capsys, ["--model", "resnet20", "--out", str(tmp_path / "o"), *flags])
    assert expected in err
    assert not (tmp_path / "o").exists()


def test_out_naming_a_file_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "taken").write_text("user's work")
    err = _usage_error(capsys, ["--model", "resnet20", "--out", str(tmp_path / "taken")])
    assert f"argument --out: {tmp_path / 'taken'} is a file; expected a directory" in err
    assert (tmp_path / "taken").read_text() == "user's work"


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_cuda_without_a_gpu_is_a_usage_error(capsys, tmp_path):
    err = _usage_error(
        capsys, ["--model", "resnet20", "--out", str(tmp_path / "o"), "--device", "cuda"]
    )
    assert "argument --device: device 'cuda' requested, but this machine has no CUDA GPU" in err


def test_missing_model_or_out_and_an_unknown_profile_are_usage_errors(capsys, tmp_path):
    assert "required: --model" in _usage_error(capsys, ["--out", str(tmp_path)])
    assert "required: --out" in _usage_error(capsys, ["--model", "resnet20"])
    err = _usage_error(capsys, ["--model", "resnet20", "--out", "o", "--profile", "huge"])
    assert "choose from 'smoke', 'cpu', 'gpu'" in err  # the choices come from PROFILES


def test_list_models_with_a_pattern(capsys):
    assert main(["--list-models", "resnet*"]) == 0
    names = capsys.readouterr().out.split()
    assert "resnet20" in names and "resnet152" in names and "plain20" not in names
    assert main(["--list-models"]) == 0
    assert len(capsys.readouterr().out.split()) == len(M.list_models()) == 48
    assert "no model matches 'densenet*'" in _usage_error(capsys, ["--list-models", "densenet*"])


def test_help_groups_and_prog_from_how_it_was_called(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/cnnlib-train", "--help"])
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: cnnlib-train")
    for group in ("model:", "data:", "optimisation", "run:"):
        assert group in text, group
    proc = subprocess.run(
        [sys.executable, "-m", "cnnlib.train", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.startswith("usage: python -m cnnlib.train")


@pytest.mark.slow
def test_a_diverging_run_exits_1_without_traceback_and_keeps_strict_json(make_cifar_copy, tmp_path):
    zip_dir, _ = make_cifar_copy("png", train=4, test=2, zip_top="tiny")
    env = {**os.environ, "CNNLIB_CACHE": str(tmp_path / "cache")}
    proc = _run_cli(
        [
            sys.executable,
            "-m",
            "cnnlib.train",
            *_small_run(zip_dir, tmp_path / "run", 2, "--lr", "1e30", "--momentum", "0"),
            "--quiet",
        ],
        env,
        timeout=180,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "became NaN or infinite" in proc.stderr

    def refuse(constant):
        pytest.fail(f"{constant} in a JSON file")

    for name in ("history.json", "run.json"):
        path = tmp_path / "run" / name
        if path.exists():
            json.loads(path.read_text(), parse_constant=refuse)


def test_a_corrupt_zip_is_reported_corrupt_naming_the_file(make_cifar_copy, tmp_path, capsys):
    zip_dir, _ = make_cifar_copy("png", train=2, test=1, zip_top="tiny")
    path = zip_dir / "copy.zip"
    path.write_bytes(path.read_bytes()[:2000])
    argv = [
        "--model",
        "resnet20",
        "--data-dir",
        str(zip_dir),
        "--out",
        str(tmp_path / "o"),
        "--no-download",
        "--profile",
        "cpu",
        "--quiet",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} is not a readable zip") and "corrupt" in err
    assert "not found" not in err and not (tmp_path / "o").exists()
