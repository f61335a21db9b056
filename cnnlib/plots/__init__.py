"""Every figure of the book, one module per topic, all drawn in one style.

Each function returns the matplotlib ``Figure`` it draws (never calling ``plt.show()``); in a
notebook assign it (``fig = plots.plot_history(...)``) so the inline backend shows it once.
:func:`use_style` makes the book's style global for your own plots. Nothing in cnnlib imports
this package.
"""

from __future__ import annotations

from cnnlib.plots.architecture import (
    plot_param_share,
    plot_residual_blocks,
    plot_stage_costs,
    plot_width_and_receptive_field,
)
from cnnlib.plots.diagrams import plot_inception_modules, plot_network
from cnnlib.plots.ensemble import (
    effective_path_range,
    plot_deletions,
    plot_line_gradients,
    plot_path_gradients,
    plot_single_deletions,
)
from cnnlib.plots.experiments import plot_experiment
from cnnlib.plots.ilsvrc import plot_depth_vs_error, plot_ilsvrc_winners
from cnnlib.plots.inside import (
    plot_feature_maps,
    plot_filters,
    plot_image_rows,
    plot_occlusion,
    plot_reconstructions,
    plot_top_patches,
)
from cnnlib.plots.residual import (
    plot_layer_responses,
    plot_lesion,
    plot_path_lengths,
    plot_spectrum,
)
from cnnlib.plots.style import PALETTE, STYLE, book_style, use_style
from cnnlib.plots.training import (
    plot_error_by_depth,
    plot_gradient_norms,
    plot_history,
    plot_training_error,
)

__all__ = [
    "PALETTE",
    "STYLE",
    "book_style",
    "effective_path_range",
    "plot_deletions",
    "plot_line_gradients",
    "plot_path_gradients",
    "plot_single_deletions",
    "plot_error_by_depth",
    "plot_depth_vs_error",
    "plot_experiment",
    "plot_feature_maps",
    "plot_filters",
    "plot_gradient_norms",
    "plot_history",
    "plot_ilsvrc_winners",
    "plot_image_rows",
    "plot_inception_modules",
    "plot_layer_responses",
    "plot_lesion",
    "plot_network",
    "plot_occlusion",
    "plot_param_share",
    "plot_path_lengths",
    "plot_reconstructions",
    "plot_top_patches",
    "plot_residual_blocks",
    "plot_spectrum",
    "plot_stage_costs",
    "plot_training_error",
    "plot_width_and_receptive_field",
    "use_style",
]
