"""cnnlib.residual: block Jacobians, batch-norm removal, paths and lesions (chapter 7), and
``deepen``, the identity-mapping construction of the ResNet paper made exact (chapter 6)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cnnlib import residual as R
from cnnlib.analysis import count_params
from cnnlib.models import create
from cnnlib.models.resnet import BasicBlock, Bottleneck

# --- the Jacobian of a residual block ------------------------------------------------------------


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
    bj = R.block_jacobian(block, x)
    d = math.prod(shape)
    assert bj.total.shape == (d, d) and bj.residual.dtype == torch.float64
    assert bj.max_error < 1e-6  # dH/dx = dF/dx + I
    assert bj.relu_error < 1e-6  # with the ReLU after the addition: diag(mask) (J_F + I)
    assert float((bj.residual).abs().max()) > 1e-3  # J_F is not trivially zero
    assert block.training  # the caller's block is untouched


def test_block_jacobian_rejects_plain_and_downsampling_blocks():
    with pytest.raises(ValueError, match="plain block"):
        R.block_jacobian(BasicBlock(4, 4, shortcut=False), torch.randn(4, 3, 3))
    model = create("resnet20")
    with pytest.raises(ValueError, match="downsamples"):
        R.block_jacobian(model.layer2[0], torch.randn(16, 4, 4))
    with pytest.raises(ValueError, match="BasicBlock or Bottleneck"):
        R.block_jacobian(nn.Conv2d(3, 3, 3), torch.randn(3, 4, 4))
    with pytest.raises(ValueError, match="one feature map"):
        R.block_jacobian(model.layer1[0], torch.randn(2, 16, 4, 4))


def test_spectrum_of_a_known_matrix():
    a = torch.diag(torch.tensor([-0.9, 0.5, 2.0], dtype=torch.float64))
    s = R.spectrum(a + torch.eye(3, dtype=torch.float64))  # the factor I + A
    assert sorted(s["eigenvalues"].real.tolist()) == pytest.approx([0.1, 1.5, 3.0])
    assert s["singular_values"].tolist() == pytest.approx([3.0, 1.5, 0.1])
    with pytest.raises(ValueError, match="square"):
        R.spectrum(torch.zeros(2, 3))


def test_without_batchnorm_copies_and_removes_every_bn():
    model = create("resnet20")
    bare = R.without_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in bare.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 19
    assert bare(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_init_gradient_norms_are_seeded_and_ordered():
    x, y = torch.randn(4, 3, 32, 32), torch.arange(4)
    a = R.init_gradient_norms(["plain20", "resnet20"], x, y, batchnorm=False)
    b = R.init_gradient_norms(["plain20", "resnet20"], x, y, batchnorm=False)
    assert a == b
    assert list(a["resnet20"])[0] == "conv1" and list(a["resnet20"])[-1] == "fc"
    assert len(a["plain20"]) == 20  # 19 convolutions + fc: the 20 weight layers
    with pytest.raises(ValueError, match="at least one"):
        R.init_gradient_norms([], x, y)


def test_paths_follow_the_binomial_distribution():
    assert R.count_paths(3) == 8 and R.path_length_distribution(3) == [1, 3, 3, 1]
    assert R.path_length_distribution(0) == [1]
    # Veit et al. 2016, section 4: ResNet-110 has 54 blocks, 2^54 paths, and about 95% of
    # them pass through 19 to 35 blocks.
    dist = R.path_length_distribution(54)
    assert sum(dist) == R.count_paths(54) == 2**54
    assert sum(dist[19:36]) / 2**54 > 0.95
    assert len(R.blocks(create("resnet110"))) == 54
    for bad in (-1, 2.0, True):
        with pytest.raises(ValueError, match="non-negative"):
            R.count_paths(bad)


@pytest.mark.parametrize("name", ["layer1.1", "layer2.0", "layer3.2"])
def test_removing_an_identity_block_changes_nothing(name):
    # With the last BN scale at zero, every residual branch is zero: each block is its shortcut,
    # so deleting it (option A shortcuts included) leaves the output exactly unchanged.
    torch.manual_seed(0)
    model = create("resnet20", zero_init_residual=True).eval()
    x = torch.randn(2, 3, 32, 32)
    lesioned = R.remove_block(model, name).eval()
    assert torch.equal(model(x), lesioned(x))
    assert isinstance(model.get_submodule(name), BasicBlock)  # original untouched


def test_remove_block_and_layer_on_a_plain_net():
    model = create("plain20").eval()
    x = torch.randn(2, 3, 32, 32)
    assert R.is_downsampling(model.layer2[0]) and not R.is_downsampling(model.layer2[1])
    assert R.remove_block(model, "layer3.0")(x).shape == (2, 10)
    layers = R.removable_layers(model)
    assert "layer2.0.conv1" not in layers and "layer2.0.conv2" in layers and len(layers) == 16
    cut = R.remove_layer(model, "layer1.0.conv2")
    assert isinstance(cut.layer1[0].conv2, nn.Identity) and isinstance(
        cut.layer1[0].bn2, nn.Identity
    )
    assert cut(x).shape == (2, 10)
    with pytest.raises(ValueError, match="removable layers"):
        R.remove_layer(model, "layer2.0.conv1")
    with pytest.raises(ValueError, match="not a block"):
        R.remove_block(model, "layer9.0")


def test_lesion_study_rows():
    torch.manual_seed(0)
    model = create("resnet20", zero_init_residual=True).eval()
    batches = [(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))) for _ in range(2)]
    rows = R.lesion_study(model, batches, device="cpu")
    assert [r["removed"] for r in rows] == ["(none)", *R.blocks(model)]
    assert all(r["change"] == 0.0 for r in rows)  # identity blocks: nothing to lose
    assert [r["downsampling"] for r in rows].count(True) == 2  # layer2.0, layer3.0
    plain = create("plain20").eval()
    rows = R.lesion_study(plain, batches, ["layer1.0.conv1"], remove=R.remove_layer, device="cpu")
    assert len(rows) == 2 and 0.0 <= rows[1]["acc"] <= 1.0


# --- deepen: a deeper net that computes the same function ----------------------------------------


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_deepen_cifar_resnet_keeps_the_outputs_exactly(mode, as_if_trained):
    torch.manual_seed(0)
    shallow = as_if_trained(create("resnet20"))
    deeper = R.deepen(shallow, blocks=2)
    assert deeper.depth == 20 + 2 * 2 * 3  # two blocks of two layers in each of three stages
    assert [len(s) for s in (deeper.layer1, deeper.layer2, deeper.layer3)] == [5, 5, 5]
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    shallow.train(mode == "train")
    deeper.train(mode == "train")
    with torch.no_grad():
        assert torch.equal(deeper(x), shallow(x))  # bit for bit, not approximately


def test_deepen_adds_he_initialised_blocks_with_a_zero_last_scale_and_copies():
    torch.manual_seed(0)
    shallow = create("resnet20")
    before = {k: v.clone() for k, v in shallow.state_dict().items()}
    deeper = R.deepen(shallow, blocks=(0, 1, 2))
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
def test_deepen_imagenet_resnets(name, as_if_trained):
    torch.manual_seed(0)
    shallow = as_if_trained(create(name, num_classes=10)).eval()
    deeper = R.deepen(shallow, 1).eval()
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
        R.deepen(create("plain20"))
    with pytest.raises(ValueError, match="ResNet or CifarResNet"):
        R.deepen(create("vgg11"))
    with pytest.raises(ValueError, match="one per stage"):
        R.deepen(create("resnet20"), blocks=(1, 1))
    with pytest.raises(ValueError, match="non-negative"):
        R.deepen(create("resnet20"), blocks=-1)


def test_a_trained_block_is_not_the_identity_but_a_zero_scaled_one_is(as_if_trained):
    """Why the zero scale matters: with the default scale of 1 the new block changes the output."""
    torch.manual_seed(0)
    shallow = as_if_trained(create("resnet20")).eval()
    deeper = R.deepen(shallow, blocks=(0, 0, 1)).eval()
    with torch.no_grad():
        deeper.layer3[-1].bn2.weight.fill_(1.0)
        x = torch.randn(2, 3, 32, 32)
        assert not torch.allclose(deeper(x), shallow(x))


def test_block_gains_are_the_ratio_of_the_real_gradients_around_a_block():
    torch.manual_seed(0)
    model = create("resnet20", widths=(4, 8, 8)).eval()
    x, y = torch.randn(3, 3, 16, 16), torch.tensor([1, 2, 3])
    gains = R.block_gains(model, x, y)
    assert list(gains) == ["layer1.0", "layer1.1", "layer1.2", "layer2.1", "layer2.2",
                           "layer3.1", "layer3.2"]  # fmt: skip
    grads = {}

    def keep(name):
        def hook(module, args, out):
            out.retain_grad()
            grads[name] = out

        return hook

    hooks = [
        model.get_submodule(n).register_forward_hook(keep(n)) for n in ("layer1.0", "layer1.1")
    ]
    nn.functional.cross_entropy(model(x), y, reduction="sum").backward()
    for h in hooks:
        h.remove()
    expected = grads["layer1.0"].grad.flatten(1).norm(dim=1) / grads["layer1.1"].grad.flatten(
        1
    ).norm(dim=1)
    assert torch.allclose(gains["layer1.1"]["gain"], expected, rtol=1e-5)
    zero = create("resnet20", widths=(4, 8, 8), zero_init_residual=True).eval()
    for g in R.block_gains(zero, x, y).values():
        assert torch.all(g["branch"] == 0) and torch.all(g["gain"] <= 1 + 1e-6)
        assert torch.all((0 <= g["blocked"]) & (g["blocked"] <= 1))


def test_scaled_shortcuts_multiply_the_identity_path_by_the_scale_per_block():
    """Identity Mappings, section 3.1: with x_{l+1} = s x_l + F(x_l) and zero branches, a stage
    of 9 blocks computes s^9 x (pre-activation) and its gradient is s^9."""
    from cnnlib.models.preact_resnet import PreActBlock

    model = create("preact_resnet56").eval()
    for block in model.modules():
        if isinstance(block, PreActBlock):
            nn.init.zeros_(block.conv2.weight)
    x = torch.randn(2, 16, 8, 8)
    for s in (0.5, 1.0, 1.1):
        scaled = R.scale_shortcuts(model, s)
        with torch.no_grad():
            assert torch.allclose(scaled.layer1(x), s**9 * x, rtol=1e-5)
    with torch.no_grad():
        assert torch.equal(R.scale_shortcuts(model, 1.0).layer1(x), x)
        out = R.remove_block(model, "layer1.3").layer1(x)
        assert torch.equal(out, x) and (x < 0).any()  # no ReLU put after a pre-act block
