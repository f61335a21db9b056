"""The papers' tables, regenerated from the models and printed beside the published numbers.

ZFNet (Zeiler & Fergus 2014, tables 2 and 4-6: published numbers only), VGG (Simonyan &
Zisserman 2015, tables 1-4), GoogLeNet (Szegedy et al. 2015, table 1) and ResNet (He et al. 2016,
table 1). The ``*_PAPER_*`` constants are the papers' numbers as printed; the functions compute
the same tables from cnnlib's models with :mod:`cnnlib.analysis`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cnnlib.analysis.costs import count_macs, count_macs_by_module, count_params
from cnnlib.analysis.tables import layer_table
from cnnlib.models import create
from cnnlib.models.googlenet import GoogLeNetPaper, Inception, InceptionNaive
from cnnlib.models.resnet import ResNet
from cnnlib.models.vgg import Layer, get_config

__all__ = [
    "ZFNET_PAPER_IMAGENET",
    "ZFNET_PAPER_TRANSFER",
    "GOOGLENET_PAPER_TABLE1",
    "GOOGLENET_TABLE1_COLUMNS",
    "RESNET_PAPER_TABLE1_GFLOPS",
    "RESNET_TABLE1_ARCHS",
    "VGG_PAPER_TABLE",
    "googlenet_table1",
    "resnet_table1",
    "vgg_config_stages",
    "vgg_stage_table",
]

# ---------------------------------------------------------------------------------------------
# ZFNet
# ---------------------------------------------------------------------------------------------

#: Zeiler & Fergus's table 2, ImageNet 2012 error in %: (top-1 val, top-5 val, top-5 test), None
#: where the paper gives none. "*": trained with extra ImageNet Fall 2011 data. Model (a) is
#: figure 3's; model (b) widens conv3-conv5 to 512-1024-512 filters.
ZFNET_PAPER_IMAGENET: dict[str, tuple[float | None, float | None, float | None]] = {
    "Krizhevsky et al., 1 convnet": (40.7, 18.2, None),
    "Krizhevsky et al., 5 convnets": (38.1, 16.4, 16.4),
    "Krizhevsky et al., 1 convnet*": (39.0, 16.6, None),
    "Krizhevsky et al., 7 convnets*": (36.7, 15.4, 15.3),
    "replication of Krizhevsky et al., 1 convnet": (40.5, 18.1, None),
    "1 convnet as figure 3": (38.4, 16.5, None),
    "5 convnets as figure 3, (a)": (36.7, 15.3, 15.3),
    "1 convnet, conv3-5 at 512-1024-512, (b)": (37.5, 16.0, 16.1),
    "6 convnets, (a) and (b)": (36.0, 14.7, 14.8),
}

#: Zeiler & Fergus's tables 4-6: the ImageNet-trained network's features with a new softmax
#: (Caltech-101: 30 training images per class, Caltech-256: 60; accuracy in %, mean +- sd over
#: folds) against the same network trained from scratch, and on PASCAL VOC 2012 (mean average
#: precision, %) against the best published result of the time.
ZFNET_PAPER_TRANSFER: dict[str, dict[str, tuple[float, float | None]]] = {
    "Caltech-101 (accuracy)": {"ImageNet-pretrained": (86.5, 0.5), "from scratch": (22.8, 1.5)},
    "Caltech-256 (accuracy)": {"ImageNet-pretrained": (74.2, 0.3), "from scratch": (9.0, 1.4)},
    "PASCAL VOC 2012 (mean AP)": {
        "ImageNet-pretrained": (79.0, None),
        "best of 2013": (82.2, None),
    },
}

# ---------------------------------------------------------------------------------------------
# VGG
# ---------------------------------------------------------------------------------------------

# The paper's own numbers: weight layers, parameters in millions (table 2) and single-scale
# top-1/top-5 validation error in % (table 3): "top1"/"top5" each configuration's best row
# (smallest side 256 for A/A-LRN/B, scale jittering [256, 512] for C/D/E at test scale 384),
# "top1_s256"/"top5_s256" every configuration trained and tested at S = 256 (the one training
# scale they share: the fair comparison of depth); for D and E the multi-scale errors of table
# 4 (test scales 256, 384, 512).
VGG_PAPER_TABLE: dict[str, dict[str, float]] = {
    "A": {"layers": 11, "params_m": 133, "top1": 29.6, "top5": 10.4,
          "top1_s256": 29.6, "top5_s256": 10.4},
    "A-LRN": {"layers": 11, "params_m": 133, "top1": 29.7, "top5": 10.5,
              "top1_s256": 29.7, "top5_s256": 10.5},
    "B": {"layers": 13, "params_m": 133, "top1": 28.7, "top5": 9.9,
          "top1_s256": 28.7, "top5_s256": 9.9},
    "C": {"layers": 16, "params_m": 134, "top1": 27.3, "top5": 8.8,
          "top1_s256": 28.1, "top5_s256": 9.4},
    "D": {"layers": 16, "params_m": 138, "top1": 25.6, "top5": 8.1,
          "top1_s256": 27.0, "top5_s256": 8.8, "top1_multiscale": 24.8, "top5_multiscale": 7.5},
    "E": {"layers": 19, "params_m": 144, "top1": 25.5, "top5": 8.0,
          "top1_s256": 27.3, "top5_s256": 9.0, "top1_multiscale": 24.8, "top5_multiscale": 7.5},
}  # fmt: skip


def vgg_config_stages(cfg: str | list[Layer]) -> list[str]:
    """A VGG configuration (a name of ``CONFIGS`` or ``STACK_CONFIGS``, or a list) in the
    notation of the paper's table 1, one string per stage (the layers between two max-pools):
    ``["conv3-64", "conv3-128", "conv3-256 x2", ...]`` for A; ``conv1-256`` is a 1x1 layer."""
    stages: list[list[str]] = [[]]
    for v in get_config(cfg):
        if v == "M":
            stages.append([])
        elif v == "LRN":
            stages[-1].append("LRN")
        else:
            c, k = v if isinstance(v, tuple) else (v, 3)
            stages[-1].append(f"conv{k}-{c}")
    if not stages[-1]:
        stages.pop()
    out = []
    for layers in stages:
        runs: list[tuple[str, int]] = []
        for layer in layers:
            if runs and runs[-1][0] == layer:
                runs[-1] = (layer, runs[-1][1] + 1)
            else:
                runs.append((layer, 1))
        out.append(", ".join(name if n == 1 else f"{name} x{n}" for name, n in runs))
    return out


def vgg_stage_table(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 224, 224)) -> list[dict]:
    """One row per stage of a VGG (the layers of ``model.features`` up to and including each
    max-pool): its input size, channels, convolutions, the values its convolutions output per
    image (``activations``), parameters and MACs per image; ``params`` and ``macs`` sum to
    those of ``model.features``."""
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential):
        raise ValueError(
            "vgg_stage_table expects a VGG with a `features` nn.Sequential; "
            f"got {type(model).__name__}"
        )
    table = layer_table(model, input_size)
    rows: list[dict] = []
    current: dict | None = None
    for index, module in enumerate(features):
        row = table[f"features.{index}"]
        if current is None:
            current = {"stage": len(rows) + 1, "size": None, "channels": 0, "convs": 0,
                       "activations": 0, "params": 0, "macs": 0}  # fmt: skip
        if isinstance(module, nn.Conv2d):
            c, h, w = row.output_shape
            current["size"] = current["size"] or f"{h}x{w}"
            current["channels"] = c
            current["convs"] += 1
            current["activations"] += c * h * w
        current["params"] += row.params
        current["macs"] += row.macs
        if isinstance(module, nn.MaxPool2d):
            rows.append(current)
            current = None
    if current is not None and current["convs"]:
        rows.append(current)
    return rows


# ---------------------------------------------------------------------------------------------
# GoogLeNet
# ---------------------------------------------------------------------------------------------

#: Table 1 of Szegedy et al. (2015) as printed, one entry per row (softmax left out):
#: (type, patch size/stride, output size, depth, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5,
#: pool proj, params in K, ops in M). ``None`` where the paper leaves the cell empty. The
#: paper's "K" is 1024 weights (biases not counted: 3a has 163,328 weights = 159.5K) and its
#: "ops" are multiply-accumulates in millions.
GOOGLENET_PAPER_TABLE1: dict[str, tuple] = {
    "conv1": ("convolution", "7x7/2", "112x112x64", 1, *[None] * 6, 2.7, 34),
    "maxpool1": ("max pool", "3x3/2", "56x56x64", 0, *[None] * 6, None, None),
    "conv2+conv3": (
        "convolution",
        "3x3/1",
        "56x56x192",
        2,
        None,
        64,
        192,
        None,
        None,
        None,
        112,
        360,
    ),  # fmt: skip
    "maxpool2": ("max pool", "3x3/2", "28x28x192", 0, *[None] * 6, None, None),
    "inception3a": ("inception", None, "28x28x256", 2, 64, 96, 128, 16, 32, 32, 159, 128),
    "inception3b": ("inception", None, "28x28x480", 2, 128, 128, 192, 32, 96, 64, 380, 304),
    "maxpool3": ("max pool", "3x3/2", "14x14x480", 0, *[None] * 6, None, None),
    "inception4a": ("inception", None, "14x14x512", 2, 192, 96, 208, 16, 48, 64, 364, 73),
    "inception4b": ("inception", None, "14x14x512", 2, 160, 112, 224, 24, 64, 64, 437, 88),
    "inception4c": ("inception", None, "14x14x512", 2, 128, 128, 256, 24, 64, 64, 463, 100),
    "inception4d": ("inception", None, "14x14x528", 2, 112, 144, 288, 32, 64, 64, 580, 119),
    "inception4e": ("inception", None, "14x14x832", 2, 256, 160, 320, 32, 128, 128, 840, 170),
    "maxpool4": ("max pool", "3x3/2", "7x7x832", 0, *[None] * 6, None, None),
    "inception5a": ("inception", None, "7x7x832", 2, 256, 160, 320, 32, 128, 128, 1072, 54),
    "inception5b": ("inception", None, "7x7x1024", 2, 384, 192, 384, 48, 128, 128, 1388, 71),
    "avgpool": ("avg pool", "7x7/1", "1x1x1024", 0, *[None] * 6, None, None),
    "dropout": ("dropout (40%)", None, "1x1x1024", 0, *[None] * 6, None, None),
    "fc": ("linear", None, "1x1x1000", 1, *[None] * 6, 1000, 1),
}
GOOGLENET_TABLE1_COLUMNS = ("type", "patch size/stride", "output size", "depth", "#1x1",
                            "#3x3 reduce", "#3x3", "#5x5 reduce", "#5x5", "pool proj",
                            "params (K)", "ops (M)")  # fmt: skip


def _weight_depth(module: nn.Module) -> int:
    """Weight layers on the longest path through ``module`` (parallel branches count once)."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return 1
    if isinstance(module, (Inception, InceptionNaive)):
        return max(_weight_depth(b) for b in (module.branch1, module.branch2, module.branch3,
                                              module.branch4))  # fmt: skip
    if isinstance(module, nn.Sequential):
        return sum(_weight_depth(m) for m in module)
    return sum(_weight_depth(m) for m in module.children())


