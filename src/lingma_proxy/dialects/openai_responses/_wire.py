"""Pieces shared by the Responses request, response and stream modules: ids, tools, usage."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from ... import errors, ir


def _type_of(obj: Mapping[str, Any]) -> str | None:
    """An object's ``type`` when it is a string; any other JSON value reads as unknown."""
    value = obj.get("type")
    if value is None or isinstance(value, str):
        return value
    return "<invalid>"

NAME = "openai_responses"

ENCRYPTED_INCLUDE = "reasoning.encrypted_content"


def mint_response_id() -> str:
    return "resp_" + secrets.token_hex(16)


def response_id_for(ir_id: str, given: str | None) -> str:
    """The wire id: ``given`` (tests, relay), else the IR id when it already is a Responses
    id (a Responses upstream), else a fresh one: backends' ids are not unique enough to key
    the response store."""
    if given:
        return given
    if ir_id.startswith("resp_"):
        return ir_id
    return mint_response_id()


def item_id(response_id: str, prefix: str, output_index: int) -> str:
    """A deterministic item id: unique within the response, stable for goldens."""
    return f"{prefix}_{response_id.removeprefix('resp_')}_{output_index}"


def wants_encrypted(req: ir.Request | None) -> bool:
    if req is None:
        return False
    include = req.extra.get("include")
    return isinstance(include, list) and ENCRYPTED_INCLUDE in include


def is_custom_call(kind: str, name: str, req: ir.Request | None) -> bool:
    if kind == "custom":
        return True
    if req is None:
        return False
    tool = req.tool(name)
    return tool is not None and tool.kind == "custom"


def custom_input(arguments: str) -> str:
    """The free-form input of a custom tool call from IR arguments (``{"input": ...}``).

    A model offered the tool as a function may pick another key for its single string
    argument, so a one-string object is accepted too; anything else is passed on raw."""
    obj = ir.loads_object(arguments)
    value = obj.get("input")
    if isinstance(value, str):
        return value
    if len(obj) == 1:
        (only,) = obj.values()
        if isinstance(only, str):
            return only
    return arguments


def custom_arguments(text: str) -> str:
    return orjson.dumps({"input": text}).decode()


# --------------------------------------------------------------------------- tools


def render_tool(tool: ir.Tool) -> dict[str, Any]:
    if tool.kind == "custom":
        out: dict[str, Any] = {"type": "custom", "name": tool.name}
        if tool.description:
            out["description"] = tool.description
        if tool.format is not None:
            out["format"] = dict(tool.format)
        return out
    return {
        "type": "function",
        "name": tool.name,
        "description": tool.description,
        "parameters": dict(tool.parameters),
        "strict": tool.strict,
    }


def render_tool_choice(choice: ir.ToolChoice | None, req: ir.Request | None) -> Any:
    if choice is None or choice.type == "auto":
        return "auto"
    if choice.type == "none":
        return "none"
    if choice.type == "any" or not choice.name:
        return "required"
    tool = req.tool(choice.name) if req is not None else None
    kind = "custom" if tool is not None and tool.kind == "custom" else "function"
    return {"type": kind, "name": choice.name}


def render_effort(effort: str) -> str:
    # IR "max" comes from Anthropic; "xhigh" is the Responses name older models accept too.
    return "xhigh" if effort == "max" else effort


def render_format(fmt: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Chat ``response_format`` shape (IR) -> Responses ``text.format``."""
    if fmt is None:
        return None
    kind = _type_of(fmt)
    if kind == "json_object":
        return {"type": "json_object"}
    spec = fmt.get("json_schema")
    if kind != "json_schema" or not isinstance(spec, Mapping):
        return None
    return {"type": "json_schema", **spec}


# --------------------------------------------------------------------------- usage


def render_usage(u: ir.Usage) -> dict[str, Any]:
    total_in = u.total_input_tokens
    return {
        "input_tokens": total_in,
        "input_tokens_details": {
            "cached_tokens": u.cache_read_input_tokens,
            "cache_write_tokens": u.cache_creation_input_tokens,
        },
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": total_in + u.output_tokens,
    }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def parse_usage(value: Any) -> ir.Usage | None:
    """Responses usage (cached tokens inside ``input_tokens``) -> IR usage (excluded)."""
    if not isinstance(value, dict):
        return None
    details = value.get("input_tokens_details")
    cached = write = 0
    if isinstance(details, dict):
        cached = _int(details.get("cached_tokens"))
        write = _int(details.get("cache_write_tokens"))
    out_details = value.get("output_tokens_details")
    reasoning = _int(out_details.get("reasoning_tokens")) if isinstance(out_details, dict) else 0
    total_in = _int(value.get("input_tokens"))
    return ir.Usage(
        input_tokens=max(total_in - cached - write, 0),
        output_tokens=_int(value.get("output_tokens")),
        cache_read_input_tokens=cached,
        cache_creation_input_tokens=write,
        reasoning_tokens=reasoning,
    )


# --------------------------------------------------------------------------- errors

# ResponseError.code is a closed set in the SDK; everything we cannot name is a server error.
_FAILED_CODES = {
    "rate_limit_error": "rate_limit_exceeded",
    "invalid_request_error": "invalid_prompt",
}


def failed_error(kind: str, message: str) -> dict[str, Any]:
    return {"code": _FAILED_CODES.get(kind, "server_error"), "message": message, "type": kind}


def error_from_wire(error: Any, status: int | None = None) -> errors.ProxyError:
    """A Responses ``error`` object (``response.failed``, ``error`` event, error body) -> the
    matching ProxyError."""
    message = "upstream reported an error"
    code: str | None = None
    param: str | None = None
    if isinstance(error, Mapping):
        msg = error.get("message")
        if isinstance(msg, str) and msg:
            message = msg
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, str) else None
        raw_param = error.get("param")
        param = raw_param if isinstance(raw_param, str) else None
    err: errors.ProxyError
    if code == "context_length_exceeded":
        err = errors.ContextLengthExceeded(message, param=param)
    elif status is not None:
        err = errors.from_status(status, message)
    elif code in ("rate_limit_exceeded", "insufficient_quota"):
        err = errors.RateLimited(message, retryable=code == "rate_limit_exceeded")
    elif code in ("invalid_prompt", "invalid_request_error") or (code or "").startswith("invalid_"):
        err = errors.InvalidRequest(message)
    else:
        err = errors.UpstreamError(message, retryable=True)
    if err.code is None:
        err.code = code
    if err.param is None:
        err.param = param
    return err
