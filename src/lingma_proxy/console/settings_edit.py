"""Editing the effective configuration from the console: validate with the loader, optionally save.

An edit is one more layer on top of what the process started with: the values given by flags
(and earlier console edits) are carried as flags, the file and environment are read again, and
the edited keys are applied last, so ``load_settings`` checks the result exactly as at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from ..config import KEYS, ConfigError, Settings, load_settings, read_config_file_if_exists
from ..config.schema import KEYS_BY_NAME, RESTART_KEYS
from ..config.settings import SECRET_FIELDS

CONSOLE = "console"
_DEFAULTS = {f.name: (f.default_factory() if f.default_factory is not MISSING else f.default)
             for f in fields(Settings)}


def key_table() -> list[dict[str, Any]]:
    """What the settings page needs to draw a form: one entry per simple key."""
    return [{"name": k.name, "type": k.type, "help": k.help, "choices": list(k.choices),
             "env": list(k.env), "flag": k.option, "secret": k.type == "secret",
             "restart": k.name in RESTART_KEYS, "default": _shown_default(k.name)} for k in KEYS]


def _shown_default(name: str) -> Any:
    value = _DEFAULTS[name] if name in _DEFAULTS else KEYS_BY_NAME[name].default  # a plugin's key: its own
    if name in SECRET_FIELDS:
        return None
    return list(value) if isinstance(value, tuple) else value


def _carried(settings: Settings) -> dict[str, Any]:
    """The flag-like layer the running settings were made with."""
    flags: dict[str, Any] = {}
    for key in KEYS:
        origin = settings.origins.get(key.name)
        value = settings.value(key.name)
        if (origin is not None and (origin.startswith("flag") or origin == CONSOLE)) or \
                (origin is None and value != _DEFAULTS.get(key.name)):
            flags[key.name] = list(value) if isinstance(value, tuple) else value
    if settings.origins.get("config_file", "").startswith("flag") and settings.config_file:
        flags["config"] = settings.config_file
    for name in ("backends", "routes"):
        origin = settings.origins.get(name, "")
        if origin.startswith("flag") or origin == CONSOLE:
            flags[name] = _structured(settings, name)
    return flags


def _structured(settings: Settings, name: str) -> list[dict[str, Any]]:
    if name == "routes":
        return [{"pattern": r.pattern, "backend": r.backend, "model": r.model} for r in settings.routes]
    return [{"name": b.name, "type": b.type, "base_url": b.base_url or None, "api_key": b.api_key,
             "model": b.model or None, "options": dict(b.options)} for b in settings.backends]


def edited(settings: Settings, changes: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
           cwd: Path | None = None, home: Path | None = None) -> Settings:
    """The settings with ``changes`` applied (``None`` = back to file/env/default); ConfigError
    names the key when a value is not acceptable."""
    for name in changes:
        if name not in KEYS_BY_NAME:
            raise ConfigError(f"{name!r} is not a setting the console can change", key=name, source=CONSOLE)
    flags = _carried(settings)
    for name, value in changes.items():
        if value is None:
            flags.pop(name, None)
        else:
            flags[name] = value
    try:
        new = load_settings(flags, os.environ if env is None else env, cwd or Path.cwd(), home or Path.home())
    except ConfigError as e:
        if e.key in changes and e.source and e.source.startswith("flag"):  # the console's value, not a flag
            raise ConfigError(e.message.replace(f"(from {e.source})", "(from the console)"), key=e.key,
                              source=CONSOLE) from None
        raise
    origins = dict(new.origins)
    for name, value in changes.items():
        if value is not None:
            origins[name] = CONSOLE
    return replace(new, origins=MappingProxyType(origins))


def save(settings: Settings, changes: Mapping[str, Any], *, home: Path | None = None) -> Path:
    """Write the edited keys into the config file (the one in use, else the user's default)."""
    path = Path(settings.config_file) if settings.config_file else \
        (home or Path.home()) / ".config" / "lingma-proxy" / "config.json"
    data = read_config_file_if_exists(path) or {}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = _typed(settings.value(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    if any(name in SECRET_FIELDS for name in changes):
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _typed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def view(settings: Settings) -> dict[str, Any]:
    """The effective configuration, secrets masked, each value with its origin."""
    masked = settings.masked()
    return {"values": masked, "origins": dict(settings.origins), "keys": key_table(),
            "config_file": settings.config_file}
