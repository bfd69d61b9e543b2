"""The structured keys: named ``backends``, model ``routes``, and the default ``backend``."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..backends.registration import BackendType
from . import schema
from .settings import BUILTIN_BACKENDS, BackendConfig, ConfigError, Route

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_BACKEND_KEYS = ("name", "type", "base_url", "api_key", "model", "options")
_ROUTE_KEYS = ("pattern", "backend", "model")


def build_backends(
    values: Mapping[str, Any], origins: Mapping[str, str], structured: Mapping[str, tuple[Any, str]]
) -> tuple[tuple[BackendConfig, ...], tuple[Route, ...], dict[str, str]]:
    """Declared backends, then the built-in ones the simple settings imply; routes checked against them."""
    declared: list[BackendConfig] = []
    out_origins = {"backends": "default", "routes": "default"}
    if "backends" in structured:
        raw, source = structured["backends"]
        declared = _parse_backends(raw, source, values)
        out_origins["backends"] = source
    routes: list[Route] = []
    if "routes" in structured:
        raw, source = structured["routes"]
        routes = _parse_routes(raw, source)
        out_origins["routes"] = source

    names = {b.name for b in declared}
    wanted = {values["backend"]} | {r.backend for r in routes}
    implied: list[BackendConfig] = []
    for btype in schema.TYPES:
        if btype.name in names:
            continue
        b = _implied(btype, values, origins, wanted)
        if b is not None:
            implied.append(b)
            if out_origins["backends"] == "default":
                out_origins["backends"] = "derived"
    backends = tuple(declared + implied)
    known = [b.name for b in backends]

    default = values["backend"]
    if default != "auto" and default not in known:
        raise _unknown_backend(default, "backend", origins.get("backend", "default"), known)
    for i, r in enumerate(routes):
        if r.backend not in known:
            raise _unknown_backend(r.backend, f"routes[{i}].backend", out_origins["routes"], known)
    return backends, tuple(routes), out_origins


def _implied(t: BackendType, v: Mapping[str, Any], origins: Mapping[str, str],
             wanted: set[str]) -> BackendConfig | None:
    """The backend of type ``t`` the simple settings imply: named (``backend``, a route) or one
    of its ``implied_by`` keys set; its URL and key from the type's own keys."""
    name = t.name
    url = v.get(t.url_key) or "" if t.url_key else ""
    if name not in wanted and not any(v.get(k) for k in t.implied_by):
        return None
    if t.needs_url and not url:
        source = origins.get("backend", "default")
        key = schema.KEYS_BY_NAME[t.url_key]
        envs = ", ".join(key.env[:-1]) + " or " + key.env[-1] if len(key.env) > 1 else key.env[0]
        raise ConfigError(
            f"the {name} backend needs a server URL: set {key.name} ({key.option}, {envs}){t.url_hint} "
            f"(backend {name} chosen by {source})",
            key=key.name,
            source=source,
        )
    return BackendConfig(name, name, url, (v.get(t.api_key_key) or None) if t.api_key_key else None)


