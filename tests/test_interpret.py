"""Tests of cnnlib.interpret (filters, feature maps, deconvnet/guided backprop, occlusion). Exact
checks on tiny hand-built nets; small real models for shapes. The plots: tests/plots/."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlib import interpret as V
from cnnlib import models, patches

# --- fixtures and tiny nets --------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet20() -> nn.Module:
    torch.manual_seed(0)
    return models.create("resnet20")


@pytest.fixture(scope="module")
def zfnet() -> nn.Module:
    torch.manual_seed(0)
    return models.create("zfnet", num_classes=10)


class TwoReLUNet(nn.Module):
    """x -> W1 -> ReLU -> W2 -> ReLU -> w3 (no biases), ReLUs written in several ways."""

    def __init__(self, style: str) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.fc1 = nn.Linear(6, 8, bias=False)
        self.fc2 = nn.Linear(8, 7, bias=False)
        self.fc3 = nn.Linear(7, 3, bias=False)
        for layer in (self.fc1, self.fc2, self.fc3):
            layer.weight.data = torch.randn(layer.weight.shape, generator=g)
        self.style = style
        self.act1 = nn.ReLU(inplace=style == "inplace")
        self.act2 = nn.ReLU(inplace=style == "inplace")

    def forward(self, x):
        h1 = self.fc1(x.flatten(1))
        if self.style in ("module", "inplace"):
            a1 = self.act1(h1)
            a2 = self.act2(self.fc2(a1))
        elif self.style == "functional":
            a1 = F.relu(h1, inplace=True)
            a2 = torch.relu(self.fc2(a1))
        else:  # tensor methods
            a1 = h1.relu()
            a2 = self.fc2(a1).relu_()
        return self.fc3(a2)


def hand_reconstruction(net: TwoReLUNet, x: torch.Tensor, k: int, rule: str) -> torch.Tensor:
    """The reconstruction of output k, computed by hand without autograd."""
    W1, W2, w3 = net.fc1.weight, net.fc2.weight, net.fc3.weight[k]
    h1 = x @ W1.T
    h2 = torch.relu(h1) @ W2.T
    m1, m2 = (h1 > 0).float(), (h2 > 0).float()

    def back_relu(g, mask):
        if rule == "gradient":
            return g * mask
        if rule == "deconvnet":
            return g.clamp(min=0)
        return g.clamp(min=0) * mask  # guided

    g2 = back_relu(w3.expand_as(h2), m2)
    g1 = back_relu(g2 @ W2, m1)
    return g1 @ W1


def snapshot(model: nn.Module):
    """Everything about a model that visualising it must not change."""
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "types": [(n, type(m)) for n, m in model.named_modules()],
        "training": [(n, m.training) for n, m in model.named_modules()],
        "hooks": [
            (n, len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for n, m in model.named_modules()
        ],
        "grads": [p.grad for p in model.parameters()],
    }


def assert_unchanged(model: nn.Module, before: dict, x: torch.Tensor, out_before: torch.Tensor):
    after = snapshot(model)
    assert after["types"] == before["types"]
    assert after["training"] == before["training"]
    assert after["hooks"] == before["hooks"]
    assert all(g is None for g in after["grads"])
    for k, v in before["state"].items():
        assert torch.equal(after["state"][k], v), k
    assert not torch._C._is_torch_function_mode_enabled()
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), out_before)


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shape",
    [("zfnet", (96, 3, 7, 7)), ("alexnet_paper", (96, 3, 11, 11)), ("resnet20", (16, 3, 3, 3))],
)
def test_first_layer_filters_shape(name, shape):
    model = models.create(name, num_classes=10)
    w = V.first_layer_filters(model)
    assert tuple(w.shape) == shape
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert torch.equal(w, first.weight.detach())
    w.zero_()  # a copy: the model keeps its weights
    assert first.weight.abs().sum() > 0


def test_first_layer_filters_needs_a_conv():
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        V.first_layer_filters(nn.Sequential(nn.Linear(3, 2)))


def test_layer_names_zfnet(zfnet):
    assert V.layer_names(zfnet) == [
        "features.0",
        "features.4",
        "features.8",
        "features.10",
        "features.12",
    ]
    assert V.layer_names(zfnet, nn.MaxPool2d) == ["features.2", "features.6", "features.14"]


def test_filter_grid_rescales_each_filter_and_places_it():
    torch.manual_seed(0)
    w = torch.randn(5, 3, 2, 3) * torch.arange(1, 6).view(5, 1, 1, 1)
    w[4] = 7.0  # constant filter
    grid = V.filter_grid(w, ncols=3, pad=1)
    assert tuple(grid.shape) == (3, 2 * (2 + 1) + 1, 3 * (3 + 1) + 1)
    for i in range(5):
        r, c = divmod(i, 3)
        tile = grid[:, 1 + r * 3 : 1 + r * 3 + 2, 1 + c * 4 : 1 + c * 4 + 3]
        if i < 4:
            expected = (w[i] - w[i].min()) / (w[i].max() - w[i].min())
            torch.testing.assert_close(tile, expected)
            assert tile.min() == 0 and tile.max() == 1
        else:
            assert torch.all(tile == 0.5)
    assert torch.all(grid[:, 0, :] == 1) and torch.all(grid[:, :, 0] == 1)  # white padding
    assert torch.all(grid[:, 4:, 9:] == 1)  # the sixth cell is empty


def test_filter_grid_rejects_other_channel_counts():
    with pytest.raises(ValueError, match="weights\\[:, :1\\]"):
        V.filter_grid(torch.randn(4, 16, 3, 3))
    assert V.filter_grid(torch.randn(4, 16, 3, 3)[:, :1]).shape[0] == 1


# --- feature maps ------------------------------------------------------------------------------


def test_feature_maps_resnet20_shapes(resnet20):
    x = torch.randn(2, 3, 32, 32)
    maps = V.feature_maps(resnet20, x, ["layer3", "conv1", "layer1", "layer2.0.conv1"])
    assert list(maps) == ["layer3", "conv1", "layer1", "layer2.0.conv1"]  # the order asked for
    assert {k: tuple(v.shape) for k, v in maps.items()} == {
        "conv1": (2, 16, 32, 32),  # ResNet paper, section 4.2: 32x32, 16x16, 8x8 maps
        "layer1": (2, 16, 32, 32),
        "layer2.0.conv1": (2, 32, 16, 16),
        "layer3": (2, 64, 8, 8),
    }
    assert all(not v.requires_grad for v in maps.values())


def test_feature_maps_zfnet_values_and_paper_sizes(zfnet):
    """Figure 3's map sizes for 224x224, and the values equal a manual forward pass (the conv
    output before the in-place ReLU that follows it overwrites it)."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    names = ["features.0", "features.2", "features.6", "features.8", "features.14"]
    maps = V.feature_maps(zfnet, x, names)
    sizes = [tuple(maps[n].shape[1:]) for n in names]
    assert sizes == [(96, 110, 110), (96, 55, 55), (256, 13, 13), (384, 13, 13), (256, 6, 6)]
    zfnet.eval()
    with torch.no_grad():
        torch.testing.assert_close(maps["features.0"], zfnet.features[0](x), rtol=0, atol=0)
        torch.testing.assert_close(maps["features.8"], zfnet.features[:9](x), rtol=0, atol=0)
    assert maps["features.0"].min() < 0  # not the ReLU'd tensor
    zfnet.train()  # the fixture's flags must survive another call
    before = snapshot(zfnet)
    V.feature_maps(zfnet, x[0], "features.0")  # one (C, H, W) image is a batch of one
    assert snapshot(zfnet)["training"] == before["training"]
    assert snapshot(zfnet)["hooks"] == before["hooks"]
    zfnet.eval()


