"""Anthropic Messages request (client wire JSON) -> ``ir.Request``."""

from __future__ import annotations

from typing import Any

from ... import ir
from ._wire import (
    EFFORT_IN,
    NAME,
    dump_object,
    fail,
    type_name,
    want_bool,
    want_dict,
    want_int,
    want_list,
    want_number,
    want_str,
)
from .numbers import check_numbers

# Fields parse_request models; everything else rides in Request.extra.
_MODELLED = frozenset(
    {
        "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
        "max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata",
    }
)

# Block types Anthropic defines that only mean something to Anthropic's own servers (server
# tools, search results, container files): a translated request drops them instead of failing.
_DROPPED_BLOCKS = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "search_result",
        "container_upload",
        "mcp_tool_use",
        "mcp_tool_result",
        "tool_reference",
        "compaction",
    }
)

_ROLES: dict[str, ir.Role] = {"user": "user", "assistant": "assistant", "system": "system"}

Parts = list[ir.Part]
Origins = dict[int, str]  # id(part) -> wire path (ir.Request.origins)


def parse_request(body: Any) -> ir.Request:
    """Client wire JSON -> IR; raises ``errors.InvalidRequest`` naming the offending field."""
    if not isinstance(body, dict):
        fail(f"request body must be a JSON object, got {type_name(body)}")
    check_numbers(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        fail("model: expected a non-empty string", "model")

    origins: Origins = {}
    raw_messages = want_list(body.get("messages"), "messages")
    if not raw_messages:
        fail("messages: at least one message is required", "messages")
    messages = tuple(_message(m, f"messages[{i}]", origins) for i, m in enumerate(raw_messages))
    system = _system(body.get("system"))
    tools = _tools(body.get("tools"))
    tool_choice, parallel = _tool_choice(body.get("tool_choice"))
    extra = {k: v for k, v in body.items() if k not in _MODELLED}
    reasoning = _reasoning(body.get("thinking"), body.get("output_config"), extra)

    max_tokens = _opt(body, "max_tokens", want_int)
    if max_tokens is not None and max_tokens < 1:
        fail("max_tokens: must be at least 1", "max_tokens")
    top_k = _opt(body, "top_k", want_int)
    stop: tuple[str, ...] = ()
    if body.get("stop_sequences") is not None:
        raw_stop = want_list(body["stop_sequences"], "stop_sequences")
        stop = tuple(want_str(s, f"stop_sequences[{i}]") for i, s in enumerate(raw_stop))
    metadata: dict[str, Any] = {}
    if body.get("metadata") is not None:
        metadata = dict(want_dict(body["metadata"], "metadata"))

    return ir.Request(
        model=model,
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        max_tokens=max_tokens,
        temperature=_opt(body, "temperature", want_number),
        top_p=_opt(body, "top_p", want_number),
        top_k=top_k,
        stop=stop,
        stream=bool(_opt(body, "stream", want_bool)),
        reasoning=reasoning,
        metadata=metadata,
        dialect=NAME,
        extra=extra,
        origins=origins,
    )


def _opt(body: dict[str, Any], key: str, check: Any) -> Any:
    value = body.get(key)
    return None if value is None else check(value, key)


# --------------------------------------------------------------------------- system + messages


def _system(raw: object) -> tuple[ir.TextPart, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (ir.TextPart(raw),) if raw else ()
    blocks = want_list(raw, "system")
    return tuple(_text_block(b, f"system[{i}]") for i, b in enumerate(blocks))


def _text_block(raw: object, param: str) -> ir.TextPart:
    block = want_dict(raw, param)
    if block.get("type") != "text":
        fail(f"{param}.type: expected 'text', got {block.get('type')!r}", f"{param}.type")
    return ir.TextPart(want_str(block.get("text"), f"{param}.text"))


def _message(raw: object, param: str, origins: Origins) -> ir.Message:
    msg = want_dict(raw, param)
    raw_role = msg.get("role")
    role = _ROLES.get(raw_role) if isinstance(raw_role, str) else None
    if role is None:
        fail(
            f"{param}.role: expected 'user', 'assistant' or 'system', got {raw_role!r}",
            f"{param}.role",
        )
    if "content" not in msg:
        fail(f"{param}.content: required", f"{param}.content")
    content = msg["content"]
    if isinstance(content, str):
        return ir.Message(role, (ir.TextPart(content),) if content else ())
    blocks = want_list(content, f"{param}.content")
    if role == "system":
        parts: Parts = [_text_block(b, f"{param}.content[{j}]") for j, b in enumerate(blocks)]
    else:
        parts = []
        for j, b in enumerate(blocks):
            _block(b, f"{param}.content[{j}]", parts, origins)
    return ir.Message(role, tuple(parts))


def _block(raw: object, param: str, out: Parts, origins: Origins) -> None:
    block = want_dict(raw, param)
    kind = block.get("type")
    if kind == "text":
        out.append(ir.TextPart(want_str(block.get("text"), f"{param}.text")))
    elif kind == "image":
        out.append(_image(block, param, origins))
    elif kind == "tool_use":
        out.append(call := _tool_use(block, param))
        origins[id(call)] = param
    elif kind == "tool_result":
        out.append(result := _tool_result(block, param, origins))
        origins[id(result)] = param
    elif kind == "thinking":
        sig = block.get("signature")
        out.append(
            ir.ThinkingPart(
                want_str(block.get("thinking"), f"{param}.thinking"),
                signature=want_str(sig, f"{param}.signature") or None if sig is not None else None,
            )
        )
    elif kind == "redacted_thinking":
        data = want_str(block.get("data"), f"{param}.data")
        out.append(ir.ThinkingPart("", encrypted=data, redacted=True))
    elif kind == "document":
        _document(block, param, out, origins)
    elif isinstance(kind, str) and kind in _DROPPED_BLOCKS:
        return
    else:
        fail(f"{param}.type: unsupported content block type {kind!r}", f"{param}.type")


def _image(block: dict[str, Any], param: str, origins: Origins) -> ir.ImagePart:
    source = want_dict(block.get("source"), f"{param}.source")
    stype = source.get("type")
    if stype == "base64":
        part = ir.ImagePart(
            media_type=want_str(source.get("media_type"), f"{param}.source.media_type"),
            data=want_str(source.get("data"), f"{param}.source.data"),
        )
        origins[id(part)] = f"{param}.source"
        return part
    if stype == "url":
        part = ir.ImagePart(url=want_str(source.get("url"), f"{param}.source.url"))
        origins[id(part)] = f"{param}.source.url"
        return part
    # "file" sources point into Anthropic's Files API, which no other upstream can read.
    fail(f"{param}.source.type: unsupported image source type {stype!r}", f"{param}.source.type")


def _document(block: dict[str, Any], param: str, out: Parts, origins: Origins) -> None:
    """Text documents become text; PDFs (base64/url/file) cannot be carried and are dropped."""
    source = want_dict(block.get("source"), f"{param}.source")
    stype = source.get("type")
    if stype == "text":
        out.append(ir.TextPart(want_str(source.get("data"), f"{param}.source.data")))
    elif stype == "content":
        content = source.get("content")
        if isinstance(content, str):
            out.append(ir.TextPart(content))
            return
        for k, b in enumerate(want_list(content, f"{param}.source.content")):
            sub = f"{param}.source.content[{k}]"
            inner = want_dict(b, sub)
            if inner.get("type") == "image":
                out.append(_image(inner, sub, origins))
            else:
                out.append(_text_block(inner, sub))
    elif stype not in ("base64", "url", "file"):
        fail(f"{param}.source.type: unsupported document source type {stype!r}", f"{param}.source.type")


def _tool_use(block: dict[str, Any], param: str) -> ir.ToolCallPart:
    args = block.get("input")
    text = "{}" if args is None else dump_object(want_dict(args, f"{param}.input"))
    if text is None:
        fail(f"{param}.input: cannot be encoded as JSON", f"{param}.input")
    return ir.ToolCallPart(
        id=want_str(block.get("id"), f"{param}.id"),
        name=want_str(block.get("name"), f"{param}.name"),
        arguments=text,
    )


def _tool_result(block: dict[str, Any], param: str, origins: Origins) -> ir.ToolResultPart:
    call_id = want_str(block.get("tool_use_id"), f"{param}.tool_use_id")
    is_error = block.get("is_error")
    content = block.get("content")
    parts: list[ir.TextPart | ir.ImagePart] = []
    if isinstance(content, str):
        if content:
            parts.append(ir.TextPart(content))
    elif content is not None:
        for k, b in enumerate(want_list(content, f"{param}.content")):
            sub: Parts = []
            _block(b, f"{param}.content[{k}]", sub, origins)
            for p in sub:
                if not isinstance(p, (ir.TextPart, ir.ImagePart)):
                    fail(f"{param}.content[{k}].type: not allowed inside tool_result", f"{param}.content[{k}].type")
                parts.append(p)
    return ir.ToolResultPart(
        tool_call_id=call_id,
        content=tuple(parts),
        is_error=False if is_error is None else want_bool(is_error, f"{param}.is_error"),
    )


# --------------------------------------------------------------------------- tools + reasoning


def _tools(raw: object) -> tuple[ir.Tool, ...]:
    if raw is None:
        return ()
    tools: list[ir.Tool] = []
    for i, t in enumerate(want_list(raw, "tools")):
        param = f"tools[{i}]"
        tool = want_dict(t, param)
        ttype = tool.get("type")
        if ttype is not None and ttype != "custom":
            # Server tools (web_search_*, bash_*, text_editor_*, ...) run inside Anthropic.
            want_str(ttype, f"{param}.type")
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            fail(f"{param}.name: expected a non-empty string", f"{param}.name")
        desc = tool.get("description")
        schema = tool.get("input_schema")
        strict = tool.get("strict")
        tools.append(
            ir.Tool(
                name=name,
                description="" if desc is None else want_str(desc, f"{param}.description"),
                parameters=(
                    {"type": "object", "properties": {}}
                    if schema is None
                    else want_dict(schema, f"{param}.input_schema")
                ),
                strict=None if strict is None else want_bool(strict, f"{param}.strict"),
            )
        )
    return tuple(tools)


def _tool_choice(raw: object) -> tuple[ir.ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    choice = want_dict(raw, "tool_choice")
    ctype = choice.get("type")
    if ctype not in ("auto", "any", "none", "tool"):
        fail(
            f"tool_choice.type: expected 'auto', 'any', 'none' or 'tool', got {ctype!r}",
            "tool_choice.type",
        )
    name = None
    if ctype == "tool":
        name = want_str(choice.get("name"), "tool_choice.name")
    parallel = None
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None:
        parallel = not want_bool(disable, "tool_choice.disable_parallel_tool_use")
    return ir.ToolChoice(ctype, name), parallel


def _reasoning(thinking: object, output_config: object, extra: dict[str, Any]) -> ir.Reasoning | None:
    """``thinking`` + ``output_config.effort`` -> Reasoning; unmodelled sub-keys (thinking
    ``display``, an unknown thinking type, ``output_config.format``, an effort the IR cannot
    name) are kept in ``extra`` so a same-dialect upstream still receives them."""
    reasoning: ir.Reasoning | None = None
    if thinking is not None:
        t = want_dict(thinking, "thinking")
        ttype = want_str(t.get("type"), "thinking.type")
        if ttype == "enabled":
            budget = t.get("budget_tokens")
            reasoning = ir.Reasoning(
                enabled=True,
                budget_tokens=None if budget is None else want_int(budget, "thinking.budget_tokens"),
            )
        else:
            # adaptive, between_tools and future kinds all mean "think, at your discretion".
            reasoning = ir.Reasoning(enabled=ttype != "disabled")
        rest = {k: v for k, v in t.items() if k not in ("type", "budget_tokens")}
        if ttype not in ("enabled", "adaptive", "disabled"):
            rest["type"] = ttype
        if rest:
            extra["thinking"] = rest
    if output_config is None:
        return reasoning
    oc = want_dict(output_config, "output_config")
    rest = {k: v for k, v in oc.items() if k != "effort"}
    raw_effort = oc.get("effort")
    if raw_effort is not None:
        name = want_str(raw_effort, "output_config.effort")
        effort = EFFORT_IN.get(name)
        if effort is None or effort != name:
            rest["effort"] = name  # not an IR level: only a same-dialect upstream sees it
        if effort is not None:
            if reasoning is None:
                reasoning = ir.Reasoning(enabled=True, effort=effort)
            else:
                reasoning = ir.Reasoning(
                    enabled=reasoning.enabled, effort=effort, budget_tokens=reasoning.budget_tokens
                )
    if rest:
        extra["output_config"] = rest
    return reasoning
