"""cnnlib.analysis.receptive_field against the published receptive fields (Araujo, Norris & Sim,
Distill 2019) and small networks whose receptive fields are derived by hand in the comments."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from small_nets import Branches, conv
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import ReceptiveField, layer_table, receptive_field, receptive_fields

IMAGENET = (1, 3, 224, 224)


def _meta(model_fn, *args, **kwargs) -> nn.Module:
    """A model built on the meta device: receptive fields depend on the structure alone."""
    with torch.device("meta"):
        return model_fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# Receptive fields: published values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "layer", "size", "output_shape"),
    # Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019
    [
        ("alexnet", "features.12", 195, (256, 6, 6)),  # pool5
        ("vgg11", "features.20", 150, (512, 7, 7)),  # VGG-A pool5
        ("vgg16", "features.30", 212, (512, 7, 7)),  # VGG-16 pool5
        ("resnet50_paper", "layer4", 483, (2048, 7, 7)),  # ResNet-50 v1, the paper's
        ("resnet50", "layer4", 427, (2048, 7, 7)),  # torchvision's v1.5
    ],
)
def test_receptive_fields_match_published(name, layer, size, output_shape):
    # AlexNet: conv1 11/4: 11 | pool 3/2: 19 | conv2 5: 51 | pool: 67 | conv3-5 3: 99, 131, 163 |
    # pool: 195
    rf = receptive_field(_meta(M.create, name), layer, IMAGENET)
    assert isinstance(rf, ReceptiveField)
    assert (rf.name, rf.size, rf.stride) == (layer, size, 32)
    assert rf.sizes == (size, size) and rf.strides == (32, 32)
    assert rf.output_shape == output_shape


@pytest.fixture(scope="module")
def resnet50_rfs():
    return receptive_fields(_meta(torchvision.models.resnet50))


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
    assert (rfs["layer4"].size, rfs["layer4"].stride) == (427, 32)
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
    model = _meta(torchvision.models.googlenet, weights=None, aux_logits=True, init_weights=False)
    model.train()
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


@pytest.fixture(scope="module")
def alexnet():
    return _meta(M.create, "alexnet")


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
