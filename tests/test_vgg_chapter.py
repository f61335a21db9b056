"""Chapter 4 (VGG): the CIFAR-scale VGG models, the configuration tools of cnnlib.models.vgg,
cnnlib.analysis.time_by_module and the chapter's plots, held against the paper's numbers
(Simonyan & Zisserman, ICLR 2015: tables 1-4)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from cnnlib import models as M  # noqa: E402
from cnnlib import viz  # noqa: E402
from cnnlib.analysis import (  # noqa: E402
    count_macs,
    count_params,
    layer_table,
    receptive_field,
    time_by_module,
)
from cnnlib.models.vgg import (  # noqa: E402
    CONFIGS,
    PAPER_TABLE,
    STACK_CONFIGS,
    VGGCifar,
    config_stages,
    conv_stack,
    make_layers,
    scale_config,
    stage_table,
)

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


# --- the paper's tables ------------------------------------------------------------------------


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_parameter_counts_round_to_table_2(cfg):
    params = count_params(_meta(TORCHVISION_NAME[cfg]))
    assert round(params / 1e6) == PAPER_TABLE[cfg]["params_m"]


def test_paper_table_holds_table_3_and_4():
    # Table 3 (single test scale): top-1 / top-5 validation error in %.
    expected = {"A": (29.6, 10.4), "A-LRN": (29.7, 10.5), "B": (28.7, 9.9), "C": (27.3, 8.8),
                "D": (25.6, 8.1), "E": (25.5, 8.0)}  # fmt: skip
    for cfg, (top1, top5) in expected.items():
        assert (PAPER_TABLE[cfg]["top1"], PAPER_TABLE[cfg]["top5"]) == (top1, top5)
    # Table 4 (multi-scale): D and E are equal, the note's "little gain" from 16 to 19 layers.
    for cfg in ("D", "E"):
        assert (PAPER_TABLE[cfg]["top1_multiscale"], PAPER_TABLE[cfg]["top5_multiscale"]) == (
            24.8,
            7.5,
        )


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_weight_layers_match_table_1(cfg):
    convs = sum(not isinstance(v, str) for v in CONFIGS[cfg])
    assert convs + 3 == PAPER_TABLE[cfg]["layers"]


def test_config_stages_in_the_notation_of_table_1():
    assert config_stages("A") == ["conv3-64", "conv3-128", "conv3-256 x2", "conv3-512 x2",
                                  "conv3-512 x2"]  # fmt: skip
    assert config_stages("A-LRN")[0] == "conv3-64, LRN"
    assert config_stages("C")[2] == "conv3-256 x2, conv1-256"
    assert config_stages("E")[4] == "conv3-512 x4"
    assert config_stages(STACK_CONFIGS["7x7"]) == ["conv3-32, conv7-32", "conv3-64, conv7-64",
                                                   "conv3-128, conv7-128"]  # fmt: skip


def test_fc6_holds_74_percent_of_vgg16():
    model = _meta("vgg16")
    fc6 = model.classifier[0]
    assert fc6.weight.numel() + fc6.bias.numel() == 102_764_544 == 512 * 7 * 7 * 4096 + 4096
    assert round(100 * 102_764_544 / count_params(model), 1) == 74.3


def test_stage_table_of_vgg16():
    model = _meta("vgg16")
    rows = stage_table(model)
    assert [r["channels"] for r in rows] == [64, 128, 256, 512, 512]
    assert [r["size"] for r in rows] == ["224x224", "112x112", "56x56", "28x28", "14x14"]
    assert [r["convs"] for r in rows] == [2, 2, 3, 3, 3]
    features = layer_table(model, layers=["features"])["features"]
    assert sum(r["params"] for r in rows) == features.params == 14_714_688
    assert sum(r["macs"] for r in rows) == features.macs
    # Channels double as the side halves: stages 3 and 4 cost the same, activations halve.
    assert rows[2]["macs"] == rows[3]["macs"]
    assert rows[3]["activations"] * 2 == rows[2]["activations"]
    assert rows[0]["activations"] == 2 * 64 * 224 * 224


def test_stage_table_rejects_other_models():
    with pytest.raises(ValueError, match="features"):
        stage_table(nn.Linear(3, 3))


# --- small stacked kernels ---------------------------------------------------------------------


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
    assert model.weight_layers == layers == PAPER_TABLE[cfg]["layers"]
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


# --- time_by_module ------------------------------------------------------------------------------


def test_time_by_module_times_every_leaf_and_restores_the_model():
    model = M.create("vgg11_lrn_cifar", width=0.125, batch_norm=False).train()
    times = time_by_module(model, (2, 3, 32, 32), repeats=2)
    leaves = [n for n, m in model.named_modules() if n and next(m.children(), None) is None]
    assert list(times) == ["", *leaves]
    assert all(t >= 0 for t in times.values())
    assert "features.2" in times  # the LRN layer
    assert model.training  # flags restored
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    with pytest.raises(ValueError, match="repeats"):
        time_by_module(model, (1, 3, 32, 32), repeats=0)


# --- plots ---------------------------------------------------------------------------------------


def test_plot_accuracy_by_depth_and_stage_costs():
    runs = {"A": {"depth": 11, "train_acc": 0.5, "test_acc": 0.45},
            "E": {"depth": 19, "train_acc": 0.6, "test_acc": 0.5}}  # fmt: skip
    paper = {k: (PAPER_TABLE[k]["layers"], PAPER_TABLE[k]["top5"]) for k in ("A", "B", "D", "E")}
    fig = viz.plot_accuracy_by_depth(runs, paper, title="t")
    assert len(fig.axes) == 2
    assert len(viz.plot_accuracy_by_depth(runs).axes) == 1
    fig = viz.plot_stage_costs(stage_table(_meta("vgg16")))
    assert len(fig.axes) == 3
    assert len(fig.axes[0].patches) == 5
    with pytest.raises(ValueError):
        viz.plot_accuracy_by_depth({})
    with pytest.raises(ValueError):
        viz.plot_stage_costs([])
    import matplotlib.pyplot as plt

    plt.close("all")
