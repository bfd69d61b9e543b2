"""Building the IPC backend from settings, and ``--backend auto`` detection."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any

from .backend import IPCBackend
from .discovery import Discovery, Options, discover, host_port
from .models import DEFAULT_MODEL

log = logging.getLogger("lingma_proxy.ipc")

DEFAULT_POOL = 4


def pool_size(settings: Any, opts: Mapping[str, Any]) -> int:
    """``options.max_concurrent``, else ``ipc_max_concurrent`` when set, else the reference's
    ``LINGMA_PROXY_MAX_CONCURRENT`` (our global limit) when the user set it, else 4; always 1-16."""
    origins = getattr(settings, "origins", {}) or {}
    value: Any = opts.get("max_concurrent")
    if value is None and origins.get("ipc_max_concurrent", "default") != "default":
        value = settings.ipc_max_concurrent
    if value is None and origins.get("max_concurrent", "default") != "default":
        value = settings.max_concurrent
    try:
        n = int(value) if value is not None else getattr(settings, "ipc_max_concurrent", DEFAULT_POOL)
    except (TypeError, ValueError):
        n = DEFAULT_POOL
    return max(1, min(16, n))


def discovery_options(settings: Any, opts: Mapping[str, Any] | None = None, ws_url: str = "") -> Options:
    opts = opts or {}

    def opt(key: str) -> str:
        v = opts.get(key)
        return str(v) if v not in (None, "") else str(getattr(settings, key, "") or "")

    return Options(transport=opt("transport") or "auto", ws_url=ws_url or opt("ws_url"), pipe=opt("pipe"),
                   shared_client_info=opt("shared_client_info"), ipc_socket=opt("ipc_socket"))


def from_settings(cfg: Any, settings: Any, *, discover_fn: Any = None) -> IPCBackend:
    """The backend for an ``ipc`` entry: its ``base_url`` (a ws:// URL), ``model`` and ``options``
    (any IPC setting by name) over the global IPC settings."""
    opts: Mapping[str, Any] = getattr(cfg, "options", None) or {}

    def opt(key: str, default: Any) -> Any:
        v = opts.get(key)
        return default if v is None or v == "" else v

    return IPCBackend(
        getattr(cfg, "name", "ipc"),
        options=discovery_options(settings, opts, getattr(cfg, "base_url", "")),
        cwd=opt("cwd", settings.cwd) or os.getcwd(),
        current_file_path=opt("current_file_path", settings.current_file_path),
        mode=opt("mode", settings.mode),
        shell_type=opt("shell_type", settings.shell_type),
        session_mode=opt("session_mode", settings.session_mode),
        timeout=float(opt("timeout", settings.timeout)),
        max_concurrent=pool_size(settings, opts),
        default_model=getattr(cfg, "model", "") or settings.model or DEFAULT_MODEL,
        discover_fn=discover_fn,
    )


async def reachable(disc: Discovery, timeout: float = 0.5) -> bool:
    """Whether something accepts connections at the discovered endpoint (no protocol spoken)."""
    ep = disc.endpoint
    if ep is None:
        return False
    try:
        async with asyncio.timeout(timeout):
            if ep.transport == "websocket":
                _, writer = await asyncio.open_connection(*host_port(ep.address))
            elif ep.transport == "unix":
                _, writer = await asyncio.open_unix_connection(ep.address)
            else:
                return os.path.exists(ep.address)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


async def detect(settings: Any) -> IPCBackend | None:
    """The IPC backend when a runtime is discovered and accepts connections, else None. Reads
    local files and knocks on a loopback port: well under a second when nothing is there."""
    opts = discovery_options(settings)
    disc = await asyncio.to_thread(discover, opts)
    if not await reachable(disc):
        return None
    from ....config import BackendConfig

    assert disc.endpoint is not None
    log.info("auto-detected %s at %s", disc.endpoint.runtime, disc.endpoint.address)
    return from_settings(BackendConfig("ipc", "ipc", settings.ws_url), settings)
