"""Running an experiment: every arm with every seed, matched, resumable, stored as strict JSON.

Each run trains through :func:`cnnlib.train.fit` (checkpointed in a work folder beside the
result, so an interrupted run resumes where it stopped) and is evaluated every ``eval_every``
epochs in eval mode: ``train_error`` on a fixed class-balanced training subset, ``test_error`` on
the test subset. Finished runs go into ``<results>/NAME/BUDGET.json`` one by one.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from cnnlib import data
from cnnlib.experiments import setup
from cnnlib.experiments.registry import (
    Arm,
    Budget,
    Experiment,
    ExperimentError,
    get,
    settings,
)
from cnnlib.experiments.setup import load_data
from cnnlib.experiments.store import check_writable, repository_results, result_path, save
from cnnlib.experiments.trained import trained
from cnnlib.runtime import atomic_write_json, device_name, versions
from cnnlib.train import evaluate, fit

__all__ = ["epochs_to", "load_data", "prepare", "run"]


def run(
    name: str,
    budget: str = "cpu",
    *,
    seeds: list[int] | None = None,
    arms: list[str] | None = None,
    results: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run experiment ``name`` at ``budget`` (all arms, ``seeds`` or the budget's) and return the
    result it stores in ``<results>/NAME/BUDGET.json``; runs already stored are kept, not redone.
    CIFAR-10 is read from ``data_dir``, else as :func:`cnnlib.data.load_cifar10` finds it."""
    exp = get(name)
    b = exp.budget(budget)
    if exp.analysis:  # it trains nothing: its own function measures a trained model
        module, _, function = exp.analysis.partition(":")
        analyse = getattr(importlib.import_module(module), function)
        return analyse(exp, budget, list(seeds or b.seeds), results, data_dir, progress)
    chosen = [exp.arm(a) for a in arms] if arms else list(exp.arms)
    seeds = list(seeds) if seeds else list(b.seeds)
    path = result_path(name, budget, results)
    check_writable(path.parent)
    result = _start(exp, budget, b, seeds, chosen, path)
    pending = [(a, s) for s in seeds for a in chosen if not _has_run(result, a.name, s)]
    if not pending:
        return result
    train_set, test_set = load_data(b, data_dir, progress)
    fixed = train_set.subset(min(b.train_eval_per_class, min(train_set.class_counts())), seed=1)
    started = time.perf_counter()
    work = path.parent / ".work" / budget
    with tqdm(total=len(pending) * b.epochs, unit="epoch", disable=not progress) as bar:
        for arm, seed in pending:
            bar.set_description(f"{name} {arm.name} seed {seed}")
            run_dir = work / f"{arm.name}-s{seed}"
            sets = (train_set, fixed, test_set)
            where = {"budget": budget, "results": results, "data_dir": data_dir}
            record = _one_run(arm, seed, b, where, sets, run_dir, bar)
            if exp.target_train_error is not None:
                record["final"]["epochs_to_target"] = epochs_to(
                    record["history"], exp.target_train_error
                )
            result["runs"].append(record)
            result["card"]["seconds"] += time.perf_counter() - started
            started = time.perf_counter()
            result["complete"] = all(_has_run(result, a.name, s) for a in chosen for s in seeds)
            save(result, path)
            shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return result


def epochs_to(history: list[dict[str, Any]], train_error: float) -> int | None:
    """The first evaluated epoch of ``history`` whose training error is at most
    ``train_error``; ``None`` if it never gets there."""
    return next((h["epoch"] for h in history if h["train_error"] <= train_error), None)


def _has_run(result: dict[str, Any], arm: str, seed: int) -> bool:
    return any(r["arm"] == arm and r["seed"] == seed for r in result["runs"])


def _start(
    exp: Experiment, budget: str, b: Budget, seeds: list[int], arms: list[Arm], path: Path
) -> dict[str, Any]:
    """The stored (partial) result to continue, or a new one; a stored result of another design
    is an error, never mixed in."""
    # the design is everything but the seeds: running more seeds adds to a stored result
    budget_dict = {k: v for k, v in b.to_dict().items() if k != "seeds"}
    design = json.loads(
        json.dumps({"budget": budget_dict, "arms": [_arm_dict(a) for a in exp.arms]})
    )
    if path.is_file():
        stored = json.loads(path.read_text())
        if _without_note(stored.get("design")) != _without_note(design):
            raise ExperimentError(
                f"{path} holds runs of another design of {exp.name!r} (its budget or arms "
                "changed); move it away or pass another --results directory"
            )
        stored["card"].update(_card(exp.name, budget, seeds, arms, b))
        return stored
    return {
        "experiment": exp.name,
        "budget": budget,
        "question": exp.question,
        "paper": exp.paper,
        "design": design,
        "complete": False,
        "runs": [],
        "card": {**_card(exp.name, budget, seeds, arms, b), "seconds": 0.0},
    }


