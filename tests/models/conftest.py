"""Shared by the model tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn


@pytest.fixture
def shapes_after():
    """``shapes_after(model, modules, size)``: the output shape (without batch) of each of
    ``modules`` in one eval-mode forward pass of a ``size`` x ``size`` zero image."""

    def _shapes_after(model: nn.Module, modules: list[nn.Module], size: int) -> list[tuple]:
        shapes: list[tuple] = []
        handles = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
                   for m in modules]  # fmt: skip
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size))
        for h in handles:
            h.remove()
        return shapes

    return _shapes_after
