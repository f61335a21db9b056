"""cnnlib.analysis.costs: parameters and multiply-accumulates against torchvision's and the
papers' published numbers and small networks counted by hand; time per layer; network depth."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnlib.models as M
from cnnlib.analysis import (
    count_macs,
    count_macs_by_module,
    count_params,
    layer_table,
    network_depth,
    receptive_field,
    summary,
    time_by_module,
)

IMAGENET = (1, 3, 224, 224)
SMALL = (1, 3, 32, 32)


def _meta(name: str, **kwargs) -> nn.Module:
    """cnnlib's model on the meta device: its structure, without the cost of its weights."""
    with torch.device("meta"):
        return M.create(name, **kwargs)


# --- parameters --------------------------------------------------------------------------------


def test_trainable_only_skips_frozen_parameters():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 4, 1))
    model[0].requires_grad_(False)
    assert count_params(model) == (3 * 9 * 8 + 8) + (8 * 4 + 4)
    assert count_params(model, trainable_only=True) == 8 * 4 + 4


def test_shared_parameters_count_once():
    conv = nn.Conv2d(4, 4, 3)
    assert count_params(nn.Sequential(conv, nn.ReLU(), conv)) == 4 * 4 * 9 + 4


# --- MACs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "gmacs"),
    # torchvision's published "GFLOPS", which count multiply-adds
    [
        ("alexnet", 0.714),
        ("vgg16", 15.47),
        ("googlenet", 1.498),
        ("resnet18", 1.814),
        ("resnet50", 4.089),
    ],  # fmt: skip
)
def test_macs_match_torchvision_published_within_1_percent(name, gmacs):
    kwargs = {"aux_logits": False} if name == "googlenet" else {}
    macs = count_macs(_meta(name, **kwargs), IMAGENET)
    assert macs == pytest.approx(gmacs * 1e9, rel=0.01)


@pytest.mark.parametrize(
    ("name", "gmacs"),
    # the ResNet paper, table 1: FLOPs (multiply-adds) 1.8 / 3.6 / 3.8 / 7.6 / 11.3 x 10^9
    [
        ("resnet18", 1.8),
        ("resnet34", 3.6),
        ("resnet50_paper", 3.8),
        ("resnet101_paper", 7.6),
        ("resnet152_paper", 11.3),
    ],  # fmt: skip
)
def test_macs_match_resnet_paper_table_1_within_5_percent(name, gmacs):
    assert count_macs(_meta(name), IMAGENET) == pytest.approx(gmacs * 1e9, rel=0.05)


def test_v1_5_costs_more_than_the_paper_v1():
    v1, v15 = count_macs(_meta("resnet50_paper")), count_macs(_meta("resnet50"))
    assert v15 > v1 * 1.05  # the 3x3 convolutions of the first blocks run at full resolution


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
    network_depth(model, SMALL)
    count_macs_by_module(model, SMALL)
    assert [m.training for m in model.modules()] == before == [True, True, False, True, True]


def test_macs_run_in_eval_mode_and_without_grad():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((self.training, torch.is_grad_enabled()))
            return x

    count_macs(nn.Sequential(nn.Conv2d(3, 3, 1), Probe()).train(), SMALL)
    assert seen == [(False, False)]


def test_macs_by_module():
    with torch.device("meta"):
        resnet50 = torchvision.models.resnet50()
    macs = count_macs_by_module(resnet50)
    total = macs[""]  # the whole model
    assert total == pytest.approx(4.089e9, rel=0.01)
    assert sum(macs[f"layer{i}"] for i in range(1, 5)) + macs["conv1"] + macs["fc"] == total
    assert macs["layer1"] == sum(macs[f"layer1.{i}"] for i in range(3))
    assert macs["fc"] == 2048 * 1000
    assert macs["conv1"] == 64 * 112 * 112 * 3 * 7 * 7
    assert macs["relu"] == macs["bn1"] == macs["maxpool"] == 0
    assert list(macs)[:3] == ["", "conv1", "bn1"]  # the order of the forward pass


def test_summary():
    with torch.device("meta"):
        googlenet = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    info = summary(googlenet)
    assert info == {
        "params": 6_624_904,
        "trainable_params": 6_624_904,
        "macs": count_macs(googlenet),
        "input_size": IMAGENET,
        "output_shape": (1000,),
    }


def test_bad_input_size():
    with pytest.raises(ValueError, match="input_size"):
        count_macs(nn.Conv2d(3, 3, 1), (3, 224))


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
    model = _meta(name)
    assert network_depth(model, (1, 3, size, size)) == {
        "weight_layers": weights,
        "nonlinearities": nonlinear,
    }


def test_network_depth_counts_functional_activations_and_the_longest_branch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.a(x) + self.c(torch.nn.functional.relu(self.b(x)))

    assert network_depth(Net(), SMALL) == {"weight_layers": 2, "nonlinearities": 1}
