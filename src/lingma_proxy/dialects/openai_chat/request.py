"""Chat Completions request body (from a client) -> IR request.

Decisions where the wire format leaves room:

* ``input_audio`` and ``file`` content parts are rejected with a clear ``InvalidRequest`` (no
  backend of ours can use them, and silently dropping input hides the problem).
* Consecutive ``tool`` (and legacy ``function``) messages become one IR user message of tool
  results; a user message that follows stays its own message (lossless; renderers that need
  alternation merge adjacent user messages themselves).
* ``user`` is not modelled (it goes to ``extra`` and reaches a Chat upstream unchanged);
  ``metadata`` is kept as sent.
* ``reasoning_effort: "xhigh"`` maps to the IR's ``high`` (never spend more than was asked).
* ``tool_choice: {"type": "allowed_tools", ...}`` narrows ``tools`` to the allowed ones.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from ... import errors, ir
from ...features.validate import is_local_path
from ._common import NAME, dump_arguments
from .numbers import check_numbers

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MODELLED = frozenset(
    {
        "model", "messages", "tools", "functions", "tool_choice", "function_call",
        "parallel_tool_calls", "max_tokens", "max_completion_tokens", "temperature", "top_p",
        "stop", "stream", "reasoning_effort", "response_format", "metadata", "n",
    }
)  # fmt: skip
_EFFORTS: dict[str, ir.Effort] = {
    "minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "high",
    "max": "max",
}  # fmt: skip
_BAD = errors.InvalidRequest
Origins = dict[int, str]  # id(part) -> wire path (ir.Request.origins)


def _type_name(v: object) -> str:
    if v is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), type(v).__name__)  # fmt: skip


def _expect(cond: bool, what: str, value: object, param: str) -> None:
    if not cond:
        raise _BAD(f"{param} must be {what}, got {_type_name(value)}", param=param)


def _opt_number(body: dict[str, Any], key: str) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    _expect(isinstance(v, (int, float)) and not isinstance(v, bool), "a number", v, key)
    return float(v)


def _opt_bool(body: dict[str, Any], key: str) -> bool | None:
    v = body.get(key)
    if v is None:
        return None
    _expect(isinstance(v, bool), "a boolean", v, key)
    return cast(bool, v)


def _opt_positive_int(body: dict[str, Any], key: str) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    _expect(isinstance(v, int) and not isinstance(v, bool), "an integer", v, key)
    if v < 1:
        raise _BAD(f"{key} must be at least 1, got {v}", param=key)
    return cast(int, v)


# ----------------------------------------------------------------------------- content


def _image(url_obj: object, param: str, origins: Origins) -> ir.ImagePart:
    url = url_obj.get("url") if isinstance(url_obj, dict) else url_obj
    p = param + ".url" if isinstance(url_obj, dict) else param
    _expect(isinstance(url, str), "a string", url, p)
    assert isinstance(url, str)
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        media_type, _, enc = head.partition(";")
        if not sep or enc.lower() != "base64" or not data:
            raise _BAD(f"{p} must be a base64 data URL (data:<type>;base64,...)", param=p)
        part = ir.ImagePart(media_type=media_type or "image/png", data=data)
    elif url[:8].lower().startswith(("http://", "https://")) or is_local_path(url):
        part = ir.ImagePart(url=url)  # a local path is refused or read by the relay (allow_local_images)
    else:
        raise _BAD(f"{p} must be an http(s) URL or a base64 data URL", param=p)
    origins[id(part)] = p
    return part


def _parts(content: object, param: str, allowed: frozenset[str],
           origins: Origins | None = None) -> list[ir.TextPart | ir.ImagePart]:
    """String, null or a list of content parts -> IR text/image parts (empty text dropped)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    _expect(isinstance(content, list), "a string, an array of content parts or null", content, param)
    assert isinstance(content, list)
    out: list[ir.TextPart | ir.ImagePart] = []
    for i, part in enumerate(content):
        pp = f"{param}[{i}]"
        _expect(isinstance(part, dict), "an object", part, pp)
        kind = part.get("type")
        if not isinstance(kind, str) or kind not in allowed:
            if kind in ("input_audio", "file"):
                raise _BAD(f"{pp}: {kind} content parts are not supported", param=pp + ".type")
            raise _BAD(f"{pp}.type {kind!r} is not allowed here", param=pp + ".type")
        if kind == "image_url":
            out.append(_image(part.get("image_url"), pp + ".image_url", {} if origins is None else origins))
            continue
        key = "refusal" if kind == "refusal" else "text"
        text = part.get(key)
        _expect(isinstance(text, str), "a string", text, f"{pp}.{key}")
        if text:
            out.append(ir.TextPart(cast(str, text)))
    return out