def _parse_backends(raw: Any, source: str, values: Mapping[str, Any]) -> list[BackendConfig]:
    items: list[tuple[str, str | None, Any]] = []  # (path, name from dict key, entry)
    if isinstance(raw, dict):
        items = [(f"backends.{k}", k, e) for k, e in raw.items()]
    elif isinstance(raw, list):
        items = [(f"backends[{i}]", None, e) for i, e in enumerate(raw)]
    else:
        raise ConfigError(
            f"backends must be an object of name -> backend, or a list (from {source})", key="backends", source=source
        )
    out: list[BackendConfig] = []
    seen: set[str] = set()
    for path, key_name, entry in items:
        if not isinstance(entry, dict):
            raise _err(path, "must be an object", source)
        _no_unknown(entry, _BACKEND_KEYS, path, source)
        name = entry.get("name", key_name)
        if key_name is not None and name != key_name:
            raise _err(f"{path}.name", f"differs from its key {key_name!r}", source)
        if not isinstance(name, str) or not _NAME.match(name) or name == "auto":
            raise _err(f"{path}.name", "must be a name of letters, digits, '.', '_' or '-' (not 'auto')", source)
        if name in seen:
            raise _err(f"{path}.name", f"{name!r} is declared twice", source)
        seen.add(name)
        btype = entry.get("type", name if name in BUILTIN_BACKENDS else None)
        t = next((t for t in schema.TYPES if t.name == btype), None)
        if t is None or not isinstance(btype, str):
            raise _err(f"{path}.type", f"must be one of {', '.join(BUILTIN_BACKENDS)}", source)
        base_url = _str(entry, "base_url", path, source)
        api_key = _str(entry, "api_key", path, source) or None
        if t.entry_defaults:
            base_url = base_url or (values.get(t.url_key) or "" if t.url_key else "")
            api_key = api_key or ((values.get(t.api_key_key) or None) if t.api_key_key else None)
        if t.needs_url and not base_url:
            raise _err(f"{path}.base_url", f"is required for an {t.name} backend", source)
        check = t.url_check or schema.base_url
        if base_url:
            try:
                base_url = check(base_url)
            except ValueError as e:
                raise _err(f"{path}.base_url", str(e), source) from None
        options = entry.get("options", {})
        if not isinstance(options, dict):
            raise _err(f"{path}.options", "must be an object", source)
        window = options.get("context_window")
        if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 0):
            raise _err(f"{path}.options.context_window", "must be a whole number of tokens (0 = ask the backend)",
                       source)
        model = _str(entry, "model", path, source)
        out.append(BackendConfig(name, btype, base_url, api_key, model, MappingProxyType(dict(options))))
    return out


def _parse_routes(raw: Any, source: str) -> list[Route]:
    entries: list[tuple[str, Any]]
    if isinstance(raw, list):
        entries = [(f"routes[{i}]", e) for i, e in enumerate(raw)]
    elif isinstance(raw, dict):  # shorthand: {"claude-*": "lmstudio", "gpt-*": {"backend": ..., "model": ...}}
        entries = [
            (f"routes[{i}]", {"pattern": p, "backend": e} if isinstance(e, str) else
             ({"pattern": p, **e} if isinstance(e, dict) else e))
            for i, (p, e) in enumerate(raw.items())
        ]
    else:
        raise ConfigError(
            f"routes must be a list of {{pattern, backend, model}} objects (from {source})", key="routes", source=source
        )
    out: list[Route] = []
    for path, entry in entries:
        if not isinstance(entry, dict):
            raise _err(path, "must be an object with pattern, backend and optional model", source)
        _no_unknown(entry, _ROUTE_KEYS, path, source)
        pattern = _str(entry, "pattern", path, source)
        backend = _str(entry, "backend", path, source)
        if not pattern:
            raise _err(f"{path}.pattern", "is required (an fnmatch glob such as 'claude-*')", source)
        if not backend:
            raise _err(f"{path}.backend", "is required", source)
        model = entry.get("model")
        if model is not None and not isinstance(model, str):
            raise _err(f"{path}.model", "must be a string or null", source)
        out.append(Route(pattern, backend, model or None))
    return out


def _str(entry: Mapping[str, Any], key: str, path: str, source: str) -> str:
    v = entry.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _err(f"{path}.{key}", "must be a string", source)
    return v.strip()


def _no_unknown(entry: Mapping[str, Any], allowed: tuple[str, ...], path: str, source: str) -> None:
    for k in entry:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; expected {', '.join(allowed)}"
            if allowed is _BACKEND_KEYS:
                hint += " (backend-specific settings go under 'options')"
            raise _err(f"{path}.{k}", f"is not a known key{hint}", source)


def _err(path: str, reason: str, source: str) -> ConfigError:
    return ConfigError(f"{path} {reason} (from {source})", key=path, source=source)


def _unknown_backend(name: str, key: str, source: str, known: list[str]) -> ConfigError:
    choices = ["auto", *BUILTIN_BACKENDS, *(n for n in known if n not in BUILTIN_BACKENDS)]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"{key} names an unknown backend {name!r} (from {source}); expected one of {', '.join(choices)}{hint}",
        key=key,
        source=source,
    )