def _patch(module: nn.Module, in_shape: tuple[int, ...] | None) -> str | None:
    if isinstance(module, nn.AdaptiveAvgPool2d) and in_shape is not None:
        return f"{in_shape[-1]}x{in_shape[-1]}/1"  # global: one window over the whole map
    k, s = getattr(module, "kernel_size", None), getattr(module, "stride", None)
    if k is None:
        return None
    k, s = (k[0] if isinstance(k, tuple) else k), (s[0] if isinstance(s, tuple) else s)
    return f"{k}x{k}/{s}"


def _googlenet_row(
    key: str, modules: dict[str, nn.Module], names: tuple[str, ...], shape: tuple, previous: Any
) -> dict[str, Any]:
    """The structural columns of one row of table 1 (the counts are filled in by the caller)."""
    last = modules[names[-1]]
    c = shape[0]
    row = dict.fromkeys(GOOGLENET_TABLE1_COLUMNS)
    row["type"] = GOOGLENET_PAPER_TABLE1[key][0]
    if isinstance(last, nn.Dropout):
        row["type"] = f"dropout ({last.p:.0%})"
    if not isinstance(last, Inception):
        row["patch size/stride"] = _patch(last.conv if hasattr(last, "conv") else last, previous)
    row["output size"] = f"{shape[1]}x{shape[2]}x{c}" if len(shape) == 3 else f"1x1x{c}"
    row["depth"] = sum(_weight_depth(modules[n]) for n in names)
    if isinstance(last, Inception):
        convs = [last.branch1, last.branch2[0], last.branch2[1], last.branch3[0],
                 last.branch3[1], last.branch4[1]]  # fmt: skip
        widths = [(m.conv if hasattr(m, "conv") else m).out_channels for m in convs]
        for col, w in zip(GOOGLENET_TABLE1_COLUMNS[4:10], widths, strict=True):
            row[col] = w
    elif key == "conv2+conv3":
        row["#3x3 reduce"] = modules["conv2"].conv.out_channels
        row["#3x3"] = modules["conv3"].conv.out_channels
    return row


