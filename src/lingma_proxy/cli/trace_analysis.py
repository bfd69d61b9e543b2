"""What a trace file says, as numbers: the token breakdown of its request (system prompt, tool
definitions, messages, per tool and per message) with the offline estimator, next to the
usage the upstream reported. Pure: the commands in ``trace.py`` load files and print."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.routing import compile_path

from .. import errors, ir
from ..dialects.base import Dialect, Target
from ..dialects.registry import all_dialects, by_name, default
from ..features import tokens

# A replayed image whose payload the trace left out: a 1x1 transparent PNG stands in.
PIXEL_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
             "60e6kgAAAABJRU5ErkJggg==")


class TraceError(Exception):
    """A file that is not a usable trace; the message says why."""


def load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        value = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise TraceError(f"cannot read {p}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise TraceError(f"{p} is not JSON") from None
    req = value.get("request") if isinstance(value, dict) else None
    if not isinstance(req, dict) or not isinstance(req.get("body"), dict):
        raise TraceError(f"{p} is not a lingma-proxy trace (no request body)")
    trace: dict[str, Any] = value
    return trace


def dialect_of(trace: dict[str, Any]) -> Dialect:
    """The trace's dialect by name, else the one whose route path ends the traced path (a trace
    from before dialect names were recorded), else the default; bound to what the path says
    (Gemini's model)."""
    path = str(trace["request"].get("path", ""))
    name = trace.get("dialect")
    found = by_name(name) if isinstance(name, str) else None
    for d in all_dialects() if found is None else (found,):
        for r in d.routes:
            if r.kind not in ("generate", "count_tokens"):
                continue
            m = compile_path(r.path)[0].search(path) if "{" in r.path else None
            if m is not None:
                model = m.groupdict().get(r.model_param or "")
                return d.at(Target(model=model, stream=r.stream))
            if found is None and "{" not in r.path and path.endswith(r.path):
                return d
    return found or default()


def restore_payloads(value: Any) -> Any:
    """The request body with omitted base64 payloads replaced by a tiny PNG (for replay)."""
    if isinstance(value, dict):
        out = {k: restore_payloads(v) for k, v in value.items()}
        if out.get("type") == "base64" and isinstance(value.get("data"), str) and _marker(value["data"]):
            out["media_type"], out["data"] = "image/png", PIXEL_PNG
        return out
    if isinstance(value, list):
        return [restore_payloads(v) for v in value]
    if isinstance(value, str) and _marker(value):
        return "data:image/png;base64," + PIXEL_PNG
    return value


def _marker(text: str) -> bool:
    return text.startswith("[base64 omitted: ")


def parse(trace: dict[str, Any]) -> ir.Request:
    body = dict(trace["request"]["body"])
    body.setdefault("max_tokens", 1)  # count_tokens-like bodies have none
    try:
        req: ir.Request = dialect_of(trace).parse_request(restore_payloads(body))
        return req
    except errors.ProxyError as exc:
        raise TraceError(f"the traced request does not parse: {exc.message}") from None


@dataclass
class Breakdown:
    system: int = 0
    tools: int = 0
    messages: int = 0
    total: int = 0
    per_tool: list[tuple[str, int]] = field(default_factory=list)
    per_message: list[tuple[int, str, str, int]] = field(default_factory=list)  # index, role, summary, tokens
    by_kind: dict[str, int] = field(default_factory=dict)  # text, tool calls, tool results, images, thinking

    def share(self, n: int) -> float:
        return 100.0 * n / self.total if self.total else 0.0


_KINDS = {ir.TextPart: "text", ir.ToolCallPart: "tool calls", ir.ToolResultPart: "tool results",
          ir.ImagePart: "images", ir.ThinkingPart: "thinking"}


def breakdown(req: ir.Request) -> Breakdown:
    b = Breakdown()
    b.system = sum(tokens.estimate_text(p.text) for p in req.system)
    if req.system:
        b.system += tokens.MESSAGE_OVERHEAD
    b.per_tool = sorted(((t.name, tokens.estimate_tools((t,))) for t in req.tools), key=lambda x: -x[1])
    b.tools = sum(n for _, n in b.per_tool)
    for i, m in enumerate(req.messages):
        n = tokens.estimate_message(m)
        b.messages += n
        kinds: dict[str, int] = {}
        for p in m.content:
            kind = _KINDS.get(type(p), "other")
            kinds[kind] = kinds.get(kind, 0) + 1
            b.by_kind[kind] = b.by_kind.get(kind, 0) + tokens.estimate_part(p)
        summary = ", ".join(f"{c} {k}" if c > 1 else k for k, c in kinds.items()) or "empty"
        b.per_message.append((i, m.role, summary, n))
    b.total = tokens.estimate_request(req)
    return b


def actual_input(trace: dict[str, Any]) -> int | None:
    """Input tokens the upstream reported (cache reads and writes included), if any."""
    u = trace.get("usage")
    if not isinstance(u, dict):
        return None
    n = sum(v for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
            if isinstance(v := u.get(k), int))
    return n or None


def output_tokens(trace: dict[str, Any]) -> int | None:
    u = trace.get("usage")
    n = u.get("output_tokens") if isinstance(u, dict) else None
    return n if isinstance(n, int) and n else None


def made_tool_call(trace: dict[str, Any]) -> bool:
    body = (trace.get("response") or {}).get("body")
    text = orjson.dumps(body) if body is not None else b""
    return b'"tool_use"' in text or b'"tool_calls"' in text or b'"function_call"' in text
