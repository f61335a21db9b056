"""Shared by the data tests: no test reads the user's data or cache, or writes into them."""

from __future__ import annotations

import pytest

from cnnlib.data import sources


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNLIB_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    sources._ZIP_MEMO.clear()
