#!/usr/bin/env python
"""Re-execute the book's notebooks in place, top to bottom, to refresh their stored outputs.

The stored outputs are the book's content (the book build never executes notebooks), so refresh
them in the profile the book should show::

    .venv/bin/python tools/refresh_notebooks.py --profile cpu --timeout 1800
    .venv/bin/python tools/refresh_notebooks.py notebooks/01_ilsvrc.ipynb

Each notebook runs in a fresh kernel of this Python (so in the virtual environment), with the
notebook's folder as working directory, ``CNNLIB_PROFILE`` set to the chosen profile and
``MPLBACKEND`` removed (figures must come out as inline PNGs). Execution timings are not recorded,
so a refresh only changes what the code prints. The run stops at the first error and leaves that
notebook unchanged.

``--only-tag TAG`` runs only the setup cell and the cells tagged ``TAG`` (each such cell must
be self-contained: its own imports, nothing from other cells) and stores their outputs; every
other cell keeps its stored outputs, and the code cells are numbered in order (nbval compares
only numbered cells). Use it for a cell added to a notebook whose full run is
long (a diagram drawn from a model); nbval still runs the whole notebook.

``--fix-setup`` first rewrites every notebook's setup cell (its first code cell) from
``cnnlib.notebook`` and the repository URL in ``_config.yml``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnlib.notebook import SETUP_TAGS, repository_url, setup_cell_source  # noqa: E402

KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def fix_setup(nb: nbformat.NotebookNode, source: str) -> bool:
    """Make the first code cell the setup cell (source and tags). Returns True if it changed."""
    i, cell = next(
        ((i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"), (len(nb.cells), None)
    )
    if cell is None or not re.search(r"cnnlib\.(profile|notebook)\.setup", cell.source):
        cell = nbformat.v4.new_code_cell(source)
        nb.cells.insert(i, cell)
    old = (cell.source, list(cell.metadata.get("tags", [])))
    cell.source = source
    tags = [t for t in cell.metadata.get("tags", []) if t not in SETUP_TAGS]
    cell.metadata["tags"] = [*SETUP_TAGS, *tags]
    return old != (cell.source, cell.metadata["tags"])


def _run(nb, path: Path, timeout: int, kernel: str) -> float:
    """Execute ``nb`` in a fresh kernel with the notebook's folder as working directory; the
    seconds it took."""
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def execute(path: Path, timeout: int, kernel: str, only_tag: str | None = None) -> float:
    nb = nbformat.read(path, as_version=4)
    if only_tag:
        return _execute_tagged(path, nb, timeout, kernel, only_tag)
    nb.metadata["kernelspec"] = dict(KERNEL)
    seconds = _run(nb, path, timeout, kernel)
    if not _has_widgets(nb):
        nb.metadata.pop("widgets", None)  # widget state of nothing: noise in the diff
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def _execute_tagged(path: Path, nb, timeout: int, kernel: str, tag: str) -> float:
    """Run the setup cell and the cells tagged ``tag`` in a fresh kernel; store their outputs."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    chosen = [c for c in code if tag in c.metadata.get("tags", [])]
    if not chosen:
        raise SystemExit(f"{path}: no cell is tagged {tag!r}")
    part = nbformat.v4.new_notebook(metadata=dict(nb.metadata, kernelspec=dict(KERNEL)))
    part.cells = [nbformat.from_dict(dict(c)) for c in [code[0], *chosen]]
    seconds = _run(part, path, timeout, kernel)
    for cell, done in zip(chosen, part.cells[1:], strict=True):
        cell.outputs = done.outputs
    for count, cell in enumerate(code, start=1):  # nbval compares only numbered cells
        cell.execution_count = count
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def _has_widgets(nb) -> bool:
    return any(
        "application/vnd.jupyter.widget-view+json" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/*.ipynb)"
    )
    parser.add_argument(
        "--profile", default="cpu", choices=["smoke", "cpu", "gpu"], help="run profile"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name")
    parser.add_argument(
        "--only-tag", metavar="TAG", help="run only the setup cell and the cells tagged TAG"
    )
    parser.add_argument(
        "--fix-setup", action="store_true", help="rewrite each notebook's setup cell first"
    )
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    os.environ["CNNLIB_PROFILE"] = args.profile
    os.environ.pop("MPLBACKEND", None)  # an inherited backend would replace inline PNG figures

    if args.fix_setup:
        source = setup_cell_source(repository_url(ROOT / "_config.yml"))
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            if fix_setup(nb, source):
                nbformat.write(nb, path)
                print(f"{path}: setup cell rewritten")

    for path in paths:
        path = Path(path).resolve()
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{name}: running in the {args.profile} profile ...", flush=True)
        seconds = execute(path, args.timeout, args.kernel, args.only_tag)
        print(f"{name}: done in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
