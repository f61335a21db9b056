"""What an experiment is: a question, the paper's effect in numbers, arms that differ in one
thing, and budgets from seconds (``smoke``) to an hour (``long``) or a GPU (``gpu``)."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from typing import Any

from cnnlib.runtime import CnnlibError

__all__ = [
    "BUDGETS",
    "Arm",
    "Budget",
    "Experiment",
    "ExperimentError",
    "get",
    "list_experiments",
    "register",
    "settings",
]

#: The budgets every experiment defines, smallest first (book/running.md, "The book's experiments").
BUDGETS = ("smoke", "cpu", "long", "gpu")


def settings(budget: dict[str, Any] | None) -> dict[str, Any] | None:
    """A budget's stored dict without its note: what two runs must share to be comparable
    (rewording a note changes nothing that was run)."""
    return None if budget is None else {k: v for k, v in budget.items() if k != "note"}


class ExperimentError(CnnlibError, ValueError):
    """An unknown experiment, budget or arm, or results that cannot be read or written."""


@dataclass(frozen=True)
class Arm:
    """One arm: a registered model (with keyword arguments) and, where the paper tuned one per
    arm, its own learning rate; where the arms differ in their data, their own ``augment``
    (one of :data:`AUGMENTS`; ``None``: the budget's); where they differ in their start, their
    own ``init`` (one of :data:`INITS`, or ``"from:RECIPE"``: VGG's start from the trained net
    of an :mod:`~cnnlib.experiments.trained` recipe at the same budget; ``None``: the budget's).
    ``aux_weight`` weights the losses of auxiliary heads (GoogLeNet: 0.3); ``lr_scale="aux"``
    raises the learning rate of every block below GoogLeNet's heads by the factor the heads
    raise its gradient at this run's initialisation (measured on the first 256 images)."""

    name: str
    model: str
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None
    augment: str | None = None
    init: str | None = None
    aux_weight: float | None = None
    lr_scale: str | None = None

    def __post_init__(self) -> None:
        if self.augment is not None and self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}; got {self.augment!r}")
        if self.init is not None and self.init not in INITS and not self.init.startswith("from:"):
            raise ValueError(
                f"init must be one of {', '.join(INITS)} or 'from:RECIPE'; got {self.init!r}"
            )
        if self.lr_scale not in (None, "aux"):
            raise ValueError(f"lr_scale must be None or 'aux'; got {self.lr_scale!r}")

    def augmentation(self, budget: Budget) -> str:
        """What this arm's training images get: its own ``augment``, else the budget's."""
        return self.augment or ("crop_flip" if budget.augment else "none")


#: Arm.augment's choices: nothing, random crops (4-pixel padding) and flips, and those plus
#: AlexNet's PCA lighting noise
AUGMENTS = ("none", "crop_flip", "crop_flip_pca")


@dataclass(frozen=True)
class Budget:
    """How much one run of every arm computes, the same for all arms.

    ``train_per_class`` images of each class are trained on (``None``: all 5,000);
    ``train_error`` is measured in eval mode on a fixed class-balanced subset of them
    (``train_eval_per_class``), ``test_error`` on ``test_per_class`` test images per class.
    ``model_kwargs`` (for example narrower ``widths``) apply to every arm alike. ``schedule`` is
    a :class:`~cnnlib.train.TrainConfig` schedule; ``init`` is ``"default"`` (the model's own) or
    ``"lsuv"`` (:func:`cnnlib.models.layers.lsuv_init_` on a batch of the training images).
    """

    train_per_class: int | None
    test_per_class: int | None
    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    eval_every: int = 1
    train_eval_per_class: int = 100
    augment: bool = True
    warmup_epochs: float = 1.0
    weight_decay: float = 1e-4
    seeds: tuple[int, ...] = (0, 1, 2)
    device: str = "cpu"
    amp: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    allow_synthetic: bool = False  # the smoke budget only: tests run without CIFAR-10
    note: str = ""
    schedule: str = "cosine"
    init: str = "default"

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}; got {self.init!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (stored with the results). Settings added after results were
        stored are left out at their defaults, so those results keep their design."""
        d = asdict(self)
        d["seeds"] = list(self.seeds)
        return {k: v for k, v in d.items() if k not in _LATER or v != _LATER[k]}


#: Budget.init's and Arm.init's choices: the model's own, LSUV, Glorot's, and the VGG paper's
#: N(0, 0.01^2) carried over by each layer's gain (cnnlib.models.vgg_init.vgg_paper_init_)
INITS = ("default", "lsuv", "glorot", "vgg_paper")
#: Budget settings added after results were stored, with their defaults
_LATER = {"schedule": "cosine", "init": "default"}


@dataclass(frozen=True)
class Experiment:
    """A registered experiment of the book: the question, the paper's effect, the arms (which
    differ in one thing) and the budgets."""

    name: str
    question: str
    paper: dict[str, Any]  # {"claim": ..., "source": ..., and the paper's numbers}
    arms: tuple[Arm, ...]
    budgets: dict[str, Budget]
    chapter: str = ""
    #: where set, each run's ``final`` also holds ``epochs_to_target``: the first evaluated epoch
    #: whose training error is at most this (``None`` if none is)
    target_train_error: float | None = None
    #: ``"module:function"`` of an experiment that analyses a trained model instead of training
    #: its arms (its budgets are that function's own, for example ``AnalysisBudget``)
    analysis: str | None = None

    def arm(self, name: str) -> Arm:
        """The arm called ``name``; :class:`ExperimentError` naming the choices otherwise."""
        for a in self.arms:
            if a.name == name:
                return a
        raise ExperimentError(
            f"experiment {self.name!r} has no arm {name!r}; choose from "
            f"{', '.join(a.name for a in self.arms)}"
        )

    def budget(self, name: str) -> Budget:
        """The budget called ``name``; :class:`ExperimentError` naming the choices otherwise."""
        if name not in self.budgets:
            raise ExperimentError(
                f"experiment {self.name!r} has no budget {name!r}; choose from "
                f"{', '.join(self.budgets)}"
            )
        return self.budgets[name]


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (every budget of :data:`BUDGETS` must be defined, each
    with at least 2 seeds)."""
    if experiment.name in _REGISTRY:
        raise ValueError(f"experiment {experiment.name!r} is registered twice")
    missing = [b for b in BUDGETS if b not in experiment.budgets]
    few = [b for b, budget in experiment.budgets.items() if len(budget.seeds) < 2]
    if missing or few:
        raise ValueError(f"{experiment.name}: budgets missing {missing}, fewer than 2 seeds {few}")
    _REGISTRY[experiment.name] = experiment
    return experiment


def list_experiments() -> list[str]:
    """The registered experiments' names, sorted (``cnnlib.experiments`` registers the book's)."""
    return sorted(_REGISTRY)


def get(name: str) -> Experiment:
    """The experiment called ``name``; :class:`ExperimentError` naming the choices otherwise."""
    names = list_experiments()
    if name not in _REGISTRY:
        near = difflib.get_close_matches(name, names, n=3)
        hint = f" (closest: {', '.join(near)})" if near else ""
        raise ExperimentError(f"unknown experiment {name!r}{hint}; choose from {', '.join(names)}")
    return _REGISTRY[name]
