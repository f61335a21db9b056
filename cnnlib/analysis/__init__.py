"""Analysis of a model, computed from the model, never typed in.

``costs`` (parameters, MACs, time, depth), ``receptive_field``, ``tables`` (per-layer tables),
``paper_tables`` (the papers' tables regenerated), ``diagram`` (a network read as a figure)
and ``dynamics`` (gradient, weight and response norms); ``tracing`` is the instrumented forward
pass they share. Everything public is importable from here:
``from cnnlib.analysis import count_macs, layer_table``.
"""

from __future__ import annotations

from cnnlib.analysis.costs import (
    count_macs,
    count_macs_by_module,
    count_params,
    network_depth,
    summary,
    time_by_module,
)
from cnnlib.analysis.diagram import Diagram, Node, Shortcut, network_diagram
from cnnlib.analysis.dynamics import (
    gradient_norms,
    gradient_norms_by_head,
    norms_by_block,
    response_stds,
    weight_norms,
)
from cnnlib.analysis.paper_tables import (
    GOOGLENET_PAPER_TABLE1,
    GOOGLENET_TABLE1_COLUMNS,
    RESNET_PAPER_TABLE1_GFLOPS,
    RESNET_TABLE1_ARCHS,
    VGG_PAPER_TABLE,
    ZFNET_PAPER_IMAGENET,
    ZFNET_PAPER_TRANSFER,
    googlenet_table1,
    resnet_table1,
    vgg_config_stages,
    vgg_stage_table,
)
from cnnlib.analysis.receptive_field import ReceptiveField, receptive_field, receptive_fields
from cnnlib.analysis.tables import LayerRow, LayerTable, layer_table
from cnnlib.analysis.tracing import IMAGENET_INPUT

__all__ = [
    "IMAGENET_INPUT",
    "Diagram",
    "Node",
    "Shortcut",
    "network_diagram",
    "count_macs",
    "count_macs_by_module",
    "count_params",
    "network_depth",
    "summary",
    "time_by_module",
    "ReceptiveField",
    "receptive_field",
    "receptive_fields",
    "LayerRow",
    "LayerTable",
    "layer_table",
    "GOOGLENET_PAPER_TABLE1",
    "GOOGLENET_TABLE1_COLUMNS",
    "RESNET_PAPER_TABLE1_GFLOPS",
    "RESNET_TABLE1_ARCHS",
    "VGG_PAPER_TABLE",
    "ZFNET_PAPER_IMAGENET",
    "ZFNET_PAPER_TRANSFER",
    "googlenet_table1",
    "resnet_table1",
    "vgg_config_stages",
    "vgg_stage_table",
    "gradient_norms",
    "gradient_norms_by_head",
    "norms_by_block",
    "response_stds",
    "weight_norms",
]