_TEXT = frozenset({"text"})
_USER = frozenset({"text", "image_url"})
_ASSISTANT = frozenset({"text", "refusal"})


def _texts(content: object, param: str) -> list[ir.TextPart]:
    return cast(list[ir.TextPart], _parts(content, param, _TEXT))


def _tool_calls(raw: object, param: str, origins: Origins) -> list[ir.ToolCallPart]:
    _expect(isinstance(raw, list), "an array", raw, param)
    assert isinstance(raw, list)
    out: list[ir.ToolCallPart] = []
    for i, call in enumerate(raw):
        pc = f"{param}[{i}]"
        _expect(isinstance(call, dict), "an object", call, pc)
        cid = call.get("id")
        _expect(isinstance(cid, str) and bool(cid), "a non-empty string", cid, pc + ".id")
        if call.get("type") == "custom":
            custom = call.get("custom")
            _expect(isinstance(custom, dict), "an object", custom, pc + ".custom")
            name, text = custom.get("name"), custom.get("input")
            _expect(isinstance(name, str) and bool(name), "a non-empty string", name, pc + ".custom.name")
            _expect(isinstance(text, str), "a string", text, pc + ".custom.input")
            args = orjson.dumps({"input": text}).decode()
            out.append(ir.ToolCallPart(cast(str, cid), cast(str, name), args, kind="custom"))
            origins[id(out[-1])] = pc
            continue
        fn = call.get("function")
        _expect(isinstance(fn, dict), "an object", fn, pc + ".function")
        name = fn.get("name")
        _expect(isinstance(name, str) and bool(name), "a non-empty string", name, pc + ".function.name")
        args_raw = fn.get("arguments")
        _expect(isinstance(args_raw, (str, dict)) or args_raw is None, "a string", args_raw, pc + ".function.arguments")
        out.append(ir.ToolCallPart(cast(str, cid), cast(str, name), dump_arguments(args_raw)))
        origins[id(out[-1])] = pc
    return out


# ----------------------------------------------------------------------------- messages


class _Messages:
    """Walks the messages array, keeping the few bits of state the merging rules need."""

    def __init__(self) -> None:
        self.system: list[ir.TextPart] = []
        self.out: list[ir.Message] = []
        self.results: list[ir.Part] | None = None  # the open run of tool results
        self.legacy_call_id = ""  # the last assistant function_call, for `function` replies
        self.origins: Origins = {}

    def add(self, i: int, msg: object) -> None:
        pm = f"messages[{i}]"
        _expect(isinstance(msg, dict), "an object", msg, pm)
        assert isinstance(msg, dict)
        role = msg.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            if isinstance(role, str):
                raise _BAD(f"{pm}.role {role!r} is not one of {sorted(_ROLES)}", param=pm + ".role")
            _expect(False, "a string", role, pm + ".role")
        name = msg.get("name")
        name = name if isinstance(name, str) and name else None
        content = msg.get("content")
        if role in ("tool", "function"):
            self._tool_result(role, msg, pm)
            return
        self.results = None
        if role in ("system", "developer"):
            texts = _texts(content, pm + ".content")
            if not self.out:
                self.system.extend(texts)
            else:
                self.out.append(ir.Message("system", tuple(texts), name=name))
        elif role == "user":
            self.out.append(ir.Message("user", tuple(_parts(content, pm + ".content", _USER, self.origins)),
                                       name=name))
        else:
            self.out.append(ir.Message("assistant", self._assistant(msg, pm, i), name=name))

    def _assistant(self, msg: dict[str, Any], pm: str, i: int) -> tuple[ir.Part, ...]:
        parts: list[ir.Part] = []
        for key in ("reasoning_content", "reasoning"):
            thought = msg.get(key)
            if isinstance(thought, str) and thought:
                parts.append(ir.ThinkingPart(thought))
                break
        parts.extend(_parts(msg.get("content"), pm + ".content", _ASSISTANT))
        refusal = msg.get("refusal")
        if isinstance(refusal, str) and refusal and not any(isinstance(p, ir.TextPart) for p in parts):
            parts.append(ir.TextPart(refusal))
        calls = msg.get("tool_calls")
        if calls is not None:
            parts.extend(_tool_calls(calls, pm + ".tool_calls", self.origins))
        fc = msg.get("function_call")
        if fc is not None:
            _expect(isinstance(fc, dict), "an object", fc, pm + ".function_call")
            fname = fc.get("name")
            _expect(isinstance(fname, str) and bool(fname), "a non-empty string", fname, pm + ".function_call.name")
            self.legacy_call_id = f"call_legacy_{i}"
            parts.append(ir.ToolCallPart(self.legacy_call_id, cast(str, fname), dump_arguments(fc.get("arguments"))))
            self.origins[id(parts[-1])] = pm + ".function_call"
        return tuple(parts)

    def _tool_result(self, role: str, msg: dict[str, Any], pm: str) -> None:
        if role == "tool":
            cid = msg.get("tool_call_id")
            _expect(isinstance(cid, str) and bool(cid), "a non-empty string", cid, pm + ".tool_call_id")
        else:  # legacy function result: answers the last function_call
            fname = msg.get("name")
            _expect(isinstance(fname, str) and bool(fname), "a non-empty string", fname, pm + ".name")
            cid = self.legacy_call_id or f"call_legacy_{fname}"
        content = _parts(msg.get("content"), pm + ".content", _USER, self.origins)
        part = ir.ToolResultPart(cast(str, cid), tuple(content))
        self.origins[id(part)] = pm + (".tool_call_id" if role == "tool" else ".name")
        if self.results is None:
            self.results = [part]
            self.out.append(ir.Message("user", ()))
        else:
            self.results.append(part)
        self.out[-1] = ir.Message("user", tuple(self.results))


