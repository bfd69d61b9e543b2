"""Responses request options (everything but ``input``) -> IR values, validated."""

from __future__ import annotations

from typing import Any

from ... import ir
from ...errors import InvalidRequest
from ._wire import _type_of

_EFFORTS: dict[str, ir.Effort] = {
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
    "max": "max",
}


def required_str(item: dict[str, Any], key: str, p: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{p}.{key} must be a non-empty string", param=f"{p}.{key}")
    return value


def tools(value: Any) -> tuple[ir.Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequest("tools must be a list", param="tools")
    out: list[ir.Tool] = []
    for i, tool in enumerate(value):
        p = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"{p} must be an object", param=p)
        kind = _type_of(tool)
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
                    name=required_str(tool, "name", p),
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
        name=required_str(tool, "name", p),
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


def tool_choice(value: Any) -> ir.ToolChoice | None:
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
    if _type_of(value) in ("function", "custom"):
        name = value.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest("tool_choice.name must be a string", param="tool_choice.name")
        return ir.ToolChoice("tool", name)
    # allowed_tools, hosted tool types: nothing the IR can force, so leave the model free
    return ir.ToolChoice("auto")


def reasoning(value: Any) -> ir.Reasoning | None:
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


def response_format(fmt: Any) -> dict[str, Any] | None:
    """Responses ``text.format`` -> the Chat ``response_format`` shape the IR uses."""
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise InvalidRequest("text.format must be an object", param="text.format")
    kind = _type_of(fmt)
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


def positive_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"{key} must be a positive integer", param=key)
    return value


def number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidRequest(f"{key} must be a number", param=key)
    return value


def check_extra(extra: dict[str, Any]) -> None:
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
