"""cnnlib's layout (DESIGN.md, "one home per responsibility"): no import cycle among its modules
(imports inside functions included), dependencies one way, small files and functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlib"
MODULES = {
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
    for p in sorted(PACKAGE.rglob("*.py"))
}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str) -> set[str]:
    """The cnnlib modules ``module`` imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)  # `from cnnlib import data` imports cnnlib.data
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target
                     for a in node.names]  # fmt: skip
        else:
            continue
        found |= {n for n in names if n in MODULES and n != module}
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _owner(module: str) -> str:
    """The module's home at the top of the package: cnnlib.train.loop -> cnnlib.train."""
    return ".".join(module.split(".")[:2])


def test_no_import_cycle_among_modules():
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n] if n in path else [m, n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in GRAPH:
        if m not in state:
            visit(m, [m])


# The design's order, bottom first: a module imports only from its own home or from lower ones.
LAYERS = [
    {"cnnlib.runtime"},
    {"cnnlib.distributed", "cnnlib.profile", "cnnlib.ilsvrc"},
    {"cnnlib.models"},
    {"cnnlib.data", "cnnlib.analysis"},
    {"cnnlib.train"},
    {"cnnlib.interpret", "cnnlib.patches", "cnnlib.residual", "cnnlib.ensemble"},
    {"cnnlib.experiments"},
    {"cnnlib.plots"},
    {"cnnlib.notebook"},
    {"cnnlib"},  # the package root, which imports models and loads the rest lazily
]


def _layer(home: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if home in layer)


def test_dependencies_run_one_way():
    upward = []
    for m, targets in GRAPH.items():
        for n in targets:
            if _layer(_owner(n)) > _layer(_owner(m)):
                upward.append(f"{m} imports {n}")
    assert not upward, "\n".join(upward)


def test_the_import_finder_sees_imports_inside_functions_and_relative_ones(monkeypatch, tmp_path):
    source = tmp_path / "x.py"
    source.write_text(
        "def f():\n    from cnnlib import plots\n\ndef g():\n    from .. import data\n"
    )
    monkeypatch.setitem(MODULES, "cnnlib.train.x", source)
    assert _imports("cnnlib.train.x") == {"cnnlib.plots", "cnnlib.data"}


def test_nothing_imports_plots():
    assert not [m for m, targets in GRAPH.items() if not m.startswith("cnnlib.plots")
                and any(n.startswith("cnnlib.plots") for n in targets)]  # fmt: skip


def test_models_import_no_analysis_train_plots_experiments_or_data():
    bad = [
        f"{m} imports {n}"
        for m, targets in GRAPH.items()
        if m.startswith("cnnlib.models")
        for n in targets
        if not n.startswith(("cnnlib.models", "cnnlib.runtime"))
    ]
    assert not bad, "\n".join(bad)


def test_no_file_over_500_lines_and_no_function_over_80():
    long_files = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 500}
    assert not long_files
    long_functions = []
    for m, p in MODULES.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long_functions.append(f"{m}.{node.name}: {n} lines")
    assert not long_functions, "\n".join(long_functions)


def test_every_module_says_what_it_is_for():
    missing = [m for m, p in MODULES.items() if not ast.get_docstring(ast.parse(p.read_text()))
               and p.name != "__main__.py"]  # fmt: skip
    assert not missing


def test_the_old_module_names_are_gone():
    for old in ("viz", "visualize", "history", "gradients", "augment"):
        assert f"cnnlib.{old}" not in MODULES, old


def test_every_top_level_module_is_reachable_from_the_package():
    """``cnnlib.<name>`` works after a bare ``import cnnlib`` for every module of the package."""
    import cnnlib

    top = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    assert set(cnnlib.__all__) - {"__version__"} == top