# ----------------------------------------------------------------------------- tools


def _function_tool(fn: object, param: str) -> ir.Tool:
    _expect(isinstance(fn, dict), "an object", fn, param)
    assert isinstance(fn, dict)
    name = fn.get("name")
    _expect(isinstance(name, str) and bool(name), "a non-empty string", name, param + ".name")
    desc = fn.get("description")
    _expect(desc is None or isinstance(desc, str), "a string", desc, param + ".description")
    params = fn.get("parameters")
    _expect(params is None or isinstance(params, dict), "an object", params, param + ".parameters")
    strict = fn.get("strict")
    _expect(strict is None or isinstance(strict, bool), "a boolean", strict, param + ".strict")
    tool = ir.Tool(cast(str, name), desc or "", strict=strict)
    return tool if params is None else ir.Tool(tool.name, tool.description, params, strict=strict)


def _tools(body: dict[str, Any]) -> list[ir.Tool]:
    raw, key = body.get("tools"), "tools"
    if raw is None and body.get("functions") is not None:
        raw, key = [{"type": "function", "function": f} for f in body["functions"]] if isinstance(
            body["functions"], list
        ) else body["functions"], "functions"
    if raw is None:
        return []
    _expect(isinstance(raw, list), "an array", raw, key)
    out: list[ir.Tool] = []
    for i, t in enumerate(raw):
        pt = f"{key}[{i}]"
        _expect(isinstance(t, dict), "an object", t, pt)
        kind = t.get("type", "function")
        if kind == "function":
            out.append(_function_tool(t.get("function"), pt + ".function" if key == "tools" else pt))
        elif kind == "custom":
            c = t.get("custom")
            _expect(isinstance(c, dict), "an object", c, pt + ".custom")
            name, desc, fmt = c.get("name"), c.get("description"), c.get("format")
            _expect(isinstance(name, str) and bool(name), "a non-empty string", name, pt + ".custom.name")
            _expect(desc is None or isinstance(desc, str), "a string", desc, pt + ".custom.description")
            _expect(fmt is None or isinstance(fmt, dict), "an object", fmt, pt + ".custom.format")
            out.append(ir.Tool(cast(str, name), desc or "", kind="custom", format=fmt))
        # Other tool types (web_search, hosted tools, ...) have no IR form: tolerated, dropped.
    return out


def _named(choice: dict[str, Any], param: str) -> str:
    kind = choice.get("type", "function")
    inner = choice.get(kind if kind in ("function", "custom") else "function")
    if isinstance(inner, dict):
        name, pn = inner.get("name"), f"{param}.{kind}.name"
    else:
        name, pn = choice.get("name"), f"{param}.name"
    _expect(isinstance(name, str) and bool(name), "a non-empty string", name, pn)
    return cast(str, name)


