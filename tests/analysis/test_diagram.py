"""cnnlib.analysis.diagram: each network read as a figure agrees with the paper that defines it
(layer counts, AlexNet's towers and where they cross, GoogLeNet's heads, ResNet's shortcuts)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import network_diagram
from cnnlib.models.googlenet import ConvReLU, Inception, InceptionNaive


def test_alexnet_two_towers_cross_at_conv3_and_the_fc_layers():
    """Paper, section 3.5: conv2, conv4 and conv5 see only their own GPU's maps; conv3 and the
    fully connected layers see both. Figure 2: 48, 128, 192, 192, 128 kernels per GPU."""
    d = network_diagram(M.create("alexnet_paper"), (3, 227, 227))
    convs = [n for n in d.nodes if n.kind == "conv"]
    assert [n.label for n in convs] == [
        "11x11 conv, 48, /4", "5x5 conv, 128", "3x3 conv, 192", "3x3 conv, 192", "3x3 conv, 128",
    ]  # fmt: skip
    assert all(n.towers == 2 for n in d.nodes if n.kind != "fc")
    crossing = [n for n in d.nodes if n.crosses]
    assert [n.name for n in crossing] == [convs[2].name, d.nodes[-3].name]
    assert [n.label for n in d.nodes if n.kind == "fc"] == ["fc 4096", "fc 4096", "fc 1000"]
    assert [n.shape[-1] for n in d.nodes if n.kind == "pool"] == [27, 13, 6]


def test_zfnet_is_one_tower_with_the_7x7_stride_2_first_layer():
    d = network_diagram(M.create("zfnet"))
    assert all(n.towers == 1 and not n.crosses for n in d.nodes)
    assert d.nodes[0].label == "7x7 conv, 96, /2" and d.nodes[0].shape == (96, 110, 110)
    assert d.count("conv") == 5 and d.count("fc") == 3 and d.count("norm") == 2


@pytest.mark.parametrize(
    ("name", "weight_layers"),
    [("vgg11", 11), ("vgg13", 13), ("vgg16_c", 16), ("vgg16", 16), ("vgg19", 19)],
)
def test_vgg_configurations_a_to_e_have_the_papers_depths(name, weight_layers):
    """Table 1 of the VGG paper: A-E have 11, 13, 16, 16 and 19 weight layers, 5 max pools."""
    d = network_diagram(M.create(name))
    assert d.count("conv") + d.count("fc") == weight_layers
    assert d.count("pool") == 5  # the adaptive 7x7 pool is the identity at 224 and not drawn
    ones = sum(n.label.startswith("1x1 conv") for n in d.nodes)
    assert ones == (3 if name == "vgg16_c" else 0)


def test_googlenet_has_nine_inception_modules_and_two_heads_on_4a_and_4d():
    """GoogLeNet paper, table 1 and section 5: 22 layers with parameters (a module counts as 2),
    heads on the outputs of inception (4a) and (4d)."""
    d = network_diagram(M.create("googlenet_paper"))
    assert d.count("inception") == 9
    assert d.count("conv") + 2 * d.count("inception") + d.count("fc") == 22
    assert {h: d.nodes[i].label for h, (i, _) in d.heads.items()} == {
        "aux1": "inception (4a), 512",
        "aux2": "inception (4d), 528",
    }
    labels = [n.label for n in d.heads["aux1"][1]]
    assert labels == ["5x5 avg pool, /3", "1x1 conv, 128", "fc 1024", "fc 1000"]


def test_resnet34_and_plain34_share_their_layers_and_differ_by_the_shortcuts():
    """Figure 3 of the ResNet paper: 34 weighted layers; 16 shortcuts, dotted (projection here,
    torchvision's option B) where the dimensions increase, at the first block of stages 2-4."""
    res, plain = network_diagram(M.create("resnet34")), network_diagram(M.create("plain34"))
    assert [n.label for n in res.nodes] == [n.label for n in plain.nodes]
    assert res.count("conv") + res.count("fc") == 34 and not plain.shortcuts
    kinds = [s.kind for s in res.shortcuts]
    assert len(kinds) == 16 and [i for i, k in enumerate(kinds) if k != "identity"] == [3, 7, 13]
    assert set(kinds) == {"identity", "projection"}
    for s in res.shortcuts:  # every basic block spans its own two convolutions
        assert s.last - s.first == 1 and res.nodes[s.first].name.startswith(s.block)


def test_cifar_resnet_option_a_shortcuts_pad():
    d = network_diagram(M.create("resnet20"), (3, 32, 32))
    assert d.count("conv") == 19 and len(d.shortcuts) == 9
    assert [s.kind for s in d.shortcuts].count("pad") == 2


def test_inception_modules_expand_into_their_branches():
    naive = network_diagram(InceptionNaive(192, 64, 128, 32), (192, 28, 28), expand_inception=True)
    assert [n.label for n in naive.nodes] == [
        "1x1 conv, 64", "3x3 conv, 128", "5x5 conv, 32", "3x3 max pool",
    ]  # fmt: skip
    reduced = Inception(192, 64, 96, 128, 16, 32, 32, conv_block=ConvReLU, branch3_kernel=5)
    d = network_diagram(reduced, (192, 28, 28), expand_inception=True)
    branches = {}
    for n in d.nodes:
        branches.setdefault(n.name.split(".")[0], []).append(n.label)
    assert branches == {
        "branch1": ["1x1 conv, 64"],
        "branch2": ["1x1 conv, 96", "3x3 conv, 128"],
        "branch3": ["1x1 conv, 16", "5x5 conv, 32"],
        "branch4": ["3x3 max pool", "1x1 conv, 32"],
    }


def test_network_diagram_leaves_the_model_unchanged_and_checks_its_input():
    model = M.create("resnet20").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    network_diagram(model, (3, 32, 32))
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\)"):
        network_diagram(model, (1, 3, 32, 32))
    assert (
        network_diagram(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (3, 2, 2)).count("fc") == 1
    )
