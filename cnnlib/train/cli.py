"""The command line: ``python -m cnnlib.train`` (also ``cnnlib-train``, and under ``torchrun``).

Bad input is a usage error (exit 2, one line) before any work starts; a failure of the run itself
(:class:`~cnnlib.runtime.CnnlibError`: data not found or corrupt, a foreign checkpoint, a loss
that became NaN) is one line and exit 1; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlib import data, models
from cnnlib import distributed as cdist
from cnnlib.profile import PROFILES, Profile, get_profile
from cnnlib.runtime import CnnlibError, resolve_device, seed_everything
from cnnlib.train.config import SCHEDULES, ConfigError, TrainConfig
from cnnlib.train.loop import fit

__all__ = ["build_parser", "main"]


def _prog() -> str:
    """How we were called: ``python -m cnnlib.train`` or the script's name (``cnnlib-train``)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m cnnlib.train" if name in ("", "__main__.py", "-c") else name


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (the full usage is in ``--help``)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The argument parser, in four groups: model, data, optimisation, run."""
    p = _Parser(
        prog=prog or _prog(),
        description="Train a cnnlib model on CIFAR-10 (or Imagenette); writes history.json, "
        "run.json and checkpoint.pt into --out. Runs unchanged under torchrun (only rank 0 "
        "writes). Settings left out come from the profile.",
    )
    g = p.add_argument_group("model")
    g.add_argument("--model", help="a name of cnnlib.models.list_models(), e.g. resnet20")
    g.add_argument(
        "--list-models",
        nargs="?",
        const="*",
        metavar="PATTERN",
        help="list the model names matching a shell pattern (default: all) and exit",
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset",
        choices=("cifar10", "imagenette"),
        default="cifar10",
        help="cifar10 lives on the device; imagenette goes through torchvision's "
        "DataLoader (default: %(default)s)",
    )
    g.add_argument(
        "--data-dir",
        help="a directory holding cifar-10-batches-py/, an image folder "
        "(train/, test/) or a zip of one (default: $CNNLIB_DATA, then the download "
        "directory)",
    )
    g.add_argument("--no-download", action="store_true", help="never try torchvision's download")
    g.add_argument(
        "--subset", type=int, help="train on N class-balanced images (default: the profile's size)"
    )
    g.add_argument("--test-subset", type=int, help="evaluate on N class-balanced test images")
    g.add_argument(
        "--image-size",
        type=int,
        default=128,
        help="imagenette crop size in pixels (default: %(default)s)",
    )
    g.add_argument("--workers", type=int, help="DataLoader workers (imagenette)")
    _optimisation_group(p)
    g = p.add_argument_group("run")
    g.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        help="sizes, epochs and batch size of "
        "the settings left out (default: $CNNLIB_PROFILE, else gpu with CUDA, cpu "
        "without); smoke may fall back to synthetic data",
    )
    g.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of model, data order and subsets (default: %(default)s)",
    )
    g.add_argument("--out", help="output directory (required to train)")
    g.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    g.add_argument("--stop-after", type=int, help="stop after this epoch (resume later)")
    g.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    g.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="mixed precision on CUDA (default: the profile's; no-op on CPU)",
    )
    g.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        help="channels_last memory format (default: the profile's)",
    )
    g.add_argument("--compile", action="store_true", help="torch.compile the model")
    g.add_argument("--quiet", action="store_true", help="no progress bar or printing")
    return p


def _optimisation_group(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    g = p.add_argument_group("optimisation (defaults: the profile's, else TrainConfig's)")
    g.add_argument("--epochs", type=int, help="epochs (default: the profile's)")
    g.add_argument("--batch-size", type=int, help="batch size per process (default: the profile's)")
    g.add_argument("--lr", type=float, help="peak learning rate (default: the profile's)")
    g.add_argument("--momentum", type=float, help=f"SGD momentum (default: {d.momentum})")
    g.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum")
    g.add_argument(
        "--weight-decay", type=float, help=f"L2 weight decay (default: {d.weight_decay})"
    )
    g.add_argument("--label-smoothing", type=float, help="label smoothing (default: 0)")
    g.add_argument("--schedule", choices=SCHEDULES, help=f"lr schedule (default: {d.schedule})")
    g.add_argument(
        "--milestones",
        type=int,
        nargs="+",
        help="epochs at which the step schedule divides the lr (default: 50%% and 75%%)",
    )
    g.add_argument("--warmup-epochs", type=float, help="epochs of linear lr warm-up (default: 0)")
    g.add_argument(
        "--aux-weight",
        type=float,
        help="weight of auxiliary-classifier losses, "
        "required for models with auxiliary heads (GoogLeNet: 0.3 in the paper)",
    )


_CONFIG_FLAGS = (
    "epochs",
    "lr",
    "momentum",
    "nesterov",
    "weight_decay",
    "label_smoothing",
    "schedule",
    "milestones",
    "warmup_epochs",
    "aux_weight",
    "batch_size",
    "seed",
    "amp",
    "channels_last",
    "compile",
)


def _check(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[Profile, TrainConfig]:
    """Every usage error, before any work: the profile and the training config, validated."""
    if args.model is None:
        parser.error("the following argument is required: --model (or --list-models)")
    if args.model not in models.list_models():
        near = models.closest_models(args.model)
        hint = f"closest: {', '.join(near)}" if near else "see --list-models"
        parser.error(f"argument --model: unknown model {args.model!r} ({hint})")
    if args.out is None:
        parser.error("the following argument is required: --out")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        parser.error(
            f"argument --out: {args.out} is a file; expected a directory (new or existing)"
        )
    for flag in ("subset", "test_subset", "stop_after", "image_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(
                f"argument --{flag.replace('_', '-')}: expected an integer >= 1, got {value}"
            )
    if args.workers is not None and args.workers < 0:
        parser.error(f"argument --workers: expected an integer >= 0, got {args.workers}")
    try:
        prof = get_profile(args.profile, device=str(resolve_device(args.device)))
    except ValueError as err:
        parser.error(f"argument --device: {err}")
    given = {k: getattr(args, k) for k in _CONFIG_FLAGS if getattr(args, k) is not None}
    if given.get("milestones") is not None:
        given["milestones"] = tuple(given["milestones"])
    try:
        config = TrainConfig.from_profile(
            prof, **({"batch_size": prof.batch_size, "model": args.model} | given)
        )
    except ConfigError as err:
        parser.error(f"argument --{(err.field or 'config').replace('_', '-')}: {err}")
    return prof, config


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """The command line; returns the exit status (0 success, 1 failed run, 2 usage error)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.list_models is not None:
        names = models.list_models(args.list_models)
        if not names:
            parser.error(f"argument --list-models: no model matches {args.list_models!r}")
        print("\n".join(names))
        return 0
    prof, config = _check(parser, args)
    info = cdist.init_from_env(config.device)
    try:
        return _run(args, prof, config.replace(device=info.device), info)
    except CnnlibError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        cdist.cleanup()


