"""cnnlib.plots as a package: its names, its style, and the direction of its imports (plots may
import models, analysis, interpret, ilsvrc and runtime; nothing in cnnlib imports plots)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import cnnlib  # noqa: E402
from cnnlib import plots  # noqa: E402

CNNLIB = Path(cnnlib.__file__).resolve().parent
PLOTS = CNNLIB / "plots"
TOPICS = ("architecture", "ilsvrc", "inside", "residual", "style", "training")
PUBLIC = {  # every name the book's notebooks use, under the name it had in cnnlib.viz
    "PALETTE", "STYLE", "book_style", "use_style",
    "plot_accuracy_by_depth", "plot_depth_vs_error", "plot_feature_maps", "plot_filters",
    "plot_gradient_norms", "plot_history", "plot_ilsvrc_winners", "plot_image_rows",
    "plot_layer_responses", "plot_lesion", "plot_occlusion", "plot_param_share",
    "plot_path_lengths", "plot_reconstructions", "plot_residual_blocks", "plot_spectrum",
    "plot_stage_costs", "plot_training_error", "plot_width_and_receptive_field",
}  # fmt: skip
MAY_IMPORT = ("cnnlib.plots", "cnnlib.models", "cnnlib.analysis", "cnnlib.interpret",
              "cnnlib.ilsvrc", "cnnlib.runtime")  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(CNNLIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Every module an import statement anywhere in ``source`` (functions included) names, as
    an absolute name; ``from a import b`` names both ``a`` and ``a.b``."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_every_name_of_the_old_viz_is_exported_from_its_topic_module():
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


def test_the_import_finder_sees_imports_inside_functions():
    source = "def f():\n    from cnnlib import plots\n\ndef g():\n    from .. import plots\n"
    found = imported_modules(source, "cnnlib.data.cifar10", is_package=False)
    assert "cnnlib.plots" in found
    assert imported_modules("from .plots import style", "cnnlib", is_package=True) >= {
        "cnnlib.plots",
        "cnnlib.plots.style",
    }
    assert imported_modules("import cnnlib.plots.inside as P", "cnnlib.x", False) == {
        "cnnlib.plots.inside"
    }


def test_nothing_outside_plots_imports_plots():
    files = [p for p in CNNLIB.rglob("*.py") if PLOTS not in p.parents]
    assert len(files) > 10
    offenders = {}
    for path in files:
        found = imported_modules(path.read_text(), module_name(path), path.name == "__init__.py")
        bad = sorted(name for name in found if is_under(name, "cnnlib.plots"))
        if bad:
            offenders[str(path.relative_to(CNNLIB))] = bad
    assert not offenders, f"cnnlib.plots imported from outside it: {offenders}"


def test_plots_imports_only_what_it_may():
    offenders = {}
    for path in sorted(PLOTS.glob("*.py")):
        found = imported_modules(path.read_text(), module_name(path), path.name == "__init__.py")
        bad = sorted(
            name
            for name in found
            if is_under(name, "cnnlib")
            and name != "cnnlib"
            and not any(is_under(name, allowed) for allowed in MAY_IMPORT)
        )
        if bad:
            offenders[path.name] = bad
    assert not offenders, f"cnnlib.plots imports beyond {MAY_IMPORT}: {offenders}"
