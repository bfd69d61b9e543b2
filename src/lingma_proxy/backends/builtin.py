"""The built-in backend types, registered exactly as a plugin's would be.

pyproject.toml names each of these in the entry point group ``lingma_proxy.backends``; the
settings keys below are the single-backend shorthands (``--openai-base-url``, the IPC and
remote options). Their values still land in ``config.Settings`` fields of the same names (the
factories read them there); a plugin's keys, which are no fields, are read with
``settings.value(name)``. Factories import their backend module only when called, so reading
the registrations (every CLI start) stays cheap.
"""

from __future__ import annotations

from typing import Any

from .. import keys as k
from ..keys import Key
from .base import Backend
from .registration import BackendType

_TRANSPORTS = ("auto", "pipe", "websocket")
_SESSION_MODES = ("auto", "fresh", "reuse")


def _openai(cfg: Any, settings: Any) -> Backend:
    from .openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(
        cfg.name,
        cfg.base_url,
        cfg.api_key,
        default_model=cfg.model or settings.model,
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.first_byte_timeout,
        total_timeout=settings.timeout,
    )


def _anthropic(cfg: Any, settings: Any) -> Backend:
    from .anthropic import AnthropicBackend

    return AnthropicBackend(
        cfg.name,
        cfg.base_url or settings.anthropic_base_url,
        cfg.api_key,
        default_model=cfg.model or settings.model,
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.first_byte_timeout,
        total_timeout=settings.timeout,
        proxy_key=settings.api_key,
    )


def _remote(cfg: Any, settings: Any) -> Backend:
    from .lingma.remote_factory import from_settings

    return from_settings(cfg, settings)


def _ipc(cfg: Any, settings: Any) -> Backend:
    from .lingma.ipc.factory import from_settings

    return from_settings(cfg, settings)


OPENAI = BackendType(
    "openai", _openai, help="an OpenAI-compatible server (LM Studio, Ollama, vLLM, llama.cpp, mlx-lm)",
    keys=(
        Key("openai_base_url", "str", ("LINGMA_PROXY_OPENAI_BASE_URL", "LMSTUDIO_URL"),
            "OpenAI-compatible server (LM Studio, Ollama, vLLM, llama.cpp, mlx-lm)", check=k.openai_base_url),
        Key("openai_api_key", "secret", ("LINGMA_PROXY_OPENAI_API_KEY", "LMSTUDIO_API_KEY"),
            "key sent to the OpenAI-compatible server"),
    ),
    url_key="openai_base_url", api_key_key="openai_api_key", implied_by=("openai_base_url",), needs_url=True,
    url_hint=", e.g. http://127.0.0.1:1234/v1 for LM Studio", url_check=k.openai_base_url,
)

ANTHROPIC = BackendType(
    "anthropic", _anthropic, help="the Anthropic Messages API (api.anthropic.com or a server speaking it)",
    keys=(
        Key("anthropic_base_url", "str", ("LINGMA_PROXY_ANTHROPIC_BASE_URL",), "Anthropic API base URL",
            check=k.base_url),
        Key("anthropic_api_key", "secret", ("LINGMA_PROXY_ANTHROPIC_API_KEY",), "key sent to the Anthropic API"),
    ),
    url_key="anthropic_base_url", api_key_key="anthropic_api_key", implied_by=("anthropic_api_key",),
    entry_defaults=True,
)

IPC = BackendType(
    "ipc", _ipc, help="a running Lingma / QoderCN runtime, over its local pipe or WebSocket",
    keys=(
        Key("transport", "str", ("LINGMA_PROXY_TRANSPORT",), "IPC transport",
            check=k.choice(_TRANSPORTS, {"ws": "websocket"}), choices=_TRANSPORTS),
        Key("pipe", "str", ("LINGMA_PROXY_PIPE", "LINGMA_IPC_PIPE"), "IPC named pipe or socket path"),
        Key("ws_url", "str", ("LINGMA_PROXY_WS_URL",), "IPC WebSocket URL (ws:// or wss://)",
            aliases=("websocket_url",), check=k.ws_url),
        Key("cwd", "str", ("LINGMA_PROXY_CWD",), "working directory reported to the IPC session", path=True),
        Key("current_file_path", "str", ("LINGMA_PROXY_CURRENT_FILE_PATH",), "current file reported to IPC",
            path=True),
        Key("mode", "str", ("LINGMA_PROXY_MODE",), "IPC mode (agent or chat)"),
        Key("shell_type", "str", ("LINGMA_PROXY_SHELL_TYPE",), "shell reported to IPC"),
        Key("session_mode", "str", ("LINGMA_PROXY_SESSION_MODE",), "IPC sessions: fresh per request, or reuse one",
            check=k.choice(_SESSION_MODES), choices=_SESSION_MODES),
        Key("shared_client_info", "str", ("LINGMA_PROXY_SHARED_CLIENT_INFO", "LINGMA_SHARED_CLIENT_INFO"),
            "IPC .info/.info.json file to use instead of searching", path=True),
        Key("ipc_socket", "str", ("LINGMA_PROXY_IPC_SOCKET", "LINGMA_IPC_SOCKET"),
            "IPC unix socket path replacing the candidate list"),
        Key("ipc_max_concurrent", "int", ("LINGMA_PROXY_IPC_MAX_CONCURRENT",),
            "IPC turns in flight at once (1-16; unset = LINGMA_PROXY_MAX_CONCURRENT if set, else 4)",
            check=k.between(1, 16)),
    ),
    url_key="ws_url", url_check=k.ws_url,
)

REMOTE = BackendType(
    "remote", _remote, help="the Lingma remote API, signed with this machine's Lingma login",
    keys=(
        Key("remote_base_url", "str", ("LINGMA_PROXY_REMOTE_BASE_URL", "LINGMA_REMOTE_BASE_URL"),
            "Lingma remote API base URL (empty = detected)", check=k.base_url),
        Key("remote_auth_file", "str", ("LINGMA_PROXY_REMOTE_AUTH_FILE", "LINGMA_REMOTE_AUTH_FILE"),
            "credentials JSON (empty = the local login cache)", path=True),
        Key("remote_proxy_url", "str", ("LINGMA_PROXY_REMOTE_PROXY_URL", "LINGMA_REMOTE_PROXY_URL"),
            "HTTP(S)/SOCKS5 proxy for the remote API", check=k.proxy_url),
        Key("remote_version", "str", ("LINGMA_PROXY_REMOTE_VERSION", "LINGMA_REMOTE_VERSION"),
            "Cosy-Version sent to the remote API"),
        Key("remote_fallback", "bool", ("LINGMA_PROXY_REMOTE_FALLBACK", "LINGMA_REMOTE_FALLBACK_ENABLED"),
            "retry another remote model when one fails before any output", aliases=("remote_fallback_enabled",)),
        Key("remote_fallback_models", "list", ("LINGMA_PROXY_REMOTE_FALLBACK_MODELS", "LINGMA_REMOTE_FALLBACK_MODELS"),
            "remote fallback order (comma-separated)", check=k.dedupe),
        Key("remote_identity", "str", ("LINGMA_PROXY_REMOTE_IDENTITY",), "client identity presented to the remote API"),
        Key("cache_dir", "str", ("LINGMA_PROXY_CACHE_DIR", "LINGMA_CACHE_DIR"),
            "Lingma credential cache directory to search", path=True),
    ),
    url_key="remote_base_url",
)

# The order implied backends are listed in (the first configured is the default backend).
TYPES = (OPENAI, ANTHROPIC, IPC, REMOTE)
