"""Residual networks seen as ensembles of paths (Veit, Wilber & Belongie 2016) and the
"shattered gradients" of deep plain networks (Balduzzi et al. 2017).

Deleting or reordering blocks of a trained net (:func:`delete_blocks`, :func:`reorder_blocks`,
:func:`error_vs_deletions`, :func:`error_vs_reorderings`), the gradient that paths of each length
carry (:func:`path_gradients`), and the input gradient along a line of inputs with its
autocorrelation (:func:`line_gradients`, :func:`autocorrelation`).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cnnlib.residual import blocks, is_downsampling, remove_block
from cnnlib.runtime import eval_mode

__all__ = [
    "autocorrelation",
    "calibrate_batchnorm",
    "delete_blocks",
    "error_rate",
    "error_vs_deletions",
    "error_vs_reorderings",
    "line_gradients",
    "path_gradient",
    "path_gradients",
    "reorder_blocks",
    "swappable_pairs",
]


def delete_blocks(model: nn.Module, names: Iterable[str]) -> nn.Module:
    """A copy of ``model`` with every block of ``names`` replaced by its shortcut alone (see
    :func:`cnnlib.residual.remove_block`)."""
    for name in names:
        model = remove_block(model, name)
    return model


def swappable_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Pairs of blocks of the same stage that keep the shape, so that exchanging them still
    fits: Veit et al.'s reordering."""
    keep = [b for b in blocks(model) if not is_downsampling(model.get_submodule(b))]
    stage = {b: b.rpartition(".")[0] for b in keep}
    return [(a, b) for i, a in enumerate(keep) for b in keep[i + 1 :] if stage[a] == stage[b]]


def reorder_blocks(model: nn.Module, swaps: Sequence[tuple[str, str]]) -> nn.Module:
    """A copy of ``model`` with each pair of ``swaps`` (from :func:`swappable_pairs`) exchanged."""
    allowed = set(swappable_pairs(model))
    model = copy.deepcopy(model)
    for a, b in swaps:
        if (a, b) not in allowed and (b, a) not in allowed:
            raise ValueError(f"blocks {a!r} and {b!r} cannot be swapped (same stage, same shape)")
        pa, _, ca = a.rpartition(".")
        pb, _, cb = b.rpartition(".")
        ma, mb = model.get_submodule(a), model.get_submodule(b)
        setattr(model.get_submodule(pa), ca, mb)
        setattr(model.get_submodule(pb), cb, ma)
    return model


def error_rate(model: nn.Module, loader: Iterable, device: Any = None) -> float:
    """The model's error (a fraction) on ``loader``, from :func:`cnnlib.train.evaluate`."""
    from cnnlib.train import evaluate

    return 1.0 - evaluate(model, loader, device=device)["acc"]


def error_vs_deletions(
    model: nn.Module,
    loader: Iterable,
    ks: Sequence[int],
    samples: int,
    seed: int = 0,
    *,
    device: Any = None,
) -> dict[int, list[float]]:
    """Test error with ``k`` randomly chosen shape-keeping blocks deleted, for each ``k`` of
    ``ks``: ``samples`` random subsets per ``k`` (all of them when there are fewer), drawn with
    ``seed``. Returns ``{k: [error of each subset]}`` (Veit et al.'s figure 5a)."""
    keep = [b for b in blocks(model) if not is_downsampling(model.get_submodule(b))]
    rng = random.Random(seed)
    out = {}
    for k in ks:
        if not 0 <= k <= len(keep):
            raise ValueError(f"k must be in [0, {len(keep)}] (shape-keeping blocks); got {k}")
        subsets = _subsets(keep, k, samples, rng)
        out[k] = [error_rate(delete_blocks(model, s), loader, device) for s in subsets]
    return out


def _subsets(items: list[str], k: int, samples: int, rng: random.Random) -> list[list[str]]:
    if math.comb(len(items), k) <= samples:
        return [list(c) for c in itertools.combinations(items, k)]
    seen: set[tuple[str, ...]] = set()
    while len(seen) < samples:
        seen.add(tuple(sorted(rng.sample(items, k))))
    return [list(s) for s in sorted(seen)]


def error_vs_reorderings(
    model: nn.Module,
    loader: Iterable,
    ks: Sequence[int],
    samples: int,
    seed: int = 0,
    *,
    device: Any = None,
) -> dict[int, list[float]]:
    """Test error after ``k`` random swaps of blocks within a stage (Veit et al.'s figure 5b):
    ``samples`` random orderings per ``k`` drawn with ``seed``; ``{k: [errors]}``."""
    pairs = swappable_pairs(model)
    rng = random.Random(seed)
    out = {}
    for k in ks:
        out[k] = [
            error_rate(reorder_blocks(model, [rng.choice(pairs) for _ in range(k)]), loader, device)
            for _ in range(samples if k else 1)
        ]
    return out


