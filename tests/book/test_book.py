"""The book: its configuration, table of contents, references and glossary, and the build itself
(``jupyter-book build . -W -n --keep-going``: warnings are errors, every reference is checked).

The build runs once per test session (``book_build`` in the root conftest.py); tests/test_site.py
checks the HTML it produced.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
BIB = ROOT / "book" / "references.bib"
GLOSSARY = ROOT / "book" / "glossary.md"

# The chapters of the book, in reading order; later sessions add the notebooks.
CHAPTERS = [
    "01_ilsvrc",
    "02_alexnet",
    "03_zfnet",
    "04_vgg",
    "05_googlenet",
    "06_resnet",
    "07_residual_gradient",
]
PARTS = {
    "Foundations": ["01_ilsvrc"],
    "The networks": ["02_alexnet", "03_zfnet", "04_vgg", "05_googlenet", "06_resnet"],
    "Why it works": ["07_residual_gradient"],
}


def toc_entries() -> list[tuple[str, str]]:
    """(part caption, file) for every chapter of _toc.yml."""
    return [
        (part["caption"], chapter["file"])
        for part in TOC["parts"]
        for chapter in part.get("chapters", [])
    ]


def sources() -> dict[str, str]:
    """Markdown text of every page of the book: book/*.md and the notebooks' markdown cells."""
    texts = {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in ROOT.glob("book/*.md")
    }
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        texts[str(path.relative_to(ROOT))] = "\n\n".join(
            c.source for c in nb.cells if c.cell_type == "markdown"
        )
    return texts


# ------------------------------------------------------------------------------ configuration


def test_config():
    assert CONFIG["only_build_toc_files"] is True
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    for pattern in ("README.md", "tests", "cnnlib", "benchmarks", ".venv", "_build"):
        assert pattern in CONFIG["exclude_patterns"], pattern
    extensions = set(CONFIG["parse"]["myst_enable_extensions"])
    assert {"dollarmath", "amsmath", "colon_fence", "deflist", "substitution"} <= extensions
    assert CONFIG["bibtex_bibfiles"] == ["book/references.bib"]
    assert CONFIG["repository"] == {
        "url": "https://github.com/classic-cnns/classic-cnns-book",
        "path_to_book": "",
        "branch": "main",
    }
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["html"]["use_repository_button"] is True
    assert CONFIG["sphinx"]["config"]["html_theme_options"]["use_download_button"] is True


def test_repository_url_is_set_in_one_place():
    """Only _config.yml names the repository; notebooks get it through cnnlib.notebook."""
    url = CONFIG["repository"]["url"]
    offenders = []
    for path in [*ROOT.glob("book/*.md"), ROOT / "_toc.yml", *ROOT.glob("cnnlib/**/*.py")]:
        if url in path.read_text(encoding="utf-8"):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"the repository URL is repeated in {offenders}; use _config.yml"


# ------------------------------------------------------------------------------ contents


