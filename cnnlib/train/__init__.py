"""Training: :func:`fit` and :func:`evaluate` (``loop``), one :class:`TrainConfig` (``config``),
SGD and schedules (``optim``), the metric :class:`~cnnlib.train.metrics.Accumulator`
(``metrics``), exact-resume checkpoints (``checkpoint``), history and run card (``record``), and
the command line (``cli``; ``python -m cnnlib.train``).
"""

from __future__ import annotations

from cnnlib.train.checkpoint import CheckpointError
from cnnlib.train.cli import main
from cnnlib.train.config import SCHEDULES, ConfigError, TrainConfig
from cnnlib.train.loop import NonFiniteLossError, evaluate, fit
from cnnlib.train.metrics import Accumulator
from cnnlib.train.optim import build_optimizer, build_scheduler, default_milestones
from cnnlib.train.record import History, run_card

__all__ = [
    "SCHEDULES",
    "Accumulator",
    "CheckpointError",
    "ConfigError",
    "History",
    "NonFiniteLossError",
    "TrainConfig",
    "build_optimizer",
    "build_scheduler",
    "default_milestones",
    "evaluate",
    "fit",
    "main",
    "run_card",
]
