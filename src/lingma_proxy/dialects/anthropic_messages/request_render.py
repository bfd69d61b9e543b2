"""``ir.Request`` -> Anthropic Messages request JSON, for an Anthropic upstream.

The IR can hold conversations the Messages API refuses (an assistant turn first, two user
turns in a row, empty text, tool results after text, thinking from another vendor), so this
renderer normalises while it renders:

* consecutive same-role turns are merged (tool results moved to the front of a user turn);
* mid-conversation system messages from other dialects become ``<system-reminder>`` text in
  the adjacent user turn (an Anthropic client's own ``role: "system"`` turns stay as they are:
  its upstream accepts them);
* if the first turn is the assistant's, a user turn ``(continue)`` is put before it: the API
  requires the conversation to open with a user turn and this is the least suggestive text;
* thinking without an Anthropic signature is dropped (the API rejects foreign thinking);
  redacted thinking is kept; whitespace-only text is dropped (the API rejects it);
* thinking is switched off where the API would refuse it: a forced tool choice, no room
  under ``max_tokens`` for the 1024-token minimum budget, or a tool loop whose last assistant
  turn has no signed thinking to open with. With thinking on, ``temperature`` (unless 1),
  ``top_k`` and ``top_p`` below 0.95 are left out for the same reason.
"""

from __future__ import annotations

from typing import Any

from ... import ir
from ._wire import EFFORT_OUT, NAME

DEFAULT_MAX_TOKENS = 8192
MIN_BUDGET = 1024  # the API's floor for thinking.budget_tokens
EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "max": 31999}
CONTINUE_TEXT = "(continue)"

Block = dict[str, Any]
Turn = dict[str, Any]


def render_request(req: ir.Request) -> dict[str, Any]:
    """IR -> Anthropic Messages request body."""
    same = req.dialect == NAME
    max_tokens = req.max_tokens or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": req.model, "max_tokens": max_tokens}
    system = [p.text for p in req.system if p.text]
    if len(system) == 1:
        body["system"] = system[0]
    elif system:
        body["system"] = [{"type": "text", "text": t} for t in system]
    body["messages"] = _messages(req.messages, same)

    forced = req.tool_choice is not None and req.tool_choice.type in ("any", "tool")
    thinking = _thinking(req, max_tokens, forced, same)
    if thinking is not None and thinking["type"] != "disabled" and _unsigned_tool_turn(body["messages"]):
        thinking = None
    if thinking is not None:
        body["thinking"] = thinking
    thinking_on = thinking is not None and thinking["type"] != "disabled"
    if req.reasoning is not None and req.reasoning.effort is not None:
        body["output_config"] = {"effort": EFFORT_OUT[req.reasoning.effort]}

    if req.tools:
        body["tools"] = [_tool(t) for t in req.tools]
        choice: dict[str, Any] | None = None
        if req.tool_choice is not None:
            choice = {"type": req.tool_choice.type}
            if req.tool_choice.type == "tool":
                choice["name"] = req.tool_choice.name or ""
        if req.parallel_tool_calls is False and (choice is None or choice["type"] != "none"):
            choice = choice or {"type": "auto"}
            choice["disable_parallel_tool_use"] = True
        if choice is not None:
            body["tool_choice"] = choice

    # With thinking on, the API allows neither temperature nor top_k, and top_p only >= 0.95.
    if req.temperature is not None and (not thinking_on or req.temperature == 1):
        body["temperature"] = req.temperature
    if req.top_p is not None and (not thinking_on or req.top_p >= 0.95):
        body["top_p"] = req.top_p
    if req.top_k is not None and not thinking_on:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.stream:
        body["stream"] = True
    _structured_output(req, body)
    if same:
        if req.metadata:
            body["metadata"] = dict(req.metadata)
        _merge_extra(body, req.extra)
    elif isinstance(req.metadata.get("user_id"), str):
        # Other dialects' metadata is free-form; Anthropic accepts only user_id.
        body["metadata"] = {"user_id": req.metadata["user_id"]}
    return body


def _thinking(req: ir.Request, max_tokens: int, forced: bool, same: bool) -> dict[str, Any] | None:
    r = req.reasoning
    if r is None:
        return None
    if not r.enabled:
        return {"type": "disabled"}
    if forced:
        return None  # the API refuses thinking together with a forced tool choice
    if r.budget_tokens is None and same:
        # An Anthropic "enabled" always names its budget, so this client asked for adaptive
        # thinking (its effort travels in output_config).
        return {"type": "adaptive"}
    budget = r.budget_tokens if r.budget_tokens is not None else EFFORT_BUDGET[r.effort or "medium"]
    budget = min(budget, max_tokens - 1)
    if budget < MIN_BUDGET:
        return None  # max_tokens leaves no room to think
    return {"type": "enabled", "budget_tokens": budget}


