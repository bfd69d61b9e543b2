"""Gemini's OpenAPI-subset ``Schema`` <-> JSON Schema (the IR's tool and response schemas).

Gemini's ``Schema`` differs from JSON Schema in a few spellings: ``type`` is an upper-case
enum (``STRING``, ``OBJECT``, ...), nullability is ``nullable: true`` rather than a
``["string", "null"]`` type list, ``$defs``/``$ref`` are ``defs``/``ref``, and
``propertyOrdering`` is a Gemini-only output hint (dropped: JSON Schema has no such keyword).
Field names may come in camelCase or proto snake_case (see ``_wire``).

Towards Gemini, ``from_json_schema`` returns ``None`` for a schema the subset cannot hold
(``oneOf``, ``allOf``, ``const``, ``$ref``, ``additionalProperties``, exclusive bounds, an
empty object's ``properties``, non-string enums, ...): the renderer then sends the schema
unchanged as ``parametersJsonSchema`` / ``responseJsonSchema``, which Gemini accepts.
"""

from __future__ import annotations

from typing import Any

from ._wire import camel, fail, type_name, want_bool, want_dict, want_int, want_list, want_str

_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_TEXTS = ("format", "title", "description", "pattern")
_ANY = ("example", "default")
_BOUNDS = ("minimum", "maximum")


def to_json_schema(raw: object, param: str) -> dict[str, Any]:
    """A Gemini ``Schema`` -> JSON Schema; unknown fields raise ``InvalidRequest`` (as Google does)."""
    s = want_dict(raw, param)
    out: dict[str, Any] = {}
    nullable = False
    for key, value in s.items():
        name = camel(key.lstrip("$"))
        at = f"{param}.{key}"
        if value is None:
            continue
        if name == "type":
            t = want_str(value, at).lower()
            if t == "type_unspecified":
                continue
            if t not in _TYPES:
                fail(f"Invalid value at '{at}': unknown type {value!r}", at)
            out["type"] = t
        elif name == "nullable":
            nullable = want_bool(value, at)
        elif name == "properties":
            props = want_dict(value, at)
            out["properties"] = {k: to_json_schema(v, f"{at}.{k}") for k, v in props.items()}
        elif name == "items":
            out["items"] = to_json_schema(value, at)
        elif name == "anyOf":
            out["anyOf"] = [to_json_schema(v, f"{at}[{i}]") for i, v in enumerate(want_list(value, at))]
        elif name == "defs":
            defs = want_dict(value, at)
            out["$defs"] = {k: to_json_schema(v, f"{at}.{k}") for k, v in defs.items()}
        elif name == "ref":
            ref = want_str(value, at)
            out["$ref"] = "#/$defs/" + ref[len("#/defs/"):] if ref.startswith("#/defs/") else ref
        elif name == "additionalProperties":
            out["additionalProperties"] = value if isinstance(value, bool) else to_json_schema(value, at)
        elif name in ("required", "propertyOrdering"):
            names = [want_str(v, f"{at}[{i}]") for i, v in enumerate(want_list(value, at))]
            if name == "required":
                out["required"] = names
        elif name == "enum":
            out["enum"] = [want_str(v, f"{at}[{i}]") for i, v in enumerate(want_list(value, at))]
        elif name in _COUNTS:
            out[name] = want_int(value, at, 0)
        elif name in _BOUNDS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                fail(f"Invalid value at '{at}': expected a number, got {type_name(value)}", at)
            out[name] = value
        elif name in _TEXTS:
            out[name] = want_str(value, at)
        elif name in _ANY:
            out[name] = value
        else:
            fail(f"Invalid JSON payload: unknown name {key!r} at '{param}'", at)
    if nullable and isinstance(out.get("type"), str) and out["type"] != "null":
        out["type"] = [out["type"], "null"]
    return out


def from_json_schema(schema: object) -> dict[str, Any] | None:
    """JSON Schema -> Gemini ``Schema`` (camelCase), or ``None`` when the subset cannot hold it."""
    if not isinstance(schema, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if isinstance(value, str) and value in _TYPES:
                out["type"] = value.upper()
            elif (
                isinstance(value, list) and len(value) == 2 and value[1] == "null"
                and isinstance(value[0], str) and value[0] in _TYPES - {"null"}
            ):
                out["type"], out["nullable"] = value[0].upper(), True
            else:
                return None
        elif key == "properties":
            if not isinstance(value, dict) or not value:
                return None  # Gemini refuses an OBJECT whose properties are empty
            props: dict[str, Any] = {}
            for k, v in value.items():
                sub = from_json_schema(v)
                if sub is None:
                    return None
                props[k] = sub
            out["properties"] = props
        elif key == "items":
            sub = from_json_schema(value)
            if sub is None:
                return None
            out["items"] = sub
        elif key == "anyOf":
            if not isinstance(value, list) or not value:
                return None
            subs = [from_json_schema(v) for v in value]
            if any(s is None for s in subs):
                return None
            out["anyOf"] = subs
        elif key in ("required", "enum"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return None
            out[key] = list(value)
        elif key in _COUNTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return None
            out[key] = value
        elif key in _BOUNDS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            out[key] = value
        elif key in _TEXTS:
            if not isinstance(value, str):
                return None
            out[key] = value
        elif key in _ANY:
            out[key] = value
        else:
            return None  # oneOf, allOf, const, $ref, additionalProperties, $schema, ...
    return out
