"""Every model of the book: the registry lists them all; the torchvision-compatible ones match
torchvision (names, weights, outputs); parameter counts match the published numbers; bad input
fails early and clearly."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision
from torch import nn

import cnnlib.models as M

TORCHVISION_NAMES = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]
PAPER_NAMES = [
    "alexnet_paper",
    "zfnet",
    "vgg11_lrn",
    "vgg16_c",
    "googlenet_paper",
    "resnet50_paper",
    "resnet101_paper",
    "resnet152_paper",
    "plain18",
    "plain34",
]
CIFAR_NAMES = [f"{kind}{d}" for kind in ("resnet", "plain") for d in (20, 32, 44, 56, 110)] + [
    f"preact_resnet{d}" for d in (20, 56, 110)
]
TEACHING_NAMES = [
    "alexnet_cifar",
    "convnet4_cifar",
    "zfnet_cifar",
    "vgg_cifar",
    "vgg11_cifar",
    "vgg11_lrn_cifar",
    "vgg13_cifar",
    "vgg16_cifar",
    "vgg19_cifar",
    "googlenet_cifar",
]
# Building and running these on the CPU takes about 3 seconds or more (one thread).
HEAVY = {"vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
         "resnet101", "resnet152"}  # fmt: skip


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _meta(name: str, **kwargs) -> nn.Module:
    """The model with its parameters on the meta device: its structure, without the cost."""
    with torch.device("meta"):
        return M.create(name, **kwargs)


def _slow_if_heavy(names: list[str]) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in names]


def test_registry_lists_every_model_of_the_book():
    assert set(M.list_models()) == set(
        TORCHVISION_NAMES + PAPER_NAMES + CIFAR_NAMES + TEACHING_NAMES
    )
    assert M.list_models() == sorted(M.list_models())
    assert len(M.list_models()) == 48


# --- torchvision compatibility ----------------------------------------------------------------


def _tv_kwargs(name: str) -> dict:
    return {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}


@pytest.mark.parametrize("name", TORCHVISION_NAMES)
def test_torchvision_state_dict_keys_and_module_names_agree(name):
    kwargs = _tv_kwargs(name)
    with torch.device("meta"):
        reference = torchvision.models.get_model(name, weights=None, **kwargs)
    ours = _meta(name, **kwargs)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in reference.named_modules()]
    assert [p.shape for p in ours.state_dict().values()] == [
        p.shape for p in reference.state_dict().values()
    ]


@pytest.mark.parametrize("name", _slow_if_heavy(TORCHVISION_NAMES))
def test_torchvision_state_dict_loads_and_outputs_agree(name):
    kwargs = _tv_kwargs(name)
    torch.manual_seed(0)
    reference = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    ours = M.create(name, **kwargs).eval()
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in reference.named_modules()]
    ours.load_state_dict(reference.state_dict(), strict=True)
    size = 96 if name.startswith("vgg") else 224  # VGG: any size >= 32 runs the same layers
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)


# --- published weights: through torchvision's enums, with a clear error offline ---------------


def test_weights_load_from_torch_hub_cache(tmp_path, monkeypatch):
    """The real loading path, fed from a local cache file (no download needed)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    enum = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    torch.manual_seed(5)
    state = torchvision.models.resnet18().state_dict()
    target = tmp_path / "hub" / "checkpoints" / enum.url.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.save(state, target)
    for weights in ("DEFAULT", "IMAGENET1K_V1", enum):
        model = M.create("resnet18", weights=weights, progress=False)
        for key, value in state.items():
            assert torch.equal(model.state_dict()[key], value), key


def test_weights_offline_gives_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(RuntimeError, match="needs internet access.*weights=None"):
        M.create("alexnet", weights="DEFAULT", progress=False)


def test_weights_argument_errors():
    with pytest.raises(ValueError, match="Unknown weights 'IMAGENET9K'.*IMAGENET1K_V1"):
        M.create("resnet50", weights="IMAGENET9K")
    with pytest.raises(ValueError, match="num_classes=1000"):
        M.create("resnet18", weights="DEFAULT", num_classes=10)
    with pytest.raises(TypeError):
        M.create("resnet50_paper", weights="DEFAULT")  # no published weights for the paper nets
    with pytest.raises(ValueError, match="No published weights for VGG config C"):
        M.create("vgg16_c", weights="DEFAULT")


# --- parameter counts: the published numbers --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("vgg11", {}, 132_863_336),  # config A
        ("vgg13", {}, 133_047_848),  # B
        ("vgg16_c", {}, 133_638_952),  # C
        ("vgg16", {}, 138_357_544),  # D
        ("vgg19", {}, 143_667_240),  # E
        ("vgg11_lrn", {}, 132_863_336),  # A-LRN: LRN has no parameters
        ("alexnet_paper", {}, 60_965_224),
        ("alexnet", {}, 61_100_840),
        ("googlenet", {"aux_logits": False}, 6_624_904),
        ("resnet18", {}, 11_689_512),
        ("resnet34", {}, 21_797_672),
        ("resnet50", {}, 25_557_032),
        ("resnet101", {}, 44_549_160),
        ("resnet152", {}, 60_192_808),
        ("resnet50_paper", {}, 25_557_032),  # moving the stride changes no weight
    ],
)
def test_parameter_counts_match_published(name, kwargs, expected):
    assert n_params(_meta(name, **kwargs)) == expected


# --- bad input -------------------------------------------------------------------------------


def _on_cpu_uninitialised(name: str) -> nn.Module:
    """The model on the CPU with uninitialised weights: the input checks and the shapes are
    what is tested here, and initialising VGG's 100M weights takes seconds."""
    return _meta(name).to_empty(device="cpu")


@pytest.mark.parametrize(
    "name", TORCHVISION_NAMES + PAPER_NAMES + TEACHING_NAMES + ["resnet20", "plain20"]
)
def test_bad_input_raises_value_error_naming_the_shape(name):
    model = _on_cpu_uninitialised(name)
    lo = model.min_input_size
    with pytest.raises(ValueError, match=r"expects a 4-d tensor \(N, 3, H, W\).*3-d tensor"):
        model(torch.zeros(3, 64, 64))
    with pytest.raises(ValueError, match="expects .* got 1 channels"):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match="expects a 4-d tensor"):
        model([[1.0]])
    if lo > 1:
        with pytest.raises(ValueError, match=f"H, W >= {lo}.*too small"):
            model(torch.zeros(1, 3, lo - 1, lo + 5))
    # the smallest accepted size really runs (eval mode: no auxiliary heads)
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 3, lo, lo))
    assert out.shape[0] == 1
