"""cnnlib.plots.architecture: width and receptive field, and residual blocks read from their
modules (every convolution of the branch, its batch norm and ReLU, the shortcut)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from cnnlib import models, plots  # noqa: E402
from cnnlib.models.resnet import BasicBlock, Bottleneck, ZeroPadShortcut  # noqa: E402
from cnnlib.plots.architecture import _block_layers  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_width_and_receptive_field():
    from cnnlib.analysis import layer_table

    with torch.device("meta"):
        zf = models.create("zfnet")
    table = layer_table(zf, (1, 3, 224, 224))
    fig = plots.plot_width_and_receptive_field({"ZFNet": table, "again": table}, title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax_c, ax_rf = fig.axes
    assert list(ax_c.get_lines()[0].get_ydata()) == [96, 256, 384, 384, 256]
    assert list(ax_rf.get_lines()[0].get_ydata()) == [7, 27, 75, 107, 139]
    assert [t.get_text() for t in ax_c.texts[:5]] == ["110", "26", "13", "13", "13"]
    with pytest.raises(ValueError, match="no Conv2d rows"):
        plots.plot_width_and_receptive_field({"none": table.__class__([], (1,), None, 0, 0)})


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet20_blocks_two_3x3_convolutions_and_option_a_shortcuts():
    """ResNet paper, section 4.2: 9 basic blocks at 16, 32, 64 channels; identity shortcuts,
    zero-padded (option A) where the width doubles."""
    torch.manual_seed(0)
    model = models.create("resnet20")
    blocks = [(n, m) for n, m in model.named_modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9
    size = 8
    for name, block in blocks:
        in_shape, boxes, label, sc_params, macs, _ = _block_layers(block, size)
        width, stride = block.conv2.out_channels, block.conv1.stride[0]
        out = size // stride
        assert tuple(in_shape) == (block.conv1.in_channels, size, size), name
        assert [(b[0], b[1], b[2]) for b in boxes] == [
            (f"3x3 conv, {width}" + (", /2" if stride == 2 else ""), ["BN", "ReLU"],
             (width, out, out)),
            (f"3x3 conv, {width}", ["BN"], (width, out, out)),
        ], name  # fmt: skip
        assert sum(b[3] for b in boxes) == n_params(block)  # convs and batch norms, no shortcut
        assert sc_params == 0
        assert [b[4] for b in boxes] == [
            block.conv1.in_channels * width * 9 * out * out,
            width * width * 9 * out * out,
        ]
        assert macs == sum(b[4] for b in boxes)  # a zero-padded identity costs nothing
        if name.endswith(".0") and name != "layer1.0":
            assert label == f"identity, /2,\n+{width // 2} zero channels", name
        else:
            assert label == "identity", name


@pytest.mark.parametrize("name, stride_in", [("resnet50", "3x3"), ("resnet50_paper", "1x1")])
def test_resnet50_blocks_three_convolutions_and_projections(name, stride_in):
    """16 bottlenecks: 1x1 reduce, 3x3, 1x1 expand x4; a projection shortcut (1x1 conv + BN)
    opens each stage; the stride sits in the 3x3 (torchvision, v1.5) or the first 1x1 (paper).
    On the meta device: only shapes and counts are read."""
    with torch.device("meta"):
        model = models.create(name)
    blocks = [(n, m) for n, m in model.named_modules() if isinstance(m, Bottleneck)]
    assert len(blocks) == 16
    assert sum(n.endswith(".0") for n, _ in blocks) == 4
    size = 8
    for block_name, block in blocks:
        _, boxes, label, sc_params, macs, _ = _block_layers(block, size)
        width = block.conv1.out_channels
        stride = 2 if block_name in ("layer2.0", "layer3.0", "layer4.0") else 1
        down = ", /2" if stride == 2 else ""
        titles = [f"1x1 conv, {width}", f"3x3 conv, {width}", f"1x1 conv, {4 * width}"]
        titles[0 if stride_in == "1x1" else 1] += down
        assert [b[0] for b in boxes] == titles, block_name
        assert [b[1] for b in boxes] == [["BN", "ReLU"], ["BN", "ReLU"], ["BN"]], block_name
        out = size // stride
        assert [b[2] for b in boxes][-1] == (4 * width, out, out)
        assert sum(b[3] for b in boxes) + sc_params == n_params(block)
        if block_name.endswith(".0"):
            assert label == f"projection\n1x1 conv, {4 * width}{down} + BN", block_name
            assert sc_params == n_params(block.downsample) > 0
            conv = block.downsample[0]
            shortcut_macs = conv.in_channels * conv.out_channels * out * out
            assert macs == sum(b[4] for b in boxes) + shortcut_macs
        else:
            assert (label, sc_params) == ("identity", 0), block_name
            assert macs == sum(b[4] for b in boxes)


def test_block_layers_recognises_blocks_and_shortcuts_by_class():
    class MyPad(ZeroPadShortcut):  # a subclass is still a zero-padded identity
        pass

    _, boxes, label, _, _, _ = _block_layers(BasicBlock(16, 32, 2, MyPad(16, 32, 2)), 8)
    assert label == "identity, /2,\n+16 zero channels" and len(boxes) == 2
    plain = BasicBlock(16, 16, shortcut=False).train()
    _, boxes, label, sc_params, _, _ = _block_layers(plain, 8)
    assert (label, sc_params, len(boxes)) == (None, 0, 2)
    assert plain.training  # the block's flag is restored
    assert all(not m._forward_hooks for m in plain.modules())

    class LooksResidual(nn.Module):  # a residual method and convolutions are not enough
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.downsample = None

        def residual(self, x):
            return self.conv(x)

    with pytest.raises(ValueError, match="BasicBlock, Bottleneck or PreActBlock"):
        _block_layers(LooksResidual(), 8)
    with pytest.raises(ValueError, match="residual block"):
        plots.plot_residual_blocks({"conv": nn.Conv2d(3, 3, 3)})


def test_plot_residual_blocks_draws_the_boxes_of_block_layers():
    torch.manual_seed(0)
    blocks = {"basic": BasicBlock(64, 64), "bottleneck": Bottleneck(256, 64)}
    fig = plots.plot_residual_blocks(blocks, size=8)
    for ax, block in zip(fig.axes, blocks.values(), strict=True):
        _, boxes, _, _, _, _ = _block_layers(block, 8)
        texts = [t.get_text() for t in ax.texts]
        assert [t for t in texts if " conv, " in t and "\n" not in t] == [b[0] for b in boxes]
        assert len([p for p in ax.patches if type(p).__name__ == "FancyBboxPatch"]) == len(boxes)


def test_a_pre_activation_block_leads_each_convolution_with_bn_and_relu():
    from cnnlib.models.preact_resnet import PreActBlock

    torch.manual_seed(0)
    in_shape, boxes, label, sc_params, macs, after = _block_layers(PreActBlock(16, 16), 8)
    assert [b[0] for b in boxes] == ["BN, ReLU -> 3x3 conv, 16"] * 2
    assert all(b[1] == [] for b in boxes) and label == "identity" and sc_params == 0
    assert sum(b[3] for b in boxes) == sum(p.numel() for p in PreActBlock(16, 16).parameters())
    assert after.startswith("(nothing") and _block_layers(BasicBlock(16, 16), 8)[-1] == "ReLU"
    fig = plots.plot_residual_blocks({"pre": PreActBlock(16, 32, stride=2)}, size=8)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "BN, ReLU -> 3x3 conv, 32, /2" in texts and any("projection" in t for t in texts)