def googlenet_table1(
    model: nn.Module | None = None, input_size: tuple[int, int, int, int] = (1, 3, 224, 224)
) -> dict[str, dict[str, Any]]:
    """Table 1 of the GoogLeNet paper, computed from a GoogLeNet (default: ``googlenet_paper``).

    One entry per row of :data:`GOOGLENET_PAPER_TABLE1` (same keys), with the columns of
    :data:`GOOGLENET_TABLE1_COLUMNS` read off the model: patch size and stride, output size,
    weight layers on the longest path ("depth"), the six widths of each Inception module,
    weights in the paper's unit (K = 1024) and MACs in millions; ``params`` (with biases) and
    ``macs`` hold the exact counts. Works for ``googlenet`` and ``googlenet_paper``.
    """
    if model is None:
        model = GoogLeNetPaper(aux_logits=False)
    groups = {name: (name,) for name in GOOGLENET_PAPER_TABLE1}
    groups["conv2+conv3"] = ("conv2", "conv3")  # the row "convolution 3x3/1"
    modules = dict(model.named_modules())
    missing = sorted({n for names in groups.values() for n in names} - set(modules))
    if missing:
        raise ValueError(
            f"googlenet_table1 expects a GoogLeNet with the modules of table 1; "
            f"{missing} are missing"
        )
    shapes = {r.name: r.output_shape for r in layer_table(model, input_size,
                                                          layers=list(modules)[1:])}  # fmt: skip
    macs = count_macs_by_module(model, input_size)
    rows: dict[str, dict[str, Any]] = {}
    previous = None  # the output of the row before (for the global pool's window)
    for key, names in groups.items():
        shape = shapes[names[-1]]
        row = _googlenet_row(key, modules, names, shape, previous)
        params = [p for n in names for p in modules[n].parameters()]
        weights = sum(p.numel() for p in params if p.dim() > 1)
        if weights:
            row["params (K)"] = round(weights / 1024, 1)
            row["ops (M)"] = round(sum(macs.get(n, 0) for n in names) / 1e6, 1)
        row["params"] = sum(p.numel() for p in params)
        row["macs"] = sum(macs.get(n, 0) for n in names)
        rows[key] = row
        previous = shape
    return rows


