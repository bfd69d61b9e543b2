"""One request in flight: the pump, the keep-alive, the rendering.

* A pump task moves backend events (through the feature transforms) into a bounded queue, and a
  keep-alive task drops an ``ir.Ping`` into the same queue whenever the upstream has been
  silent for ``ping_interval``: the per-event cost is one queue put/get, no timer per event.
* An upstream failure within the *commit window* (before any output: a refused connection, an
  HTTP error status) is answered with a real HTTP error status in the client's dialect; later
  failures become the dialect's mid-stream error event.
* The stream always starts with a ``MessageStart`` minted here (client-facing id and model, an
  estimated non-zero ``input_tokens``) and ends with honest usage: Claude Code's context meter
  and auto-compact depend on both.
* The concurrency limit is a semaphore taken inside the pump, so a client that leaves while
  queued costs nothing (its task is cancelled).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from .. import errors, ir
from ..backends.base import Backend
from ..dialects import limits
from ..dialects.base import Dialect
from ..exchange import Exchange
from ..features import tokens
from .emulation import emulated_events
from .transforms import Transform, run_finish, run_transforms

if TYPE_CHECKING:
    from . import Relay

log = logging.getLogger("lingma_proxy.relay")

_END = object()
QUEUE_MAX = 64  # events parsed ahead of the client: enough to batch, small enough for fast TTFB
BATCH_MAX = 64  # events rendered into one write at most
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


@dataclass(slots=True)
class Outcome:
    """What the server sends: a JSON body with a status, or an SSE byte stream."""

    status: int = 200
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Call:
    def __init__(self, relay: Relay, dialect: Dialect, req: ir.Request, ureq: ir.Request,
                 backend: Backend, transforms: list[Transform], ex: Exchange | None,
                 t0: float, *, emulate: bool = False) -> None:
        self.relay = relay
        self.dialect = dialect
        self.req = req
        self.ureq = ureq
        self.backend = backend
        self.transforms = transforms
        self.ex = ex
        self.t0 = t0
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_MAX)
        self.idle_since = 0.0
        self.input_estimate = tokens.estimate_request(req, relay.estimates)
        self.response_id = dialect.id_prefix + secrets.token_hex(12)
        self.store = dialect.options.response_store and req.extra.get("store") is not False
        self.emulate = emulate

    # ------------------------------------------------------------------ producer side

    async def _pump(self) -> None:
        q = self.queue
        loop = asyncio.get_running_loop()
        transforms = self.transforms
        try:
            async with self.relay.semaphore:
                agen = (emulated_events(self.backend, self.req, self.ureq) if self.emulate
                        else self.backend.stream(self.ureq))
                try:
                    async for ev in agen:
                        self.idle_since = loop.time()
                        if transforms:
                            for out in run_transforms(transforms, ev):
                                await q.put(out)
                        else:
                            await q.put(ev)
                finally:
                    await agen.aclose()  # type: ignore[attr-defined]
                for out in run_finish(transforms):
                    await q.put(out)
        except errors.ProxyError as exc:  # upstream text may quote a key: scrubbed before it goes anywhere
            await q.put(self.relay.secrets.scrub_error(exc))
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in a backend: report it without a traceback to the client
            log.exception("backend %s failed", self.backend.name)
            await q.put(errors.UpstreamError(f"backend {self.backend.name} failed unexpectedly"))
        await q.put(_END)

    async def _keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.relay.options.ping_interval
        if interval <= 0:
            return
        while True:
            wait = self.idle_since + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self.idle_since = loop.time()
            if not self.queue.full():  # a full queue means the client is the slow side
                self.queue.put_nowait(ir.Ping())

    def _start(self) -> tuple[asyncio.Task[None], asyncio.Task[None]]:
        self.idle_since = asyncio.get_running_loop().time()
        return asyncio.ensure_future(self._pump()), asyncio.ensure_future(self._keepalive())

    def _message_start(self) -> ir.MessageStart:
        return ir.MessageStart(self.response_id, self.req.model,
                               ir.Usage(input_tokens=self.input_estimate))

    def _final_usage(self, usage: ir.Usage | None, out_chars: int) -> ir.Usage:
        u = ir.Usage(input_tokens=self.input_estimate).merged(usage)
        if not u.output_tokens and out_chars:
            u = replace(u, output_tokens=max(1, int(out_chars / tokens.ASCII_CHARS_PER_TOKEN)))
        return u

    def _finish_exchange(self, status: int, resp: ir.Response | None = None,
                         exc: errors.ProxyError | None = None, body: bytes | None = None) -> None:
        ex = self.ex
        if ex is None:
            return
        ex.status = status
        ex.response = resp
        ex.response_body = body
        if resp is not None:
            ex.usage, ex.stop_reason = resp.usage, resp.stop_reason
        if exc is not None:
            ex.error, ex.error_kind = exc.message, exc.kind
        self.relay.notify(ex, self.t0)

    # ------------------------------------------------------------------ non-streaming

    async def complete(self) -> Outcome:
        pump, keep = self._start()
        acc = ir.Accumulator()
        acc.feed(self._message_start())
        out_chars = 0
        try:
            while True:
                item = await self.queue.get()
                if item is _END:
                    break
                if isinstance(item, errors.ProxyError):
                    return self._error(item)
                if isinstance(item, (ir.MessageStart, ir.Ping)):
                    continue
                if isinstance(item, (ir.TextDelta, ir.ThinkingDelta)):
                    out_chars += len(item.text)
                elif isinstance(item, ir.ToolArgsDelta):
                    out_chars += len(item.fragment)
                elif isinstance(item, ir.MessageDelta):
                    item = replace(item, usage=self._final_usage(item.usage, out_chars))
                acc.feed(item)
        finally:
            keep.cancel()
            pump.cancel()
        if acc.error is not None:
            return self._error(error_from_event(acc.error))
        resp = acc.response()
        if self.store:
            self.relay.response_store.put(resp.id, self.req, resp)
        body = orjson.dumps(self.dialect.render_response(resp, self.req))
        self._finish_exchange(200, resp, body=body)
        return Outcome(body=body)

    def _error(self, exc: errors.ProxyError) -> Outcome:
        outcome = error_outcome(self.dialect, exc)
        self._finish_exchange(exc.status, exc=exc, body=outcome.body)
        return outcome

    # ------------------------------------------------------------------ streaming

    async def stream(self) -> Outcome:
        pump, keep = self._start()
        try:
            first: Any = await asyncio.wait_for(self.queue.get(), self.relay.options.commit_window)
        except TimeoutError:
            first = None  # nothing yet: commit the stream and keep the client alive with pings
        except BaseException:
            keep.cancel()
            pump.cancel()
            raise
        if isinstance(first, errors.ProxyError):
            keep.cancel()
            pump.cancel()
            return self._error(first)
        headers = {**SSE_HEADERS, "content-type": self.dialect.content_type()}
        return Outcome(stream=self._render_stream(first, pump, keep), headers=headers)

    async def _render_stream(self, first: Any, pump: asyncio.Task[None],
                             keep: asyncio.Task[None]) -> AsyncIterator[bytes]:
        renderer = self.dialect.stream_renderer(self.req)
        feed = renderer.feed
        ex = self.ex
        acc = ir.Accumulator() if (self.store or ex is not None) else None
        start = self._message_start()
        out = feed(start)
        if acc is not None:
            acc.feed(start)
        if self.dialect.options.ping_after_start:
            out += feed(ir.Ping())  # Anthropic's own grammar: a ping right after message_start
        out_chars = 0
        item = first
        queue = self.queue
        get = queue.get
        failure: errors.ProxyError | None = None
        completed = False
        batched = 0
        try:
            while True:
                if item is None or isinstance(item, ir.MessageStart):
                    pass  # ours went out first; the backend's usage arrives with MessageDelta
                elif item is _END:
                    break
                elif isinstance(item, errors.ProxyError):
                    failure = item
                    out += feed(ir.StreamError(item.kind, item.message, item.status))
                    break
                else:
                    if isinstance(item, (ir.TextDelta, ir.ThinkingDelta)):
                        out_chars += len(item.text)
                    elif isinstance(item, ir.ToolArgsDelta):
                        out_chars += len(item.fragment)
                    elif isinstance(item, ir.MessageDelta):
                        item = replace(item, usage=self._final_usage(item.usage, out_chars))
                    elif isinstance(item, ir.MessageStop):
                        completed = True
                        if self.store and acc is not None:
                            self.relay.response_store.put(start.id, self.req, acc.response())
                    if acc is not None:
                        acc.feed(item)
                    out += feed(item)
                if batched < BATCH_MAX and queue.qsize():
                    # What is already queued goes out in the same write: one socket send for a
                    # burst instead of one per event (the biggest cost under concurrency).
                    batched += 1
                    item = queue.get_nowait()
                    continue
                batched = 0
                if out:
                    chunk = b"".join(out)
                    if ex is not None:
                        if ex.ttfb_ms is None:
                            ex.ttfb_ms = (time.perf_counter() - self.t0) * 1000
                        ex.capture(chunk)
                    yield chunk
                    out = []
                item = await get()
            out += renderer.finish()
            if out:
                chunk = b"".join(out)
                if ex is not None:
                    if ex.ttfb_ms is None:  # the whole answer was queued at once: one write, first and last
                        ex.ttfb_ms = (time.perf_counter() - self.t0) * 1000
                    ex.capture(chunk)
                yield chunk
        finally:
            keep.cancel()
            pump.cancel()
            if ex is not None:
                if not completed and failure is None:
                    ex.client_gone = True
                resp = acc.response() if acc is not None else None
                self._finish_exchange(failure.status if failure else (200 if completed else 499),
                                      resp, failure)


def decode_json(raw: bytes) -> Any:
    """The client's body, decoded and within the door limits (dialects/limits.py)."""
    if not raw:
        raise errors.InvalidRequest("request body is empty: send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit exceeded" in str(exc):  # orjson reads 1,024 levels at most
            where = f"char {exc.pos}"
            raise errors.InvalidRequest(limits.too_deep_message(where), code="nesting_too_deep") from None
        raise errors.InvalidRequest(f"invalid JSON body: {exc}") from None
    limits.check_body(body)
    return body


def error_outcome(dialect: Dialect, exc: errors.ProxyError) -> Outcome:
    return Outcome(status=exc.status, body=orjson.dumps(dialect.render_error(exc)))


_KIND_TO_ERROR: dict[str, type[errors.ProxyError]] = {
    cls.kind: cls
    for cls in (errors.InvalidRequest, errors.AuthenticationFailed, errors.PermissionDenied,
                errors.NotFound, errors.RateLimited, errors.Overloaded, errors.UpstreamTimeout)
}


def error_from_event(ev: ir.StreamError) -> errors.ProxyError:
    cls = _KIND_TO_ERROR.get(ev.kind, errors.UpstreamError)
    return cls(ev.message, status=ev.status)
