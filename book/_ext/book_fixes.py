"""Small fixes to the Jupyter Book 1.x HTML, loaded as a local Sphinx extension (_config.yml).

- Inline scripts added with ``app.add_js_file(None, body=...)`` after the HTML builder started
  (sphinx-thebe's configuration script) are written twice by Sphinx < 8.2, so every page throws
  "Identifier 'THEBE_JS_URL' has already been declared" (sphinx-doc/sphinx#13402, fixed upstream
  in a Sphinx that Jupyter Book 1 does not support). Each page's scripts are de-duplicated here.
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