def test_toc_files_exist():
    files = [TOC["root"], *(f for _, f in toc_entries())]
    missing = [f for f in files if not any((ROOT / f"{f}{s}").exists() for s in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists missing files: {missing}"
    assert TOC["root"] == "book/intro"
    reference = [f for part, f in toc_entries() if part == "Reference"]
    assert reference == ["book/running", "book/glossary", "book/bibliography"]


def test_every_notebook_is_a_chapter_in_order():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks"
    unknown = set(notebooks) - set(CHAPTERS)
    assert not unknown, f"notebooks that are not chapters of the book: {unknown}"
    listed = [(part, f.split("/")[-1]) for part, f in toc_entries() if f.startswith("notebooks/")]
    assert sorted(f for _, f in listed) == notebooks, "every notebook is in _toc.yml, once"
    assert [f for _, f in listed] == [c for c in CHAPTERS if c in notebooks], "reading order"
    for part, chapter in listed:
        assert chapter in PARTS[part], f"{chapter} belongs in another part than {part!r}"


def test_intro_lists_every_chapter():
    intro = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d) \| (.+?) \|", intro, re.MULTILINE)
    assert [int(n) for n, _ in rows] == list(range(1, 8))
    notebooks = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    for (_, cell), chapter in zip(rows, CHAPTERS, strict=True):
        if chapter in notebooks:
            assert f"notebooks/{chapter}" in cell, f"chapter {chapter} is written: link it"
        else:
            assert "coming" in cell, f"chapter {chapter} is not written: mark it as coming"


def test_running_page_has_the_readme_commands():
    running = (ROOT / "book" / "running.md").read_text(encoding="utf-8")
    venv = "python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt"
    assert f"{venv} && .venv/bin/jupyter-book build ." in running
    assert f"{venv} && .venv/bin/python -m pytest" in running
    for word in ("smoke", "cpu", "gpu", "CNNLIB_PROFILE", "CNNLIB_DATA", "Colab"):
        assert word in running, word
    assert "tools/refresh_notebooks.py" in running


# ------------------------------------------------------------------------------ references


def bib_keys() -> list[str]:
    return re.findall(r"^@\w+\{([^,\s]+),", BIB.read_text(encoding="utf-8"), re.MULTILINE)


def test_bibliography_parses_without_duplicates():
    from pybtex.database import parse_file

    keys = bib_keys()
    assert len(keys) == len(set(keys)), "duplicate BibTeX keys"
    data = parse_file(str(BIB))
    assert set(data.entries) == set(keys)
    for key, entry in data.entries.items():
        assert entry.fields.get("title"), key
        assert entry.fields.get("year"), key
        assert entry.persons.get("author"), key


@pytest.mark.parametrize(
    "key",
    [
        "krizhevsky2012imagenet",
        "zeiler2014visualizing",
        "simonyan2015very",
        "szegedy2015going",
        "he2016deep",
        "he2016identity",
        "veit2016residual",
        "russakovsky2015imagenet",
        "nair2010rectified",
        "jarrett2009what",
        "srivastava2014dropout",
        "hinton2012improving",
        "ioffe2015batch",
        "szegedy2016rethinking",
        "araujo2019computing",
        "hu2018squeeze",
        "sanchez2011high",
        "lin2011large",
        "deng2009imagenet",
        "krizhevsky2009learning",
    ],
)
def test_papers_the_book_cites_are_in_the_bibliography(key):
    assert key in bib_keys()


def test_every_citation_resolves():
    keys = set(bib_keys())
    missing = {}
    for page, text in sources().items():
        for role in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in role.split(","):
                if key.strip() not in keys:
                    missing.setdefault(page, []).append(key.strip())
    assert not missing, f"citations without a BibTeX entry: {missing}"


def glossary_terms() -> set[str]:
    text = GLOSSARY.read_text(encoding="utf-8")
    block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.DOTALL).group(1)
    return {line.strip().lower() for line in block.splitlines() if line and not line[0].isspace()}


def test_glossary_has_the_terms_of_the_source_notes():
    terms = glossary_terms()
    for english, chinese in [
        ("residual", "残差"),
        ("degradation problem", "梯度退化"),
        ("identity mapping", "恒等映射"),
        ("bottleneck block", "瓶颈块"),
        ("receptive field", "感受野"),
        ("auxiliary classifier", "辅助分类器"),
        ("vanishing gradient", "梯度消失"),
        ("residual block", "残差块"),
        ("data augmentation", "数据增强"),
        ("overfitting", "过拟合"),
        ("feature map", "特征图"),
        ("convolution kernel", "卷积核"),
        ("fully connected layer", "全连接层"),
        ("ensemble", "模型集成"),
        ("concatenation", "拼接"),
    ]:
        assert english in terms, english
        assert chinese in terms, chinese


def test_every_term_reference_resolves():
    terms = glossary_terms()
    missing = {}
    for page, text in sources().items():
        for role in re.findall(r"\{term\}`([^`]+)`", text):
            target = re.search(r"<([^>]+)>$", role)
            name = (target.group(1) if target else role).strip().lower()
            if name not in terms:
                missing.setdefault(page, []).append(name)
    assert not missing, f"{{term}} references to no glossary entry: {missing}"


# ------------------------------------------------------------------------------ the build


def test_book_builds_without_warnings(book_build):
    """``jupyter-book build . -W -n --keep-going`` passes (warnings are errors, nitpicky)."""
    assert book_build.returncode == 0, (
        f"the book build failed ({len(book_build.warnings)} warnings/errors):\n"
        + "\n".join(book_build.warnings[:50])
        + "\n--- end of the build log ---\n"
        + book_build.output[-4000:]
    )
    assert not book_build.warnings, "\n".join(book_build.warnings)
    assert (book_build.html / "index.html").is_file()
    print(f"book built in {book_build.seconds:.1f} s into {book_build.html}")
