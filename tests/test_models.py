"""The models against torchvision (weights, names, outputs) and against the papers (structure,
parameter counts), and the input checks."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision
from torch import nn

import cnnlib.models as M
from cnnlib.models.googlenet import ConvReLU, Inception, InceptionNaive
from cnnlib.models.resnet import BasicBlock, Bottleneck, ZeroPadShortcut

TORCHVISION_NAMES = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]
PAPER_NAMES = [
    "alexnet_paper",
    "zfnet",
    "vgg11_lrn",
    "vgg16_c",
    "googlenet_paper",
    "resnet50_paper",
    "resnet101_paper",
    "resnet152_paper",
]
CIFAR_NAMES = [f"{kind}{d}" for kind in ("resnet", "plain") for d in (20, 32, 44, 56, 110)]
TEACHING_NAMES = [
    "alexnet_cifar",
    "zfnet_cifar",
    "vgg_cifar",
    "vgg11_cifar",
    "vgg11_lrn_cifar",
    "vgg13_cifar",
    "vgg16_cifar",
    "vgg19_cifar",
    "googlenet_cifar",
]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- registry ---------------------------------------------------------------------------------


def test_registry_lists_every_model_of_the_book():
    assert set(M.list_models()) == set(
        TORCHVISION_NAMES + PAPER_NAMES + CIFAR_NAMES + TEACHING_NAMES
    )
    assert M.list_models() == sorted(M.list_models())


def test_unknown_model_lists_known_names():
    with pytest.raises(ValueError, match="Unknown model 'resnet51'.*resnet50.*vgg16"):
        M.create("resnet51")


def test_builders_are_attributes_like_torchvision():
    assert isinstance(M.resnet50(num_classes=7), M.ResNet)
    assert M.resnet50(num_classes=7).fc.out_features == 7


# --- torchvision compatibility ----------------------------------------------------------------


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_torchvision_state_dict_loads_and_outputs_agree(name):
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    torch.manual_seed(0)
    reference = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    ours = M.create(name, **kwargs).eval()
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in reference.named_modules()]
    ours.load_state_dict(reference.state_dict(), strict=True)
    size = 96 if name.startswith("vgg") else 224  # VGG: any size >= 32 runs the same layers
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


def test_googlenet_aux_heads_agree_with_torchvision_in_training_mode():
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
    ours = M.create("googlenet", aux_logits=True, init_weights=True)
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    torch.manual_seed(3)
    expected = reference.train()(x)
    torch.manual_seed(3)
    got = ours.train()(x)
    assert got._fields == ("logits", "aux_logits2", "aux_logits1")
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_googlenet_transform_input_agrees_with_torchvision():
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(
        weights=None, aux_logits=False, transform_input=True, init_weights=True
    ).eval()
    ours = M.create("googlenet", aux_logits=False, transform_input=True).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


# --- published weights: through torchvision's enums, with a clear error offline ---------------


def test_weights_load_from_torch_hub_cache(tmp_path, monkeypatch):
    """The real loading path, fed from a local cache file (no download needed)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    enum = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    torch.manual_seed(5)
    state = torchvision.models.resnet18().state_dict()
    target = tmp_path / "hub" / "checkpoints" / enum.url.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    for weights in ("DEFAULT", "IMAGENET1K_V1", enum):
        model = M.create("resnet18", weights=weights, progress=False)
        for key, value in state.items():
            assert torch.equal(model.state_dict()[key], value), key


def test_weights_offline_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match="needs internet access.*weights=None"):
        M.create("alexnet", weights="DEFAULT", progress=False)


def test_weights_argument_errors():
    with pytest.raises(ValueError, match="Unknown weights 'IMAGENET9K'.*IMAGENET1K_V1"):
        M.create("resnet50", weights="IMAGENET9K")
    with pytest.raises(ValueError, match="num_classes=1000"):
        M.create("resnet18", weights="DEFAULT", num_classes=10)
    with pytest.raises(TypeError):
        M.create("resnet50_paper", weights="DEFAULT")  # no published weights for the paper nets


