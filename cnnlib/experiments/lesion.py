"""The ``lesion`` experiment: a trained residual network taken apart (Veit, Wilber & Belongie
2016). It trains nothing itself: it reads a stored :func:`~cnnlib.experiments.trained` model and
measures its test error with blocks deleted or reordered, and the gradient that paths of each
length carry. Each seed draws its own random deletions, reorderings and path samples."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from cnnlib import data, ensemble
from cnnlib.experiments.registry import Experiment
from cnnlib.experiments.store import check_writable, result_path, save
from cnnlib.residual import blocks, is_downsampling, remove_block

__all__ = ["AnalysisBudget", "run_lesion"]


@dataclass(frozen=True)
class AnalysisBudget:
    """What an analysis of a trained model measures: the model is ``trained(arm.model,
    trained_budget)``; errors on ``test_per_class`` test images per class; ``samples`` random
    draws per point; path gradients on ``gradient_batch`` test images."""

    trained_budget: str
    test_per_class: int | None
    samples: int
    gradient_batch: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)
    device: str = "cpu"
    allow_synthetic: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return d


def _single_deletions(model, loader) -> list[dict[str, Any]]:
    return [
        {
            "block": name,
            "downsampling": is_downsampling(model.get_submodule(name)),
            "test_error": ensemble.error_rate(remove_block(model, name), loader),
        }
        for name in blocks(model)
    ]


def _one_seed(model, loader, batch, b: AnalysisBudget, seed: int) -> dict[str, Any]:
    keep = [n for n in blocks(model) if not is_downsampling(model.get_submodule(n))]
    ks = list(range(len(keep) + 1))
    deletions = ensemble.error_vs_deletions(model, loader, ks, b.samples, seed)
    swaps = list(range(0, len(ensemble.swappable_pairs(model)) + 1))
    reorderings = ensemble.error_vs_reorderings(model, loader, swaps, b.samples, seed)
    gradients = ensemble.path_gradients(model, *batch, samples=b.samples, seed=seed)
    single = _single_deletions(model, loader)
    intact = deletions[0][0]
    return {
        "final": {
            "test_error": intact,
            "one_deleted_mean": sum(deletions[1]) / len(deletions[1]),
            "all_deleted_mean": sum(deletions[ks[-1]]) / len(deletions[ks[-1]]),
            "worst_single": max(r["test_error"] for r in single),
        },
        "single": single,
        "deletions": {str(k): v for k, v in deletions.items()},
        "reorderings": {str(k): v for k, v in reorderings.items()},
        "path_gradients": {str(k): v for k, v in gradients.items()},
    }


def run_lesion(
    exp: Experiment,
    budget: str,
    seeds: list[int],
    results: str | os.PathLike | None,
    data_dir: str | os.PathLike | None,
    progress: bool,
) -> dict[str, Any]:
    """Run the lesion analysis of ``exp`` at ``budget`` for ``seeds``; store and return it."""
    from cnnlib.experiments.runner import _has_run, _start  # the runner's result format
    from cnnlib.experiments.trained import trained

    b = exp.budget(budget)
    arm = exp.arms[0]
    path = result_path(exp.name, budget, results)
    check_writable(path.parent)
    result = _start(exp, budget, b, seeds, [arm], path)
    model = trained(arm.model, b.trained_budget, results=results, data_dir=data_dir,
                    progress=progress)  # fmt: skip
    result["trained"] = {"model": arm.model, "budget": b.trained_budget}
    _, test_set = data.load_cifar10(
        data_dir, train_per_class=1, test_per_class=b.test_per_class, seed=0,
        allow_synthetic=b.allow_synthetic, progress=False,
    )  # fmt: skip
    loader = data.DeviceLoader(test_set, 500, train=False)
    first = test_set.subset(total=b.gradient_batch, seed=2)
    x, y = next(iter(data.DeviceLoader(first, len(first), train=False)))
    for seed in tqdm([s for s in seeds if not _has_run(result, arm.name, s)],
                     desc=f"{exp.name} {budget}", disable=not progress):  # fmt: skip
        started = time.perf_counter()
        torch.manual_seed(seed)
        record = {"arm": arm.name, "seed": seed, **_one_seed(model, loader, (x, y), b, seed)}
        result["runs"].append(record)
        result["card"]["seconds"] += time.perf_counter() - started
        result["complete"] = all(_has_run(result, arm.name, s) for s in seeds)
        save(result, path)
    return result
