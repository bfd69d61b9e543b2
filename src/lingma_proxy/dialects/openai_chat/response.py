"""Non-streaming completions and error bodies, both directions."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from ... import errors, ir
from ._common import (
    completion_id,
    dump_arguments,
    error_from_payload,
    error_message,
    excerpt,
    finish_reason,
    mint_call_id,
    mint_completion_id,
    parse_usage,
    render_usage,
    stop_reason,
)

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


def split_think(content: str) -> tuple[str, str]:
    """``<think>...</think>`` at the start of content -> (thinking, rest). An unclosed tag
    (output cut by max_tokens) makes everything thinking."""
    stripped = content.lstrip()
    if not stripped.startswith(_THINK_OPEN):
        return "", content
    body = stripped[len(_THINK_OPEN) :]
    thought, sep, rest = body.partition(_THINK_CLOSE)
    if not sep:
        return body, ""
    return thought, rest.lstrip()


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # a few servers answer with content parts
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _tool_call(call: object) -> ir.ToolCallPart | None:
    if not isinstance(call, dict):
        return None
    cid = call.get("id")
    cid = cid if isinstance(cid, str) and cid else mint_call_id()
    custom = call.get("custom")
    if call.get("type") == "custom" and isinstance(custom, dict):
        text = custom.get("input")
        args = orjson.dumps({"input": text if isinstance(text, str) else ""}).decode()
        return ir.ToolCallPart(cid, str(custom.get("name") or ""), args, kind="custom")
    fn = call.get("function")
    if not isinstance(fn, dict):
        return None
    name = fn.get("name")
    return ir.ToolCallPart(cid, name if isinstance(name, str) else "", dump_arguments(fn.get("arguments")))


def parse_response(body: object) -> ir.Response:
    """Upstream chat.completion JSON -> IR; not a completion -> ``UpstreamError``."""
    if isinstance(body, dict) and body.get("error") is not None:
        raise error_from_payload(body, None)
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(choices, list):
        raise errors.UpstreamError("upstream answer is not a chat completion (no choices array)")
    if not choices or not isinstance(choices[0], dict):
        raise errors.UpstreamError("upstream chat completion has no choices")
    choice = choices[0]
    msg = choice.get("message")
    msg = msg if isinstance(msg, dict) else {}
    parts: list[ir.Part] = []
    thought = next((t for k in ("reasoning_content", "reasoning") if isinstance(t := msg.get(k), str) and t), "")
    tagged, text = split_think(_text_of(msg.get("content")))
    if thought or tagged:
        parts.append(ir.ThinkingPart(thought + tagged))
    refusal = msg.get("refusal")
    has_refusal = isinstance(refusal, str) and bool(refusal)
    if text:
        parts.append(ir.TextPart(text))
    elif has_refusal:
        parts.append(ir.TextPart(refusal))  # type: ignore[arg-type]
    calls = msg.get("tool_calls")
    if isinstance(calls, list):
        parts.extend(p for p in map(_tool_call, calls) if p is not None)
    fc = msg.get("function_call")
    if isinstance(fc, dict) and isinstance(fc.get("name"), str):
        parts.append(ir.ToolCallPart(mint_call_id(), fc["name"], dump_arguments(fc.get("arguments"))))
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    reason = stop_reason(choice.get("finish_reason"), has_calls)
    stop_seq = None
    matched = choice.get("stop_reason")  # vLLM names the stop string that ended the output
    if reason == "end_turn" and isinstance(matched, str) and matched:
        reason, stop_seq = "stop_sequence", matched
    if has_refusal and reason == "end_turn":
        reason = "refusal"
    rid, model = body.get("id"), body.get("model")
    return ir.Response(
        id=rid if isinstance(rid, str) and rid else mint_completion_id(),
        model=model if isinstance(model, str) else "",
        content=tuple(parts),
        stop_reason=reason,
        stop_sequence=stop_seq,
        usage=parse_usage(body.get("usage")) or ir.Usage(),
    )


def render_response(resp: ir.Response, req: ir.Request | None = None, *, created: int | None = None) -> dict[str, Any]:
    """IR -> a chat.completion object (``created`` fixed for tests)."""
    text: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for p in resp.content:
        if isinstance(p, ir.TextPart):
            text.append(p.text)
        elif isinstance(p, ir.ThinkingPart):
            if p.text:
                thinking.append(p.text)
        elif isinstance(p, ir.ToolCallPart):
            if p.kind == "custom":
                raw = p.parsed_arguments().get("input")
                custom = {"name": p.name, "input": raw if isinstance(raw, str) else p.arguments}
                calls.append({"id": p.id, "type": "custom", "custom": custom})
            else:
                fn = {"name": p.name, "arguments": p.arguments}
                calls.append({"id": p.id, "type": "function", "function": fn})
    content = "".join(text)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content if content or not calls else None,
        "refusal": None,
    }
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    return {
        "id": completion_id(resp.id),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": resp.model or (req.model if req is not None else ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.stop_reason, bool(calls)),
            }
        ],
        "usage": render_usage(resp.usage),
    }


def render_error(err: errors.ProxyError) -> dict[str, Any]:
    """``ProxyError`` -> OpenAI error body (the HTTP status is ``err.status``)."""
    return {"error": {"message": err.message, "type": err.kind, "param": err.param, "code": err.code}}


_TAG_RE = re.compile(r"<[^>]*>")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def parse_error(status: int, body: bytes) -> errors.ProxyError:
    """An upstream error answer (any shape local servers use) -> ``ProxyError``."""
    try:
        payload: Any = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        payload = None
    if payload is not None and not isinstance(payload, (dict, str)):
        payload = None
    if isinstance(payload, str):
        payload = {"message": payload}
    if error_message(payload)[0]:
        return error_from_payload(payload, status)
    text = body.decode("utf-8", "replace").strip()
    if text[:1] == "<" and ("<html" in text[:200].lower() or "<!doctype" in text[:200].lower()):
        title = _TITLE_RE.search(text)
        note = _TAG_RE.sub("", title.group(1)).strip() if title else ""
        message = f"upstream answered HTTP {status} with an HTML page" + (f" ({excerpt(note, 120)})" if note else "")
    else:
        message = excerpt(text) or f"upstream answered HTTP {status} with an empty body"
    return error_from_payload({"message": message}, status)