def _without_note(design: dict[str, Any] | None) -> dict[str, Any] | None:
    """The design with its budget's :func:`settings` (rewording a note changes no experiment)."""
    return design and {**design, "budget": settings(design.get("budget"))}


def _arm_dict(arm: Arm) -> dict[str, Any]:
    d = {"name": arm.name, "model": arm.model, "model_kwargs": arm.model_kwargs, "lr": arm.lr}
    later = {"augment": arm.augment, "init": arm.init, "aux_weight": arm.aux_weight,
             "lr_scale": arm.lr_scale}  # fmt: skip
    return d | {k: v for k, v in later.items() if v is not None}  # as stored before they existed


def _card(name: str, budget: str, seeds: list[int], arms: list[Arm], b: Budget) -> dict:
    command = f"python -m cnnlib.experiments run {name} --budget {budget}"
    command += " --seeds " + " ".join(map(str, seeds))
    command += " --arms " + " ".join(a.name for a in arms)
    return {
        "command": command,
        "commit": _commit(),
        "device": device_name(b.device),
        "versions": versions(),
    }


def _commit() -> str | None:
    """The repository's commit (``-dirty`` with uncommitted changes to cnnlib), if in a clone."""
    root = repository_results()
    if root is None:
        return None
    git = ["git", "-C", str(root.parent)]
    try:
        sha = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "cnnlib"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def prepare(
    arm: Arm,
    seed: int,
    b: Budget,
    train_set: Any,
    budget: str = "cpu",
    results: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple:
    """:func:`cnnlib.experiments.setup.prepare`, with the trained net an ``init="from:RECIPE"``
    arm starts from: that recipe at ``budget``, loaded from ``results`` (or trained there)."""
    shallow = None
    if arm.init and arm.init.startswith("from:"):
        shallow = trained(arm.init[5:], budget, results=results, data_dir=data_dir, progress=False)
    return setup.prepare(arm, seed, b, train_set, shallow=shallow)


def _one_run(
    arm: Arm, seed: int, b: Budget, where: dict, sets: tuple, work: Path, bar: tqdm
) -> dict:
    """Train one arm from one seed, evaluating every ``eval_every`` epochs; resumable.
    ``where``: the budget's name, results and data directories (for a ``from:`` init)."""
    train_set, fixed, test_set = sets
    model, config, loader = prepare(arm, seed, b, train_set, **where)
    device = config.device
    evals = {
        k: data.DeviceLoader(s, 500, train=False, device=device)
        for k, s in (("train", fixed), ("test", test_set))
    }
    history_path = work / "evals.json"
    history = json.loads(history_path.read_text()) if history_path.is_file() else []
    done = history[-1]["epoch"] if history else 0
    bar.update(done)
    if not history:
        history.append(_measure(model, evals, 0, 0))
    while done < b.epochs:
        stop = min(done + b.eval_every, b.epochs)
        fit(model, loader, None, config, out_dir=work, resume=True, stop_after=stop, quiet=True)
        history.append(_measure(model, evals, stop, stop * len(loader)))
        atomic_write_json(history_path, history)
        bar.update(stop - done)
        done = stop
    final = {k: v for k, v in history[-1].items() if k not in ("step", "epoch")}
    final["best_test_error"] = min(r["test_error"] for r in history)
    record = {"arm": arm.name, "seed": seed, "history": history, "final": final}
    return record | ({"lr_scale": dict(config.lr_scale)} if config.lr_scale else {})


def _measure(model: torch.nn.Module, evals: dict, epoch: int, step: int) -> dict[str, Any]:
    """Errors (fractions) and losses in eval mode on the fixed training subset and the test set."""
    train, test = evaluate(model, evals["train"]), evaluate(model, evals["test"])
    return {
        "step": step,
        "epoch": epoch,
        "train_error": 1 - train["acc"],
        "test_error": 1 - test["acc"],
        "train_loss": train["loss"],
        "test_loss": test["loss"],
    }
