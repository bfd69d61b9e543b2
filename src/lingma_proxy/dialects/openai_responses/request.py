"""Responses request wire -> IR (``parse_request``).

Codex drives the design: it sends no ``instructions`` (its base prompt is the first developer
message), replays reasoning items with ``encrypted_content``, uses a ``custom`` tool
(``apply_patch``) and keeps adding item and tool types, so unknown ones are dropped, never an
error.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any, Literal

import orjson

from ... import ir
from ...errors import InvalidRequest
from ._wire import NAME, custom_arguments

# Top-level fields the IR models; everything else travels in ``Request.extra``.
_MODELED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "metadata",
        "stream",
    }
)
_EFFORTS: dict[str, ir.Effort] = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
    "max": "max",
}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})
_ASSISTANT_ITEMS = frozenset({"reasoning", "function_call", "custom_tool_call"})
# Text-like files are inlined; anything else becomes a note the model can relay to the user.
_TEXT_FILE_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")


def parse_request(body: Any) -> ir.Request:
    """Client Responses JSON -> IR; raises ``InvalidRequest`` naming the offending field."""
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model must be a non-empty string", param="model")

    system: list[ir.TextPart] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise InvalidRequest("instructions must be a string", param="instructions")
        if instructions:
            system.append(ir.TextPart(instructions))

    builder = _InputBuilder(system)
    value = body.get("input")
    if isinstance(value, str):
        builder.messages.append(ir.Message("user", (ir.TextPart(value),)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            builder.item(item, f"input[{i}]")
        builder.flush()
    elif value is not None:
        raise InvalidRequest("input must be a string or a list of items", param="input")

    extra = {k: v for k, v in body.items() if k not in _MODELED}
    _check_extra(extra)
    text = body.get("text")
    response_format = None
    if text is not None:
        if not isinstance(text, dict):
            raise InvalidRequest("text must be an object", param="text")
        response_format = _response_format(text.get("format"))
        verbosity = text.get("verbosity")
        if verbosity is not None:
            extra["verbosity"] = verbosity

    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidRequest("metadata must be an object", param="metadata")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("stream must be a boolean", param="stream")
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise InvalidRequest("parallel_tool_calls must be a boolean", param="parallel_tool_calls")

    return ir.Request(
        model=model,
        messages=tuple(builder.messages),
        system=tuple(system),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=parallel,
        max_tokens=_positive_int(body, "max_output_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stream=bool(stream),
        reasoning=_reasoning(body.get("reasoning")),
        response_format=response_format,
        metadata=metadata or {},
        dialect=NAME,
        extra=extra,
    )


# --------------------------------------------------------------------------- input items


class _InputBuilder:
    """Turns input items into IR messages, merging consecutive assistant-side items into one
    assistant message (a Chat upstream needs a turn's tool calls together) and consecutive
    tool outputs into one user message."""

    __slots__ = ("system", "messages", "_leading", "_assistant", "_assistant_id", "_outputs")

    def __init__(self, system: list[ir.TextPart]) -> None:
        self.system = system
        self.messages: list[ir.Message] = []
        self._leading = True
        self._assistant: list[ir.Part] = []
        self._assistant_id: str | None = None
        self._outputs: list[ir.Part] = []

    def flush(self) -> None:
        if self._assistant:
            self.messages.append(
                ir.Message("assistant", tuple(self._assistant), id=self._assistant_id)
            )
            self._assistant = []
            self._assistant_id = None
        if self._outputs:
            self.messages.append(ir.Message("user", tuple(self._outputs)))
            self._outputs = []

    def _add_assistant(self, parts: list[ir.Part], item_id: str | None) -> None:
        if self._outputs:
            self.flush()
        if not self._assistant and item_id is not None:
            self._assistant_id = item_id
        self._assistant += parts

    def _add_output(self, part: ir.Part) -> None:
        if self._assistant:
            self.flush()
        self._outputs.append(part)

    def item(self, item: Any, p: str) -> None:
        if not isinstance(item, dict):
            raise InvalidRequest(f"{p} must be an object", param=p)
        kind = item.get("type")
        if kind is None:
            if "role" not in item:
                raise InvalidRequest(f"{p} has neither a type nor a role", param=f"{p}.type")
            kind = "message"
        elif not isinstance(kind, str):
            raise InvalidRequest(f"{p}.type must be a string", param=f"{p}.type")

        if kind == "message":
            self._message(item, p)
            return
        if kind == "function_call_output" or kind == "custom_tool_call_output":
            self._leading = False
            tool_kind: Literal["function", "custom"] = (
                "custom" if kind == "custom_tool_call_output" else "function"
            )
            self._add_output(_tool_output(item, p, tool_kind))
            return
        if kind not in _ASSISTANT_ITEMS:
            return  # item_reference, web_search_call, mcp_*, ...: tolerated, dropped
        self._leading = False
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        if kind == "reasoning":
            thinking = _reasoning_item(item, p, item_id)
            if thinking is not None:
                self._add_assistant([thinking], None)
        else:
            self._add_assistant([_tool_call(item, p, kind, item_id)], None)

    def _message(self, item: dict[str, Any], p: str) -> None:
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequest(
                f"{p}.role must be one of user, assistant, system, developer", param=f"{p}.role"
            )
        parts = _content(item.get("content"), f"{p}.content")
        msg_id = item.get("id") if isinstance(item.get("id"), str) else None
        if role == "system" or role == "developer":
            if self._leading:
                self.system += [part for part in parts if isinstance(part, ir.TextPart)]
                return
            if parts:
                self.flush()
                self.messages.append(ir.Message("system", tuple(parts), id=msg_id))
            return
        self._leading = False
        if role == "assistant":
            if parts:
                self._add_assistant(parts, msg_id)
            return
        if parts:
            self.flush()
            self.messages.append(ir.Message("user", tuple(parts), id=msg_id))


def _content(value: Any, p: str) -> list[ir.Part]:
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    if not isinstance(value, list):
        raise InvalidRequest(f"{p} must be a string or a list of parts", param=p)
    out: list[ir.Part] = []
    for j, part in enumerate(value):
        pp = f"{p}[{j}]"
        if not isinstance(part, dict):
            raise InvalidRequest(f"{pp} must be an object", param=pp)
        kind = part.get("type")
        if kind in _TEXT_PARTS or kind == "refusal":
            key = "refusal" if kind == "refusal" else "text"
            text = part.get(key)
            if not isinstance(text, str):
                raise InvalidRequest(f"{pp}.{key} must be a string", param=f"{pp}.{key}")
            if text:
                out.append(ir.TextPart(text))
        elif kind == "input_image":
            out.append(_image(part, pp))
        elif kind == "input_file":
            out.append(_file(part, pp))
        # input_audio and future part types: dropped rather than failing the whole turn
    return out


def _data_url(url: str, p: str) -> tuple[str, str]:
    header, sep, data = url[5:].partition(",")
    media_type, _, params = header.partition(";")
    if not sep or "base64" not in params.split(";"):
        raise InvalidRequest(f"{p} must be a base64 data URL", param=p)
    return media_type, data


def _image(part: dict[str, Any], p: str) -> ir.ImagePart:
    url = part.get("image_url")
    if isinstance(url, dict):  # Chat-shaped {"url": ...}, sent by some clients
        url = url.get("url")
    if isinstance(url, str) and url:
        if url.startswith("data:"):
            media_type, data = _data_url(url, f"{p}.image_url")
            return ir.ImagePart(media_type=media_type, data=data)
        return ir.ImagePart(url=url)
    if part.get("file_id") is not None:
        raise InvalidRequest(
            "input_image by file_id is not supported; send image_url", param=f"{p}.file_id"
        )
    raise InvalidRequest(f"{p}.image_url must be a URL string", param=f"{p}.image_url")


def _file(part: dict[str, Any], p: str) -> ir.TextPart:
    name = part.get("filename")
    label = name if isinstance(name, str) and name else "file"
    data = part.get("file_data")
    if isinstance(data, str) and data.startswith("data:"):
        media_type, b64 = _data_url(data, f"{p}.file_data")
        if media_type.startswith(_TEXT_FILE_TYPES):
            try:
                text = b64decode(b64, validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                raise InvalidRequest(f"{p}.file_data is not valid base64", param=f"{p}.file_data")
            return ir.TextPart(f"[file: {label}]\n{text}")
    return ir.TextPart(f"[file {label} omitted: this proxy forwards only text files]")


def _tool_output(item: dict[str, Any], p: str, kind: Literal["function", "custom"]) -> ir.Part:
    call_id = _required_str(item, "call_id", p)
    output = item.get("output")
    content: tuple[ir.TextPart | ir.ImagePart, ...] = ()
    if isinstance(output, str):
        content = (ir.TextPart(output),) if output else ()
    elif isinstance(output, list):
        parts = _content(output, f"{p}.output")
        content = tuple(x for x in parts if isinstance(x, (ir.TextPart, ir.ImagePart)))
    elif output is not None:
        raise InvalidRequest(
            f"{p}.output must be a string or a list of parts", param=f"{p}.output"
        )
    return ir.ToolResultPart(call_id, content, kind=kind)


def _tool_call(item: dict[str, Any], p: str, kind: str, item_id: str | None) -> ir.ToolCallPart:
    call_id = _required_str(item, "call_id", p)
    name = _required_str(item, "name", p)
    if kind == "custom_tool_call":
        text = item.get("input")
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise InvalidRequest(f"{p}.input must be a string", param=f"{p}.input")
        return ir.ToolCallPart(
            call_id, name, custom_arguments(text), kind="custom", item_id=item_id
        )
    args = item.get("arguments")
    if args is None or args == "":
        args = "{}"
    elif isinstance(args, dict):
        args = orjson.dumps(args).decode()
    elif not isinstance(args, str):
        raise InvalidRequest(f"{p}.arguments must be a string", param=f"{p}.arguments")
    return ir.ToolCallPart(call_id, name, args, item_id=item_id)


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [x["text"] for x in value if isinstance(x, dict) and isinstance(x.get("text"), str)]


def _reasoning_item(item: dict[str, Any], p: str, item_id: str | None) -> ir.ThinkingPart | None:
    texts = _texts(item.get("summary")) or _texts(item.get("content"))
    encrypted = item.get("encrypted_content")
    if encrypted is not None and not isinstance(encrypted, str):
        raise InvalidRequest(
            f"{p}.encrypted_content must be a string", param=f"{p}.encrypted_content"
        )
    text = "\n\n".join(texts)
    if not text and not encrypted:
        return None
    return ir.ThinkingPart(text, encrypted=encrypted or None, item_id=item_id)


def _required_str(item: dict[str, Any], key: str, p: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{p}.{key} must be a non-empty string", param=f"{p}.{key}")
    return value


# --------------------------------------------------------------------------- options


def _tools(value: Any) -> tuple[ir.Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequest("tools must be a list", param="tools")
    out: list[ir.Tool] = []
    for i, tool in enumerate(value):
        p = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"{p} must be an object", param=p)
        kind = tool.get("type")
        if kind == "function":
            if isinstance(tool.get("function"), dict):  # Chat-shaped tool, tolerated
                tool = tool["function"]
            out.append(_function_tool(tool, p))
        elif kind == "custom":
            fmt = tool.get("format")
            if fmt is not None and not isinstance(fmt, dict):
                raise InvalidRequest(f"{p}.format must be an object", param=f"{p}.format")
            out.append(
                ir.Tool(
                    name=_required_str(tool, "name", p),
                    description=_opt_str(tool, "description", p),
                    parameters={
                        "type": "object",
                        "properties": {"input": {"type": "string"}},
                        "required": ["input"],
                    },
                    kind="custom",
                    format=fmt,
                )
            )
        # web_search, tool_search, local_shell, mcp, file_search, ...: dropped
    return tuple(out)


def _function_tool(tool: dict[str, Any], p: str) -> ir.Tool:
    params = tool.get("parameters")
    if params is None:
        params = {"type": "object", "properties": {}}
    elif not isinstance(params, dict):
        raise InvalidRequest(f"{p}.parameters must be an object", param=f"{p}.parameters")
    strict = tool.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise InvalidRequest(f"{p}.strict must be a boolean", param=f"{p}.strict")
    return ir.Tool(
        name=_required_str(tool, "name", p),
        description=_opt_str(tool, "description", p),
        parameters=params,
        strict=strict,
    )


def _opt_str(obj: dict[str, Any], key: str, p: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"{p}.{key} must be a string", param=f"{p}.{key}")
    return value


def _tool_choice(value: Any) -> ir.ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value == "auto":
            return ir.ToolChoice("auto")
        if value == "none":
            return ir.ToolChoice("none")
        if value == "required":
            return ir.ToolChoice("any")
        raise InvalidRequest(
            "tool_choice must be auto, none, required or an object", param="tool_choice"
        )
    if not isinstance(value, dict):
        raise InvalidRequest("tool_choice must be a string or an object", param="tool_choice")
    if value.get("type") in ("function", "custom"):
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("tool_choice.name must be a string", param="tool_choice.name")
        return ir.ToolChoice("tool", name)
    # allowed_tools, hosted tool types: nothing the IR can force, so leave the model free
    return ir.ToolChoice("auto")


def _reasoning(value: Any) -> ir.Reasoning | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("reasoning must be an object", param="reasoning")
    effort = value.get("effort")
    summary = value.get("summary")
    if effort is not None and not isinstance(effort, str):
        raise InvalidRequest("reasoning.effort must be a string", param="reasoning.effort")
    if summary is not None and not isinstance(summary, str):
        raise InvalidRequest("reasoning.summary must be a string", param="reasoning.summary")
    if effort == "none":
        return ir.Reasoning(enabled=False, summary=summary)
    return ir.Reasoning(effort=_EFFORTS.get(effort or ""), summary=summary)


def _response_format(fmt: Any) -> dict[str, Any] | None:
    """Responses ``text.format`` -> the Chat ``response_format`` shape the IR uses."""
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise InvalidRequest("text.format must be an object", param="text.format")
    kind = fmt.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        return None
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest("text.format.schema must be an object", param="text.format.schema")
    spec: dict[str, Any] = {"name": _opt_str(fmt, "name", "text.format") or "response"}
    spec["schema"] = schema
    for key in ("strict", "description"):
        if fmt.get(key) is not None:
            spec[key] = fmt[key]
    return {"type": "json_schema", "json_schema": spec}


def _positive_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"{key} must be a positive integer", param=key)
    return value


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidRequest(f"{key} must be a number", param=key)
    return value


def _check_extra(extra: dict[str, Any]) -> None:
    """The extras other modules act on must have the right type."""
    prev = extra.get("previous_response_id")
    if prev is not None and (not isinstance(prev, str) or not prev):
        raise InvalidRequest(
            "previous_response_id must be a non-empty string", param="previous_response_id"
        )
    store = extra.get("store")
    if store is not None and not isinstance(store, bool):
        raise InvalidRequest("store must be a boolean", param="store")
    include = extra.get("include")
    if include is not None and (
        not isinstance(include, list) or not all(isinstance(x, str) for x in include)
    ):
        raise InvalidRequest("include must be a list of strings", param="include")
