"""cnnlib.analysis against torchvision's published numbers, the receptive fields of Araujo et al.
(Distill 2019) and small networks whose numbers are derived by hand in the comments."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from cnnlib import analysis
from cnnlib.analysis import (
    LayerTable,
    ReceptiveField,
    count_macs,
    count_macs_by_module,
    count_params,
    layer_table,
    receptive_field,
    receptive_fields,
    summary,
)
from cnnlib.models import create

IMAGENET = (1, 3, 224, 224)
SMALL = (1, 3, 32, 32)


def tv(name: str, **kwargs) -> nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None, **kwargs)


# One instance of each big model per module: building VGG takes seconds.
@pytest.fixture(scope="module")
def alexnet():
    return tv("alexnet")


@pytest.fixture(scope="module")
def vgg16():
    return tv("vgg16")


@pytest.fixture(scope="module")
def resnet50():
    return tv("resnet50")


@pytest.fixture(scope="module")
def googlenet():
    return tv("googlenet", aux_logits=False, init_weights=False)


@pytest.fixture(scope="module")
def vgg16_table(vgg16):
    return layer_table(vgg16, IMAGENET)


def resnet50_v1() -> nn.Module:
    """The paper's ResNet-50: the stride-2 of a bottleneck in its first 1x1 convolution."""
    model = tv("resnet50")
    moved = 0
    for block in model.modules():
        if isinstance(block, torchvision.models.resnet.Bottleneck) and block.conv2.stride == (2, 2):
            block.conv1.stride, block.conv2.stride = (2, 2), (1, 1)
            moved += 1
    assert moved == 3  # the first blocks of layer2, layer3, layer4
    return model


# ---------------------------------------------------------------------------------------------
# Parameters and MACs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "params"),
    [
        ("alexnet", 61_100_840),
        ("vgg16", 138_357_544),
        ("resnet50", 25_557_032),
        ("googlenet", 6_624_904),
    ],  # fmt: skip
)
def test_params_match_torchvision(request, fixture, params):
    assert count_params(request.getfixturevalue(fixture)) == params


def test_trainable_only_skips_frozen_parameters():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 4, 1))
    model[0].requires_grad_(False)
    assert count_params(model) == (3 * 9 * 8 + 8) + (8 * 4 + 4)
    assert count_params(model, trainable_only=True) == 8 * 4 + 4


@pytest.mark.parametrize(
    ("fixture", "gmacs"),
    # torchvision's published "GFLOPS", which count multiply-adds
    [("alexnet", 0.714), ("vgg16", 15.47), ("googlenet", 1.498), ("resnet50", 4.089)],
)
def test_macs_match_torchvision_published(request, fixture, gmacs):
    assert count_macs(request.getfixturevalue(fixture), IMAGENET) == pytest.approx(
        gmacs * 1e9, rel=0.01
    )


def test_macs_resnet18_match_torchvision_published():
    assert count_macs(tv("resnet18")) == pytest.approx(1.814e9, rel=0.01)


def test_macs_by_hand_and_per_image():
    # 3x3 conv, 3 -> 8 channels, 10x10 output: 8 * 10 * 10 * (3 * 3 * 3) = 21,600;
    # linear 800 -> 5: 4,000. Batch norm, ReLU and the bias are not counted.
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(800, 5)
    )
    assert count_macs(model, (1, 3, 10, 10)) == 21_600 + 4_000
    assert count_macs(model, (4, 3, 10, 10)) == 21_600 + 4_000  # per image


def test_training_flags_are_restored():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(), nn.Conv2d(4, 4, 3))
    model.train()
    model[1].eval()  # e.g. a frozen batch norm inside a training model
    before = [m.training for m in model.modules()]
    count_macs(model, SMALL)
    receptive_field(model, "3", SMALL)
    layer_table(model, SMALL)
    summary(model, SMALL)
    assert [m.training for m in model.modules()] == before == [True, True, False, True, True]


def test_macs_run_in_eval_mode_and_without_grad():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((self.training, torch.is_grad_enabled()))
            return x

    count_macs(nn.Sequential(nn.Conv2d(3, 3, 1), Probe()).train(), SMALL)
    assert seen == [(False, False)]


