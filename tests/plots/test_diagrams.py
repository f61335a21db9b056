"""cnnlib.plots.diagrams: the figure draws what the model's diagram holds, one artist per layer,
tower, crossing, shortcut and head (counted by their gids)."""

from __future__ import annotations

import collections

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import cnnlib.models as M  # noqa: E402
from cnnlib import plots  # noqa: E402
from cnnlib.analysis import network_diagram  # noqa: E402
from cnnlib.models.googlenet import ConvReLU, Inception, InceptionNaive  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def drawn(fig: Figure) -> collections.Counter:
    """How many artists of each gid kind (``node``, ``shortcut:identity``, ...) are drawn."""
    ax = fig.axes[0]
    gids = [a.get_gid() for a in [*ax.patches, *ax.lines] if a.get_gid()]
    return collections.Counter(
        ":".join(g.split(":")[:2]) if g.startswith("shortcut") else g.split(":")[0] for g in gids
    )


def test_alexnet_and_zfnet_side_by_side():
    alex = network_diagram(M.create("alexnet_paper"), (3, 227, 227), name="AlexNet")
    zf = network_diagram(M.create("zfnet"), (3, 227, 227), name="ZFNet")
    fig = plots.plot_network({"AlexNet": alex, "ZFNet": zf})
    count = drawn(fig)
    assert count["node"] == len(alex.nodes) + len(zf.nodes) == 26
    assert count["tower"] == sum(n.towers - 1 for n in alex.nodes) == 10
    assert count["cross"] == 2 * 2 + 2  # conv3: 2 towers to 2; fc6: 2 towers to 1
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "AlexNet" in texts and "ZFNet" in texts and texts.count("11x11 conv, 48, /4") == 2


def test_figure3_of_the_resnet_paper_draws_every_shortcut():
    fig = plots.plot_network(
        {
            "VGG-19": M.create("vgg19"),
            "plain-34": M.create("plain34"),
            "34-layer residual": M.create("resnet34"),
        }  # fmt: skip
    )
    count = drawn(fig)
    assert count["node"] == (16 + 5 + 3) + 36 + 36  # VGG-19: 16 convs, 5 pools, 3 fc
    assert count["shortcut:identity"] == 13 and count["shortcut:projection"] == 3
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("3x3 conv, 512, /2") == 2 and "7×7" in texts


def test_googlenet_heads_are_drawn_beside_the_modules_they_read():
    fig = plots.plot_network(M.create("googlenet_paper"))
    count = drawn(fig)
    assert count["node"] == 20 and count["head"] == 2
    assert any(t.get_text().startswith("aux2:\n5x5 avg pool, /3") for t in fig.axes[0].texts)


def test_inception_modules_naive_and_reduced():
    modules = {
        "naive": InceptionNaive(192, 64, 128, 32),
        "reduced": Inception(192, 64, 96, 128, 16, 32, 32, conv_block=ConvReLU, branch3_kernel=5),
    }
    fig = plots.plot_inception_modules(modules, (192, 28, 28))
    count = drawn(fig)
    assert count["node"] == 4 + 7 and count["concat"] == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "filter concatenation, 28×28×416" in texts  # the pool keeps all 192 input maps
    assert "filter concatenation, 28×28×256" in texts


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="no networks"):
        plots.plot_network({})
    with pytest.raises(TypeError, match="expected a model or a Diagram, got str"):
        plots.plot_network({"x": "resnet20"})
    with pytest.raises(ValueError, match="no modules"):
        plots.plot_inception_modules({}, (3, 8, 8))
