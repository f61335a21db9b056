"""The book's experiments: each a question, the paper's effect in numbers, matched arms, seeds and
budgets (``registry``, definitions in ``book``), run resumably (``runner``) and stored as
``results/NAME/BUDGET.json`` (``store``); from a notebook or ``python -m cnnlib.experiments``.

    >>> from cnnlib import experiments
    >>> experiments.list_experiments()  # doctest: +SKIP
    >>> result = experiments.load("degradation", budget="long")  # doctest: +SKIP
"""

from __future__ import annotations

from cnnlib.experiments import book, vgg_googlenet  # noqa: F401 - register the experiments
from cnnlib.experiments.registry import (
    BUDGETS,
    Arm,
    Budget,
    Experiment,
    ExperimentError,
    get,
    list_experiments,
    register,
)
from cnnlib.experiments.runner import run
from cnnlib.experiments.store import RESULTS_ENV, load, result_path
from cnnlib.experiments.summary import (
    epochs_to_target,
    final_table,
    mean_and_spread,
    paired_difference,
)
from cnnlib.experiments.trained import TRAINED, trained

__all__ = [
    "BUDGETS",
    "RESULTS_ENV",
    "TRAINED",
    "Arm",
    "Budget",
    "Experiment",
    "ExperimentError",
    "epochs_to_target",
    "final_table",
    "get",
    "list_experiments",
    "load",
    "mean_and_spread",
    "paired_difference",
    "register",
    "result_path",
    "run",
    "trained",
]
