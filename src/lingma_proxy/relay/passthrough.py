"""The byte passthrough fast path, chosen here (never by the server).

A client whose dialect is the routed backend's ``capabilities.passthrough_dialect`` (an
Anthropic client on the Anthropic backend) is forwarded byte for byte when its request needs
no transform: the body unparsed (only ``model`` rewritten when a route maps it to another
name), the headers and query the client sent, the upstream's status, headers and bytes
streamed back as they arrive. Nothing is validated or re-rendered, so fields we do not model
and thinking signatures survive untouched. Observers still get an ``Exchange`` (status,
latency, time to first byte, the captured bytes and, folded from them, the answer and usage).

``intercept`` is called first thing by ``Relay.handle``. The client's headers go to the
backend explicitly: as ``passthrough(headers=...)`` here, as ``ir.Request.client_headers`` on
the translated path (a backend configured without a key forwards the client's). ``count``
is the same for token counting: forwarded to an upstream that counts itself, else ``None``
(the relay counts locally).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from .. import errors, ir
from ..backends.base import Forwarded, Passthrough, TokenCounter
from ..dialects.base import Dialect
from ..exchange import Exchange
from ..sse import SSEDecoder
from .call import Outcome, decode_json, error_outcome

if TYPE_CHECKING:
    from . import Relay

log = logging.getLogger("lingma_proxy.relay")

__all__ = ["count", "intercept"]


def _offered(relay: Relay, dialect_name: str) -> bool:
    return any(b.capabilities.passthrough_dialect == dialect_name for b in relay.backends.values())


async def _target(relay: Relay, dialect: Dialect, raw: bytes,
                  headers: Mapping[str, str]) -> tuple[Passthrough, dict[str, Any], str] | None:
    """The backend, decoded body and upstream model when ``raw`` may be passed through."""
    try:  # the door limits hold here too: nothing is forwarded that the regular path refuses
        body = decode_json(raw)
        if isinstance(body, dict):
            dialect.check_numbers(body)
    except errors.ProxyError:
        return None  # the regular path answers (and records) the dialect's own error
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or not model:
        return None
    try:
        backend, upstream_model = await relay.route(model, headers)
    except errors.ProxyError:
        return None
    if backend.capabilities.passthrough_dialect != dialect.name or not isinstance(backend, Passthrough):
        return None
    return backend, body, upstream_model


async def intercept(relay: Relay, dialect: Dialect, raw: bytes, headers: Mapping[str, str],
                    query: str = "", path: str = "") -> Outcome | None:
    """The forwarded answer, or ``None`` when the request takes the regular (IR) path."""
    if relay.options.tool_mode == "emulate" or not _offered(relay, dialect.name):
        return None
    target = await _target(relay, dialect, raw, headers)
    if target is None:
        return None
    backend, body, upstream_model = target
    model = body["model"]
    upstream_raw = raw if upstream_model == model else orjson.dumps({**body, "model": upstream_model})
    ex = None
    if relay.observers:
        ex = Exchange(id=secrets.token_hex(8), started=time.time(), dialect=dialect.name, path=path,
                      client_model=model, backend=backend.name, upstream_model=upstream_model,
                      stream=body.get("stream") is True, request_body=raw, request_headers=headers,
                      query=query, passthrough=True)
        ex.attempts.append(f"{ex.backend}/{upstream_model}")
    t0 = time.perf_counter()
    try:
        await relay.semaphore.acquire()
    except asyncio.CancelledError:  # the client left while queued for a slot (server/hangup.py)
        relay.client_gone(ex, t0)
        raise
    try:
        fwd = await backend.passthrough(path or "/v1/messages", upstream_raw, headers, query)
    except BaseException as exc:
        relay.semaphore.release()
        if isinstance(exc, asyncio.CancelledError):  # the client left before the upstream answered
            relay.client_gone(ex, t0)
        if not isinstance(exc, errors.ProxyError):
            raise
        outcome = error_outcome(dialect, exc)
        if ex is not None:
            ex.status, ex.error, ex.error_kind, ex.response_body = exc.status, exc.message, exc.kind, outcome.body
            relay.notify(ex, t0)
        return outcome
    out_headers = dict(fwd.headers)
    if ex is not None:
        ex.status, ex.response_headers = fwd.status, out_headers
    sse = "text/event-stream" in _header(out_headers, "content-type")
    release = _Release(relay.semaphore)
    stream = _pipe(relay, dialect, fwd, ex, t0, sse, release)
    weakref.finalize(stream, release)  # a stream the server never started still frees its slot
    return Outcome(status=fwd.status, stream=stream, headers=out_headers)


class _Release:
    __slots__ = ("done", "sem")

    def __init__(self, sem: asyncio.Semaphore) -> None:
        self.sem, self.done = sem, False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            self.sem.release()


async def count(relay: Relay, dialect: Dialect, raw: bytes, headers: Mapping[str, str],
                query: str = "", path: str = "") -> Outcome | None:
    """Token counting by an upstream that counts itself; ``None``: count locally."""
    if not any(b.capabilities.count_tokens for b in relay.backends.values()):
        return None
    target = await _target(relay, dialect, raw, headers)
    try:
        if target is not None:
            backend, body, upstream_model = target
            if upstream_model != body["model"]:
                raw = orjson.dumps({**body, "model": upstream_model})
            fwd = await backend.passthrough(path, raw, headers, query)
            chunks = [c async for c in fwd.body]
            return Outcome(status=fwd.status, body=b"".join(chunks))
        return await _count_translated(relay, dialect, raw, headers)
    except errors.InvalidRequest:
        return None  # the local count answers it in the dialect's shape, and records it
    except errors.ProxyError as exc:
        log.warning("upstream token count failed, counting locally: %s", exc.message)
        return None


async def _count_translated(relay: Relay, dialect: Dialect, raw: bytes,
                            headers: Mapping[str, str]) -> Outcome | None:
    req = replace(dialect.parse_count(decode_json(raw)), client_headers=headers)
    backend, upstream_model = await relay.route(req.model, headers)
    if not backend.capabilities.count_tokens or not isinstance(backend, TokenCounter):
        return None
    n = await backend.count_tokens(relay.prepare(req, backend, upstream_model))
    return Outcome(body=orjson.dumps({"input_tokens": n}))


def _header(headers: Mapping[str, str], name: str) -> str:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return ""


class _Fold:
    """Upstream bytes -> the IR answer, for observers only: any failure just stops folding."""

    __slots__ = ("acc", "decoder", "parser")

    def __init__(self, dialect: Dialect) -> None:
        self.decoder = SSEDecoder()
        self.parser = dialect.stream_parser()
        self.acc = ir.Accumulator()

    def feed(self, chunk: bytes) -> None:
        for sev in self.decoder.feed(chunk):
            for ev in self.parser.feed(sev):
                self.acc.feed(ev)


async def _pipe(relay: Relay, dialect: Dialect, fwd: Forwarded, ex: Exchange | None, t0: float,
                sse: bool, release: _Release) -> AsyncIterator[bytes]:
    fold = _Fold(dialect) if ex is not None and sse and fwd.status < 300 else None
    whole: list[bytes] | None = [] if ex is not None and not sse else None
    completed = False
    failure: errors.ProxyError | None = None
    try:
        try:
            async for chunk in fwd.body:
                if sse and b"event: error" in chunk:  # the upstream's error text may quote a key (relay/scrub.py)
                    chunk = relay.secrets.scrub_bytes(chunk)
                if ex is not None:
                    if ex.ttfb_ms is None:
                        ex.ttfb_ms = (time.perf_counter() - t0) * 1000
                    ex.capture(chunk)
                    if whole is not None:
                        whole.append(chunk)
                    if fold is not None:
                        try:
                            fold.feed(chunk)
                        except errors.ProxyError as exc:  # an error event: the bytes pass on, the record says so
                            failure, fold = exc, None
                        except Exception:  # noqa: BLE001 - an odd frame: forwarding goes on, folding stops
                            fold = None
                yield chunk
            completed = True
        except errors.ProxyError as exc:
            failure = exc
            if sse:  # the client sees why its stream ended, in its own grammar
                frame = b"event: error\ndata: " + orjson.dumps(dialect.render_error(exc)) + b"\n\n"
                if ex is not None:
                    ex.capture(frame)
                yield frame
    finally:
        release()
        await fwd.body.aclose()  # type: ignore[attr-defined]
        if ex is not None:
            _finish(relay, dialect, ex, t0, fold, whole, completed, failure, fwd.status)


def _finish(relay: Relay, dialect: Dialect, ex: Exchange, t0: float, fold: _Fold | None,
            whole: list[bytes] | None, completed: bool, failure: errors.ProxyError | None, status: int) -> None:
    if failure is not None:
        ex.status, ex.error, ex.error_kind = failure.status, failure.message, failure.kind
    elif not completed:
        ex.client_gone, ex.status = True, 499
    if fold is not None:
        ex.response = fold.acc.response()
    if whole is not None:
        ex.response_body = b"".join(whole)
        try:
            if status < 300:
                ex.response = dialect.parse_response(orjson.loads(ex.response_body))
            else:
                err = dialect.parse_error(status, ex.response_body)
                ex.error, ex.error_kind = err.message, err.kind
        except (errors.ProxyError, orjson.JSONDecodeError):
            pass
    if ex.response is not None:
        ex.usage, ex.stop_reason = ex.response.usage, ex.response.stop_reason
    relay.notify(ex, t0)
