"""Limits every request body meets at the door, before any dialect reads it (docs/limits.md).

Two checks, one mechanism each:

* ``check_body``: the decoded JSON is nested at most ``MAX_DEPTH`` levels of objects/arrays and
  holds no integer outside the signed 64-bit range. orjson writes at most 254 levels, so a body
  it could read (up to 1,024 levels) might not be writable again when the proxy renders it
  upstream, records or traces it: a 500/502 long after the request was accepted. ``MAX_DEPTH``
  is half of that, so every wrapping the proxy adds (the upstream request around a tool schema,
  a trace record around a body: a handful of levels) still serializes. The deepest JSON schemas
  real tools send are 10-20 levels. orjson reads integers in [-2**63, 2**64) as ``int`` and
  wider ones as ``float``; the unsigned half above 2**63 is refused here, because upstreams and
  SQLite hold signed 64 bits and arithmetic on it could leave the range orjson writes.
* ``check_numbers``: the numeric fields a dialect reads (token limits, sampling parameters)
  have the right type and range, with the official APIs' wording. A huge literal such as
  ``1e300`` or ``18446744073709551616`` (read as a float) fails the range, never reaching
  ``int()`` and the encoder.

The common case costs one native ``orjson.dumps`` of the body wrapped in ``254 - MAX_DEPTH``
extra lists: it fails exactly when the body is too deep (or holds an integer beyond 53 bits),
and only then does a Python walk find the offending path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from .. import errors

MAX_DEPTH = 128  # levels of JSON objects/arrays in a request body
_ORJSON_DEPTH = 254  # the deepest orjson.dumps writes (255 raises "Recursion limit reached")
_WRAP = _ORJSON_DEPTH - MAX_DEPTH
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TOKENS_MAX = 2**31 - 1  # no model has a larger output limit; int32 is what many servers hold
_PATH_SHOWN = 300  # characters of a long path kept in messages (head and tail)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Style = Literal["openai", "anthropic"]


def check_body(body: Any) -> None:
    """Raise ``InvalidRequest`` naming the path when ``body`` is too deep or holds a 65-bit integer."""
    wrapped = body
    for _ in range(_WRAP):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped, option=orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:
        problem = _find_problem(body)
        if problem is not None:
            raise problem from None


def too_deep_message(where: str) -> str:
    return f"{where}: JSON nested deeper than {MAX_DEPTH} levels of objects and arrays (the proxy's limit)"


def _find_problem(body: Any) -> errors.InvalidRequest | None:
    """The first too-deep value or out-of-range integer, in document order (slow path only)."""
    for value, depth, path in _walk(body):
        if depth > MAX_DEPTH:
            where = _shown(path)
            return errors.InvalidRequest(too_deep_message(where), param=where, code="nesting_too_deep")
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            where = _shown(path)
            return errors.InvalidRequest(
                f"{where}: integer {value} is outside the signed 64-bit range", param=where,
                code="integer_out_of_range")
    return None  # integers between 2**53 and 2**63 only: accepted


def _walk(body: Any) -> Iterator[tuple[Any, int, tuple[Any, ...]]]:
    # Iterative, with the path as a linked tuple: bodies read by orjson nest up to 1,024 levels,
    # deeper than Python's recursion limit.
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(body, 0, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict):
            depth += 1
            if depth > MAX_DEPTH:
                yield value, depth, path
                return
            stack.extend((v, depth, (path, k)) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            depth += 1
            if depth > MAX_DEPTH:
                yield value, depth, path
                return
            stack.extend((v, depth, (path, i)) for i, v in reversed(list(enumerate(value))))
        else:
            yield value, depth, path


def _segments(path: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    while path:
        path, key = path
        out.append(key)
    out.reverse()
    return out


def json_path(path: tuple[Any, ...]) -> str:
    """``tools[0].input_schema.properties.a``; odd keys as ``["a b"]``."""
    parts: list[str] = []
    for key in _segments(path):
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENT.match(key):
            parts.append(f".{key}" if parts else key)
        else:
            parts.append(f"[{orjson.dumps(key).decode()}]")
    return "".join(parts) or "(body)"


def _shown(path: tuple[Any, ...]) -> str:
    text = json_path(path)
    if len(text) <= _PATH_SHOWN:
        return text
    half = _PATH_SHOWN // 2
    return f"{text[:half]}...{text[-half:]}"


# ----------------------------------------------------------------------------- numeric fields


@dataclass(frozen=True, slots=True)
class Num:
    """One numeric field: integer or any number, inclusive bounds."""

    integer: bool
    lo: float
    hi: float


def token_count(lo: int = 1) -> Num:
    return Num(True, lo, TOKENS_MAX)


def check_numbers(body: Mapping[str, Any], fields: Mapping[str, Num], style: Style,
                  *, integral_floats: bool = False) -> None:
    """Each present (non-null) field in ``fields`` (``a.b`` reaches into objects) in type and range."""
    for name, spec in fields.items():
        value: Any = body
        for key in name.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            continue
        if not _is_number(value, spec.integer, integral_floats):
            raise errors.InvalidRequest(_type_message(name, value, spec, style), param=name, code="invalid_type")
        if not spec.lo <= value <= spec.hi:
            message, code = _range_message(name, value, spec, style)
            raise errors.InvalidRequest(message, param=name, code=code)


def _is_number(value: Any, integer: bool, integral_floats: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if integer and isinstance(value, float):
        return integral_floats and value.is_integer()
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _type_message(name: str, value: Any, spec: Num, style: Style) -> str:
    want = "an integer" if spec.integer else "a number"
    if style == "anthropic":
        return f"{name}: expected {want}, got {_kind(value)}"
    want = "an integer" if spec.integer else "a decimal"
    return f"Invalid type for '{name}': expected {want}, but got {_kind(value)} instead."


def _range_message(name: str, value: Any, spec: Num, style: Style) -> tuple[str, str]:
    word = "integer" if spec.integer else "decimal"
    side = "below_min" if value < spec.lo else "above_max"
    code = f"{word}_{side}_value"
    if style == "anthropic":
        return f"{name}: range: {_bound(spec.lo)}..{_bound(spec.hi)}, got {value!r}", code
    if side == "below_min":
        return (f"Invalid '{name}': {word} below minimum value. Expected a value >= {_bound(spec.lo)}, "
                f"but got {value!r} instead."), code
    return (f"Invalid '{name}': {word} above maximum value. Expected a value <= {_bound(spec.hi)}, "
            f"but got {value!r} instead."), code