# ---------------------------------------------------------------------------------------------
# ResNet
# ---------------------------------------------------------------------------------------------

#: The paper's table 1, last row: "FLOPs" (in fact multiply-adds) x 10^9 for a 224x224 image.
RESNET_PAPER_TABLE1_GFLOPS: dict[str, float] = {
    "resnet18": 1.8,
    "resnet34": 3.6,
    "resnet50": 3.8,
    "resnet101": 7.6,
    "resnet152": 11.3,
}

#: The five networks of table 1 as the paper builds them (v1 bottlenecks for 50 and deeper).
RESNET_TABLE1_ARCHS = ("resnet18", "resnet34", "resnet50_paper", "resnet101_paper",
                       "resnet152_paper")  # fmt: skip


def _conv_cell(conv: nn.Conv2d) -> str:
    k = conv.kernel_size[0]
    stride = f", stride {conv.stride[0]}" if conv.stride[0] != 1 else ""
    return f"{k}×{k}, {conv.out_channels}{stride}"


def _stage_cell(stage: nn.Sequential) -> str:
    """``[3×3, 64; 3×3, 64] × 2``: the convolutions of a stage's blocks and how many blocks."""
    block = stage[-1]  # a block without a stride: the stage's repeated pattern
    convs = [m for n, m in block.named_children() if n.startswith("conv")]
    inner = "; ".join(f"{c.kernel_size[0]}×{c.kernel_size[1]}, {c.out_channels}" for c in convs)
    return f"[{inner}] × {len(stage)}"


