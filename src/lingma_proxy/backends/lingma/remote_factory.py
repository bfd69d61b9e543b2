"""Building the remote backend from settings, and ``--backend auto`` detection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from ... import errors
from . import remote_models, remote_signing
from .remote import RemoteBackend
from .remote_cache import CredentialStore

log = logging.getLogger("lingma_proxy.remote")


def from_settings(cfg: Any, settings: Any) -> RemoteBackend:
    """The backend for a ``remote`` entry: the entry's own ``base_url``/``model``/``options``
    (``auth_file``, ``proxy_url``, ``version``, ``identity``, ``cache_dir``, ``fallback``,
    ``fallback_models``) over the global ``remote_*`` settings."""
    opts: Mapping[str, Any] = getattr(cfg, "options", None) or {}

    def opt(key: str, default: Any) -> Any:
        v = opts.get(key)
        return default if v is None or v == "" else v

    image_backend = None
    if opt("image_route", "inline") == "ipc":
        # the sibling IPC factory directly, not through the registry (which imports this module)
        from ...config import BackendConfig
        from .ipc.factory import from_settings as ipc_from_settings

        ipc_cfg = settings.backend_named("ipc") if hasattr(settings, "backend_named") else None
        image_backend = ipc_from_settings(ipc_cfg or BackendConfig("ipc", "ipc", settings.ws_url), settings)
    order = opt("fallback_models", settings.remote_fallback_models)
    if isinstance(order, str):
        order = [m.strip() for m in order.split(",") if m.strip()]
    identity = opt("identity", settings.remote_identity)
    try:
        remote_signing.identity(identity)
    except ValueError as e:
        from ...config import ConfigError

        raise ConfigError(str(e), key="remote_identity") from None
    return RemoteBackend(
        cfg.name,
        image_backend=image_backend,
        base_url=cfg.base_url or settings.remote_base_url,
        auth_file=opt("auth_file", settings.remote_auth_file),
        cache_dir=opt("cache_dir", settings.cache_dir),
        proxy_url=opt("proxy_url", settings.remote_proxy_url),
        version=opt("version", settings.remote_version),
        identity=identity,
        default_model=cfg.model or settings.model or remote_models.DEFAULT_MODEL,
        fallback=bool(opt("fallback", settings.remote_fallback)),
        fallback_models=tuple(order),
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.first_byte_timeout,
        total_timeout=settings.timeout,
    )


async def detect(settings: Any) -> RemoteBackend | None:
    """The remote backend when this machine has a usable Lingma login (``--backend auto``), else
    None. Reads files only; nothing goes over the network."""
    store = CredentialStore(settings.remote_auth_file, settings.cache_dir)
    try:
        await asyncio.to_thread(store.get)
    except errors.ProxyError:
        return None
    from ...config import BackendConfig

    return from_settings(BackendConfig("remote", "remote", settings.remote_base_url), settings)
