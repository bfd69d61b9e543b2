"""The settings object the server receives whole, and how it shows itself with secrets masked."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ProxyError
from ..redaction import SECRET_NAME, settings_secrets
from .schema import KEYS, TYPE_NAMES

# The registered backend types (backends/types.py): the built-ins, then any plugin's.
BUILTIN_BACKENDS = TYPE_NAMES
DEFAULT_FALLBACK_MODELS = (
    "kmodel",
    "mmodel",
    "dashscope_qwen3_coder",
    "dashscope_qmodel",
    "dashscope_qwen_max_latest",
    "dashscope_qwen_plus_20250428_thinking",
)


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class ConfigError(ProxyError):
    """Invalid configuration; the message names the key and where its value came from."""

    status = 400
    kind = "invalid_request_error"

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message, param=key)
        self.key = key
        self.source = source


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """One named upstream. ``options`` carries backend-specific extras verbatim."""

    name: str
    type: str  # a registered backend type: openai | anthropic | ipc | remote | a plugin's
    base_url: str = ""
    api_key: str | None = field(default=None, repr=False)
    model: str = ""  # this backend's default upstream model ("" = the global default)
    options: Mapping[str, Any] = field(default_factory=_empty, hash=False)

    def masked(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "base_url": mask_url(self.base_url),
            "api_key": mask_secret(self.api_key),
            "model": self.model,
            "options": _masked_options(self.options),
        }


@dataclass(frozen=True, slots=True)
class Route:
    """Client model names matching ``pattern`` (an fnmatch glob) go to ``backend``.

    ``model`` replaces the client's model upstream; ``None`` keeps the client's model.
    """

    pattern: str
    backend: str
    model: str | None = None


def _default_shell() -> str:
    return "powershell" if sys.platform == "win32" else "zsh"


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective configuration. Build it with ``load_settings``; see the package docstring."""

    # server
    host: str = "127.0.0.1"
    port: int = 8095
    api_key: str | None = field(default=None, repr=False)
    insecure_no_auth: bool = False
    log_level: str = "info"
    allowed_origins: tuple[str, ...] = ()  # besides loopback origins (server/origins.py)
    allowed_hosts: tuple[str, ...] = ()  # besides loopback names and the bound address
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-* headers are believed
    # routing
    backend: str = "auto"
    model: str = ""
    backends: tuple[BackendConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    # limits
    timeout: float = 0
    connect_timeout: float = 10
    first_byte_timeout: float = 600
    max_concurrent: int = 8
    max_body_bytes: int = 32 * 1024 * 1024
    ping_interval: float = 10
    warmup_timeout: float = 30
    # features
    tool_mode: str = "auto"
    context_overflow: str = "error"
    context_window: int = 0  # 0: discovered from the backend
    allow_local_images: bool = False  # image paths read by the proxy (relay/local_images.py)
    # OpenAI-compatible and Anthropic upstreams (the simple single-backend case)
    openai_base_url: str = ""
    openai_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: str | None = field(default=None, repr=False)
    # Lingma IPC
    transport: str = "auto"
    pipe: str = ""
    ws_url: str = ""
    cwd: str = ""
    current_file_path: str = ""
    mode: str = "agent"
    shell_type: str = field(default_factory=_default_shell)
    session_mode: str = "auto"
    shared_client_info: str = ""
    ipc_socket: str = ""
    ipc_max_concurrent: int = 4
    # Lingma remote
    remote_base_url: str = ""
    remote_auth_file: str = ""
    remote_proxy_url: str = field(default="", repr=False)
    remote_version: str = "2.11.2"
    remote_fallback: bool = True
    remote_fallback_models: tuple[str, ...] = DEFAULT_FALLBACK_MODELS
    remote_identity: str = ""
    cache_dir: str = ""
    # storage and tracing
    data_dir: str = ""
    record: bool = True
    record_body_limit: int = 256 * 1024
    retention_days: float = 14
    retention_mb: int = 512
    admin_key: str | None = field(default=None, repr=False)
    trace: bool | None = None
    trace_max_files: int = 1000
    trace_max_mb: int = 500
    # bookkeeping
    config_file: str = ""
    origins: Mapping[str, str] = field(default_factory=_empty, hash=False, compare=False)
    # The values of registered keys that are no field above (a backend plugin's), by key name,
    # defaults included; read them with ``value(name)``. ``masked()`` shows them under "extra".
    extra: Mapping[str, Any] = field(default_factory=_empty, hash=False)

    def masked(self) -> dict[str, Any]:
        """Every field as plain JSON-able data, secrets masked (``origins`` left out)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "origins":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = mask_secret(value)
            elif f.name in URL_FIELDS:
                value = mask_url(value)
            elif f.name == "backends":
                value = [b.masked() for b in value]
            elif f.name == "routes":
                value = [{"pattern": r.pattern, "backend": r.backend, "model": r.model} for r in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif f.name == "extra":  # a plugin's keys, shown the same way
                value = {k: mask_secret(v) if k in SECRET_FIELDS else mask_url(v) if k in URL_FIELDS
                         else list(v) if isinstance(v, tuple) else v for k, v in value.items()}
            out[f.name] = value
        return out

    def value(self, name: str) -> Any:
        """The value of the simple setting ``name``: a field, or a plugin's key (``extra``)."""
        if name in self.extra:
            return self.extra[name]
        if name in _FIELDS:
            return getattr(self, name)
        raise KeyError(name)

    def secrets(self) -> list[str]:
        """Every credential these settings hold (``redaction.SecretRegistry`` is filled from it):
        the secret-typed keys, passwords in URLs, each backend entry's key, URL and secret-named options."""
        found = settings_secrets(self, SECRET_FIELDS, URL_FIELDS)
        return found + [v for k, v in self.extra.items() if k in SECRET_FIELDS and isinstance(v, str) and v]

    def backend_named(self, name: str) -> BackendConfig | None:
        for b in self.backends:
            if b.name == name:
                return b
        return None


# Derived from the settings table (core keys plus every registered backend type's): the
# secret-typed keys, and the URLs that may carry user:password (proxy URLs do, in practice).
SECRET_FIELDS = frozenset(k.name for k in KEYS if k.type == "secret")
URL_FIELDS = frozenset(k.name for k in KEYS if k.name.endswith("_url"))
_FIELDS = frozenset(f.name for f in fields(Settings))


def _masked_options(options: Any, key: str = "") -> Any:
    """A backend's options as shown: strings under secret-looking names masked, URLs without
    their passwords, at any depth (the same rule ``redaction.settings_secrets`` registers by)."""
    if isinstance(options, Mapping):
        return {k: _masked_options(v, str(k)) for k, v in options.items()}
    if isinstance(options, (list, tuple)):
        return [_masked_options(v, key) for v in options]
    if isinstance(options, str):
        if SECRET_NAME.search(key):
            return mask_secret(options)
        return mask_url(options) if "://" in options else options
    return options


def mask_secret(value: str | None) -> str | None:
    """``sk-…abcd`` for long keys, ``***`` for short ones: never enough to reconstruct a key."""
    if not value:
        return value
    if len(value) >= 20:
        return f"{value[:3]}…{value[-4:]}"
    return "***"


def mask_url(url: str) -> str:
    """The URL with any password in its user info replaced by ``***``; a query string is dropped."""
    if not url or ("@" not in url and "?" not in url):
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    if ":" in host:
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    if parts.username is not None:
        host = f"{parts.username}:***@{host}" if parts.password is not None else f"***@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