def test_macs_by_module(resnet50):
    macs = count_macs_by_module(resnet50)
    total = macs[""]  # the whole model
    assert total == pytest.approx(4.089e9, rel=0.01)
    assert sum(macs[f"layer{i}"] for i in range(1, 5)) + macs["conv1"] + macs["fc"] == total
    assert macs["layer1"] == sum(macs[f"layer1.{i}"] for i in range(3))
    assert macs["fc"] == 2048 * 1000
    assert macs["conv1"] == 64 * 112 * 112 * 3 * 7 * 7
    assert macs["relu"] == macs["bn1"] == macs["maxpool"] == 0


# ---------------------------------------------------------------------------------------------
# Receptive fields: published values
# ---------------------------------------------------------------------------------------------


def test_receptive_field_alexnet(alexnet):
    # conv1 11/4: 11 | pool 3/2: 19 | conv2 5: 51 | pool: 67 | conv3-5 3: 99, 131, 163 | pool: 195
    rf = receptive_field(alexnet, "features.12", IMAGENET)
    assert isinstance(rf, ReceptiveField)
    assert (rf.name, rf.size, rf.stride) == ("features.12", 195, 32)
    assert rf.sizes == (195, 195) and rf.strides == (32, 32)
    assert rf.output_shape == (256, 6, 6)


def test_receptive_field_vgg11():
    assert (lambda rf: (rf.size, rf.stride))(
        receptive_field(tv("vgg11"), "features.20", IMAGENET)
    ) == (150, 32)


def test_receptive_field_vgg16(vgg16):
    rf = receptive_field(vgg16, "features.30", IMAGENET)
    assert (rf.size, rf.stride) == (212, 32)


def test_receptive_field_resnet50_v1_5(resnet50):
    rf = receptive_field(resnet50, "layer4", IMAGENET)
    assert (rf.size, rf.stride) == (427, 32)


def test_receptive_field_resnet50_v1_paper():
    rf = receptive_field(resnet50_v1(), "layer4", IMAGENET)
    assert (rf.size, rf.stride) == (483, 32)


@pytest.fixture(scope="module")
def resnet50_rfs(resnet50):
    return receptive_fields(resnet50)


def test_receptive_fields_of_resnet50_stages(resnet50_rfs):
    # conv1 7/2: 7 | maxpool 3/2: 11 (jump 4) | layer1: 3 x (3x3 at jump 4) = 35 |
    # layer2: 3x3/2 at jump 4: 43, then 3 x 16: 91 | layer3: 107 + 5 x 32 = 267 |
    # layer4: 299 + 2 x 64 = 427
    rfs = resnet50_rfs
    assert [(rfs[n].size, rfs[n].stride) for n in ("maxpool", "layer1", "layer2", "layer3")] == [
        (11, 4),
        (35, 4),
        (91, 8),
        (267, 16),
    ]
    assert "fc" not in rfs  # not spatial
    assert list(rfs)[:2] == ["conv1", "bn1"]  # forward order


def test_receptive_field_googlenet_through_inception_branches():
    # torchvision's GoogLeNet (its "5x5" branch is a 3x3, a known torchvision bug):
    # conv1 7/2: 7 | maxpool1 3/2: 11 (jump 4) | conv2 1x1, conv3 3x3: 19 | maxpool2 3/2: 27
    # (jump 8) | inception3a, largest branch 1x1 -> 3x3: 27 + 2 * 8 = 43 | 3b: 59 |
    # maxpool3: 75 (jump 16) | 4a...4e: 75 + 5 x 32 = 235 | maxpool4 2/2: 251 (jump 32) |
    # 5a, 5b: 251 + 2 x 64 = 379.
    # Built with auxiliary classifiers and left in training mode: Python control flow skips
    # them in eval mode, which must not disturb the tracking.
    model = tv("googlenet", aux_logits=True, init_weights=False).train()
    rfs = receptive_fields(model)
    assert (rfs["inception3a"].size, rfs["inception3a"].stride) == (43, 8)
    assert (rfs["inception4e"].size, rfs["inception4e"].stride) == (235, 16)
    assert (rfs["inception5b"].size, rfs["inception5b"].stride) == (379, 32)
    assert rfs["inception5b"].size > rfs["inception4e"].size
    assert "aux1" not in rfs
    with pytest.raises(ValueError, match="not called"):
        receptive_field(model, "aux1.conv")
    assert model.training


