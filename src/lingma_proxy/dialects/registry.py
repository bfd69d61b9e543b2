"""The one registry of dialects: entry points of the group ``lingma_proxy.dialects``.

The built-ins are declared in pyproject.toml exactly as a third-party package would declare its
own, and loaded the same way (``importlib.metadata``). When the package metadata is missing
(run from a source tree, a broken install), the built-in packages found next to this module
are imported directly so the proxy
still serves its own APIs. Reading the metadata is the one thing here that touches files.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from .base import Dialect

log = logging.getLogger("lingma_proxy.dialects")

GROUP = "lingma_proxy.dialects"
_OURS = __package__ + "."


def _builtins() -> dict[str, Dialect]:
    """The packages next to this module that export a ``DIALECT`` (no list to keep in step)."""
    out: dict[str, Dialect] = {}
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        if info.ispkg:
            value = getattr(importlib.import_module(_OURS + info.name), "DIALECT", None)
            if isinstance(value, Dialect):
                out[value.name] = value
    return out


@cache
def all_dialects() -> tuple[Dialect, ...]:
    """Every registered dialect in entry-point order. A plugin cannot take a built-in's name;
    a built-in whose entry point is missing (no package metadata) is imported directly."""
    builtins = _builtins()
    found: dict[str, Dialect] = {}
    for ep in entry_points(group=GROUP):
        try:
            value = ep.load()
        except Exception:  # a broken plugin must not take the proxy's own APIs down with it
            log.exception("dialect entry point %s failed to load", ep.name)
            continue
        if not isinstance(value, Dialect):
            log.error("dialect entry point %s is not a Dialect (got %s)", ep.name, type(value).__name__)
            continue
        if value.name in builtins and value is not builtins[value.name]:
            log.error("dialect entry point %s reuses the built-in name %r: ignored", ep.name, value.name)
            continue
        found.setdefault(value.name, value)
    for name, dialect in builtins.items():
        found.setdefault(name, dialect)
    return tuple(found.values())


def by_name(name: str) -> Dialect | None:
    return next((d for d in all_dialects() if d.name == name), None)


def default() -> Dialect:
    """The dialect whose error shape answers paths no dialect claims."""
    return next((d for d in all_dialects() if d.options.default_errors), all_dialects()[0])
