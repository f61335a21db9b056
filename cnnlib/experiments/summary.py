"""Reading a result: each arm's mean and spread over seeds, per evaluation and at the end."""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["epochs_to_target", "final_table", "mean_and_spread", "paired_difference"]


def _arms(result: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(r["arm"] for r in result["runs"]))


def mean_and_spread(result: dict[str, Any], metric: str = "train_error") -> dict[str, dict]:
    """Per arm: ``{"epoch", "mean", "min", "max", "seeds"}`` lists over the evaluations that
    every seed of the arm has (fractions, as stored)."""
    out = {}
    for arm in _arms(result):
        runs = [r["history"] for r in result["runs"] if r["arm"] == arm]
        n = min(len(h) for h in runs)
        values = [[h[i][metric] for h in runs] for i in range(n)]
        out[arm] = {
            "epoch": [runs[0][i]["epoch"] for i in range(n)],
            "mean": [statistics.fmean(v) for v in values],
            "min": [min(v) for v in values],
            "max": [max(v) for v in values],
            "seeds": len(runs),
        }
    return out


def final_table(
    result: dict[str, Any],
    metrics: tuple[str, ...] = ("train_error", "test_error"),
    percent: bool = True,
) -> list[dict[str, Any]]:
    """One row per arm: for each metric the mean and standard deviation over seeds of the final
    value (in percent by default), and the number of seeds."""
    rows = []
    scale = 100 if percent else 1
    for arm in _arms(result):
        finals = [r["final"] for r in result["runs"] if r["arm"] == arm]
        row: dict[str, Any] = {"arm": arm, "seeds": len(finals)}
        for m in metrics:
            values = [scale * f[m] for f in finals]
            row[f"{m} mean"] = statistics.fmean(values)
            row[f"{m} sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def paired_difference(
    result: dict[str, Any], arm: str, baseline: str, metric: str = "train_error"
) -> dict[str, Any]:
    """The final ``metric`` of ``arm`` minus that of ``baseline``, seed by seed (the arms of one
    seed share their data order): ``{"mean", "sd", "min", "max", "per_seed"}``, in points (%)."""
    finals = {(r["arm"], r["seed"]): r["final"][metric] for r in result["runs"]}
    seeds = sorted(s for a, s in finals if a == arm and (baseline, s) in finals)
    if not seeds:
        raise ValueError(f"no seed has runs of both {arm!r} and {baseline!r}")
    diffs = [100 * (finals[arm, s] - finals[baseline, s]) for s in seeds]
    return {
        "mean": statistics.fmean(diffs),
        "sd": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
        "min": min(diffs),
        "max": max(diffs),
        "per_seed": dict(zip(seeds, diffs, strict=True)),
    }


def epochs_to_target(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per arm of an experiment with a target (``final["epochs_to_target"]``): the
    epochs of each seed (``None``: never reached), how many seeds reached it, and the mean and
    standard deviation over seeds with a run that never got there counted as the budget's
    epochs (a lower bound, so the mean is one too)."""
    budget = result["design"]["budget"]["epochs"]
    rows = []
    for arm in _arms(result):
        runs = sorted((r["seed"], r["final"]) for r in result["runs"] if r["arm"] == arm)
        if any("epochs_to_target" not in f for _, f in runs):
            raise ValueError(f"arm {arm!r} has runs without epochs_to_target (no target set)")
        per_seed = {seed: f["epochs_to_target"] for seed, f in runs}
        counted = [budget if e is None else e for e in per_seed.values()]
        rows.append(
            {
                "arm": arm,
                "per_seed": per_seed,
                "reached": sum(e is not None for e in per_seed.values()),
                "seeds": len(per_seed),
                "mean": statistics.fmean(counted),
                "sd": statistics.stdev(counted) if len(counted) > 1 else 0.0,
            }
        )
    return rows
