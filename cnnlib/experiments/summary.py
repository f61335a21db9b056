"""Reading a result: each arm's mean and spread over seeds, per evaluation and at the end."""

from __future__ import annotations

import statistics
from typing import Any

__all__ = ["final_table", "mean_and_spread"]


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
