"""The application factory: middleware, lifespan (backends built or detected), routes.

``create_app(settings, backends=None)`` receives everything it needs; tests pass fake backends
or a fake upstream URL in settings. No module-level state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ..backends.base import Backend
from ..console import routes as console
from ..redaction import LogScrubber, SecretRegistry
from ..relay import Relay
from ..storage import traces
from ..storage.hub import Observability
from . import api, core, debug, discovery
from .auth import AuthMiddleware
from .core import relay_options
from .origins import OriginsMiddleware
from .scrub_answers import ScrubAnswers

log = logging.getLogger("lingma_proxy.server")


def create_app(settings: Any, backends: dict[str, Backend] | None = None) -> Starlette:
    """The ASGI app. ``backends`` overrides what settings would build (tests)."""

    # The one registry of every secret (see redaction.py): the settings' now, what backends
    # learn later; the relay, recorder, traces, logs, console and debug answers all scrub with it.
    secrets = SecretRegistry(settings.secrets())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scrubber = LogScrubber(secrets).install()  # before anything logs: every record scrubbed
        try:
            built = await core.build(settings, backends, secrets)
            app.state.relay = Relay(built.backends, relay_options(settings, built), secrets=secrets)
            tracer = traces.install(app.state.relay, settings, built.backends, secrets=secrets)
            app.state.obs = Observability(settings, secrets).install(app.state.relay)  # recorder, log ring
        except BaseException:  # a server that cannot start leaves no handler behind
            scrubber.uninstall()
            raise
        try:
            yield
        finally:
            await asyncio.to_thread(app.state.obs.close)  # queued records reach the disk
            await core.close_retired(app)  # backends replaced by a console restart
            if tracer is not None:
                await asyncio.to_thread(tracer.close)  # queued traces reach the disk
            for b in app.state.relay.backends.values():
                try:
                    await b.aclose()
                except Exception:  # closing must not mask the shutdown
                    log.exception("closing backend %s", b.name)
            scrubber.uninstall()  # last: the shutdown's own lines are scrubbed too

    app = Starlette(
        routes=api.routes() + discovery.routes() + debug.routes() + console.routes(),
        middleware=[
            Middleware(OriginsMiddleware, settings=settings),  # first: refused pages reach nothing
            Middleware(AuthMiddleware, api_key=settings.api_key),
            Middleware(ScrubAnswers, secrets=secrets),  # console and debug JSON answers
        ],
        lifespan=lifespan,
        exception_handlers=api.exception_handlers(),
    )
    app.state.settings = settings
    app.state.secrets = secrets
    app.state.backends_override = backends  # kept by console restarts
    app.state.restart = functools.partial(core.restart, app)  # the service the console's "apply" calls
    return app


def run(settings: Any) -> None:
    """Serve until interrupted (the CLI's `serve`)."""
    import uvicorn

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=False,  # forwarded headers are believed only from trusted_proxies (origins.py)
        timeout_keep_alive=75,
    )
