"""cnnlib.models' registry (create, list_models, closest_models, the unknown-name error), its
family modules, and the rule that the model files import nothing above them."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest
import torch

import cnnlib.models as M
from cnnlib.runtime import CnnlibError

MODELS_DIR = Path(M.__file__).parent
FAMILIES = ["alexnet", "zfnet", "vgg", "googlenet", "resnet"]
# What cnnlib.models may never import, not even inside a function.
FORBIDDEN = ("analysis", "train", "plots", "experiments", "data")


# --- list_models and closest_models ------------------------------------------------------------


def test_list_models_filters_with_shell_patterns_like_timm():
    every = M.list_models()
    assert len(every) == 48 and every == sorted(every)
    resnets = M.list_models("resnet*")
    assert resnets == sorted(n for n in every if n.startswith("resnet"))
    assert {"resnet18", "resnet50_paper", "resnet110"} <= set(resnets) and "plain20" not in resnets
    assert M.list_models("vgg1?_bn") == ["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"]
    assert M.list_models("*_paper") == [
        "alexnet_paper", "googlenet_paper", "resnet101_paper", "resnet152_paper", "resnet50_paper",
    ]  # fmt: skip
    assert M.list_models("*cifar") == [n for n in every if n.endswith("cifar")]
    assert M.list_models("resnet50") == ["resnet50"]
    assert M.list_models("nothing*") == []


def test_closest_models_suggest_known_names():
    assert set(M.closest_models("resnet51")) == {"resnet50", "resnet56", "resnet18"}
    assert M.closest_models("ResNet50")[0] == "resnet50"  # case does not matter
    assert M.closest_models("googlenet_cfar")[0] == "googlenet_cifar"
    assert M.closest_models("vgg16bn", n=1) == ["vgg16_bn"]
    assert len(M.closest_models("vgg", n=5)) == 5
    assert M.closest_models("xyzzy") == []


# --- create and the unknown-name error ---------------------------------------------------------


def test_unknown_model_names_the_closest_and_the_count():
    with pytest.raises(M.UnknownModelError) as info:
        M.create("resnet51")
    message = str(info.value)
    assert message.startswith("Unknown model 'resnet51'; did you mean ")
    for name in M.closest_models("resnet51"):
        assert name in message
    assert "(48 models; cnnlib.models.list_models() lists them)" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, CnnlibError)
    with pytest.raises(M.UnknownModelError, match=r"^Unknown model 'xyzzy' \(48 models; "):
        M.create("xyzzy")
    with pytest.raises(ValueError, match="Unknown model None"):
        M.create(None)
    with pytest.raises(ValueError, match=r"Unknown model \['resnet50'\]"):
        M.create(["resnet50"])


def test_register_refuses_a_name_twice():
    def resnet50():
        raise AssertionError("never built")

    with pytest.raises(ValueError, match="'resnet50' is registered twice"):
        M.register(resnet50)
    assert M.create("resnet20").fc.out_features == 10  # the registry is unchanged


# --- family modules ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_family_modules_are_modules(family):
    module = importlib.import_module(f"cnnlib.models.{family}")
    assert isinstance(module, types.ModuleType)
    assert getattr(M, family) is module


def test_import_googlenet_gives_the_module():
    import cnnlib.models.googlenet

    assert isinstance(cnnlib.models.googlenet, types.ModuleType)
    assert callable(cnnlib.models.googlenet.googlenet)
    assert cnnlib.models.googlenet.INCEPTION_CONFIGS["inception3a"][0] == 192


def test_builders_are_reached_through_their_family_module():
    from cnnlib.models.resnet import resnet50

    with torch.device("meta"):
        model = resnet50(num_classes=7)
    assert isinstance(model, M.ResNet)
    assert model.fc.out_features == 7
    assert M.resnet.resnet50 is resnet50 and not hasattr(M, "resnet50")


# --- what the model files import ---------------------------------------------------------------


# (that models/ imports only models and runtime is checked with the whole import graph in
# tests/test_layout.py)


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_private_name_is_imported_across_model_files(path):
    tree = ast.parse(path.read_text())
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert not private, f"{path.name} imports private names {private}"
