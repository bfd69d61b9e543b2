"""The only meeting point of dialects, backends, features and observers.

``Relay.handle(dialect, raw_body)`` parses a client request into the IR, routes it to a backend,
applies the feature transforms, and renders the backend's events back into the client's dialect,
streaming or folded into one answer (``call.py`` does the per-request work). Observers (the
recorder, traces) receive an ``Exchange`` when the request is over.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import orjson

from .. import errors, ir
from ..backends.base import Backend, ClientModels, PreferredModel
from ..dialects.base import Dialect
from ..exchange import Exchange, Observer
from ..features import hygiene, tokens, validate
from ..features.response_store import ResponseStore
from ..redaction import SecretRegistry
from . import passthrough, scrub
from .call import Call, Outcome, decode_json, error_outcome
from .context import apply_context_policy
from .count_cache import CountCache
from .local_images import inline_local_images
from .transforms import plan_transforms, uses_emulation

log = logging.getLogger("lingma_proxy.relay")

__all__ = ["Outcome", "Relay", "RelayOptions", "RouteRule"]


@dataclass(frozen=True, slots=True)
class RouteRule:
    pattern: str
    backend: str
    model: str | None = None


@dataclass(slots=True)
class RelayOptions:
    default_backend: str | None = None
    default_model: str = ""
    routes: tuple[RouteRule, ...] = ()
    max_concurrent: int = 8
    ping_interval: float = 10.0
    commit_window: float = 2.0  # seconds to wait for the first upstream event before headers
    tool_mode: str = "auto"  # auto | native | emulate
    unavailable_reason: str = ""  # why no backend is configured, shown on every call
    context_overflow: str = "error"  # error | truncate (relay/context.py)
    context_window: int = 0  # configured limit for every model (0 = discover)
    context_windows: Mapping[str, int] = field(default_factory=dict)  # per backend name
    allow_local_images: bool = False  # image paths read by the proxy (relay/local_images.py)


class Relay:
    def __init__(self, backends: Mapping[str, Backend], options: RelayOptions,
                 observers: list[Observer] | None = None, *, secrets: SecretRegistry | None = None) -> None:
        self.backends = dict(backends)
        # the process's one registry (the composition root's); errors reaching clients pass it
        self.secrets = secrets if secrets is not None else SecretRegistry()
        self.options = options
        self.semaphore = asyncio.Semaphore(max(1, options.max_concurrent))
        self.response_store = ResponseStore()
        self.estimates = tokens.EstimateCache()
        self.observers: list[Observer] = list(observers or [])
        self.count_cache = CountCache()

    # ------------------------------------------------------------------ routing

    async def route(self, model: str, client_headers: Mapping[str, str] | None = None) -> tuple[Backend, str]:
        """The backend and upstream model name for a client's model name (``client_headers``:
        the caller's, for a backend that lists models with the client's own key)."""
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
        return backend, await self._upstream_model(backend, model, client_headers)

    async def _upstream_model(self, backend: Backend, model: str,
                              client_headers: Mapping[str, str] | None = None) -> str:
        try:
            if client_headers and isinstance(backend, ClientModels):
                models = await backend.list_models_for(client_headers)
            else:
                models = await backend.list_models()
        except errors.ProxyError:
            models = []
        for m in models:
            if m.id == model or m.upstream_id == model:
                return m.upstream_id or m.id
        folded = model.lower()
        for m in models:  # Lingma display names ("Qwen3-Coder") name models too
            if m.display_name and m.display_name.lower() == folded:
                return m.upstream_id or m.id
        if self.options.default_model:
            return self.options.default_model
        if not models or not backend.capabilities.exhaustive_models:
            return model  # Anthropic takes aliases it does not list
        # A free-form name (claude-opus-5-5, gpt-5.5) with no default configured: take the
        # first chat model the backend offers rather than failing the agent's first turn.
        if isinstance(backend, PreferredModel) and (loaded := await backend.preferred_model()):
            return loaded  # LM Studio: the loaded model
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
        if not backend.capabilities.keeps_billing_header:
            req = hygiene.strip_billing_header(req)
        return replace(req, model=upstream_model)

    async def handle(
        self,
        dialect: Dialect,
        raw: bytes,
        *,
        path: str = "",
        headers: Mapping[str, str] | None = None,
        query: str = "",
    ) -> Outcome:
        if headers is not None:  # byte passthrough when the routed backend speaks this dialect
            forwarded = await passthrough.intercept(self, dialect, raw, headers, query, path)
            if forwarded is not None:
                return forwarded
        ex = Exchange(id=secrets.token_hex(8), started=time.time(), dialect=dialect.name,
                      path=path, request_body=raw, request_headers=headers or {},
                      query=query) if self.observers else None
        t0 = time.perf_counter()
        try:
            req = dialect.parse_request(decode_json(raw))
            if headers:  # a keyless backend may forward the client's own credential
                req = replace(req, client_headers=headers)
            if ex is not None:
                ex.client_model, ex.stream = req.model, req.stream
            if dialect.options.response_store:
                req = self.response_store.expand(req)
            # Refuse what the official APIs refuse before anything is routed or forwarded.
            if validate.check(req, allow_local_images=self.options.allow_local_images):
                req = await inline_local_images(req)
            backend, upstream_model = await self.route(req.model, req.client_headers)
            ureq = self.prepare(req, backend, upstream_model)
            ureq = await apply_context_policy(req, ureq, backend, self.options, ex)
            transforms, ureq = plan_transforms(req, ureq, backend, self.options.tool_mode)
        except errors.ProxyError as exc:
            outcome = error_outcome(dialect, exc)
            if ex is not None:
                ex.status, ex.error, ex.error_kind = exc.status, exc.message, exc.kind
                ex.response_body = outcome.body
                self.notify(ex, t0)
            return outcome
        except asyncio.CancelledError:  # the client left while we routed (server/hangup.py)
            self.client_gone(ex, t0)
            raise
        if ex is not None:
            ex.backend, ex.upstream_model = backend.name, ureq.model
            ex.attempts.append(f"{backend.name}/{ureq.model}")
        call = Call(self, dialect, req, ureq, backend, transforms, ex, t0,
                    emulate=uses_emulation(req, backend, self.options.tool_mode))
        try:
            # Cancelled when the client hangs up (the server races this whole call against the
            # disconnect): the pump, and with it the upstream request, is cancelled on the way
            # out. Once a stream is returned, its own generator records how it ended.
            return await (call.stream() if req.stream else call.complete())
        except asyncio.CancelledError:
            self.client_gone(ex, t0)
            raise

    def client_gone(self, ex: Exchange | None, t0: float) -> None:
        """Record a request whose client disconnected before the answer was complete."""
        if ex is not None:
            ex.client_gone, ex.status = True, 499
            self.notify(ex, t0)

    def scrubbed(self, out: Outcome) -> Outcome:
        """``out`` as the client may see it: an error body without any registered secret."""
        return scrub.outcome(self.secrets, out)

    def record_failure(self, dialect: Dialect, exc: errors.ProxyError, *, path: str = "",
                       headers: Mapping[str, str] | None = None, raw: bytes = b"", query: str = "",
                       t0: float | None = None, body: bytes | None = None) -> Outcome:
        """The error outcome of a request that failed before (or instead of) a backend call.

        Every early exit (body over the size limit, refused key, bad JSON, limits, unknown route,
        count errors) comes through here, so observers (recorder, console, traces) see it with
        its status and error like any other request.
        """
        outcome = error_outcome(dialect, exc) if body is None else Outcome(status=exc.status, body=body)
        if self.observers:
            ex = Exchange(id=secrets.token_hex(8), started=time.time(), dialect=dialect.name, path=path,
                          request_body=raw, request_headers=headers or {}, query=query,
                          status=exc.status, error=exc.message, error_kind=exc.kind,
                          client_gone=isinstance(exc, errors.ClientGone),
                          response_body=outcome.body)
            self.notify(ex, time.perf_counter() if t0 is None else t0)
        return outcome

    def notify(self, ex: Exchange, t0: float) -> None:
        ex.latency_ms = (time.perf_counter() - t0) * 1000
        for observer in self.observers:
            try:
                observer(ex)
            except Exception:  # an observer must never break a request
                log.exception("observer failed")

    async def count_tokens(self, dialect: Dialect, raw: bytes, *, path: str = "",
                           headers: Mapping[str, str] | None = None, query: str = "") -> Outcome:
        """Token count: by an upstream that counts itself (Anthropic), else locally."""
        t0 = time.perf_counter()
        if headers is not None:
            try:
                forwarded = await passthrough.count(self, dialect, raw, headers, query, path)
            except asyncio.CancelledError:  # the client left while the upstream counted
                if self.observers:
                    self.client_gone(Exchange(id=secrets.token_hex(8), started=time.time() - (time.perf_counter() - t0),
                                              dialect=dialect.name, path=path, request_body=raw,
                                              request_headers=headers, query=query), t0)
                raise
            if forwarded is not None:
                if forwarded.status >= 400:  # the upstream's own error answer, recorded as such
                    err = dialect.parse_error(forwarded.status, forwarded.body)
                    self.record_failure(dialect, err, path=path, headers=headers, raw=raw, query=query,
                                        t0=t0, body=forwarded.body)
                return forwarded
        key = CountCache.key(dialect.count_key(), raw)
        cached = self.count_cache.get(key)
        if cached is not None:
            return Outcome(body=cached)
        try:
            body = decode_json(raw)
            req = dialect.parse_count(body)
            validate.check(req, allow_local_images=self.options.allow_local_images)
        except errors.ProxyError as exc:
            return self.record_failure(dialect, exc, path=path, headers=headers, raw=raw, query=query, t0=t0)
        answer = orjson.dumps({"input_tokens": tokens.estimate_request(req, self.estimates)})
        self.count_cache.put(key, answer)
        return Outcome(body=answer)
