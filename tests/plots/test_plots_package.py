"""cnnlib.plots as a package: its names and its style (the direction of its imports is checked
in tests/test_layout.py)."""

from __future__ import annotations

import importlib

import matplotlib

matplotlib.use("Agg")

from cnnlib import plots  # noqa: E402

TOPICS = (
    "architecture",
    "diagrams",
    "ensemble",
    "experiments",
    "ilsvrc",
    "inside",
    "residual",
    "style",
    "training",
)
PUBLIC = {  # every name the book's notebooks use, under the name it had in cnnlib.viz
    "PALETTE", "STYLE", "book_style", "use_style",
    "plot_error_by_depth", "plot_depth_vs_error", "plot_feature_maps", "plot_filters",
    "plot_gradient_norms", "plot_history", "plot_ilsvrc_winners", "plot_image_rows",
    "plot_layer_responses", "plot_lesion", "plot_occlusion", "plot_param_share",
    "plot_path_lengths", "plot_reconstructions", "plot_residual_blocks", "plot_spectrum",
    "plot_stage_costs", "plot_training_error", "plot_width_and_receptive_field",
    "plot_experiment",  # new with cnnlib.experiments
    "plot_network", "plot_inception_modules",  # architecture diagrams drawn from the models
    "effective_path_range", "plot_deletions", "plot_line_gradients", "plot_path_gradients",
    "plot_single_deletions",  # the ensemble view and shattered gradients
    "plot_top_patches",  # Zeiler & Fergus's figure 2
}  # fmt: skip


def test_every_public_name_is_exported_from_its_topic_module():
    assert set(plots.__all__) == PUBLIC
    exported = {}
    for topic in TOPICS:
        module = importlib.import_module(f"cnnlib.plots.{topic}")
        for name in module.__all__:
            assert name not in exported, f"{name} in {exported.get(name)} and {topic}"
            exported[name] = topic
            assert getattr(plots, name) is getattr(module, name)
    assert set(exported) == PUBLIC


def test_book_style_keeps_interactive_mode():
    was = matplotlib.is_interactive()
    try:
        with plots.book_style():
            matplotlib.interactive(True)  # what an inline backend does on its first figure
        assert matplotlib.is_interactive()
    finally:
        matplotlib.interactive(was)


def test_use_style_applies_the_book_style():
    with matplotlib.rc_context():
        plots.use_style()
        assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"] == plots.PALETTE
        assert matplotlib.rcParams["svg.hashsalt"] == "cnnlib"
