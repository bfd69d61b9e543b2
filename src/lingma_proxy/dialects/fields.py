"""Type checks on request fields that the dialect parsers share; each dialect words a refusal its way.

Anthropic says ``max_tokens: expected an integer, got string``, Google says ``Invalid value at
'generationConfig.topK': expected an integer, got string``: the checks are the same, so they are
written once here and each dialect binds them to its wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NoReturn

import orjson

from .. import errors

__all__ = ["FieldChecks", "Wording", "dump_object", "fail", "type_name"]

Wording = Callable[[str, str, str], str]
"""``(param, what was expected, what came) -> message``."""


def fail(message: str, param: str | None = None) -> NoReturn:
    raise errors.InvalidRequest(message, param=param)


def type_name(value: object) -> str:
    """The JSON type of ``value`` as the error messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class FieldChecks:
    """``want_str`` / ``want_dict`` / ``want_list`` / ``want_bool`` in one dialect's wording."""

    __slots__ = ("wording",)

    def __init__(self, wording: Wording) -> None:
        self.wording = wording

    def refuse(self, value: object, param: str, expected: str) -> NoReturn:
        fail(self.wording(param, expected, type_name(value)), param)

    def want_str(self, value: object, param: str) -> str:
        if not isinstance(value, str):
            self.refuse(value, param, "a string")
        return value

    def want_dict(self, value: object, param: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.refuse(value, param, "an object")
        return value

    def want_list(self, value: object, param: str) -> list[Any]:
        if not isinstance(value, list):
            self.refuse(value, param, "an array")
        return value

    def want_bool(self, value: object, param: str) -> bool:
        if not isinstance(value, bool):
            self.refuse(value, param, "a boolean")
        return value


def dump_object(value: dict[str, Any]) -> str | None:
    """Compact JSON text of a decoded object (tool arguments), or None when it cannot be encoded."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        pass  # integers beyond 64 bits, nesting deeper than orjson allows
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return None
