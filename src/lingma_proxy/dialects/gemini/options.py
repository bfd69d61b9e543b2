"""The options of a Gemini request: tools and ``toolConfig``, and ``generationConfig``
(sampling, thinking, response format), read into the IR's fields (see request.py)."""

from __future__ import annotations

from typing import Any

from ... import ir
from ._wire import (
    LEVEL_IN,
    fail,
    get,
    unknown,
    want_bool,
    want_dict,
    want_int,
    want_list,
    want_number,
    want_str,
)
from .schema import to_json_schema

_GEN = frozenset(
    {
        "temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "candidateCount",
        "responseMimeType", "responseSchema", "responseJsonSchema", "thinkingConfig",
    }
)
TOKENS_MAX = 2**31 - 1


# --------------------------------------------------------------------------- tools


def tools(raw: object) -> tuple[tuple[ir.Tool, ...], list[Any]]:
    """Function declarations -> IR tools; server tools (googleSearch, ...) are returned apart."""
    if raw is None:
        return (), []
    tools: list[ir.Tool] = []
    server: list[Any] = []
    for i, t in enumerate(want_list(raw, "tools")):
        at = f"tools[{i}]"
        tool = want_dict(t, at)
        rest = unknown(tool, frozenset({"functionDeclarations"}))
        if rest:
            server.append(rest)
        decls = get(tool, "functionDeclarations")
        for j, d in enumerate([] if decls is None else want_list(decls, f"{at}.functionDeclarations")):
            tools.append(_declaration(d, f"{at}.functionDeclarations[{j}]"))
    return tuple(tools), server


def _declaration(raw: object, at: str) -> ir.Tool:
    decl = want_dict(raw, at)
    name = get(decl, "name")
    if not isinstance(name, str) or not name:
        fail(f"{at}.name: expected a non-empty string", f"{at}.name")
    desc = get(decl, "description")
    params, json_params = get(decl, "parameters"), get(decl, "parametersJsonSchema")
    if params is not None and json_params is not None:
        fail(f"{at}: set parameters or parametersJsonSchema, not both", f"{at}.parametersJsonSchema")
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    if params is not None:
        schema = to_json_schema(params, f"{at}.parameters")
    elif json_params is not None:
        schema = want_dict(json_params, f"{at}.parametersJsonSchema")
    return ir.Tool(
        name=name,
        description="" if desc is None else want_str(desc, f"{at}.description"),
        parameters=schema,
    )


def tool_config(
    raw: object, tools: tuple[ir.Tool, ...], extra: dict[str, Any]
) -> tuple[ir.ToolChoice | None, tuple[ir.Tool, ...]]:
    if raw is None:
        return None, tools
    config = want_dict(raw, "toolConfig")
    rest = unknown(config, frozenset({"functionCallingConfig"}))
    if rest:
        extra["toolConfig"] = rest
    fcc = get(config, "functionCallingConfig")
    if fcc is None:
        return None, tools
    at = "toolConfig.functionCallingConfig"
    fc = want_dict(fcc, at)
    mode = get(fc, "mode")
    mode = "AUTO" if mode is None else want_str(mode, f"{at}.mode").upper()
    if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
        fail(f"Invalid value at '{at}.mode': {mode!r} (expected AUTO, ANY, NONE or VALIDATED)", f"{at}.mode")
    raw_names = get(fc, "allowedFunctionNames")
    names = [want_str(n, f"{at}.allowedFunctionNames[{k}]") for k, n in
             enumerate([] if raw_names is None else want_list(raw_names, f"{at}.allowedFunctionNames"))]
    declared = {t.name for t in tools}
    for k, n in enumerate(names):
        if n not in declared:
            where = f"{at}.allowedFunctionNames[{k}]"
            fail(f"{where}: no function named {n!r} is declared", where)
    if mode == "NONE":
        return ir.ToolChoice("none"), tools
    if mode != "ANY":
        return ir.ToolChoice("auto"), tools  # VALIDATED: the model chooses, as with AUTO
    if len(names) == 1:
        return ir.ToolChoice("tool", names[0]), tools
    if names:
        # The IR forces "any tool"; restricting the declarations keeps Gemini's "one of these".
        return ir.ToolChoice("any"), tuple(t for t in tools if t.name in names)
    return ir.ToolChoice("any"), tools


