"""Tests of the ResNet chapter's tools: ``deepen`` (identity mapping made exact), ``table1``
(the paper's table 1 generated from the models, against its published numbers), the block
costs of the paper's figure 5, and the chapter's plots (``plot_residual_blocks``,
``plot_gradient_norms``)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from cnnlib import analysis, viz  # noqa: E402
from cnnlib import models as M  # noqa: E402
from cnnlib.analysis import count_macs, count_params  # noqa: E402
from cnnlib.models.resnet import (  # noqa: E402
    PAPER_TABLE1_GFLOPS,
    TABLE1_ARCHS,
    BasicBlock,
    Bottleneck,
    ZeroPadShortcut,
    deepen,
    table1,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _as_if_trained(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN scales, shifts and running statistics, so nothing is at its initial value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return model


# --- deepen: a deeper net that computes the same function ---------------------------------------


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_deepen_cifar_resnet_keeps_the_outputs_exactly(mode):
    torch.manual_seed(0)
    shallow = _as_if_trained(M.create("resnet20"))
    deeper = deepen(shallow, blocks=2)
    assert deeper.depth == 20 + 2 * 2 * 3  # two blocks of two layers in each of three stages
    assert [len(s) for s in (deeper.layer1, deeper.layer2, deeper.layer3)] == [5, 5, 5]
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    shallow.train(mode == "train")
    deeper.train(mode == "train")
    with torch.no_grad():
        assert torch.equal(deeper(x), shallow(x))  # bit for bit, not approximately


def test_deepen_adds_he_initialised_blocks_with_a_zero_last_scale_and_copies():
    torch.manual_seed(0)
    shallow = M.create("resnet20")
    before = {k: v.clone() for k, v in shallow.state_dict().items()}
    deeper = deepen(shallow, blocks=(0, 1, 2))
    assert deeper.depth == 26
    assert [len(s) for s in (deeper.layer1, deeper.layer2, deeper.layer3)] == [3, 4, 5]
    new = [deeper.layer2[3], deeper.layer3[3], deeper.layer3[4]]
    for block in new:
        assert isinstance(block, BasicBlock) and block.shortcut and block.downsample is None
        assert torch.count_nonzero(block.bn2.weight) == 0
        assert torch.all(block.bn1.weight == 1)
        assert block.conv1.weight.std() > 0 and block.conv2.weight.std() > 0
    widths = [b.conv1.out_channels for b in new]
    assert widths == [32, 64, 64]
    # 2 convs + 2 BNs per block
    per_block = {c: 2 * 9 * c * c + 4 * c for c in (32, 64)}
    assert count_params(deeper) - count_params(shallow) == per_block[32] + 2 * per_block[64]
    for k, v in shallow.state_dict().items():  # the shallow model is left alone
        assert torch.equal(v, before[k])
    assert deeper.layer1[0].conv1.weight is not shallow.layer1[0].conv1.weight


@pytest.mark.parametrize("name", ["resnet18", "resnet50_paper", "resnet50"])
def test_deepen_imagenet_resnets(name):
    torch.manual_seed(0)
    shallow = _as_if_trained(M.create(name, num_classes=10)).eval()
    deeper = deepen(shallow, 1).eval()
    assert len(deeper.layer4) == len(shallow.layer4) + 1
    last = deeper.layer4[-1]
    assert type(last) is type(shallow.layer4[-1])
    if isinstance(last, Bottleneck):
        assert torch.count_nonzero(last.bn3.weight) == 0
        assert last.conv3.out_channels == 2048
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(deeper(x), shallow(x))


def test_deepen_rejects_plain_nets_and_bad_arguments():
    with pytest.raises(ValueError, match="plain"):
        deepen(M.create("plain20"))
    with pytest.raises(ValueError, match="ResNet or CifarResNet"):
        deepen(M.create("vgg11"))
    with pytest.raises(ValueError, match="one per stage"):
        deepen(M.create("resnet20"), blocks=(1, 1))
    with pytest.raises(ValueError, match="non-negative"):
        deepen(M.create("resnet20"), blocks=-1)


def test_a_trained_block_is_not_the_identity_but_a_zero_scaled_one_is():
    """Why the zero scale matters: with the default scale of 1 the new block changes the output."""
    torch.manual_seed(0)
    shallow = _as_if_trained(M.create("resnet20")).eval()
    deeper = deepen(shallow, blocks=(0, 0, 1)).eval()
    with torch.no_grad():
        deeper.layer3[-1].bn2.weight.fill_(1.0)
        x = torch.randn(2, 3, 32, 32)
        assert not torch.allclose(deeper(x), shallow(x))


# --- table 1 --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paper_table():
    rows = table1()
    return {row["layer name"]: row for row in rows}


def test_table1_output_sizes_and_stage_cells_match_the_paper(paper_table):
    sizes = [paper_table[n]["output size"] for n in ("conv1", "conv2_x", "conv3_x", "conv4_x")]
    assert sizes == ["112×112", "56×56", "28×28", "14×14"]
    assert paper_table["conv5_x"]["output size"] == "7×7"
    assert paper_table["classifier"]["output size"] == "1×1"
    assert paper_table["conv1"]["18-layer"] == "7×7, 64, stride 2"
    assert paper_table["conv2_x"]["18-layer"] == ("3×3 max pool, stride 2; [3×3, 64; 3×3, 64] × 2")
    assert paper_table["conv5_x"]["34-layer"] == "[3×3, 512; 3×3, 512] × 3"
    assert paper_table["conv3_x"]["50-layer"] == "[1×1, 128; 3×3, 128; 1×1, 512] × 4"
    assert paper_table["conv4_x"]["101-layer"] == "[1×1, 256; 3×3, 256; 1×1, 1024] × 23"
    assert paper_table["conv3_x"]["152-layer"] == "[1×1, 128; 3×3, 128; 1×1, 512] × 8"
    assert paper_table["conv4_x"]["152-layer"] == "[1×1, 256; 3×3, 256; 1×1, 1024] × 36"
    assert paper_table["classifier"]["50-layer"] == "average pool, 1000-d fc, softmax"


@pytest.mark.parametrize("arch", TABLE1_ARCHS)
def test_table1_macs_match_the_published_flops_within_3_percent(paper_table, arch):
    label = f"{arch.removeprefix('resnet').removesuffix('_paper')}-layer"
    ours = float(paper_table["MACs (10^9)"][label])
    published = PAPER_TABLE1_GFLOPS[arch.removesuffix("_paper")]
    assert float(paper_table["paper (10^9)"][label]) == published
    assert abs(ours / published - 1) < 0.03


def test_table1_v15_costs_more_and_has_no_published_value():
    rows = {r["layer name"]: r for r in table1(["resnet50_paper", "resnet50"])}
    assert set(rows["conv1"]) == {"layer name", "output size", "resnet50_paper", "resnet50"}
    assert rows["paper (10^9)"]["resnet50"] == "—"
    assert float(rows["MACs (10^9)"]["resnet50"]) > float(rows["MACs (10^9)"]["resnet50_paper"])
    assert rows["params (10^6)"]["resnet50"] == rows["params (10^6)"]["resnet50_paper"] == "25.6"


def test_table1_bad_input():
    with pytest.raises(ValueError, match="ImageNet ResNets"):
        table1(["resnet20"])
    with pytest.raises(ValueError, match="at least one"):
        table1([])
    with pytest.raises(ValueError, match="image_size"):
        table1(["resnet18"], image_size=8)
    with pytest.raises(ValueError, match="Unknown model"):
        table1(["resnet19"])


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


def test_option_a_shortcut_is_a_subsampled_identity_padded_with_zeros():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, 2)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, :16], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 16:]) == 0


# --- the chapter's plots -------------------------------------------------------------------------


def test_plot_residual_blocks_draws_every_convolution_and_the_shortcut():
    torch.manual_seed(0)
    blocks = {
        "basic": BasicBlock(64, 64),
        "bottleneck": Bottleneck(256, 64),
        "option A": BasicBlock(16, 32, 2, ZeroPadShortcut(16, 32, 2)),
        "option B": BasicBlock(
            16, 32, 2, nn.Sequential(nn.Conv2d(16, 32, 1, 2), nn.BatchNorm2d(32))
        ),
        "plain": BasicBlock(16, 16, shortcut=False),
    }
    fig = viz.plot_residual_blocks(blocks, size=16, title="blocks")
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert "1x1 conv, 64" in texts[1] and "3x3 conv, 64" in texts[1] and "1x1 conv, 256" in texts[1]
    assert "3x3 conv, 32, /2" in texts[2]
    assert any(t.startswith("identity, /2") for t in texts[2])
    assert any(t.startswith("projection\n1x1 conv, 32, /2") for t in texts[3])
    assert "identity" in texts[0]
    assert not any("identity" in t or "projection" in t for t in texts[4])
    for ax, block in zip(fig.axes, blocks.values(), strict=True):
        total = f"{count_params(block):,} parameters"
        assert any(t.startswith(total) for t in ax.texts for t in [t.get_text()])
    with pytest.raises(ValueError, match="residual block"):
        viz.plot_residual_blocks({"conv": nn.Conv2d(3, 3, 3)})
    with pytest.raises(ValueError, match="no blocks"):
        viz.plot_residual_blocks({})


def test_plot_gradient_norms():
    norms = {"a": {"conv1": 1.0, "fc": 0.01}, "b": {"conv1": 2.0, "fc": 3.0}}
    fig = viz.plot_gradient_norms(norms, title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert list(ax.get_lines()[0].get_ydata()) == [1.0, 0.01]
    assert list(ax.get_lines()[1].get_xdata()) == [1, 2]
    assert "||dL/dW||" in ax.get_ylabel()
    fig = viz.plot_gradient_norms(norms, ylabel="relative step ||dL/dW|| / ||W||")
    assert fig.axes[0].get_ylabel() == "relative step ||dL/dW|| / ||W||"
    with pytest.raises(ValueError, match="no gradient norms"):
        viz.plot_gradient_norms({})


def test_gradient_norms_leave_the_batch_norm_statistics_alone():
    """The chapter measures gradients between training epochs: the measurement must not move
    the running statistics that evaluation uses."""
    from cnnlib.analysis import gradient_norms

    torch.manual_seed(0)
    model = _as_if_trained(M.create("plain20"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norms = gradient_norms(model, torch.randn(8, 3, 32, 32), torch.zeros(8, dtype=torch.long))
    assert list(norms)[0] == "conv1" and list(norms)[-1] == "fc" and len(norms) == 20
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_response_stds_are_the_batch_norm_outputs_in_eval_mode():
    """The paper's figure 7 measures the output of every 3x3 layer after BN; in a residual block
    the last BN's output is F(x)."""
    torch.manual_seed(0)
    model = M.create("resnet20")
    model.train()
    x = torch.randn(6, 3, 32, 32)
    stds = analysis.response_stds(model, x)
    assert model.training  # mode restored
    assert len(stds) == 19  # the stem BN + two per block: one per 3x3 convolution
    assert list(stds)[:3] == ["bn1", "layer1.0.bn1", "layer1.0.bn2"]
    block = model.layer2[1]
    seen = {}
    model.eval()
    with torch.no_grad():
        model.layer2[1].register_forward_pre_hook(lambda m, inp: seen.update(x=inp[0].clone()))
        model(x)
        residual = block.residual(seen["x"])
    assert stds["layer2.1.bn2"] == pytest.approx(float(residual.std()), rel=1e-5)
    # a zero last scale makes F(x) = 0: the block's response is exactly 0
    with torch.no_grad():
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
    assert analysis.response_stds(model, x)["layer2.1.bn2"] == 0.0
    with pytest.raises(ValueError, match="N, C, H, W"):
        analysis.response_stds(model, torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="no"):
        analysis.response_stds(nn.Sequential(nn.Conv2d(3, 3, 1)), x)


def test_plot_layer_responses_in_order_and_sorted():
    runs = {"plain-20": {"a": 1.0, "b": 3.0, "c": 2.0}, "ResNet-20": {"a": 0.5, "b": 0.2, "c": 0.9}}
    fig = viz.plot_layer_responses(runs, title="t")
    order, ranked = fig.axes[:2]
    assert list(order.get_lines()[0].get_ydata()) == [1.0, 3.0, 2.0]
    assert list(ranked.get_lines()[0].get_ydata()) == [3.0, 2.0, 1.0]
    assert order.get_lines()[0].get_linestyle() == "--"  # plain nets dashed, as in the paper
    assert order.get_lines()[1].get_linestyle() == "-"
    with pytest.raises(ValueError, match="no layer responses"):
        viz.plot_layer_responses({})
