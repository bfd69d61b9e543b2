"""What a backend type registers: its type name, its settings keys and its factory.

A package offers backend types through the entry point group ``lingma_proxy.backends``; each
entry point names a ``BackendType`` (or a tuple of them). The built-ins (backends/builtin.py)
are registered the same way in lingma-proxy's own pyproject.toml, and found by
``backends.types.backend_types()`` exactly as a third party's would be. docs/plugins.md says
how to write one.

From the registrations the rest derives: the settings table (``config.schema.KEYS``: the core
keys plus each type's ``keys``), hence the CLI flags, ``lingma-proxy config``, the docs test
and which values are secrets; the ``type`` a ``backends`` entry may name; the backends implied
by the simple settings (``--backend openai --openai-base-url ...``); and the factory that
builds a backend from its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..keys import Check, Key
from .base import Backend

# (the backend's config entry: config.BackendConfig, the whole config.Settings) -> the backend.
# Typed loosely so a backend module need not import config; read a key that is no Settings
# field (a plugin's own) with ``settings.value(name)``.
Factory = Callable[[Any, Any], Backend]


@dataclass(frozen=True, slots=True)
class BackendType:
    """One backend type (see the module docstring)."""

    name: str  # the ``type`` of a backends entry; also the name of the backend it implies
    factory: Factory
    keys: tuple[Key, ...] = ()  # its simple settings: flags, environment names, JSON keys
    help: str = ""  # one line: what it talks to
    # The backend the simple settings imply (named by --backend or a route, or implied_by a set
    # key), built from these keys' values: its base_url and api_key.
    url_key: str = ""
    api_key_key: str = ""
    implied_by: tuple[str, ...] = ()
    needs_url: bool = False  # no base_url, no backend: naming it without one is an error
    url_hint: str = ""  # e.g. ", e.g. http://127.0.0.1:1234/v1 for LM Studio" in that error
    url_check: Check | None = None  # a declared entry's base_url (None: an http(s) base URL)
    # A declared entry of this type without base_url / api_key takes url_key's / api_key_key's.
    entry_defaults: bool = False

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)
