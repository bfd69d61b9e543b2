"""The only meeting point of dialects, backends and features.

``Relay.handle(dialect, raw_body)`` parses a client request into the IR, routes it to a backend,
applies the feature transforms, and renders the backend's events back into the client's dialect,
streaming or folded into one answer. Everything that needs I/O coordination lives here:

* a pump task moves backend events into a bounded queue, and a keep-alive task drops an
  ``ir.Ping`` into the same queue whenever the upstream has been silent for ``ping_interval``,
  so the per-event cost is one queue put/get and no timer per event;
* an upstream failure that happens within the *commit window* (before any output, typically a
  refused connection or an HTTP error status) is answered with a real HTTP error status in the
  client's dialect; later failures become the dialect's mid-stream error event;
* the stream always starts with a ``MessageStart`` minted here (client-facing id and model, an
  estimated non-zero ``input_tokens``) and always ends with honest usage, because Claude Code's
  context meter and auto-compact depend on both;
* the concurrency limit is a semaphore taken inside the pump, so a client that leaves while
  queued costs nothing (its task is cancelled).
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any

import orjson

from . import errors, ir
from .backends.base import Backend
from .features import hygiene, tokens
from .features.response_store import ResponseStore

log = logging.getLogger("lingma_proxy.relay")

_END = object()
ID_PREFIX = {"anthropic_messages": "msg_", "openai_chat": "chatcmpl-", "openai_responses": "resp_"}
COMMIT_WINDOW = 2.0  # seconds to wait for the first upstream event before sending headers


@dataclass(frozen=True, slots=True)
class RouteRule:
    pattern: str
    backend: str
    model: str | None = None


@dataclass(slots=True)
class Outcome:
    """What the server sends: a JSON body with a status, or an SSE byte stream."""

    status: int = 200
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RelayOptions:
    default_backend: str | None = None
    default_model: str = ""
    routes: tuple[RouteRule, ...] = ()
    max_concurrent: int = 8
    ping_interval: float = 10.0
    commit_window: float = COMMIT_WINDOW
    unavailable_reason: str = ""  # why no backend is configured, shown on every call


class Relay:
    def __init__(self, backends: Mapping[str, Backend], options: RelayOptions) -> None:
        self.backends = dict(backends)
        self.options = options
        self._sem = asyncio.Semaphore(max(1, options.max_concurrent))
        self.response_store = ResponseStore()

    # ------------------------------------------------------------------ routing

    async def route(self, model: str) -> tuple[Backend, str]:
        """The backend and upstream model name for a client's model name."""
        opts = self.options
        for rule in opts.routes:
            if fnmatch.fnmatchcase(model, rule.pattern) and rule.backend in self.backends:
                return self.backends[rule.backend], rule.model or model
        backend = self.backends.get(opts.default_backend or "")
        if backend is None:
            raise errors.UpstreamUnavailable(
                opts.unavailable_reason
                or "no backend is configured: start LM Studio or Ollama, or run "
                "`lingma-proxy serve --backend openai --openai-base-url URL`"
            )
        return backend, await self._upstream_model(backend, model)

    async def _upstream_model(self, backend: Backend, model: str) -> str:
        try:
            models = await backend.list_models()
        except errors.ProxyError:
            models = []
        ids = {m.id for m in models}
        if model in ids:
            return next(m.upstream_id or m.id for m in models if m.id == model)
        if self.options.default_model:
            return self.options.default_model
        if not models:
            return model
        # A free-form name (claude-opus-5-5, gpt-5.5) with no default configured: take the
        # first chat model the backend offers rather than failing the agent's first turn.
        chat = [m for m in models if "embed" not in m.id.lower()] or models
        return chat[0].upstream_id or chat[0].id

    async def list_models(self) -> list[ir.ModelInfo]:
        seen: dict[str, ir.ModelInfo] = {}
        for backend in self.backends.values():
            try:
                for m in await backend.list_models():
                    seen.setdefault(m.id, m)
            except errors.ProxyError as exc:
                log.warning("listing models of %s failed: %s", backend.name, exc.message)
        for rule in self.options.routes:
            if not any(c in rule.pattern for c in "*?[") and rule.pattern not in seen:
                seen[rule.pattern] = ir.ModelInfo(id=rule.pattern, backend=rule.backend,
                                                  upstream_id=rule.model or rule.pattern)
        return list(seen.values())

    # ------------------------------------------------------------------ requests

    def prepare(self, req: ir.Request, backend: Backend, upstream_model: str) -> ir.Request:
        """The request as the backend should receive it (pure transforms only)."""
        if backend.kind != "anthropic":
            req = hygiene.strip_billing_header(req)
        return replace(req, model=upstream_model)

    async def handle(
        self,
        dialect: ModuleType,
        raw: bytes,
        wait_disconnect: Callable[[], Awaitable[Any]] | None = None,
    ) -> Outcome:
        try:
            req = dialect.parse_request(decode_json(raw))
            if dialect.NAME == "openai_responses":
                req = self.response_store.expand(req)
            backend, upstream_model = await self.route(req.model)
            ureq = self.prepare(req, backend, upstream_model)
        except errors.ProxyError as exc:
            return error_outcome(dialect, exc)
        call = _Call(self, dialect, req, ureq, backend)
        if req.stream:
            return await call.stream()
        work = asyncio.ensure_future(call.complete())
        if wait_disconnect is None:
            return await work
        watcher = asyncio.ensure_future(wait_disconnect())
        try:
            await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
        if not work.done():
            work.cancel()
            return Outcome(status=499)
        return work.result()

    async def count_tokens(self, dialect: ModuleType, raw: bytes) -> Outcome:
        """Anthropic count_tokens answered locally (no upstream call, no slot taken)."""
        try:
            body = decode_json(raw)
            if isinstance(body, dict) and "max_tokens" not in body:
                body = {**body, "max_tokens": 1}
            req = dialect.parse_request(body)
        except errors.ProxyError as exc:
            return error_outcome(dialect, exc)
        return Outcome(body=orjson.dumps({"input_tokens": tokens.estimate_request(req)}))


