"""cnnlib.gradients: block Jacobians, BN removal, paths, lesions (chapter 7)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnlib import gradients as G
from cnnlib.models import create
from cnnlib.models.resnet import BasicBlock, Bottleneck


@pytest.mark.parametrize(
    "block, shape",
    [(BasicBlock(8, 8), (8, 5, 5)), (Bottleneck(16, 4), (16, 4, 4))],
    ids=["basic", "bottleneck"],
)
def test_block_jacobian_is_residual_jacobian_plus_identity(block, shape):
    torch.manual_seed(0)
    for m in block.modules():  # non-trivial running statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(shape).relu()
    bj = G.block_jacobian(block, x)
    d = math.prod(shape)
    assert bj.total.shape == (d, d) and bj.residual.dtype == torch.float64
    assert bj.max_error < 1e-6  # dH/dx = dF/dx + I
    assert bj.relu_error < 1e-6  # with the ReLU after the addition: diag(mask) (J_F + I)
    assert float((bj.residual).abs().max()) > 1e-3  # J_F is not trivially zero
    assert block.training  # the caller's block is untouched


def test_block_jacobian_rejects_plain_and_downsampling_blocks():
    with pytest.raises(ValueError, match="plain block"):
        G.block_jacobian(BasicBlock(4, 4, shortcut=False), torch.randn(4, 3, 3))
    model = create("resnet20")
    with pytest.raises(ValueError, match="downsamples"):
        G.block_jacobian(model.layer2[0], torch.randn(16, 4, 4))
    with pytest.raises(ValueError, match="BasicBlock or Bottleneck"):
        G.block_jacobian(nn.Conv2d(3, 3, 3), torch.randn(3, 4, 4))
    with pytest.raises(ValueError, match="one feature map"):
        G.block_jacobian(model.layer1[0], torch.randn(2, 16, 4, 4))


def test_spectrum_of_a_known_matrix():
    a = torch.diag(torch.tensor([-0.9, 0.5, 2.0], dtype=torch.float64))
    s = G.spectrum(a + torch.eye(3, dtype=torch.float64))  # the factor I + A
    assert sorted(s["eigenvalues"].real.tolist()) == pytest.approx([0.1, 1.5, 3.0])
    assert s["singular_values"].tolist() == pytest.approx([3.0, 1.5, 0.1])
    with pytest.raises(ValueError, match="square"):
        G.spectrum(torch.zeros(2, 3))


def test_without_batchnorm_copies_and_removes_every_bn():
    model = create("resnet20")
    bare = G.without_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in bare.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 19
    assert bare(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_init_gradient_norms_are_seeded_and_ordered():
    x, y = torch.randn(4, 3, 32, 32), torch.arange(4)
    a = G.init_gradient_norms(["plain20", "resnet20"], x, y, batchnorm=False)
    b = G.init_gradient_norms(["plain20", "resnet20"], x, y, batchnorm=False)
    assert a == b
    assert list(a["resnet20"])[0] == "conv1" and list(a["resnet20"])[-1] == "fc"
    assert len(a["plain20"]) == 20  # 19 convolutions + fc: the 20 weight layers
    with pytest.raises(ValueError, match="at least one"):
        G.init_gradient_norms([], x, y)


def test_paths_follow_the_binomial_distribution():
    assert G.count_paths(3) == 8 and G.path_length_distribution(3) == [1, 3, 3, 1]
    assert G.path_length_distribution(0) == [1]
    # Veit et al. 2016, section 4: ResNet-110 has 54 blocks, 2^54 paths, and about 95% of
    # them pass through 19 to 35 blocks.
    dist = G.path_length_distribution(54)
    assert sum(dist) == G.count_paths(54) == 2**54
    assert sum(dist[19:36]) / 2**54 > 0.95
    assert len(G.blocks(create("resnet110"))) == 54
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="non-negative"):
            G.count_paths(bad)


@pytest.mark.parametrize("name", ["layer1.1", "layer2.0", "layer3.2"])
def test_removing_an_identity_block_changes_nothing(name):
    # With the last BN scale at zero, every residual branch is zero: each block is its shortcut,
    # so deleting it (option A shortcuts included) leaves the output exactly unchanged.
    torch.manual_seed(0)
    model = create("resnet20", zero_init_residual=True).eval()
    x = torch.randn(2, 3, 32, 32)
    lesioned = G.remove_block(model, name).eval()
    assert torch.equal(model(x), lesioned(x))
    assert isinstance(model.get_submodule(name), BasicBlock)  # original untouched


def test_remove_block_and_layer_on_a_plain_net():
    model = create("plain20").eval()
    x = torch.randn(2, 3, 32, 32)
    assert G.is_downsampling(model.layer2[0]) and not G.is_downsampling(model.layer2[1])
    assert G.remove_block(model, "layer3.0")(x).shape == (2, 10)
    layers = G.removable_layers(model)
    assert "layer2.0.conv1" not in layers and "layer2.0.conv2" in layers and len(layers) == 16
    cut = G.remove_layer(model, "layer1.0.conv2")
    assert isinstance(cut.layer1[0].conv2, nn.Identity) and isinstance(
        cut.layer1[0].bn2, nn.Identity
    )
    assert cut(x).shape == (2, 10)
    with pytest.raises(ValueError, match="removable layers"):
        G.remove_layer(model, "layer2.0.conv1")
    with pytest.raises(ValueError, match="not a block"):
        G.remove_block(model, "layer9.0")


def test_lesion_study_rows():
    torch.manual_seed(0)
    model = create("resnet20", zero_init_residual=True).eval()
    batches = [(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))) for _ in range(2)]
    rows = G.lesion_study(model, batches, device="cpu")
    assert [r["removed"] for r in rows] == ["(none)", *G.blocks(model)]
    assert all(r["change"] == 0.0 for r in rows)  # identity blocks: nothing to lose
    assert [r["downsampling"] for r in rows].count(True) == 2  # layer2.0, layer3.0
    plain = create("plain20").eval()
    rows = G.lesion_study(plain, batches, ["layer1.0.conv1"], remove=G.remove_layer, device="cpu")
    assert len(rows) == 2 and 0.0 <= rows[1]["acc"] <= 1.0


def test_chapter7_plots_draw_what_they_are_given():
    import matplotlib

    matplotlib.use("Agg")
    from cnnlib import viz

    eig = torch.tensor([0.5 + 0.1j, 0.5 - 0.1j, 1.5 + 0j])
    fig = viz.plot_spectrum(eig, torch.tensor([2.0, 1.0, 0.3]))
    assert len(fig.axes) == 2 and len(fig.axes[1].lines[0].get_ydata()) == 3
    fig = viz.plot_path_lengths(G.path_length_distribution(4))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])
    rows = [{"removed": "(none)", "acc": 0.5}, {"removed": "a", "acc": 0.4, "downsampling": True},
            {"removed": "b", "acc": 0.1, "downsampling": False}]  # fmt: skip
    fig = viz.plot_lesion({"resnet": rows, "plain": rows[:2]}, chance=0.1)
    assert len(fig.axes) == 2
    assert [p.get_height() for p in fig.axes[0].patches] == [0.4, 0.1]
    assert fig.axes[0].patches[0].get_hatch() == "//"
    with pytest.raises(ValueError, match="intact row"):
        viz.plot_lesion({"resnet": rows[:1]})
    with pytest.raises(ValueError, match="at least one path"):
        viz.plot_path_lengths([])