def _load(args: argparse.Namespace, prof: Profile, quiet: bool) -> tuple[Any, Any]:
    """The training and test sets the flags ask for."""
    if args.dataset == "cifar10":
        train, test = data.load_cifar10(
            args.data_dir,
            train_per_class=None if args.subset else prof.train_per_class,
            train_total=args.subset,
            test_per_class=None if args.test_subset else prof.test_per_class,
            seed=args.seed,
            download=not args.no_download,
            allow_synthetic=prof.allow_synthetic,
            progress=not quiet,
        )
        return train, test.subset(total=args.test_subset, seed=args.seed)
    train, test = data.load_imagenette(
        args.data_dir, image_size=args.image_size, download=not args.no_download
    )
    return (
        data.subset_dataset(train, total=args.subset, seed=args.seed),
        data.subset_dataset(test, total=args.test_subset, seed=args.seed),
    )


def _loaders(args: argparse.Namespace, prof: Profile, config: TrainConfig, train, test):
    b = config.batch_size
    if args.dataset == "cifar10":
        common = {"device": config.device, "channels_last": config.channels_last}
        return (
            data.DeviceLoader(train, b, train=True, seed=args.seed, **common),
            data.DeviceLoader(test, 2 * b, train=False, **common),
        )
    workers = prof.num_workers if args.workers is None else args.workers
    return (
        data.EpochDataLoader(train, b, train=True, num_workers=workers, seed=args.seed),
        data.EpochDataLoader(test, 2 * b, train=False, num_workers=workers, seed=args.seed),
    )


def _run(args: argparse.Namespace, prof: Profile, config: TrainConfig, info: cdist.DistInfo) -> int:
    """Load the data (rank 0 first, which decodes and caches), build the model and fit."""
    quiet = args.quiet or not info.is_main
    if info.is_main:
        train, test = _load(args, prof, quiet)
    cdist.barrier()
    if not info.is_main:
        train, test = _load(args, prof, quiet)
    if len(train) < config.batch_size * info.world_size and not quiet:
        print(f"note: {len(train)} training images, fewer than one batch per process")
    train_loader, val_loader = _loaders(args, prof, config, train, test)
    seed_everything(args.seed)
    model = models.create(args.model, num_classes=10)
    fit(
        model,
        train_loader,
        val_loader,
        config,
        out_dir=args.out,
        resume=args.resume,
        stop_after=args.stop_after,
        quiet=quiet,
    )
    return 0
