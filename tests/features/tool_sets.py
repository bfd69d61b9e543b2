"""Agent tool sets used by the tool-emulation tests (tests/golden/emul_tools/*.json)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

from lingma_proxy import ir

DIR = Path(__file__).resolve().parents[1] / "golden" / "emul_tools"


def load(name: str) -> tuple[ir.Tool, ...]:
    out = []
    for t in json.loads((DIR / f"{name}_tools.json").read_text()):
        kind = t.get("kind", "function")
        params = t.get("parameters") or {
            "type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
        out.append(ir.Tool(t["name"], t.get("description", ""), params, kind=kind, format=t.get("format")))
    return tuple(out)


CLAUDE = load("claude_code")
CODEX = load("codex")


def ids() -> Callable[[], str]:
    """Deterministic call ids: call_0001, call_0002, ..."""
    counter = itertools.count(1)
    return lambda: f"call_{next(counter):04x}"


def tool(name: str, props: dict | None = None, required: list[str] | None = None) -> ir.Tool:
    return ir.Tool(name, parameters={"type": "object", "properties": props or {},
                                     "required": required or []})
