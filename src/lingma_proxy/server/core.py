"""Restarting the serving core in place: new settings, new backends and relay, same process.

The console's "apply" lands here. The new relay is built first (a configuration that cannot
build leaves the old one serving), then swapped into ``app.state`` in one step: requests
already in flight finish on the old relay, whose backends are closed after a grace period.
Backends the app was created with (tests) are kept as they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from ..backends import registry
from ..backends.base import Backend, UsesSecrets
from ..config.schema import RESTART_KEYS
from ..redaction import SecretRegistry
from ..relay import Relay, RelayOptions, RouteRule
from ..relay.context import backend_context_windows

log = logging.getLogger("lingma_proxy.server")

RETIRE_GRACE = 120.0  # seconds old backends keep serving the streams that started on them
__all__ = ["RESTART_KEYS", "build", "close_retired", "relay_options", "restart", "retire"]


def relay_options(settings: Any, built: registry.Built) -> RelayOptions:
    return RelayOptions(
        default_backend=built.default,
        default_model=settings.model,
        routes=tuple(RouteRule(r.pattern, r.backend, r.model) for r in settings.routes),
        max_concurrent=settings.max_concurrent,
        ping_interval=settings.ping_interval,
        tool_mode=settings.tool_mode,
        unavailable_reason=built.unavailable_reason,
        context_overflow=settings.context_overflow,
        context_window=settings.context_window,
        context_windows=backend_context_windows(settings),
        allow_local_images=settings.allow_local_images,
    )


async def build(settings: Any, override: dict[str, Backend] | None,
                secrets: SecretRegistry | None = None) -> registry.Built:
    if override is not None:
        built = registry.Built(dict(override), settings.backend if settings.backend in override
                               else next(iter(override), None))
    else:
        built = registry.build(settings)
        if not built.backends and settings.backend == "auto":
            built = await registry.detect_auto(settings)
    if secrets is not None:
        secrets.add(*settings.secrets())  # a console apply may bring new keys; old ones stay secret
        for backend in built.backends.values():
            if isinstance(backend, UsesSecrets):
                backend.use_secrets(secrets)
    return built


async def restart(app: Any, settings: Any) -> dict[str, Any]:
    """Serve with ``settings`` from now on; returns what changed and what needs a new process.
    The app hands this to the console as ``app.state.restart`` (the console imports no server core)."""
    old_settings = app.state.settings
    old: Relay = app.state.relay
    override = getattr(app.state, "backends_override", None)
    secrets: SecretRegistry | None = getattr(app.state, "secrets", None)
    built = await build(settings, override, secrets)
    relay = Relay(built.backends, relay_options(settings, built), secrets=secrets)
    relay.response_store = old.response_store  # Responses conversations survive the restart
    obs = app.state.obs
    await asyncio.to_thread(obs.configure, settings)
    relay.observers[:] = old.observers  # traces and others carry over; install swaps the recorder
    obs.install(relay)
    app.state.relay, app.state.settings = relay, settings
    if override is None:
        retire(app, old.backends.values())
    changed = [f.name for f in fields(settings)
               if f.name not in ("origins",) and getattr(settings, f.name) != getattr(old_settings, f.name)]
    log.info("serving core restarted (%s changed)", ", ".join(changed) or "nothing")
    return {"changed": changed, "needs_process_restart": sorted(RESTART_KEYS & set(changed)),
            "backends": list(built.backends), "default_backend": built.default,
            "unavailable_reason": built.unavailable_reason}


def retire(app: Any, backends: Iterable[Backend]) -> None:
    tasks: set[asyncio.Task[None]] | None = getattr(app.state, "retiring", None)
    if tasks is None:
        tasks = app.state.retiring = set()
    task = asyncio.ensure_future(_close_later(list(backends), RETIRE_GRACE))
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def close_retired(app: Any) -> None:
    """At shutdown: close retired backends now instead of after their grace period."""
    for task in list(getattr(app.state, "retiring", ())):
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


async def _close_later(backends: list[Backend], grace: float) -> None:
    try:
        await asyncio.sleep(grace)
    finally:  # cancelled at shutdown: close at once
        for b in backends:
            try:
                await b.aclose()
            except Exception:  # closing must not mask anything else
                log.exception("closing retired backend %s", b.name)
