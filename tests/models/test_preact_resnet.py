"""Pre-activation ResNets (He et al. 2016b) against the paper's description: BN and ReLU before
each convolution, nothing after the addition, so a stage computes x_L = x_l + sum_i F(x_i) (its
equation 4) and a stage whose branches are zero is exactly the identity."""

from __future__ import annotations

import pytest
import torch

import cnnlib.models as M
from cnnlib.analysis import count_params
from cnnlib.models.preact_resnet import PreActBlock, PreActResNet
from cnnlib.models.resnet import BasicBlock


@pytest.mark.parametrize(("name", "millions"), [("preact_resnet20", 0.27),
                                                  ("preact_resnet56", 0.86),
                                                  ("preact_resnet110", 1.73)])  # fmt: skip
def test_parameters_match_the_papers_and_the_post_activation_twin(name, millions):
    """Table 3 of the 2016b paper: ResNet-110 has 1.7M parameters. With option A shortcuts the
    pre-activation net has exactly as many parameters as the post-activation one (the same
    convolutions, as many batch norms: one moves from after conv1 to the end)."""
    model = M.create(name)
    assert round(count_params(model) / 1e6, 2) == millions
    depth = int(name.removeprefix("preact_resnet"))
    post = M.create(f"resnet{depth}")
    assert count_params(M.create(name, option="A")) == count_params(post)


def test_shapes_and_stage_sizes(shapes_after):
    model = M.create("preact_resnet20")
    stages = [model.layer1, model.layer2, model.layer3, model.fc]
    assert shapes_after(model, stages, 32) == [(16, 32, 32), (32, 16, 16), (64, 8, 8), (10,)]
    with pytest.raises(ValueError, match="6n\\+2"):
        PreActResNet(21)


def test_nothing_follows_the_addition():
    """A post-activation block ends with a ReLU (its output is never negative); a pre-activation
    block ends with the addition, so its output is negative where x + F(x) is."""
    torch.manual_seed(0)
    x = torch.randn(4, 16, 8, 8)
    pre, post = PreActBlock(16, 16).eval(), BasicBlock(16, 16).eval()
    with torch.no_grad():
        assert (post(x) >= 0).all()
        out = pre(x)
        assert (out < 0).any()
        assert torch.allclose(out, x + pre.residual(x))


def test_a_stage_is_its_input_plus_the_sum_of_its_residuals():
    """Equation 4 of the 2016b paper: x_L = x_l + sum_{i=l}^{L-1} F(x_i), checked on a stage of
    identity-shortcut blocks of a randomly initialised (non-zero BN) network."""
    torch.manual_seed(0)
    model = M.create("preact_resnet56").eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, 0.5, 1.5)
            torch.nn.init.normal_(m.bias, 0, 0.1)
    stage = model.layer1
    x = torch.randn(2, 16, 16, 16)
    with torch.no_grad():
        xs, total = [x], torch.zeros_like(x)
        for block in stage:
            total += block.residual(xs[-1])
            xs.append(block(xs[-1]))
        assert torch.allclose(stage(x), x + total, atol=1e-5)


def test_zero_branches_make_a_stage_the_exact_identity_unlike_post_activation():
    """With every residual branch at zero, a pre-activation stage passes x through unchanged (the
    Jacobian is I, equation 5's "1"); a post-activation stage gives relu(x) (its ReLU after the
    addition is on the shortcut path)."""
    torch.manual_seed(0)
    pre, post = M.create("preact_resnet20").eval(), M.create("resnet20").eval()
    for block in pre.layer1:
        torch.nn.init.zeros_(block.conv2.weight)
    for block in post.layer1:
        torch.nn.init.zeros_(block.bn2.weight)
        torch.nn.init.zeros_(block.bn2.bias)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(pre.layer1(x), x)
        assert torch.equal(post.layer1(x), torch.relu(x)) and not torch.equal(post.layer1(x), x)


def test_option_a_and_plain_variants():
    a = M.create("preact_resnet20", option="A")
    assert sum(p.numel() for n, p in a.named_parameters() if "downsample" in n) == 0
    plain = M.create("preact_resnet20", shortcut=False)
    assert not any(b.shortcut for b in plain.modules() if isinstance(b, PreActBlock))
    with torch.no_grad():
        assert plain.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="option must be 'A' or 'B'"):
        M.create("preact_resnet20", option="C")
