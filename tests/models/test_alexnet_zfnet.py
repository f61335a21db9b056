"""AlexNet and ZFNet: the papers' structure (filters, towers, LRN, sizes of figure 2 and figure 3),
the LRN formula, the paper's initialisation, and the CIFAR-scale twins of chapters 2-3."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnlib.models as M
from cnnlib.analysis.dynamics import response_stds
from cnnlib.models.layers import alexnet_classifier, lsuv_init_, paper_lrn


def test_alexnet_paper_structure(shapes_after):
    model = M.create("alexnet_paper")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]  # the two GPU towers
    assert convs[1].weight.shape == (256, 48, 5, 5)  # each tower sees its own 48 maps
    lrns = [i for i, m in enumerate(model.features) if isinstance(m, nn.LocalResponseNorm)]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert len(lrns) == 2 and all((p.kernel_size, p.stride) == (3, 2) for p in pools)
    shapes = shapes_after(model, convs + pools, 227)
    # conv1, conv2, conv3, conv4, conv5, pool1, pool2, pool5 (hooks fire in forward order)
    assert shapes == [
        (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13),
        (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6),
    ]  # fmt: skip
    with torch.no_grad():  # 224 also runs (the adaptive pool restores 6x6)
        assert model.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_paper_lrn_is_the_papers_formula():
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


def test_zfnet_sizes_match_figure_3(shapes_after):
    model = M.create("zfnet")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs[:2]] == [((7, 7), (2, 2)), ((5, 5), (2, 2))]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    shapes = shapes_after(model, [convs[0], pools[0], convs[1], pools[1], pools[2]], 224)
    assert [s[1] for s in shapes] == [110, 55, 26, 13, 6]


def test_alexnet_zfnet_and_alexnet_paper_share_the_classifier_of_layers():
    reference = [(type(m), getattr(m, "in_features", None), getattr(m, "out_features", None))
                 for m in alexnet_classifier(256 * 6 * 6, 1000, 0.5)]  # fmt: skip
    with torch.device("meta"):
        for name in ("alexnet", "alexnet_paper", "zfnet"):
            classifier = M.create(name).classifier
            got = [(type(m), getattr(m, "in_features", None), getattr(m, "out_features", None))
                   for m in classifier]  # fmt: skip
            assert got == reference, name


# --- CIFAR-scale teaching versions of AlexNet and ZFNet ---------------------------------------


def test_cifar_alexnet_and_zfnet_first_layers_and_sizes(shapes_after):
    alex, zf = M.create("alexnet_cifar"), M.create("zfnet_cifar")
    assert isinstance(alex, M.AlexNetCifar) and isinstance(zf, M.AlexNetCifar)
    a_convs = [m for m in alex.features if isinstance(m, nn.Conv2d)]
    z_convs = [m for m in zf.features if isinstance(m, nn.Conv2d)]
    assert (a_convs[0].kernel_size, a_convs[0].stride) == ((5, 5), (2, 2))
    assert (z_convs[0].kernel_size, z_convs[0].stride) == ((3, 3), (1, 1))
    assert z_convs[1].stride == (2, 2) and a_convs[1].stride == (1, 1)
    assert shapes_after(alex, [a_convs[0], a_convs[4]], 32) == [(32, 16, 16), (64, 4, 4)]
    assert shapes_after(zf, [z_convs[0], z_convs[4]], 32) == [(32, 32, 32), (64, 4, 4)]
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


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_convnet4_is_figure_1s_four_layer_net(activation, shapes_after):
    """cuda-convnet's layers-80sec net: 5x5 convs of 32, 32, 64 filters, 3x3/2 pools (max, avg,
    avg), one linear layer: 2,432 + 25,632 + 51,264 + 10,250 parameters."""
    model = M.create("convnet4_cifar", activation=activation)
    weights = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(weights) == 4 and sum(p.numel() for p in model.parameters()) == 89_578
    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.Tanh))]
    assert len(acts) == 3 and all(type(m).__name__.lower() == activation for m in acts)
    pools = [m for m in model.modules() if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert [type(m) for m in pools] == [nn.MaxPool2d, nn.AvgPool2d, nn.AvgPool2d]
    assert shapes_after(model, pools, 32) == [(32, 16, 16), (32, 8, 8), (64, 4, 4)]
    with pytest.raises(ValueError, match="activation must be one of"):
        M.create("convnet4_cifar", activation="gelu")


@pytest.mark.parametrize("name", ["convnet4_cifar", "alexnet_cifar"])
def test_lsuv_init_gives_every_layer_unit_output_std_on_its_batch(name):
    torch.manual_seed(0)
    model, x = M.create(name, activation="relu"), torch.randn(64, 3, 32, 32)
    scales = lsuv_init_(model, x)
    names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(scales) == names and model.training  # its mode is restored
    stds = response_stds(model, x, (nn.Conv2d, nn.Linear))
    assert stds == pytest.approx(dict.fromkeys(names, 1.0), rel=1e-4)
    assert all(float(m.bias.abs().max()) == 0 for n, m in model.named_modules() if n in names)
    with pytest.raises(ValueError, match="batch of at least 2"):
        lsuv_init_(model, x[:1])
    with pytest.raises(ValueError, match="no convolution or linear layer"):
        lsuv_init_(nn.Sequential(nn.ReLU()), x)
