"""Merging defaults, the JSON file, the environment and flags into one ``Settings``."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, Field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from .backends import build_backends
from .schema import (
    CONFIG_ENV,
    JSON_KEYS,
    KEYS,
    KEYS_BY_NAME,
    PATH_KEYS,
    STRUCTURED_KEYS,
    Key,
    is_loopback,
)
from .settings import ConfigError, Settings

Reader = Callable[[Path], "dict[str, Any] | None"]

_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})
_UNSET: Any = object()
DEFAULT = "default"


def config_candidates(cwd: Path, home: Path) -> tuple[Path, ...]:
    """Files searched, in order, when neither --config nor LINGMA_PROXY_CONFIG names one."""
    return (
        cwd / "lingma-proxy.json",
        cwd / "lingma-ipc-proxy.json",  # the reference's legacy name
        home / ".config" / "lingma-proxy" / "config.json",
    )


def read_config_file(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ConfigError when it cannot be read or is not a JSON object."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}", source=str(path)) from None
    if data.startswith(b"\xef\xbb\xbf"):  # editors on Windows write a BOM
        data = data[3:]
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ConfigError(
            f"config file {path} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})", source=str(path)
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"config file {path} must contain a JSON object, not {_json_type(value)}", source=str(path))
    return value


def read_config_file_if_exists(path: Path) -> dict[str, Any] | None:
    return read_config_file(path) if path.is_file() else None


def resolve_settings(cli_flags: Mapping[str, Any]) -> Settings:
    """Settings from this process's flags, environment, working directory and home."""
    return load_settings(cli_flags, os.environ, Path.cwd(), Path.home())


def load_settings(
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    cwd: Path,
    home: Path,
    *,
    read: Reader = read_config_file_if_exists,
) -> Settings:
    """Merge defaults < config file < environment < flags; see the package docstring for the rules.

    ``flags`` maps field names (and ``config``) to values, ``None`` meaning not given. The
    only I/O is ``read`` (returns ``None`` for a missing file), so tests pass a fake one.
    """
    path, file_data, file_source = _find_file(flags, env, cwd, home, read)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    structured: dict[str, tuple[Any, str]] = {}

    def put(key: Key, raw: Any, source: str, json_key: str | None = None) -> None:
        # the file is typed JSON; environment and flag values may be text to parse
        value = _coerce(key, raw, source, home, json_key or key.name, parse_text=json_key is None)
        if value is not _UNSET:
            values[key.name] = value
            origins[key.name] = source

    if path is not None:
        source = str(path)
        seen: dict[str, str] = {}
        for json_key, raw in file_data.items():
            if json_key.startswith(("_", "$")):  # "$schema", "_comment": annotations, not settings
                continue
            if json_key in STRUCTURED_KEYS:
                structured[json_key] = (raw, source)
                continue
            name = JSON_KEYS.get(json_key)
            if name is None:
                raise _unknown(json_key, source, JSON_KEYS.keys() | set(STRUCTURED_KEYS))
            if name in seen:
                raise ConfigError(f"{json_key} and {seen[name]} mean the same setting; keep one (in {source})",
                                  key=json_key, source=source)
            seen[name] = json_key
            put(KEYS_BY_NAME[name], raw, source, json_key)  # json_key given: typed JSON

    for key in KEYS:
        for var in key.env:
            raw = env.get(var)
            if raw is not None and raw.strip():
                put(key, raw, f"env {var}")
                break

    for name, raw in flags.items():
        if raw is None or name == "config":
            continue
        if name in STRUCTURED_KEYS:
            structured[name] = (raw, "flag")
            continue
        flag_key = KEYS_BY_NAME.get(name)
        if flag_key is None:
            raise _unknown(name, "flags", KEYS_BY_NAME.keys() | set(STRUCTURED_KEYS) | {"config"})
        put(flag_key, raw, f"flag {flag_key.option}")

    field_names = {f.name for f in fields(Settings)}
    # a registered key that is no Settings field (a backend plugin's) lives in Settings.extra
    extra_keys = [k for k in KEYS if k.name not in field_names]
    for name in [f.name for f in fields(Settings)] + [k.name for k in extra_keys]:
        if name in KEYS_BY_NAME and name not in origins:
            origins[name] = DEFAULT
    if "cwd" not in values:
        values["cwd"] = str(cwd)

    # an unset key still has its default below; build_backends needs the effective values
    effective = {f.name: values.get(f.name, _default(f)) for f in fields(Settings) if f.name in KEYS_BY_NAME}
    extra = {k.name: values.pop(k.name, k.default) for k in extra_keys}
    effective |= extra
    backends, routes, backend_origins = build_backends(effective, origins, structured)
    origins.update(backend_origins)
    origins["config_file"] = file_source
    origins["extra"] = "derived" if any(origins[k.name] != DEFAULT for k in extra_keys) else DEFAULT
    order = [f.name for f in fields(Settings) if f.name in origins] + [k.name for k in extra_keys]
    settings = Settings(
        **values,
        backends=backends,
        routes=routes,
        config_file=str(path) if path is not None else "",
        origins=MappingProxyType({name: origins[name] for name in order}),
        extra=MappingProxyType(extra),
    )
    _check_exposure(settings)
    return settings


