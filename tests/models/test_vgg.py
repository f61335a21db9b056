"""VGG: the configurations the paper adds to torchvision's (C, A-LRN), the stacks of small kernels
(section 2.3), and the CIFAR-scale teaching models of chapter 4."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnlib import models as M
from cnnlib.analysis import VGG_PAPER_TABLE, count_macs, count_params, layer_table, receptive_field
from cnnlib.models.vgg import CONFIGS, VGGCifar, conv_stack, get_config, make_layers, scale_config

CIFAR_BUILDERS = {
    "vgg11_cifar": ("A", 11),
    "vgg11_lrn_cifar": ("A-LRN", 11),
    "vgg13_cifar": ("B", 13),
    "vgg16_cifar": ("D", 16),
    "vgg19_cifar": ("E", 19),
}
TORCHVISION_NAME = {"A": "vgg11", "A-LRN": "vgg11_lrn", "B": "vgg13", "C": "vgg16_c",
                    "D": "vgg16", "E": "vgg19"}  # fmt: skip


def _meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return M.create(name, **kwargs)


# --- the ImageNet configurations -----------------------------------------------------------------


def test_vgg_configs_c_and_a_lrn():
    c = _meta("vgg16_c")
    kernels = [m.kernel_size[0] for m in c.features if isinstance(m, nn.Conv2d)]
    assert kernels == [3, 3, 3, 3, 3, 3, 1, 3, 3, 1, 3, 3, 1]
    a_lrn = _meta("vgg11_lrn")
    assert isinstance(a_lrn.features[2], nn.LocalResponseNorm)
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in a_lrn.modules()) == 1
    assert sum(isinstance(m, nn.Conv2d) for m in a_lrn.modules()) == 8  # 8 conv + 3 FC = 11


def test_fc6_holds_74_percent_of_vgg16():
    model = _meta("vgg16")
    fc6 = model.classifier[0]
    assert fc6.weight.numel() + fc6.bias.numel() == 102_764_544 == 512 * 7 * 7 * 4096 + 4096
    assert round(100 * 102_764_544 / count_params(model), 1) == 74.3


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_builder_docs_name_the_papers_weight_layers(cfg):
    builder = getattr(M.vgg, TORCHVISION_NAME[cfg])
    layers = int(VGG_PAPER_TABLE[cfg]["layers"])
    assert builder.__doc__.startswith(f"VGG config {cfg} ({layers} weight layers)")


# --- small stacked kernels -----------------------------------------------------------------------


@pytest.mark.parametrize(("kernels", "rf"), [([3], 3), ([3, 3], 5), ([5], 5), ([3, 3, 3], 7),
                                             ([7], 7), ([3, 3, 3, 3], 9)])  # fmt: skip
def test_stacked_3x3_receptive_fields(kernels, rf):
    stack = conv_stack(kernels, 4)
    last = str(len(stack) - 1)
    assert receptive_field(stack, last, (1, 4, 16, 16)).size == rf


def test_three_3x3_have_27_c2_weights_and_one_7x7_has_49_c2():
    c = 64
    three, one = conv_stack([3, 3, 3], c), conv_stack([7], c)
    weights = lambda m: sum(p.numel() for n, p in m.named_parameters() if n.endswith("weight"))  # noqa: E731
    assert weights(three) == 27 * c * c
    assert weights(one) == 49 * c * c
    assert sum(isinstance(m, nn.ReLU) for m in three) == 3
    assert sum(isinstance(m, nn.ReLU) for m in one) == 1
    x = torch.randn(1, c, 10, 10)
    assert three(x).shape == one(x).shape == x.shape  # "same" padding keeps the size


def test_conv_stack_rejects_even_or_missing_kernels():
    with pytest.raises(ValueError, match="odd"):
        conv_stack([2], 8)
    with pytest.raises(ValueError, match="odd"):
        conv_stack([], 8)
    with pytest.raises(ValueError, match="channels"):
        conv_stack([3], 0)


def test_stack_configs_see_the_same_and_differ_in_weights():
    one = M.create("vgg_cifar", config="7x7", fc_layers=1)
    three = M.create("vgg_cifar", config="3x3x3", fc_layers=1)
    rf_one = receptive_field(one, "features", (1, 3, 32, 32))
    rf_three = receptive_field(three, "features", (1, 3, 32, 32))
    assert (rf_one.size, rf_one.stride) == (rf_three.size, rf_three.stride)
    assert rf_one.output_shape == rf_three.output_shape == (128, 4, 4)
    for c in (32, 64, 128):  # per stage: one 7x7 (49 C^2) against three 3x3 (27 C^2)
        w7 = [m for m in one.features if isinstance(m, nn.Conv2d) and m.kernel_size == (7, 7)]
        assert any(m.weight.numel() == 49 * c * c for m in w7)
    assert one.weight_layers == 7 and three.weight_layers == 13
    assert count_params(three) < count_params(one)


# --- the CIFAR-scale models --------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CIFAR_BUILDERS))
def test_cifar_vgg_depth_and_output(name):
    cfg, layers = CIFAR_BUILDERS[name]
    torch.manual_seed(0)
    model = M.create(name, width=0.125).eval()
    assert isinstance(model, VGGCifar)
    assert model.weight_layers == layers == VGG_PAPER_TABLE[cfg]["layers"]
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == layers - 3
    assert name in M.list_models()


def test_cifar_vgg_full_width_is_the_paper_s_convolutions():
    model = M.create("vgg16_cifar")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    paper = [m for m in _meta("vgg16").features if isinstance(m, nn.Conv2d)]
    assert [c.weight.shape for c in convs] == [c.weight.shape for c in paper]
    assert model.classifier[0].in_features == 512 and model.classifier[-1].out_features == 10
    # 32x32 through five 2x2 pools leaves a 1x1 map
    assert layer_table(model, (1, 3, 32, 32), layers=["features"])["features"].output_shape == (
        512,
        1,
        1,
    )


def test_cifar_a_lrn_has_lrn_after_the_first_relu_and_no_extra_parameters():
    a = M.create("vgg11_cifar", width=0.25, batch_norm=False)
    a_lrn = M.create("vgg11_lrn_cifar", width=0.25, batch_norm=False)
    kinds = [type(m).__name__ for m in a_lrn.features][:4]
    assert kinds == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    assert count_params(a) == count_params(a_lrn)
    assert count_macs(a, (1, 3, 32, 32)) == count_macs(a_lrn, (1, 3, 32, 32))  # LRN is "free"


def test_width_scales_every_convolution():
    assert scale_config(CONFIGS["A"], 0.25) == [16, "M", 32, "M", 64, 64, "M", 128, 128, "M",
                                                128, 128, "M"]  # fmt: skip
    assert scale_config([(256, 1), "LRN"], 0.5) == [(128, 1), "LRN"]
    assert scale_config([4], 0.01) == [1]
    narrow = M.create("vgg11_cifar", width=0.25)
    assert count_params(narrow) < count_params(M.create("vgg11_cifar")) / 10
    for bad in (0, -1, "half", True):
        with pytest.raises(ValueError, match="width"):
            scale_config(CONFIGS["A"], bad)


def test_get_config_by_name_or_list():
    assert get_config("A") == CONFIGS["A"] and get_config("A") is not CONFIGS["A"]  # a copy
    assert get_config("7x7")[:2] == [32, (32, 7)]
    assert get_config([8, "M"]) == [8, "M"]
    with pytest.raises(ValueError, match="Unknown VGG configuration 'F'"):
        get_config("F")


def test_bad_configurations_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="Unknown VGG configuration 'F'.*A-LRN"):
        M.create("vgg_cifar", config="F")
    with pytest.raises(ValueError, match="bad VGG configuration entry 'pool'"):
        M.create("vgg_cifar", config=[64, "pool"])
    with pytest.raises(ValueError, match="odd kernels"):
        make_layers([(64, 4)])
    with pytest.raises(ValueError, match="fc_layers"):
        VGGCifar([8, "M"], fc_layers=2)
    with pytest.raises(ValueError, match="at least one convolution"):
        VGGCifar(["M"])
    model = M.create("vgg11_cifar", width=0.125)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) with H, W >= 32"):
        model(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(1, 1, 32, 32))


def test_stack_net_accepts_smaller_images_than_five_pools():
    model = M.create("vgg_cifar", config="3x3x3", width=0.25, fc_layers=1).eval()
    assert model.min_input_size == 8
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 10)


def test_cifar_vgg_trains_one_step_without_nan():
    torch.manual_seed(0)
    model = M.create("vgg19_cifar", width=0.125, dropout=0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    losses = []
    for _ in range(10):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


# --- initialisations of section 3.1 ------------------------------------------------------------


def test_vgg_paper_init_keeps_each_layers_gain_from_the_paper():
    """N(0, 0.01^2) at the paper's widths; a narrower net gets the std that keeps each layer's
    factor std x sqrt(fan-in): conv1 (3 inputs at any width) 0.01, later convolutions 0.01 /
    sqrt(width), fc6 as if it saw 512 x 7 x 7 inputs."""
    from cnnlib.models.vgg_init import vgg_paper_init_

    torch.manual_seed(0)
    full = M.create("vgg16_cifar", batch_norm=False)
    stds = vgg_paper_init_(full)
    convs = [n for n, m in full.named_modules() if isinstance(m, nn.Conv2d)]
    assert [stds[n] for n in convs] == pytest.approx([0.01] * 13)
    assert stds["classifier.0"] == pytest.approx(0.01 * (512 * 49 / 512) ** 0.5)  # 0.07
    assert stds["classifier.6"] == pytest.approx(0.01 * (4096 / 512) ** 0.5)
    quarter = M.create("vgg16_cifar", batch_norm=False, width=0.25)
    stds = vgg_paper_init_(quarter)
    convs = [(n, m) for n, m in quarter.named_modules() if isinstance(m, nn.Conv2d)]
    assert stds[convs[0][0]] == pytest.approx(0.01)
    assert [stds[n] for n, _ in convs[1:]] == pytest.approx([0.02] * 12)
    weights = torch.cat([m.weight.flatten() for _, m in convs[1:]])
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    assert all(float(m.bias.detach().abs().max()) == 0 for _, m in convs)
    with pytest.raises(TypeError, match="needs a VGGCifar"):
        vgg_paper_init_(nn.Linear(2, 2))


def test_input_scale_gives_the_papers_pixel_scale_to_the_logits():
    """input_scale multiplies the input; with the paper's zero biases a ReLU VGG without batch
    norm is positively homogeneous, so the logits grow by the same factor (PAPER_INPUT_STD:
    ImageNet's pixel spread on the 0-255 scale)."""
    from cnnlib.models.vgg_init import PAPER_INPUT_STD, vgg_paper_init_

    assert PAPER_INPUT_STD == pytest.approx(255 * 0.226, abs=0.05)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    nets = {}
    for scale in (1.0, PAPER_INPUT_STD):
        torch.manual_seed(0)
        nets[scale] = M.create("vgg11_cifar", batch_norm=False, width=0.25, input_scale=scale)
        vgg_paper_init_(nets[scale])
        nets[scale].eval()
    with torch.no_grad():
        plain, scaled = nets[1.0](x), nets[PAPER_INPUT_STD](x)
        assert torch.allclose(scaled, nets[1.0](PAPER_INPUT_STD * x))
    assert torch.allclose(scaled, PAPER_INPUT_STD * plain, rtol=1e-4, atol=1e-12)
    assert scaled.abs().max() > 10 * plain.abs().max()
    with pytest.raises(ValueError, match="input_scale must be a positive number"):
        M.create("vgg11_cifar", input_scale=0)


def test_init_from_shallower_copies_as_first_four_convolutions_and_its_classifier():
    from cnnlib.models.vgg_init import init_from_shallower_

    torch.manual_seed(0)
    a = M.create("vgg11_cifar", batch_norm=False, width=0.25)
    d = M.create("vgg16_cifar", batch_norm=False, width=0.25)
    before = {n: p.clone() for n, p in d.named_parameters()}
    pairs = init_from_shallower_(d, a)
    # A: conv1 (3->16), conv2 (16->32), conv3_1 (32->64), conv3_2 (64->64); D's conv1_2 (16->16)
    # and conv2_2 (32->32) have no counterpart and stay as they were
    assert pairs == {"features.0": "features.0", "features.5": "features.3",
                     "features.10": "features.6", "features.12": "features.8",
                     "classifier.0": "classifier.0", "classifier.3": "classifier.3",
                     "classifier.6": "classifier.6"}  # fmt: skip
    params_a = dict(a.named_parameters())
    for n, p in d.named_parameters():
        layer = n.rsplit(".", 1)[0]
        if layer in pairs:
            assert torch.equal(p, params_a[n.replace(layer, pairs[layer], 1)]), n
        else:
            assert torch.equal(p, before[n]), n
    with pytest.raises(ValueError, match="has the shape of features.0"):
        init_from_shallower_(M.create("vgg16_cifar", width=0.5, batch_norm=False), a)


def test_glorot_init_bounds_every_layer():
    from cnnlib.models.layers import glorot_init_

    torch.manual_seed(0)
    net = M.create("vgg11_cifar", batch_norm=False, width=0.25)
    glorot_init_(net)
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            fan_in, fan_out = m.weight[0].numel(), m.weight.shape[0] * m.weight[0, 0].numel()
            bound = (6 / (fan_in + fan_out)) ** 0.5
            w = m.weight.detach().abs().max()
            assert float(w) <= bound
            assert float(w) > 0.9 * bound
            assert float(m.bias.detach().abs().max()) == 0
