"""GoogLeNet: torchvision's version (auxiliary heads, input transform), the paper's (its
departures from torchvision), the two Inception modules of figure 2, and the CIFAR-scale
teaching model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import count_macs, count_params, network_depth
from cnnlib.models.googlenet import (
    INCEPTION_CONFIGS,
    ConvReLU,
    GoogLeNetCifar,
    Inception,
    InceptionAuxCifar,
    InceptionAuxPaper,
    InceptionNaive,
    scaled_inception_configs,
)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- torchvision's GoogLeNet ---------------------------------------------------------------------


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


# --- the paper's GoogLeNet -----------------------------------------------------------------------


def test_googlenet_paper_departures_from_torchvision():
    paper = M.create("googlenet_paper")
    tv = M.create("googlenet")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in paper.modules())
    assert paper.inception3a.branch3[1].conv.kernel_size == (5, 5)  # a real 5x5
    assert tv.inception3a.branch3[1].conv.kernel_size == (3, 3)  # torchvision's known bug
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in paper.modules()) == 2
    assert paper.dropout.p == 0.4 and paper.aux1.dropout.p == 0.7
    assert (paper.maxpool4.kernel_size, tv.maxpool4.kernel_size) == (3, 2)  # before 5a: table 1
    assert isinstance(paper.aux1.pool, nn.AvgPool2d)
    assert (paper.aux1.pool.kernel_size, paper.aux1.pool.stride) == (5, 3)
    assert paper.aux1.conv.conv.out_channels == 128
    assert (paper.aux1.fc1.in_features, paper.aux1.fc1.out_features) == (2048, 1024)
    out = paper.train()(torch.randn(2, 3, 224, 224))
    assert [tuple(o.shape) for o in out] == [(2, 1000)] * 3
    with pytest.raises(ValueError, match="auxiliary head expects .* 224x224"):
        paper.train()(torch.randn(2, 3, 160, 160))
    with torch.no_grad():  # without the heads (eval mode) any size >= 31 runs
        assert paper.eval()(torch.randn(1, 3, 160, 160)).shape == (1, 1000)


def test_the_papers_auxiliary_head_and_its_cifar_twin():
    paper = InceptionAuxPaper(512, 1000)
    assert isinstance(paper.conv, ConvReLU) and paper.conv.conv.out_channels == 128
    assert (paper.fc1.in_features, paper.fc1.out_features, paper.dropout.p) == (2048, 1024, 0.7)
    assert paper(torch.randn(2, 512, 14, 14)).shape == (2, 1000)
    message = (
        "the paper's auxiliary head expects a 14x14 to 16x16 feature map (a 224x224 image); "
        "its 5x5/3 pool gave (3, 3) instead of (4, 4). Use a 224x224 input, or aux_logits=False"
    )
    with pytest.raises(ValueError) as info:
        paper(torch.randn(1, 512, 12, 12))
    assert str(info.value) == message
    cifar = InceptionAuxCifar(128, 10, conv_channels=32, hidden=256)
    assert [n for n, _ in cifar.named_children()] == [n for n, _ in paper.named_children()]
    assert (cifar.fc1.in_features, cifar.fc1.out_features) == (32 * 2 * 2, 256)
    assert cifar(torch.randn(2, 128, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError) as info:
        cifar(torch.randn(1, 128, 16, 16))
    assert str(info.value) == (
        "the CIFAR auxiliary head expects an 8x8 to 10x10 feature map (a 32x32 image); its 5x5/3 "
        "pool gave (4, 4) instead of (2, 2). Use a 32x32 input, or aux_logits=False"
    )


def test_googlenet_paper_conv_weights_have_torchvision_names():
    with torch.device("meta"):
        paper_keys = {k for k in M.create("googlenet_paper").state_dict() if ".bn." not in k}
        tv_conv_keys = {k for k in M.create("googlenet").state_dict() if k.endswith("conv.weight")}
    assert tv_conv_keys - {k for k in tv_conv_keys if k.startswith("aux")} <= paper_keys


# --- Inception modules ---------------------------------------------------------------------------


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
    from cnnlib.train import TrainConfig
    from cnnlib.train.loop import _objective

    torch.manual_seed(0)
    model = M.create("googlenet_cifar").train()
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    out = model(x)
    loss, logits = _objective(out, y, TrainConfig(aux_weight=0.3), None)
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
