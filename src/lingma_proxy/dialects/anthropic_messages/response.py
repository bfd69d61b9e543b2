"""Anthropic Message objects and error bodies, in both directions."""

from __future__ import annotations

import re
import secrets
from typing import Any

import orjson

from ... import errors, ir
from ._wire import dump_object, stop_in, stop_out, usage_in, usage_out


def message_id(ir_id: str) -> str:
    """The IR id when it already looks like an Anthropic id, else a fresh ``msg_`` id."""
    return ir_id if ir_id.startswith("msg_") else "msg_" + secrets.token_hex(12)


# --------------------------------------------------------------------------- responses


def render_response(resp: ir.Response, req: ir.Request) -> dict[str, Any]:
    """IR response -> the Message object a Messages client expects."""
    return {
        "id": message_id(resp.id),
        "type": "message",
        "role": "assistant",
        "model": resp.model or req.model,
        "content": [b for b in (render_block(p) for p in resp.content) if b is not None],
        "stop_reason": stop_out(resp.stop_reason),
        "stop_sequence": resp.stop_sequence,
        "usage": usage_out(resp.usage),
    }


def render_block(p: ir.Part) -> dict[str, Any] | None:
    if isinstance(p, ir.TextPart):
        return {"type": "text", "text": p.text}
    if isinstance(p, ir.ThinkingPart):
        if p.redacted:
            return {"type": "redacted_thinking", "data": p.encrypted or ""}
        # Foreign reasoning has no signature; an Anthropic upstream later drops it (see
        # render_request), any other upstream receives it back as reasoning.
        return {"type": "thinking", "thinking": p.text, "signature": p.signature or ""}
    if isinstance(p, ir.ToolCallPart):
        return {"type": "tool_use", "id": p.id, "name": p.name, "input": p.parsed_arguments()}
    return None  # images and tool results never appear in an assistant answer


def parse_response(body: Any) -> ir.Response:
    """An upstream Message object -> IR; malformed answers raise ``errors.UpstreamError``."""
    if not isinstance(body, dict):
        raise errors.UpstreamError("upstream answered with a non-object body")
    if body.get("type") == "error":
        raise error_from_body(502, body)
    content = body.get("content")
    if not isinstance(content, list):
        raise errors.UpstreamError("upstream message has no content array")
    parts: list[ir.Part] = []
    for block in content:
        if isinstance(block, dict):
            part = parse_block(block)
            if part is not None:
                parts.append(part)
    rid, model, seq = body.get("id"), body.get("model"), body.get("stop_sequence")
    return ir.Response(
        id=rid if isinstance(rid, str) else "",
        model=model if isinstance(model, str) else "",
        content=tuple(parts),
        stop_reason=stop_in(body.get("stop_reason")),
        stop_sequence=seq if isinstance(seq, str) else None,
        usage=usage_in(body.get("usage")),
    )


def parse_block(block: dict[str, Any]) -> ir.Part | None:
    """One upstream content block; server-side blocks (server tools and their results) and
    malformed ones yield None."""
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return ir.TextPart(text) if isinstance(text, str) and text else None
    if kind == "thinking":
        text, sig = block.get("thinking"), block.get("signature")
        return ir.ThinkingPart(
            text if isinstance(text, str) else "",
            signature=sig if isinstance(sig, str) and sig else None,
        )
    if kind == "redacted_thinking":
        data = block.get("data")
        return ir.ThinkingPart("", encrypted=data if isinstance(data, str) else "", redacted=True)
    if kind == "tool_use":
        tid, name, args = block.get("id"), block.get("name"), block.get("input")
        return ir.ToolCallPart(
            id=tid if isinstance(tid, str) else "",
            name=name if isinstance(name, str) else "",
            arguments=(dump_object(args) or "{}") if isinstance(args, dict) else "{}",
        )
    return None


# --------------------------------------------------------------------------- errors

# Anthropic error type -> our class (the type is more precise than the HTTP status).
_KINDS: dict[str, type[errors.ProxyError]] = {
    "invalid_request_error": errors.InvalidRequest,
    "authentication_error": errors.AuthenticationFailed,
    "permission_error": errors.PermissionDenied,
    "billing_error": errors.PermissionDenied,
    "not_found_error": errors.NotFound,
    "request_too_large": errors.RequestTooLarge,
    "rate_limit_error": errors.RateLimited,
    "timeout_error": errors.UpstreamTimeout,
    "api_error": errors.UpstreamError,
    "overloaded_error": errors.Overloaded,
}
_RETRYABLE = (errors.RateLimited, errors.UpstreamError)
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_TEXT = 200


def render_error(err: errors.ProxyError) -> dict[str, Any]:
    """ProxyError -> Anthropic error body (the HTTP status is ``err.status``)."""
    return error_body(err.kind, err.message)


def error_body(kind: str, message: str) -> dict[str, Any]:
    # "cancelled" is ours alone; if anything is still listening it is a server-side failure.
    return {"type": "error", "error": {"type": "api_error" if kind == "cancelled" else kind, "message": message}}


def parse_error(status: int, body: bytes) -> errors.ProxyError:
    """An upstream error answer -> ProxyError, honouring the Anthropic error type."""
    try:
        value = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return errors.from_status(status, _short_text(body) or f"HTTP {status}")
    if isinstance(value, dict):
        return error_from_body(status, value)
    return errors.from_status(status, f"HTTP {status}")


def error_from_body(status: int, body: dict[str, Any]) -> errors.ProxyError:
    err = body.get("error")
    kind: object = None
    message: object = None
    if isinstance(err, dict):
        kind, message = err.get("type"), err.get("message")
    elif isinstance(err, str):
        message = err
    if not isinstance(message, str) or not message:
        msg = body.get("message")
        message = msg if isinstance(msg, str) and msg else f"HTTP {status}"
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return errors.from_status(status, message)
    if cls is errors.InvalidRequest and "prompt is too long" in message:
        return errors.ContextLengthExceeded(message)
    return cls(message, retryable=issubclass(cls, _RETRYABLE))


def _short_text(body: bytes) -> str:
    """A short, single-line excerpt of a non-JSON body (HTML error pages, proxies)."""
    text = body[:4096].decode("utf-8", "replace")
    title = _TITLE.search(text)
    if title:
        text = title.group(1)
    text = " ".join(_TAG.sub(" ", text).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."
