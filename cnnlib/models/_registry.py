"""The model registry: builders by name (``create("resnet50")``, ``list_models("resnet*")``)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import Any

from torch import nn

from cnnlib.runtime import CnnlibError

__all__ = ["UnknownModelError", "closest_models", "create", "list_models", "register"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(CnnlibError, ValueError):
    """``create`` was given a name that no builder is registered under."""


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: make a model builder available under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} is registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def list_models(pattern: str | None = None) -> list[str]:
    """The names ``create`` accepts, sorted; ``pattern`` keeps those matching a shell-style
    pattern (``"resnet*"``, ``"vgg1?_bn"``), as timm's ``list_models`` does."""
    names = sorted(_MODELS)
    return names if pattern is None else fnmatch.filter(names, pattern)


def closest_models(name: str, n: int = 3) -> list[str]:
    """Up to ``n`` registered names closest to ``name`` (case ignored), closest first."""
    return difflib.get_close_matches(str(name).lower(), list_models(), n=n)


def create(name: str, **kwargs: Any) -> nn.Module:
    """Build the model called ``name`` (for example ``"resnet50"``), passing ``kwargs`` on.

    Raises :class:`UnknownModelError` (a ``ValueError``) naming the closest known names.

    >>> create("resnet20").fc.out_features
    10
    """
    builder = _MODELS.get(name) if isinstance(name, str) else None
    if builder is None:
        close = closest_models(name) if isinstance(name, str) else []
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"Unknown model {name!r}{hint} ({len(_MODELS)} models; "
            "cnnlib.models.list_models() lists them)"
        )
    return builder(**kwargs)