def test_module_called_several_times_reports_its_last_call(resnet50_rfs):
    # torchvision's Bottleneck reuses one ReLU three times; the last call is the block's output
    relu, block = resnet50_rfs["layer4.2.relu"], resnet50_rfs["layer4.2"]
    assert (relu.size, relu.stride, relu.output_shape) == (427, 32, (2048, 7, 7))
    assert (block.size, block.stride, block.output_shape) == (427, 32, (2048, 7, 7))

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.relu = conv(3, channels=8), nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(self.relu(x)))

    model = nn.Sequential(Twice())
    assert rf_of(model, "0.relu") == (3, 1)
    table = layer_table(model, (1, 4, 8, 8))
    assert (table["0.relu"].calls, table["0.relu"].output_shape) == (2, (8, 8, 8))


# ---------------------------------------------------------------------------------------------
# Receptive fields: small networks, by hand
# ---------------------------------------------------------------------------------------------


def conv(k: int, stride: int = 1, dilation: int = 1, channels: int = 4, in_channels: int = 4):
    return nn.Conv2d(
        in_channels, channels, k, stride, padding=dilation * (k // 2), dilation=dilation
    )


def rf_of(model: nn.Module, layer: str, input_size=(1, 4, 32, 32)) -> tuple[int, int]:
    rf = receptive_field(model, layer, input_size)
    return rf.size, rf.stride


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([conv(3), conv(3)], (5, 1)),
        ([conv(3), conv(3), conv(3)], (7, 1)),
        ([conv(7)], (7, 1)),
        ([conv(3, stride=2), conv(3)], (7, 2)),  # 3, then 3 + 2 * 2
        ([conv(3, dilation=2)], (5, 1)),  # 1 + (3 - 1) * 2
        ([conv(3), nn.MaxPool2d(2)], (4, 2)),  # 3 + 1
        ([conv(3), nn.AvgPool2d(3, stride=2), conv(3)], (9, 2)),  # 3, 5, 5 + 2 * 2
        ([conv(3), nn.ReLU(), nn.BatchNorm2d(4), nn.Dropout()], (3, 1)),
        ([conv(3), nn.LocalResponseNorm(5), conv(3)], (5, 1)),  # LRN pools channels only
    ],
)
def test_receptive_field_of_stacks(layers, expected):
    model = nn.Sequential(*layers)
    assert rf_of(model, str(len(layers) - 1)) == expected


def test_stack_layer_by_layer():
    model = nn.Sequential(conv(3), conv(3), conv(3, stride=2), conv(3), nn.MaxPool2d(2), conv(3))
    # 3, 5, 7 (jump 2), 11, 13 (jump 4), 21
    rfs = receptive_fields(model, (1, 4, 32, 32))
    assert list(rfs) == ["", "0", "1", "2", "3", "4", "5"]  # the model's output first
    assert rfs[""] == ReceptiveField("", 21, 4, (21, 21), (4, 4), (4, 8, 8))
    assert [(rfs[str(i)].size, rfs[str(i)].stride) for i in range(6)] == [
        (3, 1),
        (5, 1),
        (7, 2),
        (11, 2),
        (13, 4),
        (21, 4),
    ]


def test_non_square_kernels():
    model = nn.Sequential(nn.Conv2d(4, 4, (3, 5)), nn.Conv2d(4, 4, (1, 3), stride=(1, 2)))
    rf = receptive_field(model, "1", (1, 4, 32, 64))
    assert rf.sizes == (3, 7) and rf.strides == (1, 2)
    assert (rf.size, rf.stride) == (7, 2)


class Branches(nn.Module):
    """An inception-like module: parallel branches concatenated along the channels."""

    def __init__(self) -> None:
        super().__init__()
        self.a = conv(1)
        self.b = nn.Sequential(conv(1), conv(3), conv(3))  # 5
        self.c = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(1))  # 3

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), self.c(x)], 1)


def test_concatenated_branches_take_the_largest():
    model = nn.Sequential(conv(3), Branches(), conv(3, in_channels=12))
    # stem 3; branches 3, 3 + 4 = 7, 3 + 2 = 5 -> 7; then 9
    assert rf_of(model, "1.a") == (3, 1)
    assert rf_of(model, "1.c") == (5, 1)
    assert rf_of(model, "1") == (7, 1)
    assert rf_of(model, "2") == (9, 1)