def _unsigned_tool_turn(turns: list[Turn]) -> bool:
    """With thinking on, the API wants the last assistant turn of a tool loop to open with
    its (signed) thinking; a turn whose thinking came from another vendor cannot, so such a
    request goes without thinking rather than being refused."""
    for turn in reversed(turns):
        if turn["role"] == "assistant":
            content = turn["content"]
            uses_tools = any(b["type"] == "tool_use" for b in content)
            return uses_tools and content[0]["type"] not in ("thinking", "redacted_thinking")
    return False


def _structured_output(req: ir.Request, body: dict[str, Any]) -> None:
    rf = req.response_format
    if not rf or rf.get("type") != "json_schema":
        return
    spec = rf.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if isinstance(schema, dict):
        body.setdefault("output_config", {})["format"] = {"type": "json_schema", "schema": schema}


def _merge_extra(body: dict[str, Any], extra: Any) -> None:
    """Unmodelled client fields; modelled ones win, except inside objects both carry."""
    for key, value in extra.items():
        current = body.get(key)
        if current is None:
            if key != "thinking":  # thinking sub-keys mean nothing once thinking is off
                body[key] = value
        elif isinstance(current, dict) and isinstance(value, dict):
            if key == "thinking" and current.get("type") == "disabled":
                continue
            merged = {**current, **value}
            if merged.get("type") != "enabled":
                merged.pop("budget_tokens", None)
            body[key] = merged


def _tool(t: ir.Tool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": t.name}
    desc = t.description
    if t.kind == "custom":
        # A free-form tool travels as a function with one string argument (the IR convention).
        if t.format:
            definition = t.format.get("definition")
            if isinstance(definition, str) and definition:
                desc = f"{desc}\n\nThe input must follow this grammar:\n{definition}".strip()
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The raw tool input."}},
            "required": ["input"],
        }
    else:
        schema = dict(t.parameters)
    if desc:
        out["description"] = desc
    out["input_schema"] = schema
    if t.strict:
        out["strict"] = True
    return out


# --------------------------------------------------------------------------- messages


def _messages(messages: tuple[ir.Message, ...], same: bool) -> list[Turn]:
    turns: list[Turn] = []
    for msg in messages:
        if msg.role == "system":
            text = msg.text()
            if not text.strip():
                continue
            if same:
                turns.append({"role": "system", "content": [{"type": "text", "text": text}]})
                continue
            role, blocks = "user", [{"type": "text", "text": f"<system-reminder>\n{text}\n</system-reminder>"}]
        else:
            role, blocks = msg.role, _blocks(msg.content)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            content = turn["content"]
            results = [b for b in content if b["type"] == "tool_result"]
            if results and len(results) != len(content):
                turn["content"] = results + [b for b in content if b["type"] != "tool_result"]
    first = next((t for t in turns if t["role"] != "system"), None)
    if first is not None and first["role"] == "assistant":
        turns.insert(turns.index(first), {"role": "user", "content": [{"type": "text", "text": CONTINUE_TEXT}]})
    return turns


def _blocks(parts: tuple[ir.Part, ...]) -> list[Block]:
    out: list[Block] = []
    for p in parts:
        if isinstance(p, ir.TextPart):
            if p.text.strip():
                out.append({"type": "text", "text": p.text})
        elif isinstance(p, ir.ToolCallPart):
            out.append({"type": "tool_use", "id": p.id, "name": p.name, "input": p.parsed_arguments()})
        elif isinstance(p, ir.ToolResultPart):
            out.append(_tool_result(p))
        elif isinstance(p, ir.ImagePart):
            image = _image(p)
            if image is not None:
                out.append(image)
        elif isinstance(p, ir.ThinkingPart):
            if p.redacted:
                if p.encrypted:
                    out.append({"type": "redacted_thinking", "data": p.encrypted})
            elif p.signature:
                out.append({"type": "thinking", "thinking": p.text, "signature": p.signature})
    return out


def _tool_result(p: ir.ToolResultPart) -> Block:
    out: Block = {"type": "tool_result", "tool_use_id": p.tool_call_id}
    content: list[Block] = []
    for c in p.content:
        if isinstance(c, ir.TextPart):
            if c.text.strip():
                content.append({"type": "text", "text": c.text})
        else:
            image = _image(c)
            if image is not None:
                content.append(image)
    if content:
        out["content"] = content
    if p.is_error:
        out["is_error"] = True
    return out


def _image(p: ir.ImagePart) -> Block | None:
    if p.data:
        return {"type": "image", "source": {"type": "base64", "media_type": p.media_type, "data": p.data}}
    url = p.url or ""
    if url.startswith("data:"):
        # Chat/Responses clients inline images as data URLs; Anthropic wants base64 sources.
        head, sep, data = url[5:].partition(",")
        if sep and head.endswith(";base64"):
            return {"type": "image", "source": {"type": "base64", "media_type": head[:-7], "data": data}}
        return None
    if url:
        return {"type": "image", "source": {"type": "url", "url": url}}
    return None
