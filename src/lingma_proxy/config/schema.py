"""The table of simple settings: type, JSON keys, environment names, flag, check.

One row per ``Settings`` field that is a scalar or a list of strings (``backends`` and
``routes`` are structured and handled in ``load``). The CLI builds its options from this
table and the docs test checks docs/configuration.md against it, so names cannot drift.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import redact_url

Check = Callable[[Any], Any]  # returns the normalised value or raises ValueError(reason)


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    type: str  # str | secret | int | float | bool | tribool | list
    env: tuple[str, ...]
    help: str
    aliases: tuple[str, ...] = ()  # other JSON keys meaning the same (reference names)
    flag: bool = True  # offered as --<name-with-dashes>
    check: Check | None = None
    choices: tuple[str, ...] = ()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


# ------------------------------------------------------------------------------- checks


def _between(lo: float, hi: float | None = None) -> Check:
    def check(v: Any) -> Any:
        if v < lo or (hi is not None and v > hi):
            raise ValueError(f"must be between {lo:g} and {hi:g}" if hi is not None else f"must be >= {lo:g}")
        return v

    return check


def _http_url(v: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ValueError(f"is not a valid URL ({str(e).lower()})") from None
    if parts.scheme not in schemes or not parts.hostname:
        prefixes = [s + "://" for s in schemes]
        wanted = ", ".join(prefixes[:-1]) + " or " + prefixes[-1]
        raise ValueError(f"must be a URL starting with {wanted} and naming a host, got {redact_url(v)!r}")
    return v


def base_url(v: str) -> str:
    return _http_url(v).rstrip("/")


def openai_base_url(v: str) -> str:
    """Every OpenAI-compatible local server serves ``/v1``; a bare host means that."""
    v = base_url(v)
    parts = urlsplit(v)
    if parts.path in ("", "/"):
        v = urlunsplit((parts.scheme, parts.netloc, "/v1", parts.query, ""))
    return v


def ws_url(v: str) -> str:
    _http_url(v, ("ws", "wss"))
    parts = urlsplit(v)
    if not parts.path:  # the reference adds the root path
        v = urlunsplit((parts.scheme, parts.netloc, "/", parts.query, ""))
    return v


def proxy_url(v: str) -> str:
    return _http_url(v, ("http", "https", "socks5"))


def host(v: str) -> str:
    if any(c.isspace() for c in v) or "/" in v:
        raise ValueError(f"must be a host name or IP address, got {v!r}")
    return v


def is_loopback(h: str) -> bool:
    h = h.strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


_ORIGIN_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s,]*")


def origins(v: tuple[str, ...]) -> tuple[str, ...]:
    """Web origins (``scheme://host[:port]``, ``*`` globs inside), ``null`` or ``*``; lowercased."""
    out = []
    for item in _dedupe(v):
        o = item.lower().rstrip("/")
        if o not in ("*", "null") and not _ORIGIN_RE.fullmatch(o):
            raise ValueError(f"must hold web origins like https://app.example.com (scheme://host[:port], "
                             f"no path), 'null' or '*' ({item!r} is not one)")
        out.append(o)
    return tuple(dict.fromkeys(out))


def host_names(v: tuple[str, ...]) -> tuple[str, ...]:
    """Host names or IP addresses (``*`` globs allowed), any port dropped; lowercased."""
    out = []
    for item in _dedupe(v):
        h = item.lower()
        if "/" in h:
            raise ValueError(f"must hold host names or IP addresses, no scheme or path ({item!r} is not one)")
        if h.startswith("["):  # [v6] or [v6]:port
            h = h[1:].partition("]")[0]
        elif h.count(":") == 1:  # name:port
            h = h.partition(":")[0]
        if not h or not re.fullmatch(r"[a-z0-9._*:-]+", h):
            raise ValueError(f"must hold host names or IP addresses ({item!r} is not one)")
        out.append(h)
    return tuple(dict.fromkeys(out))


def networks(v: tuple[str, ...]) -> tuple[str, ...]:
    """IP addresses or CIDR networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``)."""
    out = []
    for item in _dedupe(v):
        try:
            out.append(str(ipaddress.ip_network(item.strip("[]"), strict=False)))
        except ValueError:
            raise ValueError(f"must hold IP addresses or networks like 127.0.0.1 or 10.0.0.0/8 "
                             f"({item!r} is not one)") from None
    return tuple(dict.fromkeys(out))


def backend_name(v: str) -> str:
    lowered = v.lower()
    return lowered if lowered in ("auto", "openai", "anthropic", "ipc", "remote") else v


def _choice(choices: tuple[str, ...], synonyms: dict[str, str] | None = None) -> Check:
    def check(v: str) -> str:
        v = v.strip().lower()
        v = (synonyms or {}).get(v, v)
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return v

    return check


def _dedupe(v: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.strip() for s in v if s.strip()))


# ------------------------------------------------------------------------------- the table

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TOOL_MODES = ("auto", "native", "emulate")
_OVERFLOW = ("error", "truncate")
_TRANSPORTS = ("auto", "pipe", "websocket")
_SESSION_MODES = ("auto", "fresh", "reuse")

