"""The generation routes: thin. Read the body (bounded), hand it to the relay, send the outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from .. import errors
from ..dialects.base import Dialect, Route as DialectRoute, Target
from ..dialects.registry import all_dialects
from ..relay import Outcome, Relay
from .dialect_errors import dialect_for_path
from .hangup import Hangup
from .streaming import SSEResponse

log = logging.getLogger("lingma_proxy.server")
JSON = "application/json"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.RequestTooLarge(
            f"request body of {declared} bytes is over the limit of {limit} bytes (max_body_bytes)")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise errors.RequestTooLarge(f"request body is over the limit of {limit} bytes (max_body_bytes)")
            chunks.append(chunk)
    except ClientDisconnect:  # gone before its body was whole: recorded as 499, not an internal error
        raise errors.ClientGone(f"the client disconnected after sending {size} bytes of its request body") from None
    return b"".join(chunks)


def send(outcome: Outcome, hangup: Hangup | None = None) -> Response | SSEResponse:
    if outcome.stream is not None:
        return SSEResponse(outcome.stream, outcome.status, outcome.headers, hangup=hangup)
    if hangup is not None:
        hangup.stop()
    return Response(outcome.body, status_code=outcome.status, media_type=JSON, headers=outcome.headers)


async def relayed(request: Request, work: Awaitable[Outcome]) -> tuple[Outcome, Hangup | None]:
    """``work`` raced against the client hanging up (server/hangup.py): cancelled at once when it
    does (the relay records 499), else its outcome and the watcher, still watching, for ``send``."""
    hangup = Hangup(request.receive)
    try:
        return await work, hangup
    except asyncio.CancelledError:
        if not hangup.absorb():
            raise
        return Outcome(status=499), None
    except BaseException:
        hangup.stop()
        raise


def target(request: Request, route: DialectRoute) -> Target:
    """What the path says about the call (the model, the stream-ness), for ``Dialect.at``."""
    model = request.path_params.get(route.model_param) if route.model_param else None
    return Target(model=model, stream=route.stream, query=dict(request.query_params))


def generation(dialect: Dialect, route: DialectRoute) -> Callable[[Request], Awaitable[Response | SSEResponse]]:
    async def endpoint(request: Request) -> Response | SSEResponse:
        relay: Relay = request.app.state.relay
        bound = dialect.at(target(request, route))
        try:
            raw = await read_body(request, request.app.state.settings.max_body_bytes)
        except errors.ProxyError as exc:
            return failure_response(request, bound, exc)
        outcome, hangup = await relayed(request, relay.handle(bound, raw, path=request.url.path,
                                                              headers=request.headers, query=request.url.query))
        return send(relay.scrubbed(outcome), hangup)

    return endpoint


def counting(dialect: Dialect, route: DialectRoute) -> Callable[[Request], Awaitable[Response | SSEResponse]]:
    shape = dialect.options.count_tokens.render if dialect.options.count_tokens else (lambda n: {"input_tokens": n})

    async def endpoint(request: Request) -> Response | SSEResponse:
        relay: Relay = request.app.state.relay
        bound = dialect.at(target(request, route))
        try:
            raw = await read_body(request, request.app.state.settings.max_body_bytes)
        except errors.ProxyError as exc:
            return failure_response(request, bound, exc)
        outcome, hangup = await relayed(request, relay.count_tokens(
            bound, raw, path=request.url.path, headers=request.headers, query=request.url.query))
        if outcome.status == 200:
            outcome.body = orjson.dumps(shape(orjson.loads(outcome.body)["input_tokens"]))
        return send(relay.scrubbed(outcome), hangup)

    return endpoint


def error_response(dialect: Dialect, exc: errors.ProxyError) -> Response:
    return Response(orjson.dumps(dialect.render_error(exc)), status_code=exc.status, media_type=JSON)


API_PREFIXES = ("/v1/", "/api/", "/chat/")  # where clients of the proxy's APIs send requests


def failure_response(request: Request, dialect: Dialect, exc: errors.ProxyError) -> Response:
    """The error in the dialect's shape, recorded like every request (``Relay.record_failure``)."""
    relay: Relay | None = getattr(request.app.state, "relay", None)
    if relay is None:  # the app is not started (lifespan off): nothing observes
        return error_response(dialect, exc)
    out = relay.record_failure(dialect, exc, path=request.url.path, headers=request.headers,
                               query=request.url.query)
    return Response(out.body, status_code=out.status, media_type=JSON)


def routes() -> list[Route]:
    """Every registered dialect's generation and count routes; model lists live in discovery.py
    (a shared path such as ``GET /v1/models`` answers in the shape of the client it sees)."""
    out: list[Route] = []
    for dialect in all_dialects():
        for r in dialect.routes:
            if r.kind == "generate":
                out.append(Route(r.path, generation(dialect, r), methods=list(r.methods)))
            elif r.kind == "count_tokens":
                out.append(Route(r.path, counting(dialect, r), methods=list(r.methods)))
    return out


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    dialect = dialect_for_path(request.url.path)
    if exc.status_code == 404:
        err: errors.ProxyError = errors.NotFound(f"no route for {request.method} {request.url.path}")
    elif exc.status_code == 405:
        err = errors.InvalidRequest(f"method {request.method} is not allowed on {request.url.path}", status=405)
    else:
        err = errors.ProxyError(str(exc.detail), status=exc.status_code)
    if request.url.path.startswith(API_PREFIXES + dialect.options.error_prefixes):
        return failure_response(request, dialect, err)
    return error_response(dialect, err)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    err = errors.ProxyError("internal error in lingma-proxy (see the proxy log)")
    return failure_response(request, dialect_for_path(request.url.path), err)


def exception_handlers() -> dict[Any, Callable[..., Awaitable[Response]]]:
    return {HTTPException: http_exception, Exception: unexpected}
