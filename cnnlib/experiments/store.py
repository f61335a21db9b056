"""Where results live: ``results/NAME/BUDGET.json`` in the repository (found from any working
directory), ``$CNNLIB_RESULTS``, or, where cnnlib is pip-installed without the repository (Colab),
the repository's copy on GitHub, fetched once into the cache."""

from __future__ import annotations

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
    "REPOSITORY",
    "RESULTS_ENV",
    "check_writable",
    "load",
    "repository_results",
    "result_path",
    "save",
]

RESULTS_ENV = "CNNLIB_RESULTS"
#: The book's repository (``repository.url`` of ``_config.yml``; a test keeps the two equal).
REPOSITORY = "https://github.com/classic-cnns/classic-cnns-book"
_RAW = "https://raw.githubusercontent.com/{owner_repo}/main/results/{name}/{budget}.json"


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


def _fetch(name: str, budget: str) -> Path | None:
    """The repository's stored result, downloaded once into the cache (``None`` if offline)."""
    target = cache_dir() / "results" / name / f"{budget}.json"
    if target.is_file():
        return target
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    url = _RAW.format(owner_repo=owner_repo, name=name, budget=budget)
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            text = response.read().decode()
        json.loads(text)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    atomic_write_json(target, json.loads(text))
    return target


def load(name: str, budget: str, results: str | os.PathLike | None = None) -> dict[str, Any]:
    """The stored result of ``name`` at ``budget`` (see the module docstring for where from).

    Raises :class:`ExperimentError` naming the places looked at, and the command that makes it.
    """
    places = [result_path(name, budget, results)]
    if results is None and repository_results() is not None:
        places.append(repository_results() / name / f"{budget}.json")
    for path in places:
        if path.is_file():
            return _read(path)
    if results is None and repository_results() is None:
        fetched = _fetch(name, budget)
        if fetched is not None:
            return _read(fetched)
        places.append(Path(f"{REPOSITORY} (results/{name}/{budget}.json, not reachable)"))
    raise ExperimentError(
        f"no stored result of {name!r} at budget {budget!r}; looked at "
        + ", ".join(str(p) for p in dict.fromkeys(places))
        + f". Make it with: python -m cnnlib.experiments run {name} --budget {budget}"
    )
