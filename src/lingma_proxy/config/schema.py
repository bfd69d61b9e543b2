"""The table of simple settings: type, JSON keys, environment names, flag, check.

One row per simple setting (a scalar or a list of strings; ``backends`` and ``routes`` are
structured and handled in ``load``): the core keys below, plus the keys each registered
backend type brings (``backends.registration.BackendType.keys``: the built-ins' in
backends/builtin.py, a plugin's in its package). The CLI builds its options from this table,
``lingma-proxy config`` shows it, secret redaction takes its ``secret`` keys and the docs test
checks docs/configuration.md against it, so names cannot drift.
"""

from __future__ import annotations

from ..backends.registration import BackendType
from ..backends.types import backend_types
from ..keys import (
    Check,
    Key,
    base_url,
    between,
    choice,
    dedupe,
    host,
    host_names,
    is_loopback,
    networks,
    openai_base_url,
    origins,
    proxy_url,
    ws_url,
)

__all__ = ["CONFIG_ENV", "JSON_KEYS", "KEYS", "KEYS_BY_NAME", "PATH_KEYS", "RESTART_KEYS", "STRUCTURED_KEYS",
           "BackendType", "Check", "Key", "backend_name", "base_url", "host", "host_names", "is_loopback",
           "networks", "openai_base_url", "origins", "proxy_url", "ws_url"]

_between, _choice, _dedupe = between, choice, dedupe
TYPES: tuple[BackendType, ...] = backend_types()
TYPE_NAMES = tuple(t.name for t in TYPES)


def backend_name(v: str) -> str:
    """A registered type's name (or ``auto``) in any case is that name; anything else is a
    configured backend's name, kept as written."""
    lowered = v.lower()
    return lowered if lowered in ("auto", *TYPE_NAMES) else v

# ------------------------------------------------------------------------------- the table

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TOOL_MODES = ("auto", "native", "emulate")
_OVERFLOW = ("error", "truncate")

