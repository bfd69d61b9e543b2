"""The house rules the design relies on, enforced: pure rooms import no I/O, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lingma_proxy"
PURE = ["ir.py", "sse.py", "dialects", "features"]
IO_MODULES = {"asyncio", "aiohttp", "httpx", "websockets", "sqlite3", "socket", "uvicorn",
              "starlette", "subprocess", "requests", "urllib.request", "http.client"}
MAX_LINES = 800


def _files(entry: str) -> list[Path]:
    p = SRC / entry
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [f for e in PURE for f in _files(e)], ids=lambda p: str(p.relative_to(SRC)))
def test_pure_modules_import_no_io(path: Path) -> None:
    bad = {n for n in _imports(path) if n in IO_MODULES or n.split(".")[0] in IO_MODULES}
    assert not bad, f"{path.relative_to(SRC)} imports I/O modules {sorted(bad)}"
    text = path.read_text()
    assert "open(" not in text.replace("fopen(", ""), f"{path.name} opens files"


def test_pure_modules_do_not_import_backends_server_or_relay() -> None:
    for entry in PURE:
        for path in _files(entry):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    head = node.module.split(".")[0]
                    assert head not in {"backends", "server", "relay", "storage", "console", "cli"}, path


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_server_does_not_translate() -> None:
    """Routes hand bodies to the relay; only dialect error rendering is allowed there."""
    for path in (SRC / "server").rglob("*.py"):
        text = path.read_text()
        for verb in ("parse_request", "render_request", "render_response", "StreamRenderer", "StreamParser"):
            assert verb not in text, f"{path.name} uses {verb}: translation belongs in the relay"