class Residual(nn.Module):
    """A basic block: two 3x3 convolutions, the first with ``stride``, plus a shortcut."""

    def __init__(self, stride: int, shortcut: nn.Module) -> None:
        super().__init__()
        self.conv1 = conv(3, stride)
        self.conv2 = conv(3)
        self.shortcut = shortcut

    def forward(self, x):
        out = self.conv2(torch.relu(self.conv1(x)))
        out += self.shortcut(x)  # in place, like torchvision's blocks
        return torch.relu(out)


def test_residual_block_with_stride():
    model = nn.Sequential(conv(3), Residual(2, conv(1, stride=2)))
    # stem 3 | conv1 3/2: 5 (jump 2) | conv2: 9 | shortcut 1x1/2: 3 | sum: 9, jump 2
    assert rf_of(model, "1.conv2") == (9, 2)
    assert rf_of(model, "1.shortcut") == (3, 2)
    assert rf_of(model, "1") == (9, 2)


def test_residual_sum_takes_the_largest_operand():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.small, self.large = conv(1), conv(7)

        def forward(self, x):
            return self.small(x) + self.large(x)

    model = nn.Sequential(Block())
    assert rf_of(model, "0.small") == (1, 1)
    assert rf_of(model, "0") == (7, 1)

    class Maximum(Block):  # an element-wise maximum is no reduction
        def forward(self, x):
            return torch.max(self.small(x), self.large(x))

    assert rf_of(nn.Sequential(Maximum()), "0") == (7, 1)


def test_reductions_over_channels_keep_the_receptive_field():
    class ChannelMax(nn.Module):
        def forward(self, x):
            return x.amax(1, keepdim=True) + x.sum(1).unsqueeze(1)

    assert rf_of(nn.Sequential(conv(3), ChannelMax(), nn.Conv2d(1, 1, 3)), "2") == (5, 1)


class SliceShortcut(nn.Module):
    """Option A of the ResNet paper: subsample by slicing, pad the channels with zeros."""

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, 4))


def test_strided_slicing_multiplies_the_jump_and_padding_is_ignored():
    model = nn.Sequential(conv(3), SliceShortcut(), conv(3, in_channels=8))
    # 3 | slice: 3, jump 2 | 3 + 2 * 2 = 7
    assert rf_of(model, "1") == (3, 2)
    assert rf_of(model, "2") == (7, 2)
    padded = nn.Sequential(nn.ZeroPad2d(5), conv(3), nn.ReflectionPad2d(1), conv(3))
    assert rf_of(padded, "3") == (5, 1)


def test_global_and_adaptive_pooling():
    # conv 3x3 on 8x8 -> 3; a global average of 8x8 positions sees 3 + 7 = 10, jump 8
    model = nn.Sequential(conv(3), nn.AdaptiveAvgPool2d(1))
    assert rf_of(model, "1", (1, 4, 8, 8)) == (10, 8)
    # 8 -> 4: windows of 2 every 2 -> 3 + 1 = 4, jump 2
    model = nn.Sequential(conv(3), nn.AdaptiveAvgPool2d(4), nn.AdaptiveMaxPool2d(2))
    assert rf_of(model, "1", (1, 4, 8, 8)) == (4, 2)
    assert rf_of(model, "2", (1, 4, 8, 8)) == (6, 4)

    class Mean(nn.Module):
        def forward(self, x):
            return x.mean((2, 3), keepdim=True)

    assert rf_of(nn.Sequential(conv(3), Mean()), "1", (1, 4, 8, 8)) == (10, 8)


def test_squeeze_and_excitation_gate_sees_the_whole_map():
    class SE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = conv(1)

        def forward(self, x):
            return x * torch.sigmoid(self.fc(F.adaptive_avg_pool2d(x, 1)))

    model = nn.Sequential(conv(3), SE())
    assert rf_of(model, "1", (1, 4, 8, 8)) == (10, 8)  # the gate is a global average


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def test_unknown_layer_lists_valid_names(alexnet):
    with pytest.raises(ValueError, match=r"no module named 'feature\.12'.*'features\.12'"):
        receptive_field(alexnet, "feature.12")