def test_feature_maps_unknown_layer_lists_close_matches(resnet20):
    with pytest.raises(ValueError, match="close matches: .*layer1"):
        V.feature_maps(resnet20, torch.randn(1, 3, 32, 32), ["layer_1"])
    with pytest.raises(ValueError, match="top-level modules are: conv1, bn1"):
        V.feature_maps(resnet20, torch.randn(1, 3, 32, 32), ["zzzzzz"])
    assert snapshot(resnet20)["hooks"] == [(n, 0, 0, 0) for n, _ in resnet20.named_modules()]


def test_feature_maps_layer_not_run():
    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Identity(), nn.Identity()

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match="'unused' did not run"):
        V.feature_maps(Skips(), torch.randn(1, 3, 4, 4), ["used", "unused"])


# --- deconvnet and guided backprop: exact --------------------------------------------------------


@pytest.mark.parametrize("style", ["module", "inplace", "functional", "methods"])
@pytest.mark.parametrize("rule", ["guided", "deconvnet", "gradient"])
def test_reconstruction_equals_hand_computation(style, rule):
    net = TwoReLUNet(style)
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(2))
    for k in range(3):
        got = V.reconstruct(net, x.view(4, 6, 1, 1), "fc3", channel=k, rule=rule).view(4, 6)
        torch.testing.assert_close(got, hand_reconstruction(net, x, k, rule))


