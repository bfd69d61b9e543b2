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
from ..redaction import SecretRegistry
from ..relay import Relay

log = logging.getLogger("lingma_proxy.server")

RETIRE_GRACE = 120.0  # seconds old backends keep serving the streams that started on them
# read once at start by the ASGI stack: a change needs a new process
RESTART_KEYS = frozenset({"host", "port", "api_key", "insecure_no_auth", "log_level", "trace"})


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
    """Serve with ``settings`` from now on; returns what changed and what needs a new process."""
    from .app import relay_options  # the app module imports this one

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
