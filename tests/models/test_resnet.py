"""ResNet: the paper's v1 bottleneck against torchvision's v1.5, the CIFAR networks of section 4.2
(option A and B shortcuts, plain twins), identity blocks, and the block costs of figure 5."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import count_macs
from cnnlib.models.resnet import BasicBlock, Bottleneck, ZeroPadShortcut, init_weights


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_resnet_paper_puts_the_stride_in_the_first_1x1():
    paper, tv = M.create("resnet50_paper"), M.create("resnet50")
    assert paper.stride_in_1x1 and not tv.stride_in_1x1
    assert paper.layer2[0].conv1.stride == (2, 2) and paper.layer2[0].conv2.stride == (1, 1)
    assert tv.layer2[0].conv1.stride == (1, 1) and tv.layer2[0].conv2.stride == (2, 2)
    paper.load_state_dict(tv.state_dict(), strict=True)  # the same weights, placed differently
    for name in ("resnet50_paper", "resnet101_paper", "resnet152_paper"):
        with torch.device("meta"):
            blocks = [m for m in M.create(name).modules() if isinstance(m, Bottleneck)]
        assert all(b.conv2.stride == (1, 1) for b in blocks)
        assert sum(b.conv1.stride == (2, 2) for b in blocks) == 3  # layer2, layer3, layer4


# --- CIFAR ResNets (section 4.2) --------------------------------------------------------------


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_cifar_resnet_depth_and_stages(depth, shapes_after):
    model = M.create(f"resnet{depth}")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == depth  # 6n+1 convolutions and one FC layer
    assert {c.out_channels for c in convs} == {16, 32, 64}
    assert [len(stage) for stage in (model.layer1, model.layer2, model.layer3)] == [
        (depth - 2) // 6
    ] * 3
    shapes = shapes_after(model, [model.layer1, model.layer2, model.layer3], 32)
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


@pytest.mark.parametrize(("depth", "millions"), [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85)])
def test_cifar_resnet_parameters_match_paper_table_6(depth, millions):
    assert round(n_params(M.create(f"resnet{depth}")) / 1e6, 2) == millions
    # Option A shortcuts have no parameters: the plain twin has exactly as many.
    assert n_params(M.create(f"plain{depth}")) == n_params(M.create(f"resnet{depth}"))


def test_cifar_resnet110_parameters_match_paper_table_6():
    assert round(n_params(M.create("resnet110")) / 1e6, 1) == 1.7


def test_option_a_shortcut_is_a_subsampled_identity_padded_with_zeros():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0
    with pytest.raises(ValueError, match="cannot shrink"):
        ZeroPadShortcut(32, 16, stride=1)


def test_option_b_and_plain_variants():
    a, b = M.create("resnet20"), M.create("resnet20", shortcut="B")
    assert n_params(b) - n_params(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # two 1x1+BN
    plain = M.create("plain20")
    assert all(not blk.shortcut for blk in plain.modules() if isinstance(blk, BasicBlock))
    assert all(blk.shortcut for blk in a.modules() if isinstance(blk, BasicBlock))
    with pytest.raises(ValueError, match="6n\\+2"):
        M.create("resnet20").__class__(21)
    with pytest.raises(ValueError, match="shortcut must be"):
        M.create("resnet20", shortcut="C")


def test_zero_init_residual_blocks_are_the_identity():
    """A residual block whose last BN scale is zero computes relu(x): on the non-negative
    activations it receives, exactly x. This is how a deeper net can copy a shallower one."""
    model = M.create("resnet20", zero_init_residual=True).eval()
    x = torch.relu(torch.randn(2, 16, 32, 32))
    with torch.no_grad():
        for block in model.layer1:
            torch.testing.assert_close(block(x), x, rtol=0, atol=0)


def test_init_weights_is_he_initialisation_with_optional_zero_last_scale():
    torch.manual_seed(0)
    block = Bottleneck(256, 64)
    with torch.no_grad():
        block.bn1.weight.fill_(3.0)
    init_weights(block, zero_init_residual=True)
    assert torch.all(block.bn1.weight == 1) and torch.all(block.bn1.bias == 0)
    assert torch.count_nonzero(block.bn3.weight) == 0
    # kaiming_normal_(mode="fan_out"): std sqrt(2 / (out_channels * k * k))
    assert float(block.conv2.weight.detach().std()) == pytest.approx(
        (2 / (64 * 9)) ** 0.5, rel=0.05
    )
    init_weights(block)
    assert torch.all(block.bn3.weight == 1)


def test_plain_block_is_the_residual_branch_alone():
    block = BasicBlock(16, 16, shortcut=False).eval()
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(block.residual(x)))


# --- blocks: figure 5 of the paper -------------------------------------------------------------


def test_bottleneck_at_256_costs_about_a_basic_block_at_64():
    """The paper's figure 5: the two designs have similar time complexity."""
    basic64, bottleneck256 = BasicBlock(64, 64), Bottleneck(256, 64)
    basic256 = BasicBlock(256, 256)
    macs = {
        name: count_macs(block, (1, block.conv1.in_channels, 56, 56))
        for name, block in [("b64", basic64), ("n256", bottleneck256), ("b256", basic256)]
    }
    assert macs["b64"] == 2 * 56 * 56 * 64 * 64 * 9
    assert macs["n256"] == 56 * 56 * (256 * 64 + 64 * 64 * 9 + 64 * 256)
    assert abs(macs["n256"] / macs["b64"] - 1) < 0.06
    assert macs["b256"] > 16 * macs["n256"]  # a basic block at 256 channels: 17x the MACs


def test_plain34_is_resnet34_without_its_shortcuts():
    """Figure 3 / table 2: plain-34 has the same 34 weighted layers as ResNet-34 and no shortcut
    (so no projection either); the same 3.6 GFLOPs (multiply-adds) as the paper says."""
    from cnnlib.analysis import count_macs, count_params

    plain, res = M.create("plain34"), M.create("resnet34")
    blocks = [m for m in plain.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 16 and not any(b.shortcut or b.downsample for b in blocks)
    projections = sum(p.numel() for n, p in res.named_parameters() if ".downsample." in n)
    assert count_params(plain) == count_params(res) - projections
    assert round(count_macs(plain) / 1e9, 1) == 3.6
    x = torch.randn(2, 3, 64, 64)
    assert plain(x).shape == (2, 1000)
    assert M.create("plain18")(x).shape == (2, 1000)