def test_named_functions_are_the_rules():
    net = TwoReLUNet("inplace")
    x = torch.randn(3, 6, 1, 1, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(
        V.guided_backprop(net, x, "fc3", 1).view(3, 6),
        hand_reconstruction(net, x.view(3, 6), 1, "guided"),
    )
    torch.testing.assert_close(
        V.deconvnet(net, x, "fc3", 1).view(3, 6),
        hand_reconstruction(net, x.view(3, 6), 1, "deconvnet"),
    )


def test_rules_differ_where_they_should():
    """One ReLU: deconvnet = W1^T relu(w2); gradient = W1^T (w2 * mask): the signals at the
    ReLU's input differ exactly where the forward mask is 0 or the incoming gradient is negative;
    guided = deconvnet where the mask is 1, 0 where it is 0."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 40, bias=False), nn.ReLU(), nn.Linear(40, 1, bias=False))
    x = torch.randn(1, 5)
    h = net[0](x)[0]
    mask = h > 0
    w2 = net[2].weight[0]
    assert mask.any() and (~mask).any() and (w2 < 0).any()

    def at_relu_input(rule):  # reconstruct with respect to the ReLU's input
        probe = h.detach().clone().view(1, 40, 1, 1)
        tail = nn.Sequential(nn.Flatten(), net[1], net[2])
        return V.reconstruct(tail, probe, "", rule=rule).view(40)

    grad, deconv, guided = (at_relu_input(r) for r in ("gradient", "deconvnet", "guided"))
    differ = deconv != grad
    assert torch.equal(differ, (~mask & (w2 > 0)) | (mask & (w2 < 0)))
    assert torch.equal(guided, torch.where(mask, deconv, torch.zeros(())))
    assert torch.equal(grad, torch.where(mask, w2, torch.zeros(())))


def test_strongest_activation_is_chosen():
    """Without a channel, the single largest activation of the layer (per image) is used."""
    lin = nn.Linear(4, 5, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(5, 4))
    net = nn.Sequential(nn.Flatten(), lin)
    x = torch.tensor([[3.0, -1.0, 2.0, 0.5], [0.0, 1.0, 4.0, -2.0]]).view(2, 4, 1, 1)
    got = V.reconstruct(net, x, "1", rule="gradient").view(2, 4)
    # outputs are x itself (and a zero fifth unit): argmax is input 0 for image 0, 2 for image 1
    assert torch.equal(got, torch.tensor([[1.0, 0, 0, 0], [0, 0, 1.0, 0]]))
    got = V.reconstruct(net, x, "1", channel=1, rule="gradient").view(2, 4)
    assert torch.equal(got, torch.tensor([[0, 1.0, 0, 0], [0, 1.0, 0, 0]]))


def test_reconstruction_spatial_channel_picks_strongest_position():
    """A 1x1 conv: the gradient is nonzero only at the position of the channel's maximum."""
    conv = nn.Conv2d(2, 3, 1, bias=False)
    torch.manual_seed(0)
    x = torch.randn(1, 2, 5, 5)
    act = conv(x)[0, 2]
    i, j = divmod(int(act.argmax()), 5)
    g = V.guided_backprop(nn.Sequential(conv), x, "0", channel=2)
    expected = torch.zeros(1, 2, 5, 5)
    expected[0, :, i, j] = conv.weight[2, :, 0, 0]
    torch.testing.assert_close(g, expected)


# --- deconvnet and guided backprop: real models, restoration, errors ----------------------------


@pytest.mark.parametrize("fn", [V.guided_backprop, V.deconvnet])
def test_reconstruction_on_zfnet_restores_model(zfnet, fn):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    zfnet.eval()
    with torch.no_grad():
        out = zfnet(x)
    zfnet.train()  # a trained-mode model comes back in train mode
    before = snapshot(zfnet)
    g = fn(zfnet, x, "features.8", channel=5)
    assert g.shape == x.shape and torch.isfinite(g).all() and g.abs().sum() > 0
    assert_unchanged(zfnet, before, x, out)  # flags (train), hooks, weights, outputs


def test_reconstruction_on_resnet20_single_image(resnet20):
    x = torch.randn(3, 32, 32)
    resnet20.eval()
    with torch.no_grad():
        out = resnet20(x[None])
    before = snapshot(resnet20)
    g = V.guided_backprop(resnet20, x, "layer2")
    assert g.shape == x.shape and g.abs().sum() > 0
    g_out = V.guided_backprop(resnet20, x, "", channel=3)  # class 3's evidence
    assert g_out.shape == x.shape
    assert_unchanged(resnet20, before, x[None], out)


def test_guided_backprop_differs_from_gradient_on_a_real_model(resnet20):
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    guided = V.guided_backprop(resnet20, x, "layer2.0")
    grad = V.reconstruct(resnet20, x, "layer2.0", rule="gradient")
    assert not torch.allclose(guided, grad)  # the mode really changed the ReLUs


def test_model_restored_after_an_exception():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU(inplace=True)
            self.late = nn.Linear(4, 2)

        def forward(self, x):
            x = self.act(self.fc(x.flatten(1)))
            raise RuntimeError("boom")

    model = Fails().train()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="boom"):
        V.guided_backprop(model, torch.randn(1, 4, 1, 1), "late")
    after = snapshot(model)
    assert after["hooks"] == before["hooks"] and after["training"] == before["training"]
    assert not torch._C._is_torch_function_mode_enabled()
    # ReLUs are plain again: a gradient through the ReLU is the ordinary one
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    F.relu(x).mul(torch.tensor([1.0, -3.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, -3.0]))


