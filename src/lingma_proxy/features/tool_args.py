"""Tool-call arguments written by a model, checked against the client's tool schema.

Models drift: they write ``"5"`` for an integer, ``path`` where the tool says ``file_path``,
``null`` for an optional value, raw newlines inside JSON strings. What is safe to repair is
repaired; a call that still lacks a required parameter is refused (the caller then leaves
the block as text).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from .. import ir
from .tool_aliases import rename_params

_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw newlines inside strings are fine
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_INT = re.compile(r"\s*[+-]?\d{1,18}\s*")


class _Fail:
    pass


FAIL: Any = _Fail()


def loads_lenient(text: str) -> Any:
    """The first JSON value in ``text``, repairing what models commonly break; ``FAIL`` if none."""
    s = text.strip()
    if not s:
        return FAIL
    try:
        return orjson.loads(s)
    except (orjson.JSONDecodeError, RecursionError):
        pass
    for candidate in (s, _TRAILING_COMMA.sub(r"\1", s)):
        value = _raw_decode(candidate)
        if value is not FAIL:
            return value
    if "\u201c" in s or "\u201d" in s:  # curly quotes used as JSON quotes
        fixed = _TRAILING_COMMA.sub(r"\1", s.replace("\u201c", '"').replace("\u201d", '"'))
        return _raw_decode(fixed)
    return FAIL


def _raw_decode(s: str) -> Any:
    try:
        value, _ = _DECODER.raw_decode(s)
    except (ValueError, RecursionError):
        return FAIL
    return value


def dumps(value: Any) -> str:
    """JSON text of a value the stdlib decoder produced (huge ints and NaN included)."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, ensure_ascii=False, default=str)


def _types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    t = schema.get("type")
    if isinstance(t, str):
        return (t,)
    if isinstance(t, list):
        return tuple(x for x in t if isinstance(x, str))
    return ()


def _matches(value: Any, t: str) -> bool:
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    if t == "null":
        return value is None
    return True


def _coerce_to(value: Any, t: str) -> Any:
    """``value`` converted to JSON type ``t`` when that loses nothing; else FAIL."""
    if t == "integer":
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
    elif t == "number":
        if isinstance(value, str):
            if _INT.fullmatch(value):
                return int(value)
            try:
                f = float(value)
            except ValueError:
                return FAIL
            return f if math.isfinite(f) else FAIL
    elif t == "boolean":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif t == "string":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, (dict, list)):  # e.g. Write(content={...}) for a .json file
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    elif t in ("array", "object") and isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        parsed = loads_lenient(value)
        if _matches(parsed, t):
            return parsed
    return FAIL


def coerce(value: Any, schema: Any) -> Any:
    """``value`` made to fit ``schema`` where that is safe; otherwise unchanged."""
    if not isinstance(schema, Mapping):
        return value
    types = _types(schema)
    if types and not any(_matches(value, t) for t in types):
        for t in types:
            fixed = _coerce_to(value, t)
            if fixed is not FAIL:
                value = fixed
                break
    enum = schema.get("enum")
    if isinstance(enum, list) and isinstance(value, str) and value not in enum:
        low = value.strip().lower()
        for e in enum:
            if isinstance(e, str) and e.lower() == low:
                return e
    return value


def check_arguments(tool: ir.Tool, args: Any) -> dict[str, Any] | None:
    """Arguments for ``tool`` repaired to its schema, or None when they cannot be used."""
    if tool.kind == "custom":
        return _custom_input(args)
    schema = tool.parameters if isinstance(tool.parameters, Mapping) else {}
    props_raw = schema.get("properties")
    props: Mapping[str, Any] = props_raw if isinstance(props_raw, Mapping) else {}
    req_raw = schema.get("required")
    required = [r for r in req_raw if isinstance(r, str)] if isinstance(req_raw, list) else []
    if isinstance(args, str):
        parsed = loads_lenient(args) if args.strip().startswith("{") else FAIL
        if isinstance(parsed, dict):
            args = parsed
        else:  # a bare string for a tool with one string parameter: Bash("ls")
            single = required if len(required) == 1 else list(props) if len(props) == 1 else []
            if len(single) != 1 or "string" not in _types(props.get(single[0]) or {}):
                return None
            args = {single[0]: args}
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    if props:
        args = rename_params(args, props)
        extra_ok = schema.get("additionalProperties", False) not in (False, None)
        out: dict[str, Any] = {}
        for k, v in args.items():
            if k not in props:
                if extra_ok:
                    out[k] = v
                continue
            if v is None and k not in required:
                continue  # models write null for "not given"
            out[k] = coerce(v, props[k])
        args = out
    checked: dict[str, Any] = args
    for r in required:
        if checked.get(r) is None:
            return None
    return checked


def _custom_input(args: Any) -> dict[str, Any] | None:
    """A custom (free-form) tool takes ``{"input": text}``; accept the shapes models use."""
    if isinstance(args, str):
        return {"input": args}
    if isinstance(args, dict):
        value = args.get("input")
        if isinstance(value, str):
            return {"input": value}
        strings = [v for v in args.values() if isinstance(v, str)]
        if len(strings) == 1:
            return {"input": strings[0]}
    return None
