"""Batched augmentations on the device: random crop and flip, and AlexNet's PCA colour
augmentation ("fancy PCA", Krizhevsky et al. 2012, section 4.1).

PCA lighting adds to every pixel of an image ``[p1, p2, p3] [a1 l1, a2 l2, a3 l3]^T``, where
``p_i, l_i`` are the eigenvectors and eigenvalues of the training set's 3x3 RGB covariance and
``a_i ~ N(0, 0.1)`` is drawn per image and use. Pixels are taken in [0, 1] (the paper does not
say on which scale it computed the PCA). Usage: ``pca = rgb_pca(train.images)``, then
``PCAColorLoader(DeviceLoader(train, 128), pca)`` for :func:`cnnlib.train.fit`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ColorPCA",
    "PCAColorLoader",
    "pca_color_augment",
    "pca_color_offsets",
    "pca_from_covariance",
    "rgb_covariance",
    "random_crop_flip",
    "rgb_pca",
]


@dataclass(frozen=True)
class ColorPCA:
    """Eigenvalues (descending, shape (3,)) and eigenvectors (the columns of a (3, 3) matrix) of
    the RGB covariance, for pixel values in [0, 1]."""

    eigenvalues: Tensor
    eigenvectors: Tensor


def _as_unit_float(images: Tensor) -> Tensor:
    if images.dtype == torch.uint8:
        return images.double() / 255.0
    if not images.is_floating_point():
        raise TypeError(f"images must be uint8 or floating point; got {images.dtype}")
    return images.double()


def _check_images(images: Tensor) -> None:
    if images.dim() not in (3, 4) or images.shape[-3] != 3:
        raise ValueError(
            f"expected RGB images of shape (3, H, W) or (N, 3, H, W); got {tuple(images.shape)}"
        )


def rgb_covariance(images: Tensor) -> Tensor:
    """The 3x3 covariance (float64) of the RGB values of all pixels of ``images`` ((N, 3, H, W)
    or (3, H, W), uint8 or float in [0, 1])."""
    _check_images(images)
    x = _as_unit_float(images)
    pixels = x.movedim(-3, -1).reshape(-1, 3)  # one row per pixel
    return torch.cov(pixels.T)


def pca_from_covariance(cov: Tensor) -> ColorPCA:
    """Eigen-decomposition of a symmetric 3x3 covariance, eigenvalues in descending order.

    Each eigenvector's sign is fixed so that its largest-magnitude entry is positive (the sign is
    arbitrary; fixing it makes results reproducible across libraries).
    """
    cov = torch.as_tensor(cov, dtype=torch.float64)
    if cov.shape != (3, 3):
        raise ValueError(f"expected a 3x3 covariance; got shape {tuple(cov.shape)}")
    values, vectors = torch.linalg.eigh(cov)  # ascending
    values, vectors = values.flip(0), vectors.flip(1)
    biggest = vectors.abs().argmax(dim=0)
    signs = torch.sign(vectors[biggest, torch.arange(3)])
    vectors = vectors * torch.where(signs == 0, torch.ones_like(signs), signs)
    return ColorPCA(values.clamp_min(0.0), vectors)


def rgb_pca(images: Tensor) -> ColorPCA:
    """PCA of the RGB pixel values of ``images`` (the training set): :func:`rgb_covariance`
    followed by :func:`pca_from_covariance`."""
    return pca_from_covariance(rgb_covariance(images))


def pca_color_offsets(
    n: int,
    pca: ColorPCA,
    std: float = 0.1,
    generator: torch.Generator | None = None,
    alphas: Tensor | None = None,
) -> Tensor:
    """``n`` RGB offsets (shape (n, 3), float64, [0, 1] units): row ``b`` is
    ``sum_i alpha[b, i] * lambda_i * p_i`` with ``alpha ~ N(0, std)`` (or the given ``alphas``,
    shape (n, 3))."""
    if alphas is None:
        alphas = torch.randn(n, 3, generator=generator, dtype=torch.float64) * std
    alphas = torch.as_tensor(alphas, dtype=torch.float64)
    if alphas.shape != (n, 3):
        raise ValueError(f"alphas must have shape ({n}, 3); got {tuple(alphas.shape)}")
    values = pca.eigenvalues.to(torch.float64).cpu()
    vectors = pca.eigenvectors.to(torch.float64).cpu()
    return (alphas.cpu() * values) @ vectors.T


def pca_color_augment(
    images: Tensor,
    pca: ColorPCA,
    std: float = 0.1,
    generator: torch.Generator | None = None,
    alphas: Tensor | None = None,
) -> Tensor:
    """Add one PCA colour offset per image to ``images`` ((N, 3, H, W) or (3, H, W)).

    uint8 images get ``255 * offset``, rounded and clipped to [0, 255], and stay uint8; float
    images (taken to be in [0, 1]) get the offset in their own dtype, unclipped (as the paper adds
    it before normalisation). The random numbers come from ``generator`` (on the CPU), so the
    result is deterministic for a seeded generator whatever the device of ``images``.
    """
    _check_images(images)
    single = images.dim() == 3
    batch = images[None] if single else images
    offsets = pca_color_offsets(batch.shape[0], pca, std, generator, alphas)
    offsets = offsets.to(batch.device)[:, :, None, None]
    if batch.dtype == torch.uint8:
        out = (batch.double() + 255.0 * offsets).round_().clamp_(0, 255).to(torch.uint8)
    elif batch.is_floating_point():
        out = batch + offsets.to(batch.dtype)
    else:
        raise TypeError(f"images must be uint8 or floating point; got {images.dtype}")
    return out[0] if single else out


class PCAColorLoader:
    """Wraps a :class:`cnnlib.data.DeviceLoader` (or any loader of normalised batches) and adds
    PCA colour noise to each training batch, for :func:`cnnlib.train.fit`.

    The loader's batches are ``(x / 255 - mean) / std``; adding an offset ``o`` to the [0, 1]
    pixels is adding ``o / std`` to the normalised batch, which is what this does. The noise of an
    epoch comes from a generator seeded by ``(seed, epoch)``, so runs are reproducible.
    ``len``, ``set_epoch``, ``dataset``, ``batch_size`` and ``state_dict`` pass through.
    """

    def __init__(
        self,
        loader: Any,
        pca: ColorPCA,
        std: float = 0.1,
        seed: int = 0,
        norm_std: Sequence[float] | Tensor | None = None,
    ) -> None:
        self.loader = loader
        self.pca = pca
        self.std = std
        self.seed = seed
        if norm_std is None:
            norm_std = getattr(loader, "std", None)
        if norm_std is None:
            raise ValueError("norm_std is needed for a loader without a .std attribute")
        self.norm_std = torch.as_tensor(norm_std, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name: str) -> Any:  # dataset, batch_size, state_dict, ...
        if name == "loader":
            raise AttributeError(name)
        return getattr(self.loader, name)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.loader, "set_epoch"):
            self.loader.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        for x, y in self.loader:
            offsets = pca_color_offsets(x.shape[0], self.pca, self.std, g)
            shift = offsets.to(device=x.device, dtype=x.dtype)[:, :, None, None]
            yield x + shift / self.norm_std.to(device=x.device, dtype=x.dtype), y
        self.epoch += 1


def random_crop_flip(images: Tensor, offsets: Tensor, flips: Tensor, padding: int = 4) -> Tensor:
    """Batched ``RandomCrop(size, padding)`` + ``RandomHorizontalFlip`` with given randomness.

    ``images`` (B, C, H, W) of any dtype is zero-padded by ``padding`` on each side, and image
    ``b`` is cropped at row ``offsets[b, 0]``, column ``offsets[b, 1]`` (each in
    ``[0, 2 * padding]``) and mirrored where ``flips[b]``; one gather does all of it.
    """
    b, c, h, w = images.shape
    dev = images.device
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    offsets = offsets.to(dev)
    rows = offsets[:, 0, None] + torch.arange(h, device=dev)
    cols_fwd = torch.arange(w, device=dev)
    cols = offsets[:, 1, None] + torch.where(flips.to(dev)[:, None], cols_fwd.flip(0), cols_fwd)
    return padded[
        torch.arange(b, device=dev)[:, None, None, None],
        torch.arange(c, device=dev)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
