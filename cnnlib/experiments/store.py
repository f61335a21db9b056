"""Where results live: ``results/NAME/BUDGET.json`` in the repository (found from any working
directory), ``$CNNLIB_RESULTS``, or, where cnnlib is pip-installed from GitHub without a clone
(Colab), the copy at the installed commit, fetched once into the cache. The repository is the one
pip recorded (PEP 610's ``direct_url.json``), so its URL is written nowhere in cnnlib."""

from __future__ import annotations

import importlib.metadata
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cnnlib.data import cache_dir
from cnnlib.experiments.registry import ExperimentError
from cnnlib.runtime import atomic_write_json

__all__ = [
    "RESULTS_ENV",
    "check_writable",
    "installed_from",
    "load",
    "repository_results",
    "result_path",
    "save",
]

RESULTS_ENV = "CNNLIB_RESULTS"
_RAW = "https://raw.githubusercontent.com/{owner_repo}/{commit}/results/{name}/{budget}.json"


def installed_from() -> tuple[str, str] | None:
    """``(GitHub repository URL, commit)`` pip installed cnnlib from, if it did so from git."""
    try:
        text = importlib.metadata.distribution("cnnlib").read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None
    info = json.loads(text) if text else {}
    url, vcs = info.get("url", ""), info.get("vcs_info")
    if not vcs or not url.startswith("https://github.com/"):
        return None
    return url.removesuffix(".git"), vcs.get("commit_id") or "main"


def repository_results() -> Path | None:
    """``results/`` of the clone cnnlib runs from (editable install or ``sys.path``), if any."""
    root = Path(__file__).resolve().parents[2]
    return root / "results" if (root / "pyproject.toml").is_file() else None


def results_dir(results: str | os.PathLike | None = None) -> Path:
    """Where results are written: ``results``, else ``$CNNLIB_RESULTS``, else the clone's
    ``results/``, else ``./results``."""
    if results is not None:
        return Path(results).expanduser()
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser()
    return repository_results() or Path("results")


def result_path(name: str, budget: str, results: str | os.PathLike | None = None) -> Path:
    """``<results>/<name>/<budget>.json``."""
    return results_dir(results) / name / f"{budget}.json"


def check_writable(folder: Path) -> None:
    """:class:`ExperimentError` unless ``folder`` (created if need be) can hold results."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ExperimentError(
            f"cannot write results into {folder}: {err.strerror or err}"
        ) from None


def save(result: dict[str, Any], path: Path) -> None:
    """Write ``result`` as strict JSON, atomically."""
    atomic_write_json(path, result)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ExperimentError(f"{path} is not readable JSON ({err})") from None


def _fetch(name: str, budget: str, source: tuple[str, str]) -> Path | None:
    """The stored result at the installed commit, downloaded once into the cache (``None`` if
    it cannot be reached)."""
    url, commit = source
    target = cache_dir() / "results" / commit / name / f"{budget}.json"
    if target.is_file():
        return target
    owner_repo = url.removeprefix("https://github.com/")
    raw = _RAW.format(owner_repo=owner_repo, commit=commit, name=name, budget=budget)
    try:
        with urllib.request.urlopen(raw, timeout=20) as response:
            result = json.loads(response.read().decode())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    atomic_write_json(target, result)
    return target


def load(name: str, budget: str, results: str | os.PathLike | None = None) -> dict[str, Any]:
    """The stored result of ``name`` at ``budget`` (see the module docstring for where from).

    Raises :class:`ExperimentError` naming the places looked at, and the command that makes it.
    """
    places: list = [result_path(name, budget, results)]
    if results is None and repository_results() is not None:
        places.append(repository_results() / name / f"{budget}.json")
    for path in places:
        if path.is_file():
            return _read(path)
    source = installed_from() if results is None and repository_results() is None else None
    if source is not None:
        fetched = _fetch(name, budget, source)
        if fetched is not None:
            return _read(fetched)
        places.append(f"{source[0]} at {source[1][:12]} (not reachable)")
    raise ExperimentError(
        f"no stored result of {name!r} at budget {budget!r}; looked at "
        + ", ".join(str(p) for p in dict.fromkeys(places))
        + f". Make it with: python -m cnnlib.experiments run {name} --budget {budget}"
    )