def test_reconstruction_errors(resnet20):
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="Unknown rule"):
        V.reconstruct(resnet20, x, "layer1", rule="backprop")
    with pytest.raises(ValueError, match="channel 16 out of range: the layer has 16 channels"):
        V.guided_backprop(resnet20, x, "layer1", channel=16)
    with pytest.raises(ValueError, match="close matches: .*layer1.0.conv1"):
        V.deconvnet(resnet20, x, "layer1.0.conv")


def test_gradient_to_image():
    g = torch.zeros(2, 3, 4, 4)
    g[0, 0, 0, 0], g[0, 1, 1, 1] = 2.0, -1.0
    shown = V.gradient_to_image(g, percentile=100)
    assert shown.shape == g.shape and shown.min() >= 0 and shown.max() <= 1
    assert shown[0, 0, 0, 0] == 1.0 and shown[0, 1, 1, 1] == 0.25 and shown[0, 2, 0, 0] == 0.5
    assert torch.all(shown[1] == 0.5)  # all-zero image stays grey
    assert V.gradient_to_image(g[0]).shape == (3, 4, 4)


# --- occlusion ---------------------------------------------------------------------------------


class RegionModel(nn.Module):
    """Two logits: 10 * mean of channel 0 over rows 8..11, columns 12..15, and 0."""

    def forward(self, x):
        s = 10 * x[:, 0, 8:12, 12:16].mean(dim=(1, 2))
        return torch.stack([s, torch.zeros_like(s)], dim=1)