# --- parameter counts: the published numbers --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("vgg11", {}, 132_863_336),  # config A
        ("vgg13", {}, 133_047_848),  # B
        ("vgg16_c", {}, 133_638_952),  # C
        ("vgg16", {}, 138_357_544),  # D
        ("vgg19", {}, 143_667_240),  # E
        ("vgg11_lrn", {}, 132_863_336),  # A-LRN: LRN has no parameters
        ("alexnet_paper", {}, 60_965_224),
        ("alexnet", {}, 61_100_840),
        ("googlenet", {"aux_logits": False}, 6_624_904),
        ("resnet18", {}, 11_689_512),
        ("resnet34", {}, 21_797_672),
        ("resnet50", {}, 25_557_032),
        ("resnet101", {}, 44_549_160),
        ("resnet152", {}, 60_192_808),
        ("resnet50_paper", {}, 25_557_032),  # moving the stride changes no weight
    ],
)
def test_parameter_counts_match_published(name, kwargs, expected):
    assert n_params(M.create(name, **kwargs)) == expected


@pytest.mark.parametrize(("depth", "millions"), [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85)])
def test_cifar_resnet_parameters_match_paper_table_6(depth, millions):
    assert round(n_params(M.create(f"resnet{depth}")) / 1e6, 2) == millions
    # Option A shortcuts have no parameters: the plain twin has exactly as many.
    assert n_params(M.create(f"plain{depth}")) == n_params(M.create(f"resnet{depth}"))


def test_cifar_resnet110_parameters_match_paper_table_6():
    assert round(n_params(M.create("resnet110")) / 1e6, 1) == 1.7


def test_vgg16_fc6_holds_three_quarters_of_the_parameters():
    model = M.create("vgg16")
    fc6 = n_params(model.classifier[0])
    assert fc6 == 102_764_544
    assert round(100 * fc6 / n_params(model), 1) == 74.3


# --- structure of the paper-faithful twins ----------------------------------------------------


def _shapes_after(model: nn.Module, modules: list[nn.Module], size: int) -> list[tuple]:
    shapes: list[tuple] = []
    handles = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
               for m in modules]  # fmt: skip
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return shapes


def test_alexnet_paper_structure():
    model = M.create("alexnet_paper")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]  # the two GPU towers
    assert convs[1].weight.shape == (256, 48, 5, 5)  # each tower sees its own 48 maps
    lrns = [i for i, m in enumerate(model.features) if isinstance(m, nn.LocalResponseNorm)]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert len(lrns) == 2 and all((p.kernel_size, p.stride) == (3, 2) for p in pools)
    shapes = _shapes_after(model, convs + pools, 227)
    # conv1, conv2, conv3, conv4, conv5, pool1, pool2, pool5 (hooks fire in forward order)
    assert shapes == [
        (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13),
        (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6),
    ]  # fmt: skip
    with torch.no_grad():  # 224 also runs (the adaptive pool restores 6x6)
        assert model.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_paper_lrn_is_the_papers_formula():
    from cnnlib.models.alexnet import paper_lrn

    a = torch.randn(1, 8, 3, 3, generator=torch.Generator().manual_seed(0)) * 10
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75
    expected = torch.empty_like(a)
    for i in range(8):
        lo, hi = max(0, i - n // 2), min(7, i + n // 2)
        expected[:, i] = a[:, i] / (k + alpha * (a[:, lo : hi + 1] ** 2).sum(1)) ** beta
    torch.testing.assert_close(paper_lrn()(a), expected)


def test_alexnet_paper_init_option():
    model = M.create("alexnet_paper", paper_init=True)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [float(c.bias.detach().mean()) for c in convs] == [0.0, 1.0, 0.0, 1.0, 1.0]
    assert abs(float(convs[0].weight.detach().std()) - 0.01) < 1e-3


def test_zfnet_sizes_match_figure_3():
    model = M.create("zfnet")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs[:2]] == [((7, 7), (2, 2)), ((5, 5), (2, 2))]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    shapes = _shapes_after(model, [convs[0], pools[0], convs[1], pools[1], pools[2]], 224)
    assert [s[1] for s in shapes] == [110, 55, 26, 13, 6]


def test_vgg_configs_c_and_a_lrn():
    c = M.create("vgg16_c")
    kernels = [m.kernel_size[0] for m in c.features if isinstance(m, nn.Conv2d)]
    assert kernels == [3, 3, 3, 3, 3, 3, 1, 3, 3, 1, 3, 3, 1]
    a_lrn = M.create("vgg11_lrn")
    assert isinstance(a_lrn.features[2], nn.LocalResponseNorm)
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in a_lrn.modules()) == 1
    assert sum(isinstance(m, nn.Conv2d) for m in a_lrn.modules()) == 8  # 8 conv + 3 FC = 11