def test_non_spatial_output_is_an_error(alexnet):
    with pytest.raises(ValueError, match=r"\(1000,\).*not a spatial"):
        receptive_field(alexnet, "classifier.6")


def test_untracked_operator_is_named():
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2)

    model = nn.Sequential(conv(3), Up(), nn.ConvTranspose2d(4, 4, 2, 2))
    with pytest.raises(ValueError, match="could not be tracked.*upsample"):
        receptive_field(model, "1", (1, 4, 8, 8))
    with pytest.raises(ValueError, match="could not be tracked"):
        receptive_field(model, "2", (1, 4, 8, 8))


def test_bad_input_size():
    with pytest.raises(ValueError, match="input_size"):
        count_macs(nn.Conv2d(3, 3, 1), (3, 224))


# ---------------------------------------------------------------------------------------------
# Layer tables and summary
# ---------------------------------------------------------------------------------------------


def test_vgg16_table_columns_sum_to_the_totals(vgg16, vgg16_table):
    table = vgg16_table
    assert isinstance(table, LayerTable)
    assert len(table) == 31 + 1 + 7  # features, avgpool, classifier leaves
    assert sum(row.params for row in table) == count_params(vgg16) == table.total_params
    assert sum(row.macs for row in table) == table.total_macs == count_macs(vgg16)
    assert "(other)" not in [row.name for row in table]


def test_vgg16_table_rows(vgg16_table):
    table = vgg16_table
    assert table[0].name == "features.0" and table[0].type == "Conv2d"
    assert table[0].params == 3 * 64 * 9 + 64
    assert table[0].macs == 64 * 224 * 224 * 27
    assert table["features.30"].output_shape == (512, 7, 7)
    assert (table["features.30"].rf_size, table["features.30"].rf_stride) == (212, 32)
    assert table["classifier.6"].output_shape == (1000,)
    assert table["classifier.6"].rf_size is None and table["classifier.6"].rf_stride is None
    assert table["classifier.0"].macs == 25088 * 4096
    # VGG's receptive fields grow by 2 * jump per 3x3 conv: 3, 5 | pool 6 | 10, 14
    assert [table[f"features.{i}"].rf_size for i in (0, 2, 4, 5, 7)] == [3, 5, 6, 10, 14]
    assert table.output_shape == (1000,)


def test_table_renders(vgg16_table):
    markdown = vgg16_table.to_markdown()
    lines = markdown.splitlines()
    assert lines[0] == "| Layer | Type | Output shape | Params | MACs | RF size | RF stride |"
    assert lines[1].startswith("|:---")
    assert "| features.30 | MaxPool2d | 512 × 7 × 7 | 0 | 0 | 212 | 32 |" in lines
    assert lines[-1].startswith("| **Total** |") and "**138,357,544**" in lines[-1]
    assert len(lines) == 2 + len(vgg16_table) + 1
    assert vgg16_table._repr_markdown_() == markdown
    page = vgg16_table._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == len(vgg16_table) + 2
    text = str(vgg16_table)
    assert text.splitlines()[0].startswith("Layer") and "15,470,264,320" in text


def test_table_to_pandas(vgg16_table, monkeypatch):
    dicts = vgg16_table.to_dicts()
    assert dicts[0]["name"] == "features.0" and dicts[0]["output_shape"] == (64, 224, 224)
    try:
        import pandas  # noqa: F401
    except ImportError:
        pass
    else:
        frame = vgg16_table.to_pandas()
        assert list(frame["name"]) == [row.name for row in vgg16_table]
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError, match="pip install pandas"):
        vgg16_table.to_pandas()


def test_table_depth(resnet50):
    table = layer_table(resnet50, IMAGENET, depth=1)
    names = [row.name for row in table]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"] + [
        "avgpool",
        "fc",
    ]
    assert sum(row.params for row in table) == count_params(resnet50)
    assert sum(row.macs for row in table) == table.total_macs
    assert (table["layer4"].rf_size, table["layer4"].output_shape) == (427, (2048, 7, 7))
    # the global average pool sees 427 + 6 * 32 pixels
    assert (table["avgpool"].rf_size, table["avgpool"].rf_stride) == (619, 224)
    with pytest.raises(ValueError, match="depth"):
        layer_table(resnet50, depth=0)