def test_occlusion_drops_exactly_over_the_region():
    x = torch.ones(3, 20, 24)
    patch, stride = 4, 2
    heat = V.occlusion_sensitivity(RegionModel(), x, 0, patch, stride, batch_size=5, progress=False)
    assert heat.shape == ((20 - 4) // 2 + 1, (24 - 4) // 2 + 1)
    expected = torch.empty_like(heat)
    for i in range(heat.shape[0]):
        for j in range(heat.shape[1]):
            rows = max(0, min(i * stride + patch, 12) - max(i * stride, 8))
            cols = max(0, min(j * stride + patch, 16) - max(j * stride, 12))
            s = 10 * (1 - rows * cols / 16)  # the covered pixels become 0
            expected[i, j] = torch.sigmoid(torch.tensor(s))
    torch.testing.assert_close(heat, expected)
    unoccluded = torch.sigmoid(torch.tensor(10.0))
    dropped = heat < unoccluded - 1e-6
    assert dropped.sum() == 9  # 3x3 positions overlap the 4x4 region
    assert dropped[3:6, 5:8].all()
    assert heat.argmin().item() == 4 * heat.shape[1] + 6  # square exactly on the region
    # class 1's probability is the complement
    heat1 = V.occlusion_sensitivity(RegionModel(), x, 1, patch, stride, progress=False)
    torch.testing.assert_close(heat1, 1 - expected)


def test_occlusion_fill_per_channel():
    x = torch.ones(1, 3, 20, 24)
    heat = V.occlusion_sensitivity(RegionModel(), x, 0, 4, 4, fill=[1.0, 0.0, 0.0], progress=False)
    # channel 0 filled with its own value 1: nothing changes anywhere
    torch.testing.assert_close(heat, torch.full_like(heat, torch.sigmoid(torch.tensor(10.0))))
    with pytest.raises(ValueError, match="fill has 2 values"):
        V.occlusion_sensitivity(RegionModel(), x, 0, 4, 4, fill=[0.0, 1.0], progress=False)


def test_occlusion_batching_does_not_matter(resnet20):
    x = torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(5))
    resnet20.train()
    before = snapshot(resnet20)
    a = V.occlusion_sensitivity(resnet20, x, 3, patch=8, stride=8, batch_size=16, progress=False)
    b = V.occlusion_sensitivity(resnet20, x, 3, patch=8, stride=8, batch_size=3, progress=False)
    assert a.shape == (4, 4)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert ((a > 0) & (a < 1)).all()
    after = snapshot(resnet20)
    assert after["training"] == before["training"] and after["hooks"] == before["hooks"]
    resnet20.eval()


def test_occlusion_errors():
    x = torch.ones(3, 20, 24)
    with pytest.raises(ValueError, match="one image"):
        V.occlusion_sensitivity(RegionModel(), x.expand(2, 3, 20, 24), 0, progress=False)
    with pytest.raises(ValueError, match="patch must be between 1 and 20"):
        V.occlusion_sensitivity(RegionModel(), x, 0, patch=21, progress=False)
    with pytest.raises(ValueError, match="target 2 is not a class"):
        V.occlusion_sensitivity(RegionModel(), x, 2, patch=4, stride=4, progress=False)


# --- sample images -----------------------------------------------------------------------------


def test_sample_images_shapes_and_normalisation():
    pytest.importorskip("skimage")
    raw, names = V.sample_images(size=48, normalized=False)
    assert names == ["astronaut", "chelsea", "coffee"]
    assert raw.shape == (3, 3, 48, 48) and raw.dtype == torch.float32
    assert raw.min() >= 0 and raw.max() <= 1 and raw.std() > 0.05
    normed, _ = V.sample_images(size=48)
    torch.testing.assert_close(V.normalize(raw), normed)
    torch.testing.assert_close(V.denormalize(normed), raw, rtol=0, atol=1e-6)
    grey, _ = V.sample_images(size=32, names=["camera"], normalized=False)
    assert torch.equal(grey[0, 0], grey[0, 1]) and torch.equal(grey[0, 1], grey[0, 2])


def test_sample_images_resize_then_centre_crop():
    skimage_data = pytest.importorskip("skimage.data")
    from torchvision.transforms.v2 import functional as TF

    img, _ = V.sample_images(size=60, names=["chelsea"], normalized=False)  # 300x451 photo
    full = torch.as_tensor(skimage_data.chelsea()).permute(2, 0, 1).float() / 255
    resized = TF.resize(full, [60, 90], antialias=True)  # shorter side 300 -> 60
    torch.testing.assert_close(img[0], resized[:, :, 15:75].clamp(0, 1))


