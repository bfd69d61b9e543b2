"""Responses non-streaming bodies and errors: IR <-> wire.

The item builders here are shared with the stream renderer, so ``response.completed`` carries
exactly what ``render_response`` would return.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ... import errors, ir
from ._wire import (
    custom_arguments,
    custom_input,
    error_from_wire,
    failed_error,
    is_custom_call,
    item_id,
    parse_usage,
    render_effort,
    render_format,
    render_tool,
    render_tool_choice,
    render_usage,
    response_id_for,
    wants_encrypted,
)

_SUMMARIES = frozenset({"auto", "concise", "detailed"})
_VERBOSITIES = frozenset({"low", "medium", "high"})


# --------------------------------------------------------------------------- items


def message_item(iid: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": iid, "type": "message", "role": "assistant", "status": status, "content": content}


def reasoning_item(iid: str, text: str, encrypted: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": iid,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if encrypted is not None:
        out["encrypted_content"] = encrypted
    return out


def function_call_item(
    iid: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": iid,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def custom_call_item(iid: str, call_id: str, name: str, text: str) -> dict[str, Any]:
    return {"id": iid, "type": "custom_tool_call", "call_id": call_id, "name": name, "input": text}


def call_id_or_minted(call_id: str, response_id: str, output_index: int) -> str:
    """Codex hangs on a blank call_id, so a missing one is minted (stable per item)."""
    return call_id or item_id(response_id, "call", output_index)


# --------------------------------------------------------------------------- response object


def response_shell(
    req: ir.Request, response_id: str, created_at: int, model: str
) -> dict[str, Any]:
    """The response object without output, status or usage; echoes the request's options."""
    reasoning: dict[str, Any] | None = None
    if req.reasoning is not None:
        r = req.reasoning
        effort = "none" if not r.enabled else render_effort(r.effort) if r.effort else None
        summary = r.summary if r.summary in _SUMMARIES else None
        reasoning = {"effort": effort, "summary": summary}
    text: dict[str, Any] = {"format": render_format(req.response_format) or {"type": "text"}}
    verbosity = req.extra.get("verbosity")
    if verbosity in _VERBOSITIES:
        text["verbosity"] = verbosity
    truncation = req.extra.get("truncation")
    prev = req.extra.get("previous_response_id")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        # Codex sends a 21 KB prompt each turn; echoing it three times per stream buys nothing.
        "instructions": None,
        "max_output_tokens": req.max_tokens,
        "model": model or req.model,
        "output": [],
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "previous_response_id": prev if isinstance(prev, str) else None,
        "reasoning": reasoning,
        "store": req.extra.get("store") is not False,
        "temperature": req.temperature,
        "text": text,
        "tool_choice": render_tool_choice(req.tool_choice, req),
        "tools": [render_tool(t) for t in req.tools],
        "top_p": req.top_p,
        "truncation": truncation if truncation in ("auto", "disabled") else "disabled",
        "usage": None,
        "metadata": dict(req.metadata),
    }


def finish_shell(
    shell: dict[str, Any],
    output: list[dict[str, Any]],
    stop_reason: ir.StopReason,
    usage: ir.Usage,
) -> dict[str, Any]:
    """The final response object (``shell`` is not modified)."""
    out = dict(shell)
    out["output"] = output
    if stop_reason == "max_tokens":
        out["status"] = "incomplete"
        out["incomplete_details"] = {"reason": "max_output_tokens"}
    elif stop_reason == "error":
        out["status"] = "failed"
        out["error"] = failed_error("api_error", "the model stopped with an error")
    else:
        out["status"] = "completed"
    out["usage"] = render_usage(usage)
    return out


def render_response(
    resp: ir.Response,
    req: ir.Request,
    *,
    created_at: int | None = None,
    response_id: str | None = None,
) -> dict[str, Any]:
    """IR -> Responses JSON. ``created_at`` and ``response_id`` make output deterministic."""
    rid = response_id_for(resp.id, response_id)
    encrypted = wants_encrypted(req)
    output: list[dict[str, Any]] = []
    for part in resp.content:
        n = len(output)
        if isinstance(part, ir.TextPart):
            output.append(message_item(item_id(rid, "msg", n), part.text))
        elif isinstance(part, ir.ThinkingPart):
            iid = part.item_id or item_id(rid, "rs", n)
            output.append(reasoning_item(iid, part.text, part.encrypted if encrypted else None))
        elif isinstance(part, ir.ToolCallPart):
            call_id = call_id_or_minted(part.id, rid, n)
            if is_custom_call(part.kind, part.name, req):
                iid = part.item_id or item_id(rid, "ctc", n)
                output.append(
                    custom_call_item(iid, call_id, part.name, custom_input(part.arguments))
                )
            else:
                iid = part.item_id or item_id(rid, "fc", n)
                output.append(function_call_item(iid, call_id, part.name, part.arguments))
    when = int(time.time()) if created_at is None else created_at
    shell = response_shell(req, rid, when, resp.model)
    return finish_shell(shell, output, resp.stop_reason, resp.usage)


