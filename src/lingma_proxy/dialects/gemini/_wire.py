"""Small shared pieces of the Gemini dialect: field access, checks and vocabularies.

Google's servers read request JSON the proto3 way: every field may be spelled in lowerCamelCase
(``mimeType``) or in its proto name (``mime_type``), and the official google-genai SDK really
sends a mix of both (``inlineData`` holding ``mime_type``, ``thinkingConfig`` holding
``thinking_budget``). So every read here goes through ``get``, which accepts both spellings.
Free-form maps (function ``args``, ``response``, schema ``properties``) are never renamed.
"""

from __future__ import annotations

import re
from typing import Any

from ... import ir
from ..fields import (  # re-exported for the parsers
    FieldChecks,
    dump_object as dump_object,
    fail as fail,
    type_name as type_name,
)

NAME = "gemini"

_UPPER = re.compile(r"([A-Z])")


def snake(camel: str) -> str:
    """``mimeType`` -> ``mime_type`` (the proto field name Google's JSON parser also accepts)."""
    return _UPPER.sub(lambda m: "_" + m.group(1).lower(), camel)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def get(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` under either spelling (``name`` is the camelCase one)."""
    value = obj.get(name)
    if value is None:
        alt = snake(name)
        if alt != name:
            value = obj.get(alt)
    return value


def has(obj: dict[str, Any], name: str) -> bool:
    return name in obj or snake(name) in obj


def unknown(obj: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of ``obj`` not in ``known`` (camelCase names), camelCased for a Gemini upstream."""
    return {camel(k): v for k, v in obj.items() if camel(k) not in known}


# Google's wording of a field of the wrong type
_CHECKS = FieldChecks(lambda param, expected, got: f"Invalid value at '{param}': expected {expected}, got {got}")
want_str, want_dict, want_list, want_bool = _CHECKS.want_str, _CHECKS.want_dict, _CHECKS.want_list, _CHECKS.want_bool


_INT_TEXT = re.compile(r"-?[0-9]{1,18}\Z")


def want_int(value: object, param: str, lo: int | None = None, hi: int | None = None) -> int:
    """An integer; proto3 JSON writes 64-bit integers as strings ("1024"), so those count too,
    and so does an integral float (the SDK sends ``topK: 40.0``)."""
    n: int | None = None
    if isinstance(value, bool):
        n = None
    elif isinstance(value, int):
        n = value
    elif ((isinstance(value, float) and value.is_integer() and abs(value) < 2**53)
          or (isinstance(value, str) and _INT_TEXT.match(value))):
        n = int(value)
    if n is None:
        fail(f"Invalid value at '{param}': expected an integer, got {type_name(value)}", param)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        fail(f"Invalid value at '{param}': {n} is out of range [{lo}, {hi}]", param)
    return n


def want_number(value: object, param: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"Invalid value at '{param}': expected a number, got {type_name(value)}", param)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        fail(f"Invalid value at '{param}': {value} is out of range [{lo}, {hi}]", param)  # float() would overflow
    x = float(value)
    if not lo <= x <= hi:  # also refuses NaN
        fail(f"Invalid value at '{param}': {value} is out of range [{lo}, {hi}]", param)
    return x




# --------------------------------------------------------------------------- vocabularies

# Gemini 3 thinkingLevel <-> IR effort. XHIGH is Gemini's top level, as "max" is the IR's.
LEVEL_IN: dict[str, ir.Effort] = {
    "MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high", "XHIGH": "max",
}
LEVEL_OUT: dict[ir.Effort, str] = {v: k for k, v in LEVEL_IN.items()}

# Finish reasons that mean "the model (or its filters) declined": the IR's refusal.
_REFUSALS = frozenset(
    {
        "SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR",
    }
)
# Finish reasons that mean the turn simply ended.
_ENDED = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED", "CONTINUATION"})


def finish_in(reason: object, has_calls: bool) -> ir.StopReason:
    """Gemini ends a tool-calling turn with STOP; the IR calls that ``tool_use``."""
    if not isinstance(reason, str) or reason in _ENDED:
        return "tool_use" if has_calls else "end_turn"
    if reason == "MAX_TOKENS":
        return "max_tokens"
    if reason in _REFUSALS:
        return "refusal"
    return "error"  # MALFORMED_FUNCTION_CALL, OTHER, TOO_MANY_TOOL_CALLS, future kinds


def finish_out(reason: ir.StopReason) -> str:
    if reason == "max_tokens":
        return "MAX_TOKENS"
    if reason == "refusal":
        return "SAFETY"
    if reason == "error":
        return "OTHER"
    return "STOP"  # end_turn, tool_use, stop_sequence (Gemini names no stop sequence), pause_turn


def _count(raw: dict[str, Any], name: str) -> int:
    v = get(raw, name)
    if isinstance(v, str) and v.isdigit() and len(v) < 16:
        v = int(v)  # proto3 JSON may write counts as strings
    return v if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1 << 53 else 0


def usage_in(raw: object) -> ir.Usage:
    """Gemini ``usageMetadata`` -> IR usage.

    Gemini's prompt count includes cached tokens, its candidate count excludes thoughts; the IR
    counts input without cache reads and output with reasoning.
    """
    if not isinstance(raw, dict):
        return ir.Usage()
    prompt, cached = _count(raw, "promptTokenCount"), _count(raw, "cachedContentTokenCount")
    thoughts = _count(raw, "thoughtsTokenCount")
    return ir.Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=_count(raw, "candidatesTokenCount") + thoughts,
        cache_read_input_tokens=cached,
        reasoning_tokens=thoughts,
    )


def usage_out(u: ir.Usage) -> dict[str, Any]:
    prompt = u.total_input_tokens
    thoughts = min(u.reasoning_tokens, u.output_tokens)
    out: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": u.output_tokens - thoughts,
        "totalTokenCount": prompt + u.output_tokens,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if u.cache_read_input_tokens:
        out["cachedContentTokenCount"] = u.cache_read_input_tokens
    return out
