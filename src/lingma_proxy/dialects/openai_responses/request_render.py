"""IR -> Responses request wire (``render_request``), for a Responses upstream."""

from __future__ import annotations

from typing import Any

from ... import ir
from ._wire import (
    ENCRYPTED_INCLUDE,
    NAME,
    custom_input,
    render_effort,
    render_format,
    render_tool,
    render_tool_choice,
)


def render_request(req: ir.Request) -> dict[str, Any]:
    """IR -> Responses request JSON. Reasoning without ``encrypted`` content is dropped: it
    came from another vendor and a Responses upstream cannot verify it."""
    body: dict[str, Any] = {"model": req.model, "input": render_input(req.messages)}
    if req.system:
        body["instructions"] = req.system_text()
    if req.tools:
        body["tools"] = [render_tool(t) for t in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = render_tool_choice(req.tool_choice, req)
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.reasoning is not None:
        body["reasoning"] = _render_reasoning(req.reasoning)
    text: dict[str, Any] = {}
    fmt = render_format(req.response_format)
    if fmt is not None:
        text["format"] = fmt
    if req.metadata:
        body["metadata"] = dict(req.metadata)
    body["stream"] = req.stream
    if req.dialect == NAME:
        for key, value in req.extra.items():
            if key == "verbosity":
                text["verbosity"] = value
            else:
                body.setdefault(key, value)
    else:
        # Stateless by default: the proxy sends the whole history every turn, and reasoning
        # survives the round trip only as encrypted content.
        body["store"] = False
        if req.reasoning is not None and req.reasoning.enabled:
            body["include"] = [ENCRYPTED_INCLUDE]
    if text:
        body["text"] = text
    return body


def render_input(messages: tuple[ir.Message, ...]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "assistant":
            _assistant(m, items)
        elif m.role == "user":
            _user(m, items)
        else:
            content = [_content_part(p, "input_text") for p in m.content]
            items.append({"type": "message", "role": "developer", "content": [
                c for c in content if c is not None
            ]})
    return items


def _content_part(part: ir.Part, text_type: str) -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        return {"type": text_type, "text": part.text}
    if isinstance(part, ir.ImagePart):
        if part.data is not None:
            url = f"data:{part.media_type};base64,{part.data}"
        else:
            url = part.url or ""
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    return None


def _user(m: ir.Message, items: list[dict[str, Any]]) -> None:
    content: list[dict[str, Any]] = []
    for part in m.content:
        if isinstance(part, ir.ToolResultPart):
            if content:
                items.append({"type": "message", "role": "user", "content": content})
                content = []
            items.append(_tool_output(part))
        else:
            wire = _content_part(part, "input_text")
            if wire is not None:
                content.append(wire)
    if content:
        items.append({"type": "message", "role": "user", "content": content})


def _tool_output(part: ir.ToolResultPart) -> dict[str, Any]:
    kind = "custom_tool_call_output" if part.kind == "custom" else "function_call_output"
    output: Any
    if all(isinstance(p, ir.TextPart) for p in part.content):
        output = part.text()
    else:
        output = [_content_part(p, "input_text") for p in part.content]
    return {"type": kind, "call_id": part.tool_call_id, "output": output}


def _assistant(m: ir.Message, items: list[dict[str, Any]]) -> None:
    content: list[dict[str, Any]] = []
    for part in m.content:
        if isinstance(part, ir.TextPart):
            content.append({"type": "output_text", "text": part.text})
            continue
        if content:
            items.append({"type": "message", "role": "assistant", "content": content})
            content = []
        if isinstance(part, ir.ThinkingPart):
            if part.encrypted is None or part.redacted:
                continue
            item: dict[str, Any] = {"type": "reasoning"}
            if part.item_id:
                item["id"] = part.item_id
            item["summary"] = [{"type": "summary_text", "text": part.text}] if part.text else []
            item["encrypted_content"] = part.encrypted
            items.append(item)
        elif isinstance(part, ir.ToolCallPart):
            if part.kind == "custom":
                items.append({
                    "type": "custom_tool_call",
                    "call_id": part.id,
                    "name": part.name,
                    "input": custom_input(part.arguments),
                })
            else:
                items.append({
                    "type": "function_call",
                    "call_id": part.id,
                    "name": part.name,
                    "arguments": part.arguments,
                })
    if content:
        items.append({"type": "message", "role": "assistant", "content": content})


def _render_reasoning(r: ir.Reasoning) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not r.enabled:
        out["effort"] = "none"
    elif r.effort is not None:
        out["effort"] = render_effort(r.effort)
    if r.summary is not None:
        out["summary"] = r.summary
    return out
