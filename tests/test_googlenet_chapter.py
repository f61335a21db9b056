"""GoogLeNet chapter: table 1 of Szegedy et al. (2015) regenerated from cnnlib and held against
the paper, the two Inception modules, the CIFAR-scale teaching model, and the helpers the chapter
uses (network depth, gradients by head)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import count_macs, count_params, network_depth
from cnnlib.models.googlenet import (
    INCEPTION_CONFIGS,
    PAPER_TABLE1,
    TABLE1_COLUMNS,
    ConvReLU,
    GoogLeNetCifar,
    Inception,
    InceptionNaive,
    gradient_norms_by_head,
    scaled_inception_configs,
    table1,
)


@pytest.fixture(scope="module")
def rows():
    torch.manual_seed(0)
    return table1(M.create("googlenet_paper", aux_logits=False))


def paper(key: str, column: str):
    return PAPER_TABLE1[key][TABLE1_COLUMNS.index(column)]


# --- Table 1 -----------------------------------------------------------------------------------


def test_table1_has_the_papers_rows(rows):
    assert list(rows) == list(PAPER_TABLE1)
    assert all(len(v) == len(TABLE1_COLUMNS) for v in PAPER_TABLE1.values())


@pytest.mark.parametrize("column", ["type", "output size", "depth", "#1x1", "#3x3 reduce", "#3x3",
                                    "#5x5 reduce", "#5x5", "pool proj"])  # fmt: skip
def test_table1_structure_matches_the_paper(rows, column):
    for key, row in rows.items():
        assert row[column] == paper(key, column), (key, column)


def test_table1_patch_sizes(rows):
    for key, row in rows.items():
        if key == "maxpool4":
            # cnnlib's googlenet_paper shares torchvision's 2x2/2 pool before inception5a (the
            # paper's table says 3x3/2); both give 7x7 from 14x14 with ceil_mode.
            assert (row["patch size/stride"], paper(key, "patch size/stride")) == ("2x2/2", "3x3/2")
        else:
            assert row["patch size/stride"] == paper(key, "patch size/stride"), key


# Rows where the paper's parameter count (K = 1024 weights) is the arithmetic of its own widths,
# to the rounding of the table.
EXACT_PARAMS = ["conv2+conv3", "inception3a", "inception3b", "inception4b", "fc"]


def test_table1_params_in_the_papers_unit(rows):
    # 3a: 192*64 + 192*96 + 96*9*128 + 192*16 + 16*25*32 + 192*32 = 163,328 weights = 159.5K
    assert rows["inception3a"]["params (K)"] == 159.5
    for key in EXACT_PARAMS:
        assert abs(rows[key]["params (K)"] - paper(key, "params (K)")) <= 1.0, key
    # The other inception rows of the paper are off by up to 7.5% (4c: 463K printed, 497.5K
    # from its own widths); none by more.
    for key in [k for k in rows if k.startswith("inception")]:
        ours, theirs = rows[key]["params (K)"], paper(key, "params (K)")
        assert abs(ours / theirs - 1) < 0.075, (key, ours, theirs)


def test_table1_macs_match_the_paper_except_conv1_and_5a(rows):
    for key, row in rows.items():
        theirs = paper(key, "ops (M)")
        if theirs is None:
            assert row["ops (M)"] is None and row["macs"] == 0, key
        elif key == "conv1":
            continue
        elif key == "inception5a":
            assert (row["ops (M)"], theirs) == (51.1, 54)  # the paper's 54M is 5.7% high
        else:
            assert abs(row["ops (M)"] - theirs) < 1, (key, row["ops (M)"], theirs)  # rounding


def test_table1_conv1_row_of_the_paper_does_not_fit_an_rgb_input(rows):
    # A 7x7 convolution from 3 channels to 64 has 9,408 weights (9.2K) and 118M MACs at 112x112;
    # the paper prints 2.7K and 34M, consistent with each other (2.7K x 112^2 = 34M) but not
    # with three input channels.
    assert rows["conv1"]["params (K)"] == 9.2 and rows["conv1"]["ops (M)"] == 118.0
    assert 7 * 7 * 3 * 64 == 9408
    assert round(paper("conv1", "params (K)") * 1024 * 112 * 112 / 1e6) == 35


def test_table1_totals_are_the_papers_6_8_million_and_1_5_billion(rows):
    paper_params = sum(v[-2] for v in PAPER_TABLE1.values() if v[-2] is not None)
    paper_ops = sum(v[-1] for v in PAPER_TABLE1.values() if v[-1] is not None)
    assert round(paper_params) == 6798 and paper_ops == 1502
    ours_k = sum(r["params (K)"] for r in rows.values() if r["params (K)"] is not None)
    assert abs(ours_k / paper_params - 1) < 0.01  # 6826.5K vs 6797.7K
    ours_macs = sum(r["macs"] for r in rows.values())
    model = M.create("googlenet_paper", aux_logits=False)
    assert ours_macs == count_macs(model)  # the rows partition the network
    assert abs(ours_macs / 1.5e9 - 1) < 0.06  # 1.58 G; the paper's 1.5 G misses conv1's cost
    assert sum(r["params"] for r in rows.values()) == count_params(model)
    assert abs(count_params(model) / 6.8e6 - 1) < 0.05  # 6.99 M with the biases


def test_table1_of_torchvisions_googlenet_shows_the_3x3_branch():
    rows = table1(M.create("googlenet", aux_logits=False, init_weights=False))
    assert rows["inception3a"]["params (K)"] == 151.5  # 16*9*32 instead of 16*25*32 weights
    assert rows["dropout"]["type"] == "dropout (20%)"


def test_table1_rejects_other_models():
    with pytest.raises(ValueError, match="modules of table 1"):
        table1(M.create("resnet20"))


# --- Inception modules -------------------------------------------------------------------------


def test_naive_module_costs_several_times_the_reduced_one():
    naive = InceptionNaive(192, 64, 128, 32)
    v1 = Inception(*INCEPTION_CONFIGS["inception3a"], conv_block=ConvReLU, branch3_kernel=5)
    size = (1, 192, 28, 28)
    # naive: 192*64 + 192*9*128 + 192*25*32 weights (+ biases), 28*28 positions
    assert count_macs(naive, size) == (192 * 64 + 192 * 9 * 128 + 192 * 25 * 32) * 28 * 28
    assert count_macs(v1, size) == 163_328 * 28 * 28
    assert count_macs(naive, size) / count_macs(v1, size) == pytest.approx(2.37, abs=0.01)
    x = torch.randn(size)
    assert naive(x).shape == (1, 416, 28, 28) and v1(x).shape == (1, 256, 28, 28)


def test_one_by_one_convolution_is_a_matrix_product_over_channels():
    torch.manual_seed(0)
    conv = nn.Conv2d(192, 16, kernel_size=1).double()
    x = torch.randn(2, 192, 7, 7, dtype=torch.float64)
    w = conv.weight[:, :, 0, 0]  # (16, 192)
    by_matrix = torch.einsum("oc,nchw->nohw", w, x) + conv.bias[None, :, None, None]
    torch.testing.assert_close(conv(x), by_matrix, rtol=0, atol=1e-12)
    # the same as a Linear layer on each pixel's channel vector
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 192)
    torch.testing.assert_close(
        F.linear(pixels, w, conv.bias).reshape(2, 7, 7, 16).permute(0, 3, 1, 2),
        conv(x),
        rtol=0,
        atol=1e-12,
    )


# --- the CIFAR-scale model ---------------------------------------------------------------------


def test_scaled_configs_chain_and_scale_table1():
    configs = scaled_inception_configs(0.25)
    assert configs["inception3a"] == (48, 16, 24, 32, 4, 8, 8)
    names = list(configs)
    for a, b in zip(names, names[1:], strict=False):
        c = configs[a]
        assert configs[b][0] == c[1] + c[3] + c[5] + c[6]
    assert scaled_inception_configs(1.0) == INCEPTION_CONFIGS
    with pytest.raises(ValueError, match="width"):
        scaled_inception_configs(0)


def test_googlenet_cifar_outputs_and_structure():
    torch.manual_seed(0)
    model = M.create("googlenet_cifar")
    assert isinstance(model, GoogLeNetCifar) and "googlenet_cifar" in M.list_models()
    x = torch.randn(4, 3, 32, 32)
    out = model.train()(x)
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert [tuple(o.shape) for o in out] == [(4, 10)] * 3
    with torch.no_grad():
        assert model.eval()(x).shape == (4, 10)
    assert network_depth(model, (1, 3, 32, 32)) == {"weight_layers": 22, "nonlinearities": 21}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.inception3a.branch3[1].conv.kernel_size == (5, 5)
    assert model.dropout.p == 0.4 and model.aux1.dropout.p == 0.7
    assert count_params(model) == 456_698
    assert count_params(M.create("googlenet_cifar", aux_logits=False)) == 377_126
    assert count_macs(model, (1, 3, 32, 32)) == 30_315_008
    bn = M.create("googlenet_cifar", batch_norm=True, branch3_kernel=3, aux_logits=False)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bn.modules()) == 57
    assert bn.inception3a.branch3[1].conv.kernel_size == (3, 3)


def test_googlenet_cifar_trains_with_the_aux_loss():
    from cnnlib.train import _objective

    torch.manual_seed(0)
    model = M.create("googlenet_cifar").train()
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    out = model(x)
    loss, logits = _objective(out, y, 0.0, 0.3, None)
    expected = F.cross_entropy(out[0], y) + 0.3 * (
        F.cross_entropy(out[1], y) + F.cross_entropy(out[2], y)
    )
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert model.aux1.fc2.weight.grad is not None


def test_googlenet_cifar_bad_input():
    model = M.create("googlenet_cifar")
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="auxiliary head expects"):
        model.train()(torch.randn(2, 3, 64, 64))
    with pytest.raises(ValueError, match="branch3_kernel"):
        M.create("googlenet_cifar", branch3_kernel=7)


def test_gradient_norms_by_head_adds_up():
    torch.manual_seed(0)
    model = M.create("googlenet_cifar")
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    torch.manual_seed(1)  # the same dropout masks in both forward passes
    norms = gradient_norms_by_head(model, x, y, aux_weight=0.3)
    assert list(norms) == ["main", "aux", "total"]
    assert list(norms["main"])[0] == "conv1.conv"
    # layers after the second head get no gradient from the auxiliary losses
    assert norms["aux"]["inception4e.branch1.conv"] == 0.0
    assert norms["aux"]["conv1.conv"] > 0.0
    # the total is the gradient of main + 0.3 * aux, as fit() trains
    model.zero_grad()
    torch.manual_seed(1)
    out = model.train()(x)
    (F.cross_entropy(out[0], y) + 0.3 * sum(F.cross_entropy(a, y) for a in out[1:])).backward()
    assert norms["total"]["conv1.conv"] == pytest.approx(float(model.conv1.conv.weight.grad.norm()),
                                                         rel=1e-5)  # fmt: skip
    with pytest.raises(ValueError, match="auxiliary heads"):
        gradient_norms_by_head(M.create("googlenet_cifar", aux_logits=False), x, y)


# --- depth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "size", "weights", "nonlinear"),
    [
        ("vgg16", 224, 16, 15),  # 13 conv + 3 FC; ReLU after all but the last
        ("googlenet_paper", 224, 22, 21),  # the paper's "22 layers deep"
        ("alexnet_paper", 227, 8, 7),
        ("resnet20", 32, 20, 19),
    ],
)
def test_network_depth_counts_layers_with_parameters(name, size, weights, nonlinear):
    model = M.create(name)
    assert network_depth(model, (1, 3, size, size)) == {
        "weight_layers": weights,
        "nonlinearities": nonlinear,
    }