KEYS: tuple[Key, ...] = (
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
        "default backend: auto, openai, anthropic, ipc, remote or a configured backend name", check=backend_name),
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
    # OpenAI-compatible / Anthropic
    Key("openai_base_url", "str", ("LINGMA_PROXY_OPENAI_BASE_URL", "LMSTUDIO_URL"),
        "OpenAI-compatible server (LM Studio, Ollama, vLLM, llama.cpp, mlx-lm)", check=openai_base_url),
    Key("openai_api_key", "secret", ("LINGMA_PROXY_OPENAI_API_KEY", "LMSTUDIO_API_KEY"),
        "key sent to the OpenAI-compatible server"),
    Key("anthropic_base_url", "str", ("LINGMA_PROXY_ANTHROPIC_BASE_URL",), "Anthropic API base URL", check=base_url),
    Key("anthropic_api_key", "secret", ("LINGMA_PROXY_ANTHROPIC_API_KEY",), "key sent to the Anthropic API"),
    # Lingma IPC
    Key("transport", "str", ("LINGMA_PROXY_TRANSPORT",), "IPC transport",
        check=_choice(_TRANSPORTS, {"ws": "websocket"}), choices=_TRANSPORTS),
    Key("pipe", "str", ("LINGMA_PROXY_PIPE", "LINGMA_IPC_PIPE"), "IPC named pipe or socket path"),
    Key("ws_url", "str", ("LINGMA_PROXY_WS_URL",), "IPC WebSocket URL (ws:// or wss://)",
        aliases=("websocket_url",), check=ws_url),
    Key("cwd", "str", ("LINGMA_PROXY_CWD",), "working directory reported to the IPC session"),
    Key("current_file_path", "str", ("LINGMA_PROXY_CURRENT_FILE_PATH",), "current file reported to IPC"),
    Key("mode", "str", ("LINGMA_PROXY_MODE",), "IPC mode (agent or chat)"),
    Key("shell_type", "str", ("LINGMA_PROXY_SHELL_TYPE",), "shell reported to IPC"),
    Key("session_mode", "str", ("LINGMA_PROXY_SESSION_MODE",), "IPC sessions: fresh per request, or reuse one",
        check=_choice(_SESSION_MODES), choices=_SESSION_MODES),
    Key("shared_client_info", "str", ("LINGMA_PROXY_SHARED_CLIENT_INFO", "LINGMA_SHARED_CLIENT_INFO"),
        "IPC .info/.info.json file to use instead of searching"),
    Key("ipc_socket", "str", ("LINGMA_PROXY_IPC_SOCKET", "LINGMA_IPC_SOCKET"),
        "IPC unix socket path replacing the candidate list"),
    Key("ipc_max_concurrent", "int", ("LINGMA_PROXY_IPC_MAX_CONCURRENT",),
        "IPC turns in flight at once (1-16; unset = LINGMA_PROXY_MAX_CONCURRENT if set, else 4)",
        check=_between(1, 16)),
    # Lingma remote
    Key("remote_base_url", "str", ("LINGMA_PROXY_REMOTE_BASE_URL", "LINGMA_REMOTE_BASE_URL"),
        "Lingma remote API base URL (empty = detected)", check=base_url),
    Key("remote_auth_file", "str", ("LINGMA_PROXY_REMOTE_AUTH_FILE", "LINGMA_REMOTE_AUTH_FILE"),
        "credentials JSON (empty = the local login cache)"),
    Key("remote_proxy_url", "str", ("LINGMA_PROXY_REMOTE_PROXY_URL", "LINGMA_REMOTE_PROXY_URL"),
        "HTTP(S)/SOCKS5 proxy for the remote API", check=proxy_url),
    Key("remote_version", "str", ("LINGMA_PROXY_REMOTE_VERSION", "LINGMA_REMOTE_VERSION"),
        "Cosy-Version sent to the remote API"),
    Key("remote_fallback", "bool", ("LINGMA_PROXY_REMOTE_FALLBACK", "LINGMA_REMOTE_FALLBACK_ENABLED"),
        "retry another remote model when one fails before any output", aliases=("remote_fallback_enabled",)),
    Key("remote_fallback_models", "list", ("LINGMA_PROXY_REMOTE_FALLBACK_MODELS", "LINGMA_REMOTE_FALLBACK_MODELS"),
        "remote fallback order (comma-separated)", check=_dedupe),
    Key("remote_identity", "str", ("LINGMA_PROXY_REMOTE_IDENTITY",), "client identity presented to the remote API"),
    Key("cache_dir", "str", ("LINGMA_PROXY_CACHE_DIR", "LINGMA_CACHE_DIR"),
        "Lingma credential cache directory to search"),
    # storage and tracing
    Key("data_dir", "str", ("LINGMA_PROXY_DATA_DIR",), "where recordings and logs are stored"),
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

KEYS_BY_NAME = {k.name: k for k in KEYS}
# JSON key -> field name, reference spellings included
JSON_KEYS: dict[str, str] = {k.name: k.name for k in KEYS} | {a: k.name for k in KEYS for a in k.aliases}
STRUCTURED_KEYS = ("backends", "routes")
PATH_KEYS = frozenset({"cwd", "data_dir", "remote_auth_file", "cache_dir", "current_file_path", "shared_client_info"})
# read once at start by the ASGI stack: a change needs a new process (the console's restart
# swaps everything else in place)
RESTART_KEYS = frozenset({"host", "port", "api_key", "insecure_no_auth", "log_level", "trace"})
# not settings: where the configuration file is
CONFIG_ENV = "LINGMA_PROXY_CONFIG"
