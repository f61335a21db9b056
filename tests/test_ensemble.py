"""cnnlib.ensemble: deleting and reordering blocks, the gradient per path (whose sum over all
2^n paths is the full gradient), and the line-gradient probe of shattered gradients."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

import cnnlib.models as M
from cnnlib import ensemble as E
from cnnlib.residual import blocks, remove_block


def _tiny(zero_init: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return M.create("resnet20", widths=(4, 8, 8), zero_init_residual=zero_init).eval()


def test_deleting_a_block_whose_branch_is_zero_changes_nothing():
    model = _tiny(zero_init=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        same = E.delete_blocks(model, ["layer1.1", "layer3.2"])(x)
        assert torch.allclose(same, model(x), atol=1e-6)
    one = E.delete_blocks(_tiny(), ["layer1.1"])
    ref = remove_block(_tiny(), "layer1.1")
    with torch.no_grad():
        assert torch.equal(one(x), ref(x))


def test_blocks_swap_only_within_a_stage():
    model = _tiny()
    pairs = E.swappable_pairs(model)
    assert len(pairs) == 3 + 1 + 1  # layer1: 3 blocks; layer2, layer3: 2 each after downsampling
    assert all(a.rpartition(".")[0] == b.rpartition(".")[0] for a, b in pairs)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        swapped = E.reorder_blocks(model, [("layer1.0", "layer1.2")])
        assert not torch.allclose(swapped(x), model(x))
        assert swapped.layer1[0] is not model.layer1[0]  # a copy, the model is untouched
        twice = E.reorder_blocks(model, [("layer1.0", "layer1.2"), ("layer1.0", "layer1.2")])
        assert torch.allclose(twice(x), model(x))
    with pytest.raises(ValueError, match="cannot be swapped"):
        E.reorder_blocks(model, [("layer1.0", "layer2.1")])


def test_the_path_gradients_add_up_to_the_full_gradient():
    """Each block's backward pass is J_F + I with its ReLU masks fixed, so the gradient
    restricted to each of the 2^n subsets of branches sums exactly to the full gradient."""
    model = M.create("resnet20", widths=(4, 4, 4)).double().eval()
    torch.manual_seed(1)
    x, y = torch.randn(3, 3, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 2])
    names = blocks(model)
    total = sum(
        E.path_gradient(model, set(chosen), x, y)
        for k in range(len(names) + 1)
        for chosen in itertools.combinations(names, k)
    )
    grabbed = []
    hook = model.layer1[0].register_forward_pre_hook(
        lambda m, a: grabbed.append(a[0].detach().requires_grad_()) or (grabbed[-1],)
    )
    loss = nn.functional.cross_entropy(model(x), y)
    hook.remove()
    full = torch.autograd.grad(loss, grabbed[-1])[0]
    assert torch.allclose(total, full, atol=1e-10)
    norms = E.path_gradients(model, x, y, samples=3)
    assert list(norms) == list(range(10)) and all(v >= 0 for v in norms.values())
    with pytest.raises(ValueError, match="needs a residual network"):
        E.path_gradients(M.create("plain20", widths=(4, 4, 4)), x.float(), y)


def test_errors_against_deletions_and_reorderings_have_the_requested_draws():
    model = _tiny()
    x, y = torch.randn(20, 3, 16, 16), torch.randint(0, 10, (20,))
    loader = [(x, y)]
    deletions = E.error_vs_deletions(model, loader, [0, 1, 7], samples=3)
    assert [len(v) for v in deletions.values()] == [1, 3, 1]  # C(7,0)=1, 3 of C(7,1), C(7,7)=1
    assert all(0 <= e <= 1 for v in deletions.values() for e in v)
    assert deletions[0][0] == E.error_vs_reorderings(model, loader, [0], samples=3)[0][0]
    with pytest.raises(ValueError, match=r"k must be in \[0, 7\]"):
        E.error_vs_deletions(model, loader, [8], samples=1)


def test_line_gradients_of_a_linear_model_are_its_weights_along_the_line():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    x0, d = torch.randn(3, 2, 2), torch.randn(3, 2, 2)
    g = E.line_gradients(model, x0, d, n=16)
    assert torch.allclose(g, (model[1].weight[0] * d.flatten()).sum().expand(16), atol=1e-6)
    with pytest.raises(ValueError, match="constant sequence"):
        E.autocorrelation(g)


def test_autocorrelation_tells_white_noise_from_a_smooth_signal():
    noise = torch.randn(2000, generator=torch.Generator().manual_seed(0))
    smooth = torch.sin(torch.linspace(0, 6.28, 2000))
    assert abs(E.autocorrelation(noise, 3)[1]) < 0.1
    assert E.autocorrelation(smooth, 3)[1] > 0.99 and E.autocorrelation(noise, 3)[0] == 1


def test_calibrated_batch_norms_hold_the_statistics_of_the_batch():
    model = M.create("resnet20", widths=(4, 8, 8))
    x = 3 + 2 * torch.randn(64, 3, 8, 8)
    E.calibrate_batchnorm(model, x)
    assert not model.training
    with torch.no_grad():
        h = model.conv1(x)
    assert torch.allclose(model.bn1.running_mean, h.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(model.bn1.running_var, h.var((0, 2, 3)), rtol=1e-3)
