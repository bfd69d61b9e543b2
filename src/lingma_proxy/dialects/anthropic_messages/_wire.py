"""Small shared pieces of the Anthropic Messages dialect: field checks and vocabularies."""

from __future__ import annotations

from typing import Any

from ... import ir
from ..fields import (  # re-exported for the parsers
    FieldChecks,
    dump_object as dump_object,
    fail as fail,
    type_name as type_name,
)

NAME = "anthropic_messages"

# Anthropic's effort vocabulary -> the IR's; "xhigh" has no IR level, so it rides as "high"
# (the parser also keeps the original in Request.extra for a same-dialect upstream).
EFFORT_IN: dict[str, ir.Effort] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "max",
}
EFFORT_OUT: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
}

STOP_IN: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    # The IR has no context-window stop; the client-visible meaning is "output was cut".
    "model_context_window_exceeded": "max_tokens",
}


def stop_out(reason: ir.StopReason) -> str:
    """The wire stop reason; the IR's ``error`` has no Anthropic spelling."""
    return "end_turn" if reason == "error" else reason


def stop_in(reason: object) -> ir.StopReason:
    return STOP_IN.get(reason, "end_turn") if isinstance(reason, str) else "end_turn"


# Anthropic's wording of a field of the wrong type
_CHECKS = FieldChecks(lambda param, expected, got: f"{param}: expected {expected}, got {got}")
want_str, want_dict, want_list, want_bool = _CHECKS.want_str, _CHECKS.want_dict, _CHECKS.want_list, _CHECKS.want_bool


def want_int(value: object, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        # JSON has one number type: accept 4096.0 but not 4096.5.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        fail(f"{param}: expected an integer, got {type_name(value)}", param)
    return value


def want_number(value: object, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"{param}: expected a number, got {type_name(value)}", param)
    return float(value)


def usage_in(raw: object) -> ir.Usage:
    """Anthropic usage -> IR usage; missing or malformed counts are 0."""
    if not isinstance(raw, dict):
        return ir.Usage()

    def n(key: str) -> int:
        v = raw.get(key)
        # Implausible counts (beyond 2**53) are dropped rather than passed on to clients.
        return v if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1 << 53 else 0

    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    if not isinstance(thinking, int) or thinking >= 1 << 53:
        thinking = 0
    return ir.Usage(
        input_tokens=n("input_tokens"),
        output_tokens=n("output_tokens"),
        cache_read_input_tokens=n("cache_read_input_tokens"),
        cache_creation_input_tokens=n("cache_creation_input_tokens"),
        reasoning_tokens=max(thinking, 0),
    )


def usage_out(u: ir.Usage) -> dict[str, Any]:
    """All four counts, always: Claude Code's context meter reads them from every event."""
    out: dict[str, Any] = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
    }
    if u.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return out