def test_sample_images_unknown_name():
    pytest.importorskip("skimage")
    with pytest.raises(ValueError, match="no sample image 'kitten'"):
        V.sample_images(names=["kitten"])


def test_denormalize_clips_and_accepts_cifar_stats():
    from cnnlib.data import CIFAR10_MEAN, CIFAR10_STD

    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(
        V.denormalize(V.normalize(x, CIFAR10_MEAN, CIFAR10_STD), CIFAR10_MEAN, CIFAR10_STD), x
    )
    assert V.denormalize(torch.full((3, 2, 2), 100.0)).max() == 1


def test_top_patches_are_the_strongest_images_and_the_window_under_their_unit():
    """Zeiler & Fergus's figure 2: a 3x3 conv with one filter that sums the centre pixel's
    channels; image i has one bright pixel of value i + 1 at a known place, so the top images are
    the last ones, in order, and each patch is the 3x3 window around its bright pixel."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, :, 1, 1] = 1.0  # channel 0: the pixel itself
        conv.weight[1] = torch.rand(3, 3, 3)
    model = nn.Sequential(conv, nn.ReLU())
    images = torch.zeros(12, 3, 16, 16)
    places = [(2 + i, 3 + (i % 5)) for i in range(12)]
    for i, (r, c) in enumerate(places):
        images[i, :, r, c] = i + 1
    top = patches.top_patches(model, images, "1", [0, 1], k=4)
    assert top.indices[0].tolist() == [11, 10, 9, 8]
    assert top.values[0] == pytest.approx([36.0, 33.0, 30.0, 27.0])  # 3 channels x (i + 1)
    assert top.patches.shape == top.reconstructions.shape == (2, 4, 3, 3, 3)
    for j, i in enumerate(top.indices[0].tolist()):
        r, c = places[i]
        torch.testing.assert_close(top.patches[0, j], images[i, :, r - 1 : r + 2, c - 1 : c + 2])
        assert top.patches[0, j, :, 1, 1].tolist() == [i + 1.0] * 3  # the bright pixel centred
    # a number picks the units by their k-th strongest image: unit 1 (the centre pixel, 4th
    # strongest 27) before unit 0 (the same filter x 0.01: 0.27)
    swapped = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1, bias=False), nn.ReLU())
    with torch.no_grad():
        swapped[0].weight.copy_(torch.stack([0.01 * conv.weight[0], conv.weight[0]]))
    assert patches.top_patches(swapped, images, "1", 2, k=4).channels == (1, 0)
    assert patches.top_patches(swapped, images, "1", 1, k=4).channels == (1,)
    with pytest.raises(ValueError, match="channels=3: '1' has 2 units"):
        patches.top_patches(model, images, "1", 3, k=4)
    with pytest.raises(ValueError, match=r"channels \[2\] out of range"):
        patches.top_patches(model, images, "1", [2], k=4)
    with pytest.raises(ValueError, match="at least k=20"):
        patches.top_patches(model, images, "1", [0], k=20)


def test_plot_top_patches_draws_one_row_per_unit():
    import matplotlib

    matplotlib.use("Agg", force=True)
    from cnnlib import plots

    torch.manual_seed(0)
    model = models.create("zfnet_cifar").eval()
    top = patches.top_patches(model, torch.randn(20, 3, 32, 32), "features.4", [3, 5], k=9)
    fig = plots.plot_top_patches(top)
    gids = sorted(ax.get_gid() for ax in fig.axes)
    assert gids == ["patch:3", "patch:5", "projection:3", "projection:5"]
    assert fig.axes[0].images[0].get_array().shape == (3 * 13 + 2, 3 * 13 + 2, 3)
    with pytest.raises(ValueError, match="square number"):
        plots.plot_top_patches(patches.top_patches(model, torch.randn(20, 3, 32, 32), "features.4",
                                             [3], k=8))  # fmt: skip