@contextlib.contextmanager
def _paths_through(model: nn.Module, chosen: set[str]):
    """Within the block: the backward pass goes through the residual branch only of the
    ``chosen`` blocks and through the shortcut only of the others; the forward pass is unchanged
    (the other term is detached)."""
    saved = {}
    for name in blocks(model):
        block = model.get_submodule(name)
        saved[name] = block.forward

        def forward(x, block=block, through_branch=name in chosen):
            identity = x if block.downsample is None else block.downsample(x)
            branch = block.residual(x)
            if through_branch:
                return block.relu(branch + identity.detach())
            return block.relu(branch.detach() + identity)

        block.forward = forward
    try:
        yield
    finally:
        for name, f in saved.items():
            model.get_submodule(name).forward = f


def path_gradients(
    model: nn.Module, x: Tensor, y: Tensor, samples: int = 20, seed: int = 0
) -> dict[int, float]:
    """Mean norm of the loss gradient at the input of the first block carried by paths through
    exactly ``k`` residual branches, for ``k = 0 ... n`` (Veit et al.'s figure 6a).

    For each ``k``, ``samples`` random sets of ``k`` blocks (seeded) let the gradient through
    their branch and the other blocks through their shortcut only; the forward pass is the
    network's own. The model runs in eval mode; ``x`` is a batch of inputs, ``y`` its labels.
    """
    names = blocks(model)
    if not names or not all(model.get_submodule(b).shortcut for b in names):
        raise ValueError("path_gradients needs a residual network (cnnlib's residual blocks)")
    rng = random.Random(seed)
    out: dict[int, float] = {}
    with eval_mode(model):
        for k in range(len(names) + 1):
            draws = samples if 0 < k < len(names) else 1
            norms = [path_gradient(model, set(rng.sample(names, k)), x, y).norm().item()
                     for _ in range(draws)]  # fmt: skip
            out[k] = sum(norms) / len(norms)
    return out


def path_gradient(model: nn.Module, chosen: set[str], x: Tensor, y: Tensor) -> Tensor:
    """The loss gradient at the input of the first block, carried only by the paths through
    the ``chosen`` blocks' residual branches (and every other block's shortcut). Summed over all
    ``2**n`` choices it is the full gradient (tested), since each block's backward pass is
    ``J_F + I`` with its ReLU masks fixed by the forward pass."""
    first = model.get_submodule(blocks(model)[0])
    grabbed: list[Tensor] = []

    def leaf(module: nn.Module, args: tuple) -> tuple:
        grabbed.append(args[0].detach().requires_grad_())  # differentiate from here
        return (grabbed[-1],)

    hook = first.register_forward_pre_hook(leaf)
    try:
        with _paths_through(model, chosen):
            loss = nn.functional.cross_entropy(model(x), y)
            (grad,) = torch.autograd.grad(loss, grabbed[-1])
    finally:
        hook.remove()
    return grad


def line_gradients(model: nn.Module, x0: Tensor, direction: Tensor, n: int = 256) -> Tensor:
    """The derivative of the first output along a line of inputs: for ``n`` points
    ``x0 + t * direction``, ``t`` in [-1, 1], the directional derivative of output 0 at each
    (Balduzzi et al.'s 1-D probe, on images). Eval mode; returns a tensor of ``n`` values."""
    t = torch.linspace(-1, 1, n).view(-1, *([1] * x0.dim()))
    xs = (x0.unsqueeze(0) + t * direction.unsqueeze(0)).requires_grad_()
    with eval_mode(model):
        (grad,) = torch.autograd.grad(model(xs)[:, 0].sum(), xs)
    return (grad * direction.unsqueeze(0)).flatten(1).sum(1).detach()


def calibrate_batchnorm(model: nn.Module, x: Tensor) -> nn.Module:
    """Set every batch norm's running statistics to those of the batch ``x`` (one forward pass in
    training mode, no gradients), then return the model in eval mode: an untrained network whose
    batch norms normalise real data as in training, but act on each input alone."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: exactly the statistics of x
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


def autocorrelation(g: Tensor, max_lag: int = 20) -> Tensor:
    """Normalised autocorrelation of a sequence at lags ``0 ... max_lag`` (1 at lag 0): near 0
    beyond lag 0 for white noise, slowly decaying for a smooth ("brown") signal."""
    g = g.double() - g.double().mean()
    var = (g * g).sum()
    if var == 0:
        raise ValueError("autocorrelation of a constant sequence is undefined")
    return torch.stack([(g[: len(g) - k] * g[k:]).sum() / var for k in range(max_lag + 1)])