# --------------------------------------------------------------------------- generationConfig


class Generation:
    """``generationConfig`` read into the IR's fields; the rest goes to extra."""

    def __init__(self, raw: object, extra: dict[str, Any]) -> None:
        at = "generationConfig"
        g = {} if raw is None else want_dict(raw, at)
        rest = unknown(g, _GEN)
        rest.pop("ResponseJsonSchema", None)
        if rest:
            extra["generationConfig"] = rest

        def opt(name: str) -> Any:
            return get(g, name)

        v = opt("temperature")
        self.temperature = None if v is None else want_number(v, f"{at}.temperature", 0.0, 2.0)
        v = opt("topP")
        self.top_p = None if v is None else want_number(v, f"{at}.topP", 0.0, 1.0)
        v = opt("topK")
        self.top_k = None if v is None else want_int(v, f"{at}.topK", 1, TOKENS_MAX)
        v = opt("maxOutputTokens")
        self.max_tokens = None if v is None else want_int(v, f"{at}.maxOutputTokens", 1, TOKENS_MAX)
        v = opt("stopSequences")
        stops = [] if v is None else want_list(v, f"{at}.stopSequences")
        self.stop = tuple(want_str(s, f"{at}.stopSequences[{i}]") for i, s in enumerate(stops))
        v = opt("candidateCount")
        if v is not None and want_int(v, f"{at}.candidateCount", 1, TOKENS_MAX) > 1:
            fail(f"{at}.candidateCount: only one candidate per request is supported by this proxy",
                 f"{at}.candidateCount")
        self.reasoning = _thinking(opt("thinkingConfig"), f"{at}.thinkingConfig", extra)
        self.response_format = _response_format(g, at, rest, extra)


def _thinking(raw: object, at: str, extra: dict[str, Any]) -> ir.Reasoning | None:
    if raw is None:
        return None
    t = want_dict(raw, at)
    budget, level, include = get(t, "thinkingBudget"), get(t, "thinkingLevel"), get(t, "includeThoughts")
    n = None if budget is None else want_int(budget, f"{at}.thinkingBudget", -1, TOKENS_MAX)
    effort: ir.Effort | None = None
    if level is not None:
        name = want_str(level, f"{at}.thinkingLevel").upper()
        if name != "THINKING_LEVEL_UNSPECIFIED":
            effort = LEVEL_IN.get(name)
            if effort is None:
                fail(f"Invalid value at '{at}.thinkingLevel': {level!r}", f"{at}.thinkingLevel")
    show = False if include is None else want_bool(include, f"{at}.includeThoughts")
    return ir.Reasoning(
        enabled=n != 0,
        effort=effort,
        budget_tokens=n if n is not None and n > 0 else None,
        summary="auto" if show else None,
    )


def _response_format(
    g: dict[str, Any], at: str, rest: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any] | None:
    mime = get(g, "responseMimeType")
    mime = None if mime is None else want_str(mime, f"{at}.responseMimeType")
    schema = get(g, "responseSchema")
    jschema = get(g, "responseJsonSchema")
    if jschema is None:
        jschema = g.get("_responseJsonSchema")
    if (schema is not None or jschema is not None) and mime is None:
        fail(f"{at}.responseMimeType: a response schema needs responseMimeType application/json",
             f"{at}.responseMimeType")
    if mime != "application/json":
        if mime not in (None, "text/plain"):
            # text/x.enum and the like: only a Gemini upstream can honour them.
            kept = {"responseMimeType": mime}
            if schema is not None:
                kept["responseSchema"] = schema
            if jschema is not None:
                kept["responseJsonSchema"] = jschema
            extra["generationConfig"] = {**rest, **kept}
        return None
    if jschema is not None:
        converted = want_dict(jschema, f"{at}.responseJsonSchema")
    elif schema is not None:
        converted = to_json_schema(schema, f"{at}.responseSchema")
    else:
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": converted}}