class _Call:
    """One request in flight: the pump, the keep-alive and the rendering."""

    def __init__(self, relay: Relay, dialect: ModuleType, req: ir.Request,
                 ureq: ir.Request, backend: Backend) -> None:
        self.relay = relay
        self.dialect = dialect
        self.req = req
        self.ureq = ureq
        self.backend = backend
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
        self.idle_since = 0.0
        self.input_estimate = tokens.estimate_request(req)
        self.response_id = ID_PREFIX.get(dialect.NAME, "msg_") + secrets.token_hex(12)
        self.store = dialect.NAME == "openai_responses" and req.extra.get("store") is not False

    # The pump: backend events into the queue, failures as ProxyError items, then _END.
    async def _pump(self) -> None:
        q = self.queue
        loop = asyncio.get_running_loop()
        try:
            async with self.relay._sem:
                agen = self.backend.stream(self.ureq)
                try:
                    async for ev in agen:
                        self.idle_since = loop.time()
                        await q.put(ev)
                finally:
                    await agen.aclose()  # type: ignore[attr-defined]
        except errors.ProxyError as exc:
            await q.put(exc)
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
                    return error_outcome(self.dialect, item)
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
            return error_outcome(self.dialect, _error_from_event(acc.error))
        resp = acc.response()
        if self.store:
            self.relay.response_store.put(resp.id, self.req, resp)
        body = orjson.dumps(self.dialect.render_response(resp, self.req))
        return Outcome(body=body)

    async def stream(self) -> Outcome:
        pump, keep = self._start()
        first: Any = _END
        try:
            first = await asyncio.wait_for(self.queue.get(), self.relay.options.commit_window)
        except asyncio.TimeoutError:
            first = None  # nothing yet: commit the stream and keep the client alive with pings
        except BaseException:
            keep.cancel()
            pump.cancel()
            raise
        if isinstance(first, errors.ProxyError):
            keep.cancel()
            pump.cancel()
            return error_outcome(self.dialect, first)
        return Outcome(stream=self._render_stream(first, pump, keep), headers=dict(SSE_HEADERS))

    async def _render_stream(self, first: Any, pump: asyncio.Task[None],
                             keep: asyncio.Task[None]) -> AsyncIterator[bytes]:
        renderer = self.dialect.StreamRenderer(self.req)
        feed = renderer.feed
        acc = ir.Accumulator() if self.store else None
        start = self._message_start()
        out = feed(start)
        if acc is not None:
            acc.feed(start)
        if self.dialect.NAME == "anthropic_messages":
            out += feed(ir.Ping())
        out_chars = 0
        item = first
        get = self.queue.get
        try:
            while True:
                if item is None:
                    pass
                elif item is _END:
                    break
                elif isinstance(item, errors.ProxyError):
                    out += feed(ir.StreamError(item.kind, item.message, item.status))
                    break
                elif isinstance(item, ir.MessageStart):
                    pass  # ours went out first; the backend's usage arrives with MessageDelta
                else:
                    if isinstance(item, (ir.TextDelta, ir.ThinkingDelta)):
                        out_chars += len(item.text)
                    elif isinstance(item, ir.ToolArgsDelta):
                        out_chars += len(item.fragment)
                    elif isinstance(item, ir.MessageDelta):
                        item = replace(item, usage=self._final_usage(item.usage, out_chars))
                    if acc is not None:
                        acc.feed(item)
                    if acc is not None and isinstance(item, ir.MessageStop):
                        self.relay.response_store.put(start.id, self.req, acc.response())
                    out += feed(item)
                if out:
                    yield b"".join(out)
                    out = []
                item = await get()
            out += renderer.finish()
            if out:
                yield b"".join(out)
        finally:
            keep.cancel()
            pump.cancel()


SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


def decode_json(raw: bytes) -> Any:
    if not raw:
        raise errors.InvalidRequest("request body is empty: send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidRequest(f"invalid JSON body: {exc}") from None


def error_outcome(dialect: ModuleType, exc: errors.ProxyError) -> Outcome:
    return Outcome(status=exc.status, body=orjson.dumps(dialect.render_error(exc)))


_KIND_TO_ERROR: dict[str, type[errors.ProxyError]] = {
    cls.kind: cls
    for cls in (errors.InvalidRequest, errors.AuthenticationFailed, errors.PermissionDenied,
                errors.NotFound, errors.RateLimited, errors.Overloaded, errors.UpstreamTimeout)
}


def _error_from_event(ev: ir.StreamError) -> errors.ProxyError:
    cls = _KIND_TO_ERROR.get(ev.kind, errors.UpstreamError)
    return cls(ev.message, status=ev.status)