def test_googlenet_paper_departures_from_torchvision():
    paper = M.create("googlenet_paper")
    tv = M.create("googlenet")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in paper.modules())
    assert paper.inception3a.branch3[1].conv.kernel_size == (5, 5)  # a real 5x5
    assert tv.inception3a.branch3[1].conv.kernel_size == (3, 3)  # torchvision's known bug
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in paper.modules()) == 2
    assert paper.dropout.p == 0.4 and paper.aux1.dropout.p == 0.7
    assert isinstance(paper.aux1.pool, nn.AvgPool2d)
    assert (paper.aux1.pool.kernel_size, paper.aux1.pool.stride) == (5, 3)
    assert paper.aux1.conv.conv.out_channels == 128
    assert (paper.aux1.fc1.in_features, paper.aux1.fc1.out_features) == (2048, 1024)
    out = paper.train()(torch.randn(2, 3, 224, 224))
    assert [tuple(o.shape) for o in out] == [(2, 1000)] * 3
    with pytest.raises(ValueError, match="auxiliary head expects .* 224x224"):
        paper.train()(torch.randn(2, 3, 160, 160))
    with torch.no_grad():  # without the heads (eval mode) any size >= 15 runs
        assert paper.eval()(torch.randn(1, 3, 160, 160)).shape == (1, 1000)


def test_googlenet_paper_conv_weights_have_torchvision_names():
    paper_keys = {k for k in M.create("googlenet_paper").state_dict() if ".bn." not in k}
    tv_conv_keys = {k for k in M.create("googlenet").state_dict() if k.endswith("conv.weight")}
    assert tv_conv_keys - {k for k in tv_conv_keys if k.startswith("aux")} <= paper_keys


def test_inception_modules_output_channels_and_shapes():
    x = torch.randn(1, 192, 28, 28)
    v1 = Inception(192, 64, 96, 128, 16, 32, 32, conv_block=ConvReLU, branch3_kernel=5)
    naive = InceptionNaive(192, 64, 128, 32)
    assert v1(x).shape == (1, 256, 28, 28) and v1.out_channels == 256
    # The naive module keeps all 192 pooled channels: 64 + 128 + 32 + 192.
    assert naive(x).shape == (1, 416, 28, 28) and naive.out_channels == 416
    # parameters = in * out * k * k + out, branch by branch
    assert n_params(naive) == (192 * 64 + 64) + (192 * 128 * 9 + 128) + (192 * 32 * 25 + 32)
    assert n_params(v1) == (
        (192 * 64 + 64)
        + (192 * 96 + 96) + (96 * 128 * 9 + 128)
        + (192 * 16 + 16) + (16 * 32 * 25 + 32)
        + (192 * 32 + 32)
    )  # fmt: skip
    # The stride-1 3x3 max-pool keeps the size with padding 1 (the source note says 2).
    assert naive.branch4.padding == 1
    # With padding 2 it would grow by 2 (PyTorch refuses padding > kernel // 2 outright, so pad
    # by hand with -inf, which max-pooling never picks).
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), value=float("-inf"))
    assert nn.MaxPool2d(3, 1)(padded).shape[-2:] == (30, 30)
    with pytest.raises(RuntimeError, match="pad should be at most half"):
        nn.MaxPool2d(3, 1, padding=2)(x)


def test_resnet_paper_puts_the_stride_in_the_first_1x1():
    paper, tv = M.create("resnet50_paper"), M.create("resnet50")
    assert paper.layer2[0].conv1.stride == (2, 2) and paper.layer2[0].conv2.stride == (1, 1)
    assert tv.layer2[0].conv1.stride == (1, 1) and tv.layer2[0].conv2.stride == (2, 2)
    paper.load_state_dict(tv.state_dict(), strict=True)  # the same weights, placed differently
    for name in ("resnet101_paper", "resnet152_paper"):
        blocks = [m for m in M.create(name).modules() if isinstance(m, Bottleneck)]
        assert all(b.conv2.stride == (1, 1) for b in blocks)
        assert sum(b.conv1.stride == (2, 2) for b in blocks) == 3