CORE_KEYS: tuple[Key, ...] = (
    # server
    Key("host", "str", ("LINGMA_PROXY_HOST",), "address to listen on", check=host),
    Key("port", "int", ("LINGMA_PROXY_PORT",), "port to listen on", check=_between(1, 65535)),
    Key("api_key", "secret", ("LINGMA_PROXY_API_KEY",), "key clients must send (any key accepted when unset)"),
    Key("insecure_no_auth", "bool", ("LINGMA_PROXY_INSECURE_NO_AUTH",), "allow a non-loopback host without --api-key"),
    Key("admin_key", "secret", ("LINGMA_PROXY_ADMIN_KEY",),
        "key that opens the console and debug endpoints to non-loopback clients (unset = loopback only)"),
    Key("allowed_origins", "list", ("LINGMA_PROXY_ALLOWED_ORIGINS",),
        "web origins allowed besides loopback ones (comma-separated; https://*.example.com globs; * = any)",
        check=origins),
    Key("allowed_hosts", "list", ("LINGMA_PROXY_ALLOWED_HOSTS",),
        "Host header names accepted besides loopback ones and the bound address (comma-separated; * = any)",
        check=host_names),
    Key("trusted_proxies", "list", ("LINGMA_PROXY_TRUSTED_PROXIES",),
        "reverse proxy addresses whose X-Forwarded-For/-Host/-Proto are believed (IPs or CIDRs; empty = none)",
        check=networks),
    Key("log_level", "str", ("LINGMA_PROXY_LOG_LEVEL",), "log verbosity",
        check=_choice(_LOG_LEVELS, {"warn": "warning"}), choices=_LOG_LEVELS),
    # routing
    Key("backend", "str", ("LINGMA_PROXY_BACKEND",),
        f"default backend: auto, {', '.join(TYPE_NAMES)} or a configured backend name", check=backend_name),
    Key("model", "str", ("LINGMA_PROXY_MODEL",), "default upstream model when the client's model routes nowhere"),
    # limits
    Key("timeout", "float", ("LINGMA_PROXY_TIMEOUT", "LINGMA_PROXY_TIMEOUT_SECONDS"),
        "total seconds per request (0 = unlimited)", check=_between(0)),
    Key("connect_timeout", "float", ("LINGMA_PROXY_CONNECT_TIMEOUT",), "seconds to connect upstream",
        check=_between(0.001)),
    Key("first_byte_timeout", "float", ("LINGMA_PROXY_FIRST_BYTE_TIMEOUT",),
        "seconds to wait for the upstream's first byte (0 = unlimited)", check=_between(0)),
    Key("max_concurrent", "int", ("LINGMA_PROXY_MAX_CONCURRENT",), "in-flight upstream requests",
        check=_between(1, 256)),
    Key("max_body_bytes", "int", ("LINGMA_PROXY_MAX_BODY_BYTES",), "largest accepted request body",
        check=_between(1024)),
    Key("ping_interval", "float", ("LINGMA_PROXY_PING_INTERVAL",),
        "seconds of upstream silence before a keep-alive ping (0 = never)", check=_between(0)),
    Key("warmup_timeout", "float", ("LINGMA_PROXY_WARMUP_TIMEOUT",), "seconds allowed for backend warm-up at start",
        check=_between(0)),
    # features
    Key("tool_mode", "str", ("LINGMA_PROXY_TOOL_MODE",), "tool calling: native, emulated, or auto by backend",
        check=_choice(_TOOL_MODES), choices=_TOOL_MODES),
    Key("context_overflow", "str", ("LINGMA_PROXY_CONTEXT_OVERFLOW",),
        "a prompt too long for the model: error, or truncate old turns",
        check=_choice(_OVERFLOW), choices=_OVERFLOW),
    Key("context_window", "int", ("LINGMA_PROXY_CONTEXT_WINDOW",),
        "context window of the upstream model in tokens (0 = ask the backend)", check=_between(0)),
    Key("allow_local_images", "bool", ("LINGMA_PROXY_ALLOW_LOCAL_IMAGES",),
        "let clients name images by local file path (the proxy reads the file and sends its bytes)"),
    # (each backend type's keys come here: see KEYS below)
    # storage and tracing
    Key("data_dir", "str", ("LINGMA_PROXY_DATA_DIR",), "where recordings and logs are stored", path=True),
    Key("record", "bool", ("LINGMA_PROXY_RECORD",), "record requests and usage"),
    Key("record_body_limit", "int", ("LINGMA_PROXY_RECORD_BODY_LIMIT",),
        "largest recorded request or response body, in bytes (sanitized first, then cut)", check=_between(1024)),
    Key("retention_days", "float", ("LINGMA_PROXY_RETENTION_DAYS",),
        "days recorded requests and logs are kept (0 = no age limit)", check=_between(0)),
    Key("retention_mb", "int", ("LINGMA_PROXY_RETENTION_MB",),
        "size the recording database is kept under, in MiB (0 = no size limit)", check=_between(0)),
    Key("trace", "tribool", ("LINGMA_PROXY_TRACE",), "keep full request/response traces (unset = backend default)"),
    Key("trace_max_files", "int", ("LINGMA_PROXY_TRACE_MAX_FILES",), "traces kept per backend (oldest removed)",
        check=_between(1)),
    Key("trace_max_mb", "int", ("LINGMA_PROXY_TRACE_MAX_MB",), "megabytes of traces kept per backend",
        check=_between(1)),
)

_TAIL = CORE_KEYS.index(next(k for k in CORE_KEYS if k.name == "data_dir"))


def _assemble(core: tuple[Key, ...], types: tuple[BackendType, ...]) -> tuple[Key, ...]:
    """The core keys with each type's keys after the feature keys (before storage and tracing);
    a type's key that repeats a name already taken is left out (the first registration wins)."""
    out = list(core[:_TAIL])
    taken = {k.name for k in core} | {a for k in core for a in k.aliases}
    for t in types:
        for key in t.keys:
            if key.name in taken or any(a in taken for a in key.aliases):
                continue
            out.append(key)
            taken |= {key.name, *key.aliases}
    return (*out, *core[_TAIL:])


KEYS: tuple[Key, ...] = _assemble(CORE_KEYS, TYPES)
KEYS_BY_NAME = {k.name: k for k in KEYS}
# JSON key -> field name, reference spellings included
JSON_KEYS: dict[str, str] = {k.name: k.name for k in KEYS} | {a: k.name for k in KEYS for a in k.aliases}
STRUCTURED_KEYS = ("backends", "routes")
PATH_KEYS = frozenset(k.name for k in KEYS if k.path)
# read once at start by the ASGI stack: a change needs a new process (the console's restart
# swaps everything else in place)
RESTART_KEYS = frozenset({"host", "port", "api_key", "insecure_no_auth", "log_level", "trace"})
# not settings: where the configuration file is
CONFIG_ENV = "LINGMA_PROXY_CONFIG"
