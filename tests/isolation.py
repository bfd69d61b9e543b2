"""Keep the machine running the tests out of them: its config files and variables."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefixes: tuple[str, ...]) -> Path:
    """Drop env variables starting with ``prefixes``, point HOME at an empty folder, and run in
    ``tmp_path`` (so no ./lingma-proxy.json of the caller is found)."""
    for name in list(os.environ):
        if name.startswith(prefixes):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return tmp_path
