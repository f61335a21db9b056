"""What every chapter notebook starts with: :func:`setup` and the setup cell that calls it.

The first code cell of every notebook in ``notebooks/`` is exactly :func:`setup_cell_source` for
the repository URL of ``_config.yml`` (``repository.url``, the one place the URL is set). On Colab,
where ``cnnlib`` is not installed, the cell installs it from that repository; everywhere it calls
:func:`setup`, which picks the run profile, seeds, and prints the run card.

``tests/test_notebook_hygiene.py`` checks every notebook against it, and
``tools/refresh_notebooks.py --fix-setup`` rewrites the cell from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from cnnlib.data import describe_cifar10_source
from cnnlib.profile import Profile, get_profile
from cnnlib.runtime import CnnlibError, device_name, seed_everything, versions

__all__ = ["SETUP_TAGS", "repository_url", "setup", "setup_cell_source"]

#: Cell tags of the setup cell: its output (the run card) depends on the machine and the profile,
#: so nbval does not compare it; myst-nb folds its code away in the rendered book.
SETUP_TAGS = ("nbval-ignore-output", "hide-input")

_TEMPLATE = """\
try:
    import cnnlib
except ImportError:  # on Colab: install cnnlib from the book's repository
    %pip install -q "cnnlib @ git+{url}"
    import cnnlib
profile = cnnlib.notebook.setup(seed=0)"""


def setup_cell_source(url: str) -> str:
    """The source of the setup cell for the book's repository ``url`` (no trailing newline)."""
    url = url.rstrip("/")
    if url.endswith(".git"):
        url = url[: -len(".git")]
    if not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"not a repository URL of the form https://host/owner/name: {url!r}")
    return _TEMPLATE.format(url=url)


def repository_url(config: str | Path = "_config.yml") -> str:
    """``repository.url`` of a Jupyter Book ``_config.yml``."""
    import yaml  # PyYAML comes with Jupyter Book; cnnlib itself does not need it

    data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    url = (data.get("repository") or {}).get("url")
    if not url:
        raise ValueError(f"{config}: no repository.url")
    return str(url)


def _data_line() -> str | None:
    """Where CIFAR-10 would be read from, without decoding it (``None`` if that fails)."""
    try:
        return describe_cifar10_source()
    except (CnnlibError, OSError):
        return None


def setup(seed: int = 0, profile: str | None = None, verbose: bool = True) -> Profile:
    """Pick the profile and device (:func:`cnnlib.profile.get_profile`), seed everything, print
    a short run card; return the :class:`~cnnlib.profile.Profile` the notebook passes on."""
    prof = get_profile(profile)
    seed_everything(seed)
    if prof.name == "gpu" and prof.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels
    if verbose:
        v = versions()
        lines = [
            f"profile  {prof.name}: {prof.description}",
            f"device   {prof.device} ({device_name(prof.device)})",
            f"versions torch {v['torch']}, torchvision {v['torchvision']}, cnnlib {v['cnnlib']}"
            f" (Python {v['python']})",
            f"seed     {seed}",
        ]
        source = _data_line()
        if source:
            lines.append(f"data     {source}")
        print("\n".join(lines))
    return prof