# ------------------------------------------------------------------------------- helpers


def _find_file(
    flags: Mapping[str, Any], env: Mapping[str, str], cwd: Path, home: Path, read: Reader
) -> tuple[Path | None, dict[str, Any], str]:
    """The config file, its content, and what chose it (a flag, the env, or the search)."""
    explicit, source = flags.get("config"), "flag --config"
    if not explicit:
        explicit, source = env.get(CONFIG_ENV, "").strip() or None, f"env {CONFIG_ENV}"
    if explicit:
        path = _expand(str(explicit), home)
        path = path if path.is_absolute() else cwd / path
        data = read(path)
        if data is None:
            raise ConfigError(f"config file {path} (from {source}) does not exist", key="config", source=source)
        return path, data, source
    for path in config_candidates(cwd, home):
        data = read(path)
        if data is not None:
            return path, data, "search"
    return None, {}, DEFAULT


def _expand(value: str, home: Path) -> Path:
    if value == "~" or value.startswith(("~/", "~\\")):
        return home / value[2:]
    return Path(value)


def _default(f: Field[Any]) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    return "an object"


def _unknown(key: str, source: str, known: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown configuration key {key!r} (in {source}){hint}", key=key, source=source)


def _bad(key: Key, json_key: str, source: str, reason: str, raw: Any, parse_text: bool) -> ConfigError:
    shown = ""
    if key.type != "secret" and "url" not in key.name and isinstance(raw, (str, int, float)):
        text = str(raw) if parse_text and isinstance(raw, str) else orjson.dumps(raw).decode()
        shown = f", got {text if len(text) <= 60 else text[:57] + '...'}"
    return ConfigError(f"{json_key} {reason}{shown} (from {source})", key=json_key, source=source)


def _coerce(key: Key, raw: Any, source: str, home: Path, json_key: str, *, parse_text: bool) -> Any:
    """``raw`` as the key's type, checked; ``_UNSET`` when it means "not set" (null, "")."""
    if raw is None:
        return _UNSET
    text = parse_text and isinstance(raw, str)
    t = key.type
    try:
        if t in ("str", "secret"):
            if not isinstance(raw, str):
                raise ValueError(f"must be a string, not {_json_type(raw)}")
            if not raw.strip():
                return _UNSET
            value: Any = raw.strip() if t == "str" else raw
            if key.name in PATH_KEYS:
                value = str(_expand(value, home))
        elif t == "int":
            if text:
                try:
                    value = int(raw.strip())
                except ValueError:
                    raise ValueError("must be an integer") from None
            elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"must be an integer, not {_json_type(raw)}")
            elif isinstance(raw, float) and not raw.is_integer():
                raise ValueError("must be an integer")
            else:
                value = int(raw)
        elif t == "float":
            if text:
                try:
                    value = float(raw.strip())
                except ValueError:
                    raise ValueError("must be a number") from None
            elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"must be a number, not {_json_type(raw)}")
            else:
                value = float(raw)
            if not math.isfinite(value):
                raise ValueError("must be a finite number")
        elif t in ("bool", "tribool"):
            if text:
                word = raw.strip().lower()
                if word not in _TRUE and word not in _FALSE:
                    raise ValueError("must be one of 1/true/yes/on or 0/false/no/off")
                value = word in _TRUE
            elif isinstance(raw, bool):
                value = raw
            else:
                raise ValueError(f"must be true or false, not {_json_type(raw)}")
        elif t == "list":
            if isinstance(raw, str):
                value = tuple(raw.split(","))
            elif isinstance(raw, (list, tuple)) and all(isinstance(s, str) for s in raw):
                value = tuple(raw)
            else:
                raise ValueError("must be a list of strings or a comma-separated string")
        else:  # pragma: no cover - the table only uses the types above
            raise AssertionError(t)
        if key.check is not None:
            value = key.check(value)
    except ValueError as e:
        raise _bad(key, json_key, source, str(e), raw, parse_text) from None
    return value


def _check_exposure(s: Settings) -> None:
    """Serving every backend to the network without a key is refused unless asked for by name."""
    if is_loopback(s.host) or s.api_key or s.insecure_no_auth:
        return
    source = s.origins.get("host", DEFAULT)
    raise ConfigError(
        f"refusing to listen on {s.host} (from {source}) without an API key: anyone who can reach this "
        "address could use your backends. Set --api-key (or LINGMA_PROXY_API_KEY), or pass "
        "--insecure-no-auth (LINGMA_PROXY_INSECURE_NO_AUTH=1) if the network is trusted.",
        key="host",
        source=source,
    )
