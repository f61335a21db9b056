"""``python -m cnnlib.experiments list`` and ``... run NAME [--budget B] [--seeds S ...]``.

Bad input (an unknown experiment, budget or arm; a results directory that cannot be written) is
a usage error (exit 2, one line naming the choices) before any work starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cnnlib.experiments.registry import BUDGETS, ExperimentError, get, list_experiments
from cnnlib.experiments.runner import run
from cnnlib.experiments.store import RESULTS_ENV, check_writable, result_path
from cnnlib.runtime import CnnlibError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = "python -m cnnlib.experiments") -> argparse.ArgumentParser:
    """The parser: ``list`` and ``run``."""
    p = _Parser(
        prog=prog,
        description="The book's experiments: list them, or run one and store "
        "its result as results/NAME/BUDGET.json (an interrupted run resumes).",
    )
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the experiments, their questions and budgets")
    r = sub.add_parser("run", help="run one experiment at one budget")
    r.add_argument("name", help="an experiment of `list`")
    r.add_argument("--budget", default="cpu", choices=BUDGETS, help="(default: %(default)s)")
    r.add_argument("--seeds", type=int, nargs="+", help="(default: the budget's, 3 where it fits)")
    r.add_argument("--arms", nargs="+", help="a subset of the arms (default: all)")
    r.add_argument(
        "--results",
        help=f"results directory (default: ${RESULTS_ENV}, else the repository's results/)",
    )
    r.add_argument(
        "--data-dir",
        help="CIFAR-10 location (default: $CNNLIB_DATA, then the "
        "download directory; see cnnlib.data.load_cifar10)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _list() -> int:
    for name in list_experiments():
        exp = get(name)
        arms = ", ".join(a.name for a in exp.arms)
        print(f"{name}: {exp.question}\n  arms: {arms}\n  budgets: {', '.join(exp.budgets)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; 0 on success, 1 if the run failed, 2 on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list()
    try:
        exp = get(args.name)
        exp.budget(args.budget)
        for arm in args.arms or ():
            exp.arm(arm)
        path = result_path(args.name, args.budget, args.results)
        check_writable(path.parent)
    except ExperimentError as err:
        parser.error(str(err))
    try:
        result = run(
            args.name,
            args.budget,
            seeds=args.seeds,
            arms=args.arms,
            results=args.results,
            data_dir=args.data_dir,
            progress=not args.quiet,
        )
    except CnnlibError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(result['runs'])} runs stored in {path} ({result['card']['seconds']:.0f} s)")
    return 0
