"""Pieces shared by the Chat Completions request, response and stream converters."""

from __future__ import annotations

import re
import secrets
from typing import Any

import orjson

from ... import errors, ir

NAME = "openai_chat"

# Chat finish_reason -> IR stop reason. Unknown values (vLLM "abort", llama.cpp "eos") are
# treated as a normal end rather than failing a response that did arrive.
FINISH_TO_STOP: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

STOP_TO_FINISH: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "error": "stop",
}


def stop_reason(finish: object, has_tool_calls: bool) -> ir.StopReason:
    """Map a finish_reason; local servers often say "stop" (or nothing) after tool calls."""
    reason = FINISH_TO_STOP.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    if has_tool_calls and reason == "end_turn":
        return "tool_use"
    if not has_tool_calls and reason == "tool_use":
        return "end_turn"  # "tool_calls" with no usable call: a client would wait for nothing
    return reason


def finish_reason(reason: ir.StopReason, has_tool_calls: bool) -> str:
    # A client only runs tools when it sees "tool_calls" (pitfall A5), so tool calls win over
    # a plain end of turn.
    if has_tool_calls and reason in ("end_turn", "stop_sequence", "pause_turn"):
        return "tool_calls"
    if not has_tool_calls and reason == "tool_use":
        return "stop"
    return STOP_TO_FINISH.get(reason, "stop")


def mint_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def mint_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def completion_id(ir_id: str) -> str:
    """Our id for a completion: derived from the IR id so logs correlate (and goldens are
    deterministic), kept as is when it already is a Chat id."""
    if ir_id.startswith("chatcmpl-"):
        return ir_id
    return "chatcmpl-" + ir_id if ir_id else mint_completion_id()


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and 0 <= value < 1e18:  # NaN fails the comparison
        return int(value)
    return 0


def parse_usage(u: object) -> ir.Usage | None:
    """Chat usage -> IR usage (Anthropic semantics: input excludes cached tokens)."""
    if not isinstance(u, dict):
        return None
    prompt = _int(u.get("prompt_tokens"))
    details = u.get("prompt_tokens_details")
    cached = written = 0
    if isinstance(details, dict):
        cached = _int(details.get("cached_tokens"))
        written = _int(details.get("cache_write_tokens"))
    out_details = u.get("completion_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    return ir.Usage(
        input_tokens=max(prompt - cached - written, 0),
        output_tokens=_int(u.get("completion_tokens")),
        cache_read_input_tokens=cached,
        cache_creation_input_tokens=written,
        reasoning_tokens=reasoning,
    )


def render_usage(u: ir.Usage) -> dict[str, Any]:
    prompt = u.total_input_tokens
    details: dict[str, int] = {"cached_tokens": u.cache_read_input_tokens}
    if u.cache_creation_input_tokens:
        details["cache_write_tokens"] = u.cache_creation_input_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def dump_arguments(value: object) -> str:
    """Whole tool-call arguments as text: strings as given, objects (Ollama) dumped, absent or
    blank -> ``{}``."""
    if isinstance(value, str):
        return value if value.strip() else "{}"  # "" is no JSON object; templates choke on it
    if value is None:
        return "{}"
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return "{}"


# ----------------------------------------------------------------------------- errors

_CONTEXT_RE = re.compile(
    r"context[ _-]?(length|size|window)|n_ctx|too many tokens|maximum context|"
    r"prompt is too long|exceeds? the (available )?context",
    re.IGNORECASE,
)
_SECRET_RE = re.compile(r"(sk-[A-Za-z0-9_\-]{6})[A-Za-z0-9_\-]+|(Bearer\s+)\S+")
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "overloaded_error": 529,
    "timeout_error": 504,
}


def redact(text: str) -> str:
    """Upstream messages sometimes echo keys back; never pass one on."""
    return _SECRET_RE.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


def excerpt(text: str, limit: int = 300) -> str:
    text = redact(text.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_message(payload: object) -> tuple[str, dict[str, Any]]:
    """The message in an error body and the error object it came from (may be empty)."""
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, str) and msg:
                return msg, err
            return (str(err.get("type") or err.get("code") or "") or "unknown error"), err
        if isinstance(err, str) and err:
            return err, payload
        for key in ("message", "detail"):
            val = payload.get(key)
            if isinstance(val, str) and val:
                return val, payload
            if val is not None and key == "detail":  # FastAPI validation details are lists
                return orjson.dumps(val).decode(), payload
    return "", {}


def error_from_payload(payload: object, status: int | None) -> errors.ProxyError:
    """An upstream error object -> the matching ProxyError (status when the HTTP one is known,
    else guessed from the error's own code/type)."""
    message, obj = error_message(payload)
    message = excerpt(message or "upstream reported an error")
    code = obj.get("code")
    etype = obj.get("type")
    if status is None:
        if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
            status = code
        elif isinstance(code, str) and code.isdigit() and 400 <= int(code) <= 599:
            status = int(code)
        else:
            status = _TYPE_STATUS.get(etype if isinstance(etype, str) else "", 0) or _TYPE_STATUS.get(
                code if isinstance(code, str) else "", 502
            )
    is_context = (
        code == "context_length_exceeded"
        or etype == "exceed_context_size_error"
        or _CONTEXT_RE.search(message) is not None
    )
    if is_context:
        return errors.ContextLengthExceeded(message)
    err = errors.from_status(status, message)
    if isinstance(code, str) and code and err.code is None:
        err.code = code
    param = obj.get("param")
    if isinstance(param, str):
        err.param = param
    return err
