"""cnnlib.analysis.tables: per-layer tables of VGG-16 and ResNet-50 (torchvision's) whose columns
sum to the model's totals, their renderings, and small networks counted by hand."""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
import torchvision
from small_nets import Branches, conv
from torch import nn

from cnnlib.analysis import LayerRow, LayerTable, count_macs, count_params, layer_table

IMAGENET = (1, 3, 224, 224)


@pytest.fixture(scope="module")
def vgg16():
    with torch.device("meta"):  # the table depends on the structure alone
        return torchvision.models.vgg16()


@pytest.fixture(scope="module")
def resnet50():
    with torch.device("meta"):
        return torchvision.models.resnet50()


@pytest.fixture(scope="module")
def vgg16_table(vgg16):
    return layer_table(vgg16, IMAGENET)


def test_vgg16_table_columns_sum_to_the_totals(vgg16, vgg16_table):
    table = vgg16_table
    assert isinstance(table, LayerTable)
    assert len(table) == 31 + 1 + 7  # features, avgpool, classifier leaves
    assert sum(row.params for row in table) == count_params(vgg16) == table.total_params
    assert sum(row.macs for row in table) == table.total_macs == count_macs(vgg16)
    assert "(other)" not in [row.name for row in table]


def test_vgg16_table_rows(vgg16_table):
    table = vgg16_table
    assert table[0].name == "features.0" and table[0].type == "Conv2d"
    assert table[0].params == 3 * 64 * 9 + 64
    assert table[0].macs == 64 * 224 * 224 * 27
    assert table["features.30"].output_shape == (512, 7, 7)
    assert (table["features.30"].rf_size, table["features.30"].rf_stride) == (212, 32)
    assert table["classifier.6"].output_shape == (1000,)
    assert table["classifier.6"].rf_size is None and table["classifier.6"].rf_stride is None
    assert table["classifier.0"].macs == 25088 * 4096
    # VGG's receptive fields grow by 2 * jump per 3x3 conv: 3, 5 | pool 6 | 10, 14
    assert [table[f"features.{i}"].rf_size for i in (0, 2, 4, 5, 7)] == [3, 5, 6, 10, 14]
    assert table.output_shape == (1000,)


def test_table_renders(vgg16_table):
    markdown = vgg16_table.to_markdown()
    lines = markdown.splitlines()
    assert lines[0] == "| Layer | Type | Output shape | Params | MACs | RF size | RF stride |"
    assert lines[1].startswith("|:---")
    assert "| features.30 | MaxPool2d | 512 × 7 × 7 | 0 | 0 | 212 | 32 |" in lines
    assert lines[-1].startswith("| **Total** |") and "**138,357,544**" in lines[-1]
    assert len(lines) == 2 + len(vgg16_table) + 1
    assert vgg16_table._repr_markdown_() == markdown
    page = vgg16_table._repr_html_()
    assert page.startswith("<table>") and page.count("<tr>") == len(vgg16_table) + 2
    text = str(vgg16_table)
    assert text.splitlines()[0].startswith("Layer") and "15,470,264,320" in text


def test_table_to_pandas(vgg16_table, monkeypatch):
    dicts = vgg16_table.to_dicts()
    assert dicts[0]["name"] == "features.0" and dicts[0]["output_shape"] == (64, 224, 224)
    try:
        import pandas  # noqa: F401
    except ImportError:
        pass
    else:
        frame = vgg16_table.to_pandas()
        assert list(frame["name"]) == [row.name for row in vgg16_table]
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError, match="pip install pandas"):
        vgg16_table.to_pandas()


def test_table_depth(resnet50):
    table = layer_table(resnet50, IMAGENET, depth=1)
    names = [row.name for row in table]
    assert names == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"] + [
        "avgpool",
        "fc",
    ]
    assert sum(row.params for row in table) == count_params(resnet50)
    assert sum(row.macs for row in table) == table.total_macs
    assert (table["layer4"].rf_size, table["layer4"].output_shape) == (427, (2048, 7, 7))
    # the global average pool sees 427 + 6 * 32 pixels
    assert (table["avgpool"].rf_size, table["avgpool"].rf_stride) == (619, 224)
    with pytest.raises(ValueError, match="depth"):
        layer_table(resnet50, depth=0)


def test_table_other_row_holds_what_no_layer_holds():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(4, 4, 3, 3))  # a container's own parameter
            self.conv = conv(3)

        def forward(self, x):
            return F.conv2d(self.conv(x), self.scale, padding=1)  # arithmetic outside a leaf

    model = nn.Sequential(Odd())
    table = layer_table(model, (1, 4, 8, 8))
    assert [row.name for row in table] == ["0.conv", "(other)"]
    assert table["(other)"].params == 4 * 4 * 9
    assert table["(other)"].macs == 4 * 8 * 8 * 4 * 9
    assert sum(row.params for row in table) == count_params(model)
    assert sum(row.macs for row in table) == count_macs(model, (1, 4, 8, 8))


def test_table_explicit_layers_include_containers():
    model = nn.Sequential(conv(3), Branches(), conv(3, in_channels=12))
    table = layer_table(model, (1, 4, 8, 8), layers=["2", "1", "1.b"])
    assert [row.name for row in table] == ["1", "1.b", "2"]  # forward order
    assert table["1"].params == count_params(model[1])  # children included
    assert table["1.b"].params == count_params(model[1].b)
    assert (table["1"].rf_size, table["1"].output_shape) == (7, (12, 8, 8))
    with pytest.raises(ValueError, match="no module named"):
        layer_table(model, (1, 4, 8, 8), layers=["3"])


def test_rows_are_layer_rows_and_table_lookups_fail_clearly(vgg16_table):
    assert all(isinstance(row, LayerRow) for row in vgg16_table)
    assert vgg16_table[-1] is vgg16_table.rows[-1] and vgg16_table.input_size == IMAGENET
    with pytest.raises(KeyError):
        vgg16_table["features.99"]