def _tool_choice(body: dict[str, Any], tools: list[ir.Tool]) -> tuple[ir.ToolChoice | None, list[ir.Tool]]:
    key = "tool_choice" if "tool_choice" in body else "function_call"
    raw = body.get(key)
    if raw is None:
        return None, tools
    if isinstance(raw, str):
        mapped = {"auto": "auto", "none": "none", "required": "any"}.get(raw)
        if mapped is None or (key == "function_call" and raw == "required"):
            raise _BAD(f"{key} {raw!r} is not one of 'auto', 'none', 'required'", param=key)
        return ir.ToolChoice(cast(Any, mapped)), tools
    _expect(isinstance(raw, dict), "a string or an object", raw, key)
    assert isinstance(raw, dict)
    if raw.get("type") == "allowed_tools":
        allowed = raw.get("allowed_tools")
        _expect(isinstance(allowed, dict), "an object", allowed, key + ".allowed_tools")
        assert isinstance(allowed, dict)
        mode, listed = allowed.get("mode", "auto"), allowed.get("tools")
        if mode not in ("auto", "required"):
            raise _BAD(f"{key}.allowed_tools.mode must be 'auto' or 'required'", param=key + ".allowed_tools.mode")
        _expect(isinstance(listed, list), "an array", listed, key + ".allowed_tools.tools")
        names = {_named(t, f"{key}.allowed_tools.tools[{i}]") for i, t in enumerate(cast(list[Any], listed))
                 if isinstance(t, dict)}  # fmt: skip
        return ir.ToolChoice("auto" if mode == "auto" else "any"), [t for t in tools if t.name in names]
    return ir.ToolChoice("tool", _named(raw, key)), tools


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    v = body.get("stop")
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    _expect(isinstance(v, list), "a string or an array of strings", v, "stop")
    for i, s in enumerate(cast(list[Any], v)):
        _expect(isinstance(s, str), "a string", s, f"stop[{i}]")
    return tuple(cast(list[str], v))


def _reasoning(body: dict[str, Any]) -> ir.Reasoning | None:
    v = body.get("reasoning_effort")
    if v is None:
        return None
    if v == "none":
        return ir.Reasoning(enabled=False)
    effort = _EFFORTS.get(v) if isinstance(v, str) else None
    if effort is None:
        raise _BAD(f"reasoning_effort {v!r} is not a known effort", param="reasoning_effort")
    return ir.Reasoning(effort=effort)


def parse_request(body: object) -> ir.Request:
    """Client Chat Completions JSON -> IR; raises ``InvalidRequest`` naming the bad field."""
    if not isinstance(body, dict):
        raise _BAD(f"request body must be a JSON object, got {_type_name(body)}")
    check_numbers(body)
    model = body.get("model")
    _expect(isinstance(model, str) and bool(model), "a non-empty string", model, "model")
    messages = body.get("messages")
    _expect(isinstance(messages, list) and bool(messages), "a non-empty array", messages, "messages")
    walker = _Messages()
    for i, msg in enumerate(cast(list[Any], messages)):
        walker.add(i, msg)
    n = body.get("n")
    if n is not None and n != 1:
        raise _BAD("n must be 1: only one choice per request is supported", param="n")
    tool_choice, tools = _tool_choice(body, _tools(body))
    fmt = body.get("response_format")
    _expect(fmt is None or isinstance(fmt, dict), "an object", fmt, "response_format")
    metadata = body.get("metadata")
    _expect(metadata is None or isinstance(metadata, dict), "an object", metadata, "metadata")
    max_tokens = _opt_positive_int(body, "max_completion_tokens")
    if max_tokens is None:
        max_tokens = _opt_positive_int(body, "max_tokens")
    return ir.Request(
        model=cast(str, model),
        messages=tuple(walker.out),
        system=tuple(walker.system),
        tools=tuple(tools),
        tool_choice=tool_choice,
        parallel_tool_calls=_opt_bool(body, "parallel_tool_calls"),
        max_tokens=max_tokens,
        temperature=_opt_number(body, "temperature"),
        top_p=_opt_number(body, "top_p"),
        stop=_stop(body),
        stream=bool(_opt_bool(body, "stream")),
        reasoning=_reasoning(body),
        response_format=fmt,
        metadata=metadata or {},
        dialect=NAME,
        extra={k: v for k, v in body.items() if k not in _MODELLED},
        origins=walker.origins,
    )
