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
from . import options as opt
from ._wire import NAME, _type_of, custom_arguments
from .numbers import check_numbers

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
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})
_ASSISTANT_ITEMS = frozenset({"reasoning", "function_call", "custom_tool_call"})
Origins = dict[int, str]  # id(part) -> wire path (ir.Request.origins)
# Text-like files are inlined; anything else becomes a note the model can relay to the user.
_TEXT_FILE_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")


def parse_request(body: Any) -> ir.Request:
    """Client Responses JSON -> IR; raises ``InvalidRequest`` naming the offending field."""
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    check_numbers(body)
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
    if (value == "" or value == []) and not body.get("previous_response_id"):
        # OpenAI refuses an empty input array (no input at all is refused by the relay's check).
        raise InvalidRequest("input: expected a string or an array with at least one item", param="input")
    if isinstance(value, str):
        if value:
            builder.messages.append(ir.Message("user", (ir.TextPart(value),)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            builder.item(item, f"input[{i}]")
        builder.flush()
    elif value is not None:
        raise InvalidRequest("input must be a string or a list of items", param="input")

    extra = {k: v for k, v in body.items() if k not in _MODELED}
    opt.check_extra(extra)
    text = body.get("text")
    response_format = None
    if text is not None:
        if not isinstance(text, dict):
            raise InvalidRequest("text must be an object", param="text")
        response_format = opt.response_format(text.get("format"))
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
        tools=opt.tools(body.get("tools")),
        tool_choice=opt.tool_choice(body.get("tool_choice")),
        parallel_tool_calls=parallel,
        max_tokens=opt.positive_int(body, "max_output_tokens"),
        temperature=opt.number(body, "temperature"),
        top_p=opt.number(body, "top_p"),
        stream=bool(stream),
        reasoning=opt.reasoning(body.get("reasoning")),
        response_format=response_format,
        metadata=metadata or {},
        dialect=NAME,
        extra=extra,
        origins=builder.origins,
    )


# --------------------------------------------------------------------------- input items


class _InputBuilder:
    """Turns input items into IR messages, merging consecutive assistant-side items into one
    assistant message (a Chat upstream needs a turn's tool calls together) and consecutive
    tool outputs into one user message."""

    __slots__ = ("system", "messages", "origins", "_leading", "_assistant", "_assistant_id", "_outputs")

    def __init__(self, system: list[ir.TextPart]) -> None:
        self.system = system
        self.messages: list[ir.Message] = []
        self.origins: Origins = {}
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
            self._add_output(output := _tool_output(item, p, tool_kind, self.origins))
            self.origins[id(output)] = f"{p}.call_id"
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
            call = _tool_call(item, p, kind, item_id)
            self.origins[id(call)] = p
            self._add_assistant([call], None)

    def _message(self, item: dict[str, Any], p: str) -> None:
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequest(
                f"{p}.role must be one of user, assistant, system, developer", param=f"{p}.role"
            )
        parts = _content(item.get("content"), f"{p}.content", self.origins)
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


def _content(value: Any, p: str, origins: Origins) -> list[ir.Part]:
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    if not isinstance(value, list):
        raise InvalidRequest(f"{p} must be a string or a list of parts", param=p)
    out: list[ir.Part] = []
    for j, part in enumerate(value):
        pp = f"{p}[{j}]"
        if not isinstance(part, dict):
            raise InvalidRequest(f"{pp} must be an object", param=pp)
        kind = _type_of(part)
        if kind in _TEXT_PARTS or kind == "refusal":
            key = "refusal" if kind == "refusal" else "text"
            text = part.get(key)
            if not isinstance(text, str):
                raise InvalidRequest(f"{pp}.{key} must be a string", param=f"{pp}.{key}")
            if text:
                out.append(ir.TextPart(text))
        elif kind == "input_image":
            out.append(image := _image(part, pp))
            origins[id(image)] = f"{pp}.image_url"
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
                raise InvalidRequest(f"{p}.file_data is not valid base64", param=f"{p}.file_data") from None
            return ir.TextPart(f"[file: {label}]\n{text}")
    return ir.TextPart(f"[file {label} omitted: this proxy forwards only text files]")


def _tool_output(item: dict[str, Any], p: str, kind: Literal["function", "custom"], origins: Origins) -> ir.Part:
    call_id = opt.required_str(item, "call_id", p)
    output = item.get("output")
    content: tuple[ir.TextPart | ir.ImagePart, ...] = ()
    if isinstance(output, str):
        content = (ir.TextPart(output),) if output else ()
    elif isinstance(output, list):
        parts = _content(output, f"{p}.output", origins)
        content = tuple(x for x in parts if isinstance(x, (ir.TextPart, ir.ImagePart)))
    elif output is not None:
        raise InvalidRequest(
            f"{p}.output must be a string or a list of parts", param=f"{p}.output"
        )
    return ir.ToolResultPart(call_id, content, kind=kind)


def _tool_call(item: dict[str, Any], p: str, kind: str, item_id: str | None) -> ir.ToolCallPart:
    call_id = opt.required_str(item, "call_id", p)
    name = opt.required_str(item, "name", p)
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
