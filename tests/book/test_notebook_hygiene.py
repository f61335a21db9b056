"""Every chapter notebook is clean: it starts with the setup cell (the same in every notebook, with
the repository URL of _config.yml), its stored outputs hold no error, traceback or path of the
machine they ran on, its cells ran in order, and it has a title, learning goals and exercises.

nbval (see pyproject.toml) then re-runs every notebook and compares the outputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from cnnlib.notebook import SETUP_TAGS, repository_url, setup_cell_source

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPO_URL = repository_url(ROOT / "_config.yml")

# Absolute paths of this kind of machine: home folders, temp and system folders, the checkout.
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~])(/(home|root|Users|tmp|private|var|opt|usr|mnt|srv|work|content|data)/"
    r"|[A-Za-z]:\\\\?(Users|Windows)\\)"
)
IMAGE_KEYS = ("image/png", "image/jpeg", "image/gif")


def _load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _output_texts(cell) -> list[str]:
    texts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append(out["text"])
        for key, value in out.get("data", {}).items():
            if key not in IMAGE_KEYS:
                texts.append(value if isinstance(value, str) else str(value))
        texts.extend(out.get("traceback", []))
    return texts


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks in notebooks/"
    for path in NOTEBOOKS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"name: {path.name}"


def test_setup_cell_source_follows_config():
    source = setup_cell_source(REPO_URL)
    assert f'"cnnlib @ git+{REPO_URL}"' in source
    assert "cnnlib.notebook.setup(seed=0)" in source
    assert REPO_URL == "https://github.com/classic-cnns/classic-cnns-book"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return _load(request.param)


def test_starts_with_the_setup_cell(nb):
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    first = code[0]
    assert first.source == setup_cell_source(REPO_URL), (
        "the first code cell must be the setup cell of cnnlib.notebook "
        "(rewrite it with tools/refresh_notebooks.py --fix-setup)"
    )
    for tag in SETUP_TAGS:
        assert tag in _tags(first), f"setup cell lacks the tag {tag!r}"
    # only the title, goals and introduction come before it
    before = nb.cells[: nb.cells.index(first)]
    assert all(c.cell_type == "markdown" for c in before)


def test_repository_urls_agree_with_config(nb):
    for cell in nb.cells:
        for url in re.findall(r"git\+(https://[^\s\"'@]+)", cell.source):
            assert url.rstrip("/") == REPO_URL, f"{url} is not repository.url of _config.yml"


def test_no_errors_in_stored_outputs(nb):
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"cell {i} stored an error"
        text = "\n".join(_output_texts(cell))
        assert "Traceback (most recent call last)" not in text, f"cell {i} stored a traceback"


def test_no_absolute_paths_in_stored_outputs(nb):
    for i, cell in enumerate(nb.cells):
        for text in _output_texts(cell):
            m = ABSOLUTE_PATH.search(text)
            context = text[max(0, m.start() - 40) : m.end() + 40] if m else ""
            assert not m, f"cell {i} output holds a path of the machine: ...{context}..."


def test_executed_in_order_top_to_bottom(nb):
    """Top to bottom in one kernel (a cell tagged ``standalone`` may have been run alone after the
    setup cell by ``refresh_notebooks.py --only-tag standalone``, which numbers it in place)."""
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts}: run the notebook top to bottom in a fresh kernel "
        "(tools/refresh_notebooks.py)"
    )


def test_outputs_are_regression_friendly(nb):
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = _tags(cell)
        assert not {"parameters", "injected-parameters"} & set(tags), (
            f"cell {i}: papermill cells would override the profile"
        )
        assert "NBVAL_" not in cell.source, f"cell {i}: use a cell tag, not an NBVAL comment"
        for out in cell.get("outputs", []):
            assert "image/svg+xml" not in out.get("data", {}), (
                f"cell {i}: SVG figures never compare equal; store PNG"
            )
            if "nbval-ignore-output" not in tags and "nbval-skip" not in tags:
                assert not (out.get("output_type") == "stream" and out.get("name") == "stderr"), (
                    f"cell {i}: writes to stderr but its output is compared; "
                    "silence it or tag the cell nbval-ignore-output"
                )


def test_kernelspec(nb):
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_title_learning_goals_and_exercises(nb):
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert markdown and re.match(r"# \S", markdown[0]), "the first cell is the title (# ...)"
    text = "\n".join(markdown)
    assert re.search(r"learning goals", text, re.IGNORECASE), "no learning goals"
    assert re.search(r"^## Exercises", text, re.MULTILINE), "no '## Exercises' section"
    exercises = text[text.index("## Exercises") :]
    assert len(re.findall(r"^\d+\. ", exercises, re.MULTILINE)) >= 3, "fewer than 3 exercises"


def _images(cell) -> int:
    return sum(any(k in out.get("data", {}) for k in IMAGE_KEYS) for out in cell.get("outputs", []))


def test_every_figure_has_a_caption_and_a_label_the_text_refers_to(nb):
    """One image per figure cell, each with a MyST caption and label (``mystnb.figure``), and the
    prose points to each label with {numref}; labels are unique."""
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    names = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not _images(cell):
            continue
        figure = cell.metadata.get("mystnb", {}).get("figure", {})
        assert _images(cell) == 1, f"cell {i}: {_images(cell)} images under one caption"
        assert figure.get("caption", "").strip(), f"cell {i}: a figure without a caption"
        assert re.fullmatch(r"fig-[a-z0-9-]+", figure.get("name", "")), f"cell {i}: label?"
        names.append(figure["name"])
        assert f"{{numref}}`{figure['name']}`" in markdown, f"{figure['name']} is never referred to"
    assert len(names) == len(set(names)), f"duplicate figure labels: {names}"


def test_tables_render_as_text_too(nb):
    """A pandas Styler stores ``<pandas.io.formats.style.Styler at 0x...>`` as its text: a table
    must be a DataFrame (or printed) so that it reads in a terminal and in nbval as well."""
    for i, cell in enumerate(nb.cells):
        for text in _output_texts(cell) if cell.cell_type == "code" else []:
            assert "Styler at 0x" not in text, f"cell {i}: a Styler's repr instead of a table"


DIAGRAMS = re.compile(r"plots\.(plot_network|plot_inception_modules|plot_residual_blocks)\(")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.name[:2] in {"02", "03", "04", "05",
                                                                          "06", "07"}],
                         ids=lambda p: p.stem)  # fmt: skip
def test_each_architecture_chapter_draws_a_diagram_from_a_model(path):
    nb = _load(path)
    drawn = [c for c in nb.cells if c.cell_type == "code" and DIAGRAMS.search(c.source)]
    assert drawn, f"{path.name}: no architecture diagram drawn from a cnnlib model"
    assert all(_images(c) == 1 for c in drawn), "a diagram cell without its stored figure"


def test_chapters_link_to_each_other():
    """ "chapter 6", "the VGG chapter", "the next chapter" in prose are {doc} links."""
    plain = re.compile(r"(?<![<`{])\b((next|AlexNet|ZFNet|VGG|GoogLeNet|ResNet)\s+chapter|"
                       r"[Cc]hapters?\s+\d)\b(?![^`]*>`)")  # fmt: skip
    found = []
    for path in NOTEBOOKS:
        for cell in _load(path).cells:
            if cell.cell_type == "markdown":
                found += [f"{path.name}: {m.group(0)!r}" for m in plain.finditer(cell.source)]
    assert not found, "chapter references that are not links:\n" + "\n".join(found)
