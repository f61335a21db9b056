"""Test-session setup shared by tests/ and the nbval run of notebooks/ (see pyproject.toml).

- Every notebook and test runs in the ``smoke`` profile. nbval's kernels inherit this process's
  environment, so it is set here, before any kernel starts (also in each pytest-xdist worker).
- Under pytest-xdist every worker runs single-threaded (``OMP_NUM_THREADS=1``).
- ``MPLBACKEND`` is removed: an inherited backend (``Agg`` on many CI machines) replaces the
  notebooks' inline PNG figures with nothing and changes their outputs.
- nbval's notebook cells and the tests of the built book are marked ``slow`` (the fast path,
  ``-m "not slow"``, leaves them out).
- ``book_build``: the book, built once per test session with ``jupyter-book build . -W -n
  --keep-going`` into a temporary folder, shared by tests/test_book.py and tests/test_site.py
  (also across pytest-xdist workers: the first one builds, the others wait and reuse it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

os.environ["CNNLIB_PROFILE"] = "smoke"
# The smoke profile uses real CIFAR-10 where present: the shared copy that CI and the
# development machines keep beside the repository, unless the user named another.
_SHARED_DATA = ROOT.parent / "shared" / "data"
if "CNNLIB_DATA" not in os.environ and _SHARED_DATA.is_dir():
    os.environ["CNNLIB_DATA"] = str(_SHARED_DATA)
os.environ.pop("MPLBACKEND", None)
# Under pytest-xdist each worker (and each notebook kernel it starts) uses one thread: two workers
# on two cores, instead of two workers each spreading over both (10-50x slower for small ops).
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
# A notebook run by papermill gets an injected cell that would override the profile; nbval runs
# the notebooks as they are, and tests/test_notebook_hygiene.py forbids such cells.


@dataclass(frozen=True)
class BookBuild:
    """The result of one ``jupyter-book build``."""

    returncode: int
    output: str  # stdout and stderr of the build
    seconds: float
    out_dir: Path  # --path-output; the HTML is in out_dir / "_build" / "html"

    @property
    def html(self) -> Path:
        return self.out_dir / "_build" / "html"

    @property
    def warnings(self) -> list[str]:
        return [line for line in self.output.splitlines() if "WARNING" in line or "ERROR" in line]


def build_book(out_dir: Path) -> BookBuild:
    """Run ``jupyter-book build . -W -n --keep-going --path-output out_dir`` in the repository."""
    cmd = [
        sys.executable,
        "-c",
        "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
        "build",
        str(ROOT),
        "--path-output",
        str(out_dir),
        "-W",
        "-n",
        "--keep-going",
        "--all",
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    seconds = time.perf_counter() - start
    return BookBuild(proc.returncode, proc.stdout + proc.stderr, seconds, out_dir)


@pytest.fixture(scope="session")
def book_build(tmp_path_factory) -> BookBuild:
    """The book built once per test session (see the module docstring)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # not under pytest-xdist
        return build_book(tmp_path_factory.mktemp("book"))
    # Under xdist every worker has its own basetemp; their parent is shared by the session.
    shared = tmp_path_factory.getbasetemp().parent / "book"
    shared.mkdir(exist_ok=True)
    result_file = shared / "build.json"
    import fcntl

    with open(shared / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not result_file.exists():
            build = build_book(shared)
            result_file.write_text(
                json.dumps({"returncode": build.returncode, "output": build.output,
                            "seconds": build.seconds})
            )  # fmt: skip
    data = json.loads(result_file.read_text())
    return BookBuild(data["returncode"], data["output"], data["seconds"], shared)


def pytest_collection_modifyitems(items) -> None:
    """Mark ``slow`` every nbval notebook cell and every test that needs the built book."""
    for item in items:
        if item.path.suffix == ".ipynb" or "book_build" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