def test_table_other_row_holds_what_no_layer_holds():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(4, 4, 3, 3))  # a container's own parameter
            self.conv = conv(3)

        def forward(self, x):
            return F.conv2d(self.conv(x), self.scale, padding=1)  # arithmetic outside a leaf

    model = nn.Sequential(Odd())
    table = layer_table(model, (1, 4, 8, 8))
    assert [row.name for row in table] == ["0.conv", "(other)"]
    assert table["(other)"].params == 4 * 4 * 9
    assert table["(other)"].macs == 4 * 8 * 8 * 4 * 9
    assert sum(row.params for row in table) == count_params(model)
    assert sum(row.macs for row in table) == count_macs(model, (1, 4, 8, 8))


def test_table_explicit_layers_include_containers():
    model = nn.Sequential(conv(3), Branches(), conv(3, in_channels=12))
    table = layer_table(model, (1, 4, 8, 8), layers=["2", "1", "1.b"])
    assert [row.name for row in table] == ["1", "1.b", "2"]  # forward order
    assert table["1"].params == count_params(model[1])  # children included
    assert table["1.b"].params == count_params(model[1].b)
    assert (table["1"].rf_size, table["1"].output_shape) == (7, (12, 8, 8))
    with pytest.raises(ValueError, match="no module named"):
        layer_table(model, (1, 4, 8, 8), layers=["3"])


def test_summary(googlenet):
    info = summary(googlenet)
    assert info == {
        "params": 6_624_904,
        "trainable_params": 6_624_904,
        "macs": count_macs(googlenet),
        "input_size": IMAGENET,
        "output_shape": (1000,),
    }


def test_gradient_norms_match_manual_backward_and_leave_no_trace():
    torch.manual_seed(0)
    model = create("plain20")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    model.eval()
    norms = analysis.gradient_norms(model, x, y)
    assert list(norms)[:2] == ["conv1", "layer1.0.conv1"] and list(norms)[-1] == "fc"
    assert len(norms) == 20  # 19 convolutions + the classifier: the "20" of plain20
    assert all(p.grad is None for p in model.parameters())  # grads restored
    assert not model.training  # mode restored
    model.train()
    nn.functional.cross_entropy(model(x), y).backward()
    assert norms["conv1"] == pytest.approx(float(model.conv1.weight.grad.norm()), rel=1e-6)
    assert norms["fc"] == pytest.approx(float(model.fc.weight.grad.norm()), rel=1e-6)


def test_relative_gradient_norms_divide_by_the_weight_norms():
    torch.manual_seed(0)
    model = create("plain20")
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    absolute = analysis.gradient_norms(model, x, y)
    relative = analysis.gradient_norms(model, x, y, relative=True)
    weights = analysis.weight_norms(model)
    assert list(weights) == list(absolute) == list(relative)
    assert weights["conv1"] == pytest.approx(float(model.conv1.weight.detach().norm()), rel=1e-6)
    for name in absolute:
        assert relative[name] == pytest.approx(absolute[name] / weights[name], rel=1e-6)
    # batch norm after every convolution: scaling a weight by 10 divides its gradient by 10,
    # its relative step by 100, and changes nothing else (up to batch norm's epsilon)
    with torch.no_grad():
        model.layer2[0].conv1.weight.mul_(10.0)
    scaled = analysis.gradient_norms(model, x, y)
    assert scaled["layer2.0.conv1"] == pytest.approx(absolute["layer2.0.conv1"] / 10, rel=1e-2)
    assert scaled["conv1"] == pytest.approx(absolute["conv1"], rel=1e-2)
    with pytest.raises(ValueError, match="no"):
        analysis.weight_norms(nn.Sequential(nn.ReLU()))


def test_gradient_norms_rejects_bad_input():
    with pytest.raises(ValueError, match="N, C, H, W"):
        analysis.gradient_norms(create("resnet20"), torch.randn(3, 32, 32), torch.zeros(3).long())
    with pytest.raises(ValueError, match="one label per image"):
        x = torch.randn(2, 3, 32, 32)
        analysis.gradient_norms(create("resnet20"), x, torch.zeros(3).long())
