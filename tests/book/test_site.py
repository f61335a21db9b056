"""Checks of the built site (the HTML of the session's book build, see ``book_build`` in the root
conftest.py): every page of the table of contents exists, every internal link and image resolves,
every chapter links to Colab at its own path; then headless Chromium opens every page, checks
that its images load, its math is there and no script fails, and saves a screenshot of it under
the build directory (``<build>/_build/screenshots``).

The browser part needs Debian's ``chromium`` and ``chromedriver`` (``.ci/run`` installs them); it
is skipped, saying so, where they are missing. It never downloads a browser: selenium is given
the driver's path, and every request outside the local server fails (the check does not depend on
the network, and a page must work without it).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def toc_files(toc: dict = TOC) -> list[str]:
    """Every ``file`` of the table of contents, the root first, without suffix."""
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def source_of(docname: str) -> Path:
    for suffix in (".md", ".ipynb"):
        if (ROOT / (docname + suffix)).exists():
            return ROOT / (docname + suffix)
    raise FileNotFoundError(docname)


def expects_math(docname: str) -> bool:
    """Does the page's source contain math ($...$, $$...$$ or a math directive)?"""
    text = source_of(docname).read_text(encoding="utf-8")
    return bool(re.search(r"\$[^$\s][^$]*\$|\{math\}|\\begin\{", text))


@pytest.fixture(scope="module")
def html(book_build) -> Path:
    if book_build.returncode != 0:
        pytest.fail("the book build failed (see tests/test_book.py):\n" + book_build.output[-3000:])
    return book_build.html


# ------------------------------------------------------------------------------ static checks


class _Links(HTMLParser):
    """Collects ids and the URLs of links, images, scripts and stylesheets of one page."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "script", "link", "source", "iframe"):
                self.refs.append((tag, a[key]))


@functools.cache
def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_toc_entry_has_a_page(html):
    missing = [f for f in toc_files() if not (html / f"{f}.html").is_file()]
    assert not missing, f"no page built for these _toc.yml entries: {missing}"
    assert (html / "index.html").is_file()


def test_internal_links_and_images_resolve(html):
    broken = []
    # the book's pages (not the theme's template fragments under _static/)
    pages = sorted(p for p in html.rglob("*.html") if p.relative_to(html).parts[0] != "_static")
    assert pages
    for page in pages:
        for tag, url in _parse(page).refs:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):  # http(s), mailto, data:, javascript:
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(html)}: <{tag}> {url}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html" and tag == "a":
                if unquote(parts.fragment) not in _parse(target).ids:
                    broken.append(f"{where} (no element with this id)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def colab_url(notebook: str) -> str:
    repo = urlsplit(CONFIG["repository"]["url"].rstrip("/")).path.strip("/")
    book = (CONFIG["repository"].get("path_to_book") or "").strip("/")
    path = f"{book}/{notebook}" if book else notebook
    branch = CONFIG["repository"]["branch"]
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}.ipynb"


@pytest.mark.parametrize(
    "docname", [f for f in toc_files() if source_of(f).suffix == ".ipynb"] or ["(none)"]
)
def test_notebook_pages_link_to_colab(html, docname):
    if docname == "(none)":
        pytest.skip("no notebook in _toc.yml")
    links = {url for tag, url in _parse(html / f"{docname}.html").refs if "colab" in url}
    assert colab_url(docname) in links, f"expected {colab_url(docname)}, found {sorted(links)}"


def test_chapter_pages_show_no_error_output(html):
    for docname in toc_files():
        if source_of(docname).suffix != ".ipynb":
            continue
        text = (html / f"{docname}.html").read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, docname
        assert 'class="output traceback' not in text, docname


# ------------------------------------------------------------------------------ in a browser


def _find(candidates, name):
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(html):
    """The built HTML served on localhost (as the published site would be, over HTTP)."""
    handler = functools.partial(_QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    chromium = _find(CHROMIUM_CANDIDATES, "chromium")
    driver_path = _find(CHROMEDRIVER_CANDIDATES, "chromedriver")
    if not chromium or not driver_path:
        pytest.skip(
            "headless browser check skipped: chromium and chromedriver are not installed "
            "(Debian/Ubuntu: apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile_dir}",
        "--window-size=1280,1000",
        # No request leaves the machine: every host but the local server fails to resolve, so
        # the check behaves the same with and without internet.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def _external_failure(entry: dict, base: str) -> bool:
    """Is this console error a blocked request to another host (expected: no network)?"""
    message = entry.get("message", "")
    urls = re.findall(r"(?:https?|wss?)://[^\s\"')]+", message)
    if not urls:
        return False
    first = urls[0]
    if first.startswith(base):
        return False
    return bool(re.search(r"net::ERR_|Failed to load resource|ERR_NAME_NOT_RESOLVED", message))


_MATHJAX_DONE = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done("no MathJax"); }
else { MathJax.startup.promise.then(() => done("ok"), (e) => done(String(e))); }
"""


def _check_math(browser, server: str, docname: str) -> None:
    """MathJax comes from the site itself (it renders offline) and typesets every equation: no
    raw \\( \\) , \\[ \\] or $$ is left as text."""
    src = browser.execute_script(
        "const s = document.querySelector('script[src*=\"mathjax\" i]'); return s && s.src"
    )
    assert src and src.startswith(server), f"{docname}: MathJax is not served locally: {src}"
    browser.set_script_timeout(60)
    assert browser.execute_async_script(_MATHJAX_DONE) == "ok", f"{docname}: MathJax did not run"
    n_math = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert n_math > 0, f"{docname}: the source has math, the page shows none rendered"
    text = browser.execute_script("return document.querySelector('main, article, body').innerText")
    raw = [d for d in ("\\(", "\\[", "$$") if d in text]
    assert not raw, f"{docname}: math left as raw text ({raw})"


@pytest.mark.parametrize("docname", toc_files())
def test_page_in_browser(browser, server, book_build, docname):
    from selenium.webdriver.support.ui import WebDriverWait

    url = urljoin(server, f"{docname}.html")
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    title = browser.title
    assert title and "404" not in title, f"{docname}: title {title!r}"

    # every image: scrolled into view (lazy loading), then loaded with a real size
    browser.execute_script("for (const i of document.images) i.loading = 'eager';")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete)"
        )
    )  # fmt: skip
    broken = browser.execute_script(
        "return Array.from(document.images)"
        ".filter(i => !(i.naturalWidth > 0)).map(i => i.currentSrc || i.src)"
    )
    assert not broken, f"{docname}: images that did not load: {broken}"

    if expects_math(docname):
        _check_math(browser, server, docname)

    # a phone-sized window (400 px) scrolls only vertically
    browser.set_window_size(400, 900)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    browser.set_window_size(1280, 1000)
    assert overflow <= 0, f"{docname}: {overflow} px of horizontal scroll in a 400 px window"

    # screenshot of the whole page
    shots = book_build.out_dir / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, max(800, min(int(height), 12000)))
    shot = shots / (docname.replace("/", "__") + ".png")
    browser.save_screenshot(str(shot))
    browser.set_window_size(1280, 1000)
    assert shot.stat().st_size > 10_000

    errors = [
        e
        for e in browser.get_log("browser")
        if e.get("level") == "SEVERE" and not _external_failure(e, server)
    ]
    assert not errors, f"{docname}: JavaScript errors:\n" + "\n".join(e["message"] for e in errors)