def _arch_label(name: str) -> str:
    match = re.fullmatch(r"resnet(\d+)(_paper)?", name)
    return f"{match.group(1)}-layer" if match else name


def _resnet_column(model: ResNet, image_size: int) -> tuple[list[str], list[tuple]]:
    """The cells of one network's column (conv1 ... classifier) and each row's output shape."""
    stages = [model.layer1, model.layer2, model.layer3, model.layer4]
    model.eval()
    with torch.no_grad():  # output sizes, stage by stage (one forward pass)
        x = model.relu(model.bn1(model.conv1(torch.zeros(1, 3, image_size, image_size))))
        sizes = [tuple(x.shape[1:])]
        x = model.maxpool(x)
        for stage in stages:
            x = stage(x)
            sizes.append(tuple(x.shape[1:]))
        sizes.append((model.fc.out_features,))
    pool = model.maxpool
    cells = [_conv_cell(model.conv1)]
    cells.append(f"{pool.kernel_size}×{pool.kernel_size} max pool, stride {pool.stride}; "
                 + _stage_cell(stages[0]))  # fmt: skip
    cells += [_stage_cell(stage) for stage in stages[1:]]
    cells.append(f"average pool, {model.fc.out_features}-d fc, softmax")
    return cells, sizes


def resnet_table1(
    archs: Sequence[str] = RESNET_TABLE1_ARCHS, image_size: int = 224
) -> list[dict[str, str]]:
    """The ResNet paper's table 1, generated from the models: one row per stage, one column
    per net (``18-layer`` ...; torchvision's v1.5 nets such as ``"resnet50"`` are labelled by
    name where labels would clash), then the MACs per image (``MACs (10^9)``), the published
    values (``paper (10^9)``) and the parameters (``params (10^6)``). Output sizes are those of
    the first net on an ``image_size`` image.

    >>> [row["layer name"] for row in resnet_table1(["resnet18"])][:3]
    ['conv1', 'conv2_x', 'conv3_x']
    """
    if isinstance(archs, str):
        archs = [archs]
    archs = list(archs)
    if not archs:
        raise ValueError("resnet_table1 needs at least one architecture, e.g. 'resnet50_paper'")
    if not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int of at least 32 pixels; got {image_size!r}")
    labels = [_arch_label(a) for a in archs]
    labels = [a if labels.count(lb) > 1 else lb for a, lb in zip(archs, labels, strict=True)]
    names = ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "classifier"]
    rows: list[dict[str, str]] = [{"layer name": n, "output size": ""} for n in names]
    extra = [{"layer name": n, "output size": ""} for n in ("MACs (10^9)", "paper (10^9)")]
    extra.append({"layer name": "params (10^6)", "output size": ""})
    for arch, label in zip(archs, labels, strict=True):
        model = create(arch)
        if not isinstance(model, ResNet):
            raise ValueError(
                f"resnet_table1 needs ImageNet ResNets (resnet18 ... resnet152); got {arch!r}"
            )
        cells, sizes = _resnet_column(model, image_size)
        macs = count_macs(model, (1, 3, image_size, image_size))
        if not rows[0]["output size"]:
            for row, shape in zip(rows, sizes, strict=True):
                row["output size"] = "1×1" if len(shape) == 1 else f"{shape[-2]}×{shape[-1]}"
        for row, cell in zip(rows, cells, strict=True):
            row[label] = cell
        base = arch.removesuffix("_paper")
        published = RESNET_PAPER_TABLE1_GFLOPS.get(base) if arch.endswith("_paper") or base in (
            "resnet18", "resnet34"
        ) else None  # fmt: skip
        extra[0][label] = f"{macs / 1e9:.2f}"
        extra[1][label] = "—" if published is None else f"{published:g}"
        extra[2][label] = f"{count_params(model) / 1e6:.1f}"
    return rows + extra