# --- CIFAR ResNets (section 4.2) --------------------------------------------------------------


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_cifar_resnet_depth_and_stages(depth):
    model = M.create(f"resnet{depth}")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == depth  # 6n+1 convolutions and one FC layer
    assert {c.out_channels for c in convs} == {16, 32, 64}
    assert [len(stage) for stage in (model.layer1, model.layer2, model.layer3)] == [
        (depth - 2) // 6
    ] * 3
    shapes = _shapes_after(model, [model.layer1, model.layer2, model.layer3], 32)
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_option_a_shortcut_is_subsampled_identity_with_zero_channels():
    x = torch.randn(2, 16, 8, 8)
    y = ZeroPadShortcut(16, 32, stride=2)(x)
    assert y.shape == (2, 32, 4, 4)
    torch.testing.assert_close(y[:, :16], x[:, :, ::2, ::2], rtol=0, atol=0)
    assert torch.count_nonzero(y[:, 16:]) == 0


def test_option_b_and_plain_variants():
    a, b = M.create("resnet20"), M.create("resnet20", shortcut="B")
    assert n_params(b) - n_params(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)  # two 1x1+BN
    plain = M.create("plain20")
    assert all(not blk.shortcut for blk in plain.modules() if isinstance(blk, BasicBlock))
    assert all(blk.shortcut for blk in a.modules() if isinstance(blk, BasicBlock))
    with pytest.raises(ValueError, match="6n\\+2"):
        M.create("resnet20").__class__(21)


def test_zero_init_residual_blocks_are_the_identity():
    """A residual block whose last BN scale is zero computes relu(x): on the non-negative
    activations it receives, exactly x. This is how a deeper net can copy a shallower one."""
    model = M.create("resnet20", zero_init_residual=True).eval()
    x = torch.relu(torch.randn(2, 16, 32, 32))
    with torch.no_grad():
        for block in model.layer1:
            torch.testing.assert_close(block(x), x, rtol=0, atol=0)


def test_plain_block_is_the_residual_branch_alone():
    block = BasicBlock(16, 16, shortcut=False).eval()
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(block.residual(x)))


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", TORCHVISION_NAMES + PAPER_NAMES + TEACHING_NAMES + ["resnet20", "plain20"]
)
def test_bad_input_raises_value_error_naming_the_shape(name):
    model = M.create(name)
    lo = model.min_input_size
    with pytest.raises(ValueError, match=r"expects a 4-d tensor \(N, 3, H, W\).*3-d tensor"):
        model(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match="expects .* got 1 channels"):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="expects a 4-d tensor"):
        model([[1.0]])
    if lo > 1:
        with pytest.raises(ValueError, match=f"H, W >= {lo}.*too small"):
            model(torch.zeros(1, 3, lo - 1, lo + 5))
    # the smallest accepted size really runs (eval mode: no auxiliary heads)
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 3, lo, lo))
    assert out.shape[0] == 1


# --- CIFAR-scale teaching versions of AlexNet and ZFNet ---------------------------------------


def test_cifar_alexnet_and_zfnet_first_layers_and_sizes():
    alex, zf = M.create("alexnet_cifar"), M.create("zfnet_cifar")
    a_convs = [m for m in alex.features if isinstance(m, nn.Conv2d)]
    z_convs = [m for m in zf.features if isinstance(m, nn.Conv2d)]
    assert (a_convs[0].kernel_size, a_convs[0].stride) == ((5, 5), (2, 2))
    assert (z_convs[0].kernel_size, z_convs[0].stride) == ((3, 3), (1, 1))
    assert z_convs[1].stride == (2, 2) and a_convs[1].stride == (1, 1)
    assert _shapes_after(alex, [a_convs[0], a_convs[4]], 32) == [(32, 16, 16), (64, 4, 4)]
    assert _shapes_after(zf, [z_convs[0], z_convs[4]], 32) == [(32, 32, 32), (64, 4, 4)]
    with torch.no_grad():
        assert alex.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_cifar_alexnet_options():
    tanh = M.create("alexnet_cifar", activation="tanh", dropout=0.0, lrn=True)
    assert sum(isinstance(m, nn.Tanh) for m in tanh.modules()) == 7
    assert not any(isinstance(m, nn.ReLU) for m in tanh.modules())
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in tanh.modules()) == 2
    assert all(m.p == 0.0 for m in tanh.modules() if isinstance(m, nn.Dropout))
    # the activation has no parameters: the same weights fit both versions
    relu = M.create("alexnet_cifar")
    relu.load_state_dict(M.create("alexnet_cifar", activation="tanh").state_dict(), strict=True)
    with pytest.raises(ValueError, match="activation must be one of"):
        M.create("alexnet_cifar", activation="gelu")
