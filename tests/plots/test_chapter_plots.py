"""The chapters' plots draw what they are given: VGG (accuracy by depth, stage costs), ResNet
(residual blocks, gradient norms, layer responses) and the residual-gradient chapter (spectra,
path lengths, lesions)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from cnnlib import models as M  # noqa: E402
from cnnlib import plots  # noqa: E402
from cnnlib.analysis import VGG_PAPER_TABLE, count_params, vgg_stage_table  # noqa: E402
from cnnlib.models.resnet import BasicBlock, Bottleneck, ZeroPadShortcut  # noqa: E402
from cnnlib.residual import path_length_distribution  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _meta(name: str, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return M.create(name, **kwargs)


# --- VGG -----------------------------------------------------------------------------------------


def test_plot_error_by_depth_and_stage_costs():
    runs = {"A": {"depth": 11, "train_error": 20.0, "test_error": 30.0,
                  "test_error_range": (29.0, 32.0)},
            "D": {"depth": 16, "train_error": 15.0, "test_error": 28.0,
                  "test_error_range": (27.5, 28.5)}}  # fmt: skip
    paper = {k: (VGG_PAPER_TABLE[k]["layers"], VGG_PAPER_TABLE[k]["top1_s256"]) for k in "ABDE"}
    fig = plots.plot_error_by_depth(runs, paper, title="t")
    assert len(fig.axes) == 2
    assert [ax.get_ylabel() for ax in fig.axes] == ["top-1 error (%)"] * 2  # one metric
    test_line = fig.axes[0].get_lines()[1]  # train first, then test
    assert list(test_line.get_ydata()) == [30.0, 28.0]
    assert len(plots.plot_error_by_depth(runs).axes) == 1
    fig = plots.plot_stage_costs(vgg_stage_table(_meta("vgg16")))
    assert len(fig.axes) == 3
    assert len(fig.axes[0].patches) == 5
    fc = {"macs": 123_633_664, "activations": 9_192, "params": 123_642_856}
    fig = plots.plot_stage_costs(vgg_stage_table(_meta("vgg16")), fc=fc)
    params = fig.axes[2].patches
    assert len(params) == 6 and params[-1].get_hatch() == "//"
    assert params[-1].get_height() == pytest.approx(123.642856)  # millions
    with pytest.raises(ValueError):
        plots.plot_error_by_depth({})
    with pytest.raises(ValueError):
        plots.plot_stage_costs([])


# --- ResNet --------------------------------------------------------------------------------------


def test_plot_residual_blocks_draws_every_convolution_and_the_shortcut():
    torch.manual_seed(0)
    blocks = {
        "basic": BasicBlock(64, 64),
        "bottleneck": Bottleneck(256, 64),
        "option A": BasicBlock(16, 32, 2, ZeroPadShortcut(16, 32, 2)),
        "option B": BasicBlock(
            16, 32, 2, nn.Sequential(nn.Conv2d(16, 32, 1, 2), nn.BatchNorm2d(32))
        ),
        "plain": BasicBlock(16, 16, shortcut=False),
    }
    fig = plots.plot_residual_blocks(blocks, size=16, title="blocks")
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert "1x1 conv, 64" in texts[1] and "3x3 conv, 64" in texts[1] and "1x1 conv, 256" in texts[1]
    assert "3x3 conv, 32, /2" in texts[2]
    assert any(t.startswith("identity, /2") for t in texts[2])
    assert any(t.startswith("projection\n1x1 conv, 32, /2") for t in texts[3])
    assert "identity" in texts[0]
    assert not any("identity" in t or "projection" in t for t in texts[4])
    for ax, block in zip(fig.axes, blocks.values(), strict=True):
        total = f"{count_params(block):,} parameters"
        assert any(t.startswith(total) for t in ax.texts for t in [t.get_text()])
    with pytest.raises(ValueError, match="residual block"):
        plots.plot_residual_blocks({"conv": nn.Conv2d(3, 3, 3)})
    with pytest.raises(ValueError, match="no blocks"):
        plots.plot_residual_blocks({})


def test_plot_gradient_norms():
    norms = {"a": {"conv1": 1.0, "fc": 0.01}, "b": {"conv1": 2.0, "fc": 3.0}}
    fig = plots.plot_gradient_norms(norms, title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert list(ax.get_lines()[0].get_ydata()) == [1.0, 0.01]
    assert list(ax.get_lines()[1].get_xdata()) == [1, 2]
    assert "||dL/dW||" in ax.get_ylabel()
    fig = plots.plot_gradient_norms(norms, ylabel="relative step ||dL/dW|| / ||W||")
    assert fig.axes[0].get_ylabel() == "relative step ||dL/dW|| / ||W||"
    with pytest.raises(ValueError, match="no gradient norms"):
        plots.plot_gradient_norms({})
    # by block, names under the axis, a head marked, zeros left out (not dropped to the axis)
    blocks = {"main": {"conv1": 1.0, "inception4a": 0.5, "inception5b": 0.2},
              "aux": {"conv1": 2.0, "inception4a": 1.0, "inception5b": 0.0}}  # fmt: skip
    fig = plots.plot_gradient_norms(blocks, names=True, marks={"inception4a": "aux1"},
                                    xlabel="block")  # fmt: skip
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "inception4a", "inception5b"]
    aux = list(ax.get_lines()[1].get_ydata())
    assert aux[:2] == [2.0, 1.0] and math.isnan(aux[2])
    assert any(line.get_xdata()[0] == 2 for line in ax.get_lines()[2:])  # the dashed mark
    assert ax.get_xlabel() == "block" and "aux1" in [t.get_text() for t in ax.texts]


def test_plot_layer_responses_in_order_and_sorted():
    runs = {"plain-20": {"a": 1.0, "b": 3.0, "c": 2.0}, "ResNet-20": {"a": 0.5, "b": 0.2, "c": 0.9}}
    fig = plots.plot_layer_responses(runs, title="t")
    order, ranked = fig.axes[:2]
    assert list(order.get_lines()[0].get_ydata()) == [1.0, 3.0, 2.0]
    assert list(ranked.get_lines()[0].get_ydata()) == [3.0, 2.0, 1.0]
    assert order.get_lines()[0].get_linestyle() == "--"  # plain nets dashed, as in the paper
    assert order.get_lines()[1].get_linestyle() == "-"
    with pytest.raises(ValueError, match="no layer responses"):
        plots.plot_layer_responses({})
    one = plots.plot_layer_responses(runs, log=True, sorted_panel=False)
    assert len(one.axes) == 1 and one.axes[0].get_yscale() == "log"
    assert list(one.axes[0].get_lines()[1].get_ydata()) == [0.5, 0.2, 0.9]
    assert order.get_yscale() == "linear"


# --- residual gradients (chapter 7) --------------------------------------------------------------


def test_chapter7_plots_draw_what_they_are_given():
    eig = torch.tensor([0.5 + 0.1j, 0.5 - 0.1j, 1.5 + 0j])
    fig = plots.plot_spectrum(eig, torch.tensor([2.0, 1.0, 0.3]))
    assert len(fig.axes) == 2 and len(fig.axes[1].lines[0].get_ydata()) == 3
    fig = plots.plot_path_lengths(path_length_distribution(4))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16])
    rows = [{"removed": "(none)", "acc": 0.5}, {"removed": "a", "acc": 0.4, "downsampling": True},
            {"removed": "b", "acc": 0.1, "downsampling": False}]  # fmt: skip
    fig = plots.plot_lesion({"resnet": rows, "plain": rows[:2]}, chance=0.1)
    assert len(fig.axes) == 2
    assert [p.get_height() for p in fig.axes[0].patches] == [0.4, 0.1]
    assert fig.axes[0].patches[0].get_hatch() == "//"
    with pytest.raises(ValueError, match="intact row"):
        plots.plot_lesion({"resnet": rows[:1]})
    with pytest.raises(ValueError, match="at least one path"):
        plots.plot_path_lengths([])