# --------------------------------------------------------------------------- upstream -> IR


def _texts(value: Any, key: str = "text") -> list[str]:
    if not isinstance(value, list):
        return []
    return [x[key] for x in value if isinstance(x, dict) and isinstance(x.get(key), str)]


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def parse_output_item(item: Any) -> ir.Part | None:
    """One Responses output item -> an IR part (None for items the IR has no place for)."""
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    iid = item.get("id") if isinstance(item.get("id"), str) else None
    if kind == "message":
        content = item.get("content")
        text = "".join(_texts(content) + _texts(content, "refusal"))
        return ir.TextPart(text) if text else None
    if kind == "reasoning":
        text = "\n\n".join(_texts(item.get("summary")) or _texts(item.get("content")))
        encrypted = item.get("encrypted_content")
        enc = encrypted if isinstance(encrypted, str) and encrypted else None
        return ir.ThinkingPart(text, encrypted=enc, item_id=iid)
    if kind == "function_call":
        args = item.get("arguments")
        return ir.ToolCallPart(
            _str(item, "call_id"),
            _str(item, "name"),
            args if isinstance(args, str) and args else "{}",
            item_id=iid,
        )
    if kind == "custom_tool_call":
        return ir.ToolCallPart(
            _str(item, "call_id"),
            _str(item, "name"),
            custom_arguments(_str(item, "input")),
            kind="custom",
            item_id=iid,
        )
    return None


def stop_reason_of(body: dict[str, Any], has_tool_calls: bool) -> ir.StopReason:
    details = body.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if reason == "max_output_tokens":
        return "max_tokens"
    if reason == "content_filter":
        return "refusal"
    return "tool_use" if has_tool_calls else "end_turn"


def parse_response(body: Any) -> ir.Response:
    """Upstream Responses JSON -> IR; a failed response raises its ProxyError."""
    if not isinstance(body, dict):
        raise errors.UpstreamError("upstream returned a response that is not a JSON object")
    error = body.get("error")
    if isinstance(error, dict) or body.get("status") == "failed":
        raise error_from_wire(error)
    parts: list[ir.Part] = []
    output = body.get("output")
    for item in output if isinstance(output, list) else ():
        part = parse_output_item(item)
        if part is not None:
            parts.append(part)
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    return ir.Response(
        id=_str(body, "id"),
        model=_str(body, "model"),
        content=tuple(parts),
        stop_reason=stop_reason_of(body, has_calls),
        usage=parse_usage(body.get("usage")) or ir.Usage(),
    )


# --------------------------------------------------------------------------- errors

_ERROR_TYPES = {
    "api_error": "server_error",
    "overloaded_error": "server_error",
    "timeout_error": "server_error",
    "not_found_error": "invalid_request_error",
    "request_too_large": "invalid_request_error",
}
_ERROR_CODES = {"rate_limit_error": "rate_limit_exceeded", "not_found_error": "not_found"}


def render_error(err: errors.ProxyError) -> dict[str, Any]:
    """ProxyError -> the OpenAI error body (the HTTP status is ``err.status``)."""
    return {
        "error": {
            "message": err.message,
            "type": _ERROR_TYPES.get(err.kind, err.kind),
            "param": err.param,
            "code": err.code or _ERROR_CODES.get(err.kind),
        }
    }


def parse_error(status: int, body: Any) -> errors.ProxyError:
    """An upstream error answer (decoded JSON, or raw bytes/text) -> ProxyError."""
    if isinstance(body, (bytes, bytearray, str)):
        raw = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {"error": {"message": raw.strip()[:500]}} if raw.strip() else None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    elif error is None and isinstance(body, dict) and isinstance(body.get("message"), str):
        error = body
    if not isinstance(error, dict) or not _str(error, "message"):
        error = {**(error if isinstance(error, dict) else {}), "message": f"HTTP {status}"}
    return error_from_wire(error, status)
