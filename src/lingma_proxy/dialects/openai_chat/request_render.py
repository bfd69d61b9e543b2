"""IR request -> Chat Completions body for an OpenAI-compatible upstream.

The upstream is usually a local server (LM Studio, Ollama, vLLM, llama.cpp, mlx-lm), so the
output sticks to the subset every one of them understands:

* system text is a ``system`` message (``developer`` is unknown to local chat templates);
* thinking parts of earlier turns are dropped: most chat templates either strip prior-turn
  reasoning or do not accept it, foreign thinking (Anthropic signatures, Responses encrypted
  blobs) means nothing to these servers, and re-sending it costs context on small windows;
* tool results become ``tool`` messages placed right after the assistant turn; images inside
  tool results follow in a ``user`` message so vision models still see the screenshot;
* custom (free-form) tools become functions with one required string parameter ``input``,
  which is exactly the IR form of a custom call's arguments (``{"input": "<text>"}``);
* ``tool_choice`` and ``parallel_tool_calls`` are sent only when there are tools (several
  servers reject a tool_choice without tools).
"""

from __future__ import annotations

from typing import Any

from ... import ir
from ._common import NAME

_GRAMMAR_LIMIT = 4000  # bytes of a custom tool's grammar worth spending prompt tokens on


def _image(part: ir.ImagePart) -> dict[str, Any]:
    if part.data is not None:
        url = f"data:{part.media_type or 'image/png'};base64,{part.data}"
    else:
        url = part.url or ""
    return {"type": "image_url", "image_url": {"url": url}}


def _parts(parts: list[ir.TextPart | ir.ImagePart]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": p.text} if isinstance(p, ir.TextPart) else _image(p) for p in parts]


def _content(parts: list[ir.TextPart | ir.ImagePart]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, ir.TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, ir.TextPart))
    return _parts(parts)


def _user(msg: ir.Message, out: list[dict[str, Any]], shown_msg: dict[str, Any] | None) -> dict[str, Any] | None:
    """Append ``tool`` messages and the user message; returns the user message when it
    carries images from tool results (the caller merges a following user turn into it)."""
    own: list[ir.TextPart | ir.ImagePart] = []
    shown: list[ir.TextPart | ir.ImagePart] = []  # images returned by tools
    for part in msg.content:
        if isinstance(part, ir.ToolResultPart):
            text = part.text()
            images = [p for p in part.content if isinstance(p, ir.ImagePart)]
            if images:
                shown.append(ir.TextPart(f"Image output of tool call {part.tool_call_id}:"))
                shown.extend(images)
                text = text or "(image output follows in the next message)"
            if part.is_error and not text.lower().startswith("error"):
                # Chat has no error flag on tool results; the model must still learn it failed.
                text = "Error: " + text
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": text})
        elif isinstance(part, (ir.TextPart, ir.ImagePart)):
            own.append(part)
    if not shown and shown_msg is not None and out[-1] is shown_msg:
        # Tool images went into a user message of our own; the client's next turn joins it
        # rather than making two user turns in a row (strict templates demand alternation).
        shown_msg["content"] += _parts(own)
        return None
    parts = shown + own
    if parts or not out or out[-1]["role"] != "tool":
        m: dict[str, Any] = {"role": "user", "content": _content(parts)}
        if msg.name:
            m["name"] = msg.name
        out.append(m)
        return m if shown else None
    return None


def _assistant(msg: ir.Message, out: list[dict[str, Any]]) -> None:
    text = "".join(p.text for p in msg.content if isinstance(p, ir.TextPart))
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.arguments}}
        for p in msg.content
        if isinstance(p, ir.ToolCallPart)
    ]
    if not text and not calls:
        return  # e.g. a thinking-only turn: an empty assistant message confuses templates
    m: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        m["tool_calls"] = calls
    else:
        m["content"] = text
    if msg.name:
        m["name"] = msg.name
    out.append(m)


def _tool(t: ir.Tool) -> dict[str, Any]:
    if t.kind == "function":
        fn: dict[str, Any] = {"name": t.name}
        if t.description:
            fn["description"] = t.description
        fn["parameters"] = dict(t.parameters)
        if t.strict is not None:
            fn["strict"] = t.strict
        return {"type": "function", "function": fn}
    note = (
        "This tool takes free-form text, not JSON fields: put the complete raw input in the "
        "`input` string parameter."
    )
    fmt = t.format or {}
    grammar = fmt.get("grammar") if fmt.get("type") == "grammar" else None
    if isinstance(grammar, dict):
        definition = grammar.get("definition")
        if isinstance(definition, str) and len(definition) <= _GRAMMAR_LIMIT:
            note += f"\nThe input must match this {grammar.get('syntax', '')} grammar:\n{definition}"
    desc = f"{t.description}\n\n{note}" if t.description else note
    params = {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The raw free-form input."}},
        "required": ["input"],
        "additionalProperties": False,
    }
    return {"type": "function", "function": {"name": t.name, "description": desc, "parameters": params}}


def _tool_choice(c: ir.ToolChoice) -> str | dict[str, Any]:
    if c.type == "tool" and c.name:
        return {"type": "function", "function": {"name": c.name}}
    return {"auto": "auto", "none": "none", "any": "required"}.get(c.type, "auto")


def render_request(req: ir.Request) -> dict[str, Any]:
    """IR -> Chat Completions body for an OpenAI-compatible upstream."""
    messages: list[dict[str, Any]] = []
    if req.system:
        messages.append({"role": "system", "content": req.system_text()})
    shown: dict[str, Any] | None = None
    for msg in req.messages:
        if msg.role == "user":
            shown = _user(msg, messages, shown)
        elif msg.role == "assistant":
            _assistant(msg, messages)
        else:
            messages.append({"role": "system", "content": msg.text()})
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.tools:
        body["tools"] = [_tool(t) for t in req.tools]
        if req.tool_choice is not None:
            body["tool_choice"] = _tool_choice(req.tool_choice)
        if req.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = list(req.stop)
    same = req.dialect == NAME
    r = req.reasoning
    if r is not None:
        if r.enabled and r.effort is not None:
            body["reasoning_effort"] = r.effort
        elif not r.enabled and same:  # a Chat client asked for "none"; others never say so
            body["reasoning_effort"] = "none"
    if req.response_format is not None:
        body["response_format"] = dict(req.response_format)
    if same and req.metadata:
        body["metadata"] = dict(req.metadata)
    body["stream"] = req.stream
    if req.stream:
        # Usage only arrives in a trailing chunk when asked for; the proxy always needs it.
        asked = req.extra.get("stream_options") if same else None
        body["stream_options"] = {**(asked if isinstance(asked, dict) else {}), "include_usage": True}
    if same:
        for key, value in req.extra.items():
            if key not in body and key != "stream_options":
                body[key] = value
    return body
