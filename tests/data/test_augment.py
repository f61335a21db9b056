"""cnnlib.data.augment: AlexNet's PCA colour augmentation (random crop and flip are in
test_loaders.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlib.data import DeviceLoader, synthetic_cifar10
from cnnlib.data.augment import (
    ColorPCA,
    PCAColorLoader,
    pca_color_augment,
    pca_color_offsets,
    pca_from_covariance,
    rgb_covariance,
    rgb_pca,
)

KNOWN_COV = torch.tensor(
    [[0.070, 0.060, 0.050], [0.060, 0.066, 0.058], [0.050, 0.058, 0.072]], dtype=torch.float64
)


def _images(n=6, seed=0, dtype=torch.uint8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    return x if dtype == torch.uint8 else x.to(dtype) / 255


def test_eigen_decomposition_matches_numpy():
    pca = pca_from_covariance(KNOWN_COV)
    values, vectors = np.linalg.eigh(KNOWN_COV.numpy())
    order = np.argsort(values)[::-1]
    np.testing.assert_allclose(pca.eigenvalues.numpy(), values[order], rtol=1e-12)
    for i, j in enumerate(order):  # same vectors up to sign
        v = vectors[:, j]
        assert abs(abs(float(pca.eigenvectors[:, i] @ torch.from_numpy(v))) - 1) < 1e-12
    # descending, orthonormal, and a decomposition of the covariance
    assert torch.all(pca.eigenvalues[:-1] >= pca.eigenvalues[1:])
    torch.testing.assert_close(
        pca.eigenvectors.T @ pca.eigenvectors, torch.eye(3, dtype=torch.float64)
    )
    rebuilt = pca.eigenvectors @ torch.diag(pca.eigenvalues) @ pca.eigenvectors.T
    torch.testing.assert_close(rebuilt, KNOWN_COV)


def test_sign_convention_largest_entry_positive():
    pca = pca_from_covariance(KNOWN_COV)
    idx = pca.eigenvectors.abs().argmax(dim=0)
    assert torch.all(pca.eigenvectors[idx, torch.arange(3)] > 0)


def test_covariance_of_pixels_matches_numpy():
    x = _images(4)
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 3).double().numpy() / 255
    np.testing.assert_allclose(rgb_covariance(x).numpy(), np.cov(pixels.T), rtol=1e-10)
    # uint8 and float [0, 1] give the same covariance; a single image works too
    torch.testing.assert_close(
        rgb_covariance(x), rgb_covariance(x.float() / 255), rtol=1e-6, atol=1e-9
    )
    assert rgb_covariance(x[0]).shape == (3, 3)


def test_alpha_zero_is_the_identity():
    pca = rgb_pca(_images())
    for x in (_images(), _images(dtype=torch.float32)):
        out = pca_color_augment(x, pca, alphas=torch.zeros(len(x), 3))
        assert out.dtype == x.dtype
        torch.testing.assert_close(out, x, rtol=0, atol=0)


def test_offset_is_in_the_span_with_the_right_scale():
    pca = pca_from_covariance(KNOWN_COV)
    alphas = torch.tensor([[1.0, 0.0, 0.0], [0.0, -2.0, 0.0], [0.3, 0.2, 0.1]], dtype=torch.float64)
    offsets = pca_color_offsets(3, pca, alphas=alphas)
    p, lam = pca.eigenvectors, pca.eigenvalues
    torch.testing.assert_close(offsets[0], lam[0] * p[:, 0])
    torch.testing.assert_close(offsets[1], -2.0 * lam[1] * p[:, 1])
    # coordinates in the eigenbasis are alpha_i * lambda_i
    torch.testing.assert_close(offsets @ p, alphas * lam)


def test_random_alphas_have_the_papers_std():
    pca = pca_from_covariance(KNOWN_COV)
    g = torch.Generator().manual_seed(0)
    offsets = pca_color_offsets(20_000, pca, std=0.1, generator=g)
    alphas = (offsets @ pca.eigenvectors) / pca.eigenvalues
    assert alphas.mean(0).abs().max() < 0.005
    torch.testing.assert_close(
        alphas.std(0), torch.full((3,), 0.1, dtype=torch.float64), atol=0.003, rtol=0
    )


def test_offset_is_constant_across_pixels_of_an_image():
    pca = rgb_pca(_images())
    x = torch.full((5, 3, 6, 7), 0.5)
    out = pca_color_augment(x, pca, generator=torch.Generator().manual_seed(1))
    diff = out - x
    assert torch.all(diff == diff[:, :, :1, :1])  # one RGB offset per image
    assert not torch.allclose(diff[0], diff[1])  # but a different one for each image


def test_deterministic_with_a_generator():
    pca = rgb_pca(_images())
    x = _images(dtype=torch.float32)
    a = pca_color_augment(x, pca, generator=torch.Generator().manual_seed(3))
    b = pca_color_augment(x, pca, generator=torch.Generator().manual_seed(3))
    c = pca_color_augment(x, pca, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_uint8_and_float_agree_and_uint8_is_clipped():
    pca = pca_from_covariance(KNOWN_COV)
    x = _images()
    alphas = torch.tensor([[3.0, 1.0, -1.0]] * len(x))
    out8 = pca_color_augment(x, pca, alphas=alphas)
    outf = pca_color_augment(x.double() / 255, pca, alphas=alphas)
    assert out8.dtype == torch.uint8
    expected = (outf * 255).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(out8, expected)
    single = pca_color_augment(x[0], pca, alphas=alphas[:1])
    assert torch.equal(single, out8[0])


def test_bad_input_fails_clearly():
    pca = pca_from_covariance(KNOWN_COV)
    with pytest.raises(ValueError, match="RGB"):
        pca_color_augment(torch.zeros(2, 1, 4, 4), pca)
    with pytest.raises(ValueError, match="3x3"):
        pca_from_covariance(torch.eye(2))
    with pytest.raises(ValueError, match="alphas"):
        pca_color_offsets(2, pca, alphas=torch.zeros(3, 3))
    with pytest.raises(TypeError):
        pca_color_augment(torch.zeros(2, 3, 4, 4, dtype=torch.int32), pca)


def test_loader_adds_offsets_in_normalised_units():
    train, _ = synthetic_cifar10(train_per_class=2, test_per_class=1)
    base = DeviceLoader(train, 8, train=True, augment=False, seed=0)
    pca = ColorPCA(torch.tensor([0.2, 0.02, 0.005]), torch.eye(3, dtype=torch.float64))
    loader = PCAColorLoader(base, pca, seed=0)
    assert len(loader) == len(base) and loader.dataset is train and loader.batch_size == 8
    plain = [x for x, _ in base]
    base.set_epoch(0)
    loader.set_epoch(0)
    noisy = [x for x, _ in loader]
    g = torch.Generator().manual_seed(0)  # the loader's generator for seed 0, epoch 0
    for p, n in zip(plain, noisy, strict=True):
        offsets = pca_color_offsets(len(p), pca, 0.1, g).float()
        expected = p + offsets[:, :, None, None] / base.std
        torch.testing.assert_close(n, expected)
    loader.set_epoch(0)
    again = [x for x, _ in loader]
    assert all(torch.equal(a, b) for a, b in zip(noisy, again, strict=True))


# --- the AlexNet chapter's plots ---------------------------------------------------------------
