"""cnnlib's models against the published compute and receptive-field numbers."""

from __future__ import annotations

import pytest

import cnnlib.models as M
from cnnlib.analysis import count_macs, receptive_field

IMAGENET = (1, 3, 224, 224)


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
    macs = count_macs(M.create(name, **kwargs), IMAGENET)
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
    assert count_macs(M.create(name), IMAGENET) == pytest.approx(gmacs * 1e9, rel=0.05)


def test_v1_5_costs_more_than_the_paper_v1():
    v1, v15 = count_macs(M.create("resnet50_paper")), count_macs(M.create("resnet50"))
    assert v15 > v1 * 1.05  # the 3x3 convolutions of the first blocks run at full resolution


@pytest.mark.parametrize(
    ("name", "layer", "size"),
    # Araujo, Norris & Sim, "Computing Receptive Fields of CNNs", Distill 2019
    [
        ("alexnet", "features.12", 195),  # pool5
        ("vgg11", "features.20", 150),  # VGG-A pool5
        ("vgg16", "features.30", 212),  # VGG-16 pool5
        ("resnet50_paper", "layer4", 483),  # ResNet-50 v1, the paper's
        ("resnet50", "layer4", 427),  # torchvision's v1.5
    ],
)
def test_receptive_fields_match_published(name, layer, size):
    rf = receptive_field(M.create(name), layer, IMAGENET)
    assert (rf.size, rf.stride) == (size, 32)


def test_vgg_small_kernels_build_up_the_receptive_field():
    model = M.create("vgg16")
    # conv1_1, conv1_2: 3, 5; pool1: 6; after conv2_2: 6 + 2*2 + 2*2 = 14
    sizes = [receptive_field(model, f"features.{i}", IMAGENET).size for i in (0, 2, 4, 7)]
    assert sizes == [3, 5, 6, 14]
