"""Zeiler & Fergus's figure 2 (arXiv 1311.2901): for a few units of a layer, the images of a set
that excite each most, the image patch under the unit and its projection back to the pixels
(:func:`cnnlib.interpret.reconstruct`). :func:`cnnlib.plots.plot_top_patches` draws it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cnnlib.analysis.receptive_field import receptive_field
from cnnlib.interpret import feature_maps, reconstruct

__all__ = ["TopPatches", "top_patches"]


@dataclass(frozen=True)
class TopPatches:
    """For each of ``channels`` of ``layer``: the ``k`` images that excite it most (``indices``
    into the images given, ``values`` their strongest activation), the input patch under that
    strongest unit (``patches``, (C, k, 3, s, s), normalised like the input) and its projection
    back to the pixels cut to the same window (``reconstructions``); ``s`` is the layer's
    receptive field, at most the image."""

    layer: str
    channels: tuple[int, ...]
    indices: Tensor
    values: Tensor
    patches: Tensor
    reconstructions: Tensor


def top_patches(
    model: nn.Module,
    images: Tensor,
    layer: str,
    channels: Sequence[int] | int,
    k: int = 9,
    rule: str = "deconvnet",
    batch_size: int = 500,
) -> TopPatches:
    """Zeiler & Fergus's figure 2 for ``channels`` of ``layer``: over all ``images`` (N, C, H, W,
    normalised as the model expects), the ``k`` whose strongest activation of the channel is
    largest; for each, the receptive-field window around that activation, and the activation
    projected back by :func:`reconstruct` (``rule``). The window is centred on the
    projection's support (the pixels the unit depends on) and shifted inside the image.
    ``channels`` may be a number n: the n units whose k-th strongest image excites them most
    (the units with the most consistent strong responses), strongest first."""
    if images.dim() != 4 or len(images) < k:
        raise ValueError(
            f"images must be a batch (N, C, H, W) of at least k={k}; got {tuple(images.shape)}"
        )
    strongest = torch.cat([
        feature_maps(model, chunk, layer)[layer].flatten(2).amax(dim=2).cpu()
        for chunk in images.split(batch_size)
    ])  # (N, channels of the layer)  # fmt: skip
    if isinstance(channels, int):
        if not 0 < channels <= strongest.shape[1]:
            raise ValueError(f"channels={channels}: {layer!r} has {strongest.shape[1]} units")
        kth = strongest.topk(k, dim=0).values[-1]  # each unit's k-th strongest image
        channels = kth.argsort(descending=True)[:channels].tolist()
    bad = [c for c in channels if not 0 <= c < strongest.shape[1]]
    if bad:
        raise ValueError(f"channels {bad} out of range: {layer!r} has {strongest.shape[1]}")
    h, w = images.shape[-2:]
    size = min(receptive_field(model, layer, (1, *images.shape[1:])).size, h, w)
    values, indices = strongest[:, list(channels)].topk(k, dim=0)  # (k, C)
    patches, recons = [], []
    for j, c in enumerate(channels):
        picked = images[indices[:, j]]
        recon = reconstruct(model, picked, layer, c, rule=rule).cpu()
        windows = [_window(r, size) for r in recon]
        patches.append(
            torch.stack([_cut(x, win, size) for x, win in zip(picked, windows, strict=True)])
        )
        recons.append(
            torch.stack([_cut(r, win, size) for r, win in zip(recon, windows, strict=True)])
        )
    return TopPatches(layer, tuple(channels), indices.T, values.T, torch.stack(patches),
                      torch.stack(recons))  # fmt: skip


def _window(recon: Tensor, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` window centred on the support of ``recon`` (C, H, W)."""
    support = recon.abs().sum(dim=0) > 0
    h, w = support.shape
    rows, cols = support.any(dim=1).nonzero(), support.any(dim=0).nonzero()
    if len(rows) == 0:  # an activation of zero projects to nothing: the centre
        return (h - size) // 2, (w - size) // 2
    centre = (int(rows.min() + rows.max()) // 2, int(cols.min() + cols.max()) // 2)
    return tuple(min(max(c - size // 2, 0), n - size) for c, n in zip(centre, (h, w), strict=True))


def _cut(x: Tensor, corner: tuple[int, int], size: int) -> Tensor:
    top, left = corner
    return x[:, top : top + size, left : left + size]
