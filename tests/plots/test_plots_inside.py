"""cnnlib.plots.inside: filters, feature maps, reconstructions and occlusion maps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlib import interpret, models, plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def zfnet():
    torch.manual_seed(0)
    return models.create("zfnet", num_classes=10)


def test_plot_filters_one_axis_and_into_given_axis(zfnet):
    fig = plots.plot_filters(interpret.first_layer_filters(zfnet))
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_images()[0].get_array().shape[2] == 3  # RGB
    fig2, axs = plt.subplots(1, 2)
    out = plots.plot_filters(interpret.first_layer_filters(zfnet), ax=axs[1], title="ZFNet")
    assert out is fig2 and axs[1].get_title() == "ZFNet" and not axs[0].get_images()
    fig3 = plots.plot_filters(torch.randn(8, 1, 3, 3))
    assert fig3.axes[0].get_images()[0].get_array().ndim == 2  # grey


def test_plot_feature_maps_axes_and_strongest_channels():
    maps = {"a": torch.zeros(1, 6, 5, 5), "b": torch.randn(1, 2, 3, 3)}
    maps["a"][0, 4, 2, 2], maps["a"][0, 1, 0, 0] = 9.0, 5.0
    fig = plots.plot_feature_maps(maps, n=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:2]] == ["ch 4", "ch 1"]
    assert not fig.axes[5].get_images()  # layer b has only 2 channels
    with pytest.raises(ValueError, match="needs \\(N, C, H, W\\)"):
        plots.plot_feature_maps({"fc": torch.randn(1, 10)})


def test_plot_reconstructions_and_occlusion():
    images = torch.randn(2, 3, 16, 16)
    fig = plots.plot_reconstructions(
        images,
        {"deconvnet": torch.randn(2, 3, 16, 16), "guided": torch.randn(2, 3, 16, 16)},
        titles=["a", "b"],
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["input", "deconvnet", "guided"]
    heat = torch.rand(5, 5)
    fig = plots.plot_occlusion(images[0], heat, patch=8, stride=2, title="cat")
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # image, map, colour bar
    # cell centres: the first square covers pixels 0..7 (centre 3.5), cells 2 px wide
    assert fig.axes[1].get_images()[1].get_extent() == [2.5, 12.5, 12.5, 2.5]
    with pytest.raises(ValueError, match="both patch and stride"):
        plots.plot_occlusion(images[0], heat, patch=8)


def test_images_are_shown_denormalised_with_the_given_statistics():
    """The input column shows ``denormalize(image, mean, std)``: ImageNet's statistics by
    default, the given ones otherwise, the image itself with ``normalized=False``."""
    from cnnlib.data import CIFAR10_MEAN, CIFAR10_STD

    raw = torch.rand(1, 3, 8, 8)
    recon = torch.zeros(1, 3, 8, 8)
    cases = [
        ({}, interpret.normalize(raw)),
        ({"mean": CIFAR10_MEAN, "std": CIFAR10_STD},
         interpret.normalize(raw, CIFAR10_MEAN, CIFAR10_STD)),
        ({"normalized": False}, raw),
    ]  # fmt: skip
    for kwargs, shown in cases:
        fig = plots.plot_reconstructions(shown, recon, **kwargs)
        drawn = torch.as_tensor(fig.axes[0].get_images()[0].get_array())
        torch.testing.assert_close(drawn, raw[0].permute(1, 2, 0), rtol=0, atol=1e-6)
        assert torch.all(torch.as_tensor(fig.axes[1].get_images()[0].get_array()) == 0.5)
