"""Golden cases: IR values stored as JSON (each object tagged with its ir class name).

A case folder ``tests/golden/<scenario>/`` holds ``events.json`` (the IR stream), and per
dialect its wire forms, e.g. ``anthropic_messages.stream.sse``, ``openai_chat.response.json``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from lingma_proxy import ir

GOLDEN = Path(__file__).parent / "golden"


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # ToolChoice has a field named "type": its class tag goes under "_ir" instead.
        names = {f.name for f in dataclasses.fields(value)}
        out: dict[str, Any] = {"_ir" if "type" in names else "type": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.compare:  # non-compared fields (Request.origins) are bookkeeping, not value
                out[f.name] = to_json(getattr(value, f.name))
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(value: Any) -> Any:
    tag = value.get("_ir", value.get("type")) if isinstance(value, dict) else None
    if isinstance(tag, str) and hasattr(ir, tag) and dataclasses.is_dataclass(getattr(ir, tag)):
        cls = getattr(ir, tag)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in value:
                v = from_json(value[f.name])
                kwargs[f.name] = tuple(v) if isinstance(v, list) and f.name != "metadata" else v
        return cls(**kwargs)
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    return value


def scenarios() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "events.json").exists())


def load_events(scenario: str) -> list[ir.Event]:
    return from_json(json.loads((GOLDEN / scenario / "events.json").read_text()))


def wire_path(scenario: str, name: str) -> Path:
    return GOLDEN / scenario / name
