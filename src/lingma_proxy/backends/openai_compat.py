"""Backend for OpenAI-compatible servers: LM Studio, Ollama, llama.cpp, vLLM, mlx-lm, OpenRouter.

Always streams upstream (one code path; the relay folds events for non-streaming clients) and
turns every way such a server can fail into a ``ProxyError`` that says what to check. A stream
that ends before its finish_reason is an error, never a truncated answer passed off as success.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
import orjson

from .. import errors, ir
from ..dialects.openai_chat import (
    StreamParser,
    parse_error,
    parse_response,
    render_request,
)
from ..redaction import SecretRegistry
from ..sse import SSEDecoder
from .base import BackendState, Capabilities
from .http_upstream import HttpUpstream, Opened, Phase, Scrub, Timeouts, describe_body, timeout_error
from .http_util import LazySession, read_capped
from .openai_discovery import (
    api_root,
    entry_context,
    llamacpp_context,
    lmstudio_context,
    lmstudio_loaded,
    normalize_base_url,
    ollama_context,
    probe,
)

__all__ = ["OpenAICompatBackend", "normalize_base_url", "probe"]

_now = time.monotonic  # a seam for tests (patching time.monotonic would stop the loop)
_FINISH = re.compile(r'"finish_reason"\s*:\s*"')
_MODELS_TTL = 10.0
_CTX_TTL, _CTX_MISS_TTL = 60.0, 10.0
_CTX_BUDGET, _CTX_PROBE_TIMEOUT = 1.5, 0.75
_LOADED_TTL = 3.0  # short: the user may load another model in LM Studio at any moment
_CHECK = "is LM Studio/Ollama running? start the server or fix --openai-base-url"
_CTX_ORDER = {"lmstudio": ("lmstudio",), "ollama": ("ollama",), "llamacpp": ("llamacpp",)}
_MAX_JSON_BODY = 32 * 1024 * 1024


class OpenAICompatBackend:
    """One OpenAI-compatible upstream (see the module docstring)."""

    capabilities = Capabilities(native_tools=True, images=True, reasoning=True, count_tokens=False)

    def __init__(
        self,
        name: str,
        base_url: str,
        api_key: str | None = None,
        *,
        default_model: str = "",
        connect_timeout: float = 10,
        first_byte_timeout: float = 600,
        total_timeout: float = 0,
        session: aiohttp.ClientSession | None = None,
        kind: str = "openai",
        scrub: Scrub | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        base = normalize_base_url(base_url)
        parts = urlsplit(base)
        basic = None
        if parts.username is not None:
            # http://user:pass@host (a reverse proxy in front of a local server): basic auth,
            # unless an API key is given; either way the URL we use and show carries no secret.
            if not api_key:
                cred = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                basic = "Basic " + base64.b64encode(cred.encode()).decode()
            base = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        self.base_url = base
        self.root_url = api_root(self.base_url)
        self.endpoint = errors.redact_url(self.base_url)
        self.default_model = default_model
        self._api_key = api_key or None
        self._chat_url = self.base_url + "/chat/completions"
        self._models_url = self.base_url + "/models"
        self._connect_timeout = connect_timeout
        self._first_byte_timeout = first_byte_timeout
        self._total_timeout = total_timeout
        # sock_connect only: waiting for a free pooled connection is not a connect failure.
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout or None, sock_connect=connect_timeout or None
        )
        auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if basic is not None:
            auth = {"Authorization": basic}
        # identity: a compressing server would hold SSE chunks back until its buffer fills.
        self._chat_headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Accept-Encoding": "identity",
            **auth,
        }
        self._get_headers = {"Accept": "application/json", **auth}
        # keep-alive below the 5 s idle limit of uvicorn (vLLM), Node (LM Studio) and
        # cpp-httplib (llama.cpp), so we drop a pooled connection before the server does
        self._session = LazySession(session, timeout=self._timeout, keepalive_timeout=4.0)
        secret = basic[6:] if basic else None
        self._upstream = HttpUpstream(self._session.get, Timeouts(connect_timeout, first_byte_timeout, total_timeout),
                                      scrub=scrub, secrets=(api_key, secret))
        self._models_cache: tuple[float, list[ir.ModelInfo]] | None = None
        self._model_entries: dict[str, dict[str, Any]] = {}
        self._ctx_cache: dict[str, tuple[float, int | None]] = {}
        self._ctx_dead: set[str] = set()  # discovery endpoints this server does not have
        self._ctx_source: str | None = None  # the one that answered
        self._loaded_cache: tuple[float, str | None] | None = None

    def use_secrets(self, registry: SecretRegistry) -> None:
        """Upstream error texts are scrubbed with the process's registry as well (``UsesSecrets``)."""
        self._upstream.use_secrets(registry)

    def __repr__(self) -> str:
        return f"OpenAICompatBackend({self.name!r}, {self.endpoint!r})"

    # ------------------------------------------------------------------ session

    def _client(self) -> aiohttp.ClientSession:
        return self._session.get()

    async def aclose(self) -> None:
        await self._session.aclose()

    # ------------------------------------------------------------------ chat

    async def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]:
        """POST /chat/completions (always streaming) and yield IR events as they arrive."""
        opened = await self._upstream.open(self._chat_url, orjson.dumps(self.payload(request)),
                                           self._chat_headers, self)
        try:
            if opened.first.lstrip()[:1] == b"{":
                # The server ignored stream=true and answered one JSON document.
                for ev in await self._json_answer(opened):
                    yield ev
                return
            sse = opened.is_sse()
            if not sse and ("html" in opened.content_type or opened.first.lstrip()[:1] == b"<"):
                raise self._not_a_stream(opened)
            decoder = SSEDecoder()
            parser = StreamParser()
            finished = done = seen = False
            async with aclosing(opened.chunks(drop_ok=lambda: finished)) as chunks:
                async for chunk in chunks:
                    for sev in decoder.feed(chunk):
                        seen = True
                        if sev.data == "[DONE]":
                            done = True
                        elif not finished and _FINISH.search(sev.data):
                            finished = True
                        for ev in parser.feed(sev):
                            yield ev
                        if done:
                            break
                    if done:
                        break
            if not done:
                for sev in decoder.finish():
                    seen = True
                    if not finished and _FINISH.search(sev.data):
                        finished = True
                    for ev in parser.feed(sev):
                        yield ev
                if not finished:
                    raise self._not_a_stream(opened) if not (seen or sse) else self._dropped(None)
            for ev in parser.finish():
                yield ev
            if done:
                await opened.drain(1.0)
        finally:
            opened.release()

    def payload(self, request: ir.Request) -> dict[str, Any]:
        """The upstream body for ``request``: always streaming (render_request then asks for
        ``stream_options.include_usage``); an empty model becomes ``default_model``."""
        if not request.model and self.default_model:
            return render_request(replace(request, model=self.default_model, stream=True))
        return render_request(replace(request, stream=True))

    async def _json_answer(self, opened: Opened) -> list[ir.Event]:
        raw = await opened.read_all(_MAX_JSON_BODY)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise errors.UpstreamError(
                f"upstream {self.endpoint}/chat/completions answered invalid JSON", retryable=True
            ) from None
        if isinstance(body, dict) and "error" in body and "choices" not in body:
            raise self._upstream.scrubbed(self._http_error(502, raw))  # an error carried in a 200 answer
        if not isinstance(body, dict):
            raise errors.UpstreamError(
                f"upstream {self.endpoint}/chat/completions answered JSON that is not an object",
                retryable=True,
            )
        try:
            answer = parse_response(body)
        except errors.UpstreamError:
            raise
        except errors.ProxyError as exc:
            raise errors.UpstreamError(
                f"upstream {self.endpoint}/chat/completions answered an unexpected body: "
                f"{exc.message}"
            ) from None
        return ir.response_events(answer)

    # ------------------------------------------------------------------ errors

    # The Faults protocol of http_upstream: the layer picks the failure, these say what to check.

    def http_error(self, status: int, body: bytes, resp: aiohttp.ClientResponse) -> errors.ProxyError:
        return self._http_error(status, body)

    def unreachable(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        return self._connection_error(exc)

    def timed_out(self, phase: Phase, answered: bool) -> errors.ProxyError:
        return timeout_error(self.endpoint, phase, answered, self._upstream.timeouts, connect_hint=_CHECK,
                             first_byte_hint="a large prompt on a slow machine may need more")

    def dropped(self, exc: BaseException | None) -> errors.ProxyError:
        return self._dropped(exc)

    def _http_error(self, status: int, body: bytes, path: str = "/chat/completions") -> errors.ProxyError:
        try:
            err = parse_error(status, body)
        except Exception:  # a dialect bug must not hide the upstream's answer
            err = errors.from_status(status, body[:300].decode("utf-8", "replace"))
        where = f"upstream {self.endpoint}{path} answered HTTP {status}"
        if status == 404:
            where += " (check --openai-base-url points at the server's /v1 root, and the model name)"
        err.message = f"{err.message} ({where})"
        err.args = (err.message,)
        if status in (408, 429) or status >= 500:
            err.retryable = True
        return err

    def _not_a_stream(self, opened: Opened) -> errors.ProxyError:
        """A 2xx answer that is no event stream at all (a web page, a proxy's notice)."""
        what = describe_body(opened.content_type, opened.first)
        return self._upstream.scrubbed(errors.UpstreamError(
            f"upstream {self.endpoint}/chat/completions answered HTTP {opened.status} with {what} instead of an "
            f"event stream: is --openai-base-url the address of an OpenAI-compatible server?", retryable=True))

    def _connection_error(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            host = urlsplit(self.base_url).hostname
            return errors.UpstreamUnavailable(
                f"cannot resolve the upstream host {host!r} of {self.endpoint}: fix --openai-base-url",
                retryable=True,
            )
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            return errors.UpstreamUnavailable(
                f"cannot connect to the OpenAI-compatible upstream at {self.endpoint} "
                f"({reason}): {_CHECK}",
                retryable=True,
            )
        if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            return errors.UpstreamError(
                f"upstream {self.endpoint} closed the connection without answering", retryable=True
            )
        if isinstance(exc, aiohttp.InvalidURL):
            return errors.UpstreamUnavailable(f"invalid upstream URL {self.endpoint}: fix --openai-base-url")
        return errors.UpstreamError(
            f"upstream {self.endpoint} failed: {type(exc).__name__}", retryable=True
        )

    def _dropped(self, exc: BaseException | None) -> errors.UpstreamError:
        how = f" ({type(exc).__name__})" if exc is not None else ""
        return errors.UpstreamError(
            f"upstream closed the stream before it finished{how}: no finish_reason or [DONE] "
            f"from {self.endpoint}/chat/completions; the answer is incomplete",
            retryable=True,
        )

    # ------------------------------------------------------------------ models and state

    async def _get_json(
        self, url: str, timeout: float, *, method: str = "GET", body: Any = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON or None); connection failures raise ``ProxyError``."""
        session = self._client()
        data = orjson.dumps(body) if body is not None else None
        headers = self._get_headers if data is None else {**self._get_headers, "Content-Type": "application/json"}
        try:
            async with session.request(
                method, url, data=data, headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False,
            ) as resp:
                raw = await read_capped(resp, 16 * 1024 * 1024)
                try:
                    return resp.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return resp.status, None
        except TimeoutError:
            raise errors.UpstreamTimeout(
                f"upstream {errors.redact_url(url)} did not answer within {timeout:g} s", retryable=True
            ) from None
        except aiohttp.ClientError as exc:
            raise self._connection_error(exc) from None

    async def list_models(self) -> list[ir.ModelInfo]:
        """GET /models (cached for 10 s)."""
        cached = self._models_cache
        if cached is not None and cached[0] > _now():
            return list(cached[1])
        status, body = await self._get_json(self._models_url, 10.0)
        if status != 200:
            raise self._upstream.scrubbed(
                self._http_error(status, orjson.dumps(body) if body is not None else b"", "/models"))
        return list(self._store_models(body))

    def _store_models(self, body: Any) -> list[ir.ModelInfo]:
        entries: Any = body
        if isinstance(body, dict):
            # {"data": [...]} is the standard; some proxies answer {"models": [...]} or a list
            entries = body.get("data", body.get("models"))
        if not isinstance(entries, list):
            raise errors.UpstreamError(
                f"GET {self.endpoint}/models answered something that is not a model list: "
                "is --openai-base-url the address of an OpenAI-compatible server?"
            )
        models: list[ir.ModelInfo] = []
        by_id: dict[str, dict[str, Any]] = {}
        for e in entries:
            if not isinstance(e, dict):
                continue
            mid = e.get("id") or e.get("name") or e.get("model")
            if not isinstance(mid, str) or not mid:
                continue
            owned = e.get("owned_by")
            by_id[mid] = e
            models.append(ir.ModelInfo(
                id=mid, backend=self.name, upstream_id=mid,
                owned_by=owned if isinstance(owned, str) else "",
                context_window=entry_context(e),
            ))
        self._model_entries = by_id
        self._models_cache = (_now() + _MODELS_TTL, models)
        return models

    async def state(self) -> BackendState:
        """ok when GET /models answers 200 within 2 s."""
        try:
            status, body = await self._get_json(self._models_url, 2.0)
        except errors.ProxyError as exc:
            return BackendState(self.name, self.kind, False, exc.message, self.endpoint)
        if status != 200:
            return BackendState(self.name, self.kind, False,
                                f"GET {self.endpoint}/models answered HTTP {status}", self.endpoint)
        try:
            models = self._store_models(body)
        except errors.ProxyError as exc:
            return BackendState(self.name, self.kind, False, exc.message, self.endpoint)
        return BackendState(self.name, self.kind, True, f"{len(models)} models", self.endpoint,
                            extra={"models": [m.id for m in models]})

    async def preferred_model(self) -> str | None:
        """The model to use for a client's free-form name: the one LM Studio has loaded now.

        Asked of ``GET /api/v0/models`` (``state: "loaded"``) and cached for 3 s, so a model
        switched in LM Studio is used from the next request on, and JIT loading never loads a
        second model just because it came first in ``/v1/models``. ``None`` for servers
        without that API (remembered), or when nothing is loaded. Never raises.
        """
        if self.kind in ("ollama", "llamacpp") or "lmstudio" in self._ctx_dead \
                or self._ctx_source not in (None, "lmstudio"):
            return None
        now = _now()
        hit = self._loaded_cache
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            status, body = await self._get_json(self.root_url + "/api/v0/models", _CTX_PROBE_TIMEOUT)
        except errors.ProxyError:
            status, body = 0, None
        if status in (404, 405, 501):
            self._ctx_dead.add("lmstudio")
        loaded = lmstudio_loaded(body) if status == 200 else []
        if status == 200:
            self._ctx_source = "lmstudio"
        choice = loaded[0] if loaded else None
        self._loaded_cache = (now + _LOADED_TTL, choice)
        return choice

    async def context_window(self, model: str) -> int | None:
        """The context length the server runs ``model`` with, when it says so cheaply.

        Best effort and bounded (about 1.5 s the first time, then cached): the /models entry
        (vLLM ``max_model_len``), LM Studio ``/api/v0/models``, llama.cpp ``/props``, Ollama
        ``/api/show``. Never raises.
        """
        now = _now()
        hit = self._ctx_cache.get(model)
        if hit is not None and hit[0] > now:
            return hit[1]
        value: int | None = None
        try:
            async with asyncio.timeout(_CTX_BUDGET):
                value = await self._discover_context(model)
        except (TimeoutError, errors.ProxyError, aiohttp.ClientError):
            value = None
        self._ctx_cache[model] = (now + (_CTX_TTL if value else _CTX_MISS_TTL), value)
        return value

    async def _discover_context(self, model: str) -> int | None:
        if self._models_cache is None or self._models_cache[0] <= _now():
            await self.list_models()
        entry = self._model_entries.get(model)
        if entry is not None and (n := entry_context(entry)):
            return n
        if self._ctx_source is not None:
            order: tuple[str, ...] = (self._ctx_source,)
        else:
            order = _CTX_ORDER.get(self.kind, ("lmstudio", "llamacpp", "ollama"))
        for source in order:
            if source in self._ctx_dead:
                continue
            if source == "lmstudio":
                status, body = await self._get_json(self.root_url + "/api/v0/models", _CTX_PROBE_TIMEOUT)
                n = lmstudio_context(body, model) if status == 200 else None
            elif source == "llamacpp":
                status, body = await self._get_json(self.root_url + "/props", _CTX_PROBE_TIMEOUT)
                n = llamacpp_context(body) if status == 200 else None
            else:
                status, body = await self._get_json(
                    self.root_url + "/api/show", _CTX_PROBE_TIMEOUT, method="POST", body={"model": model})
                n = ollama_context(body) if status == 200 else None
                if status == 404 and isinstance(body, dict) and isinstance(body.get("error"), str):
                    status = 200  # Ollama's own "model not found": the server is Ollama
            if status == 200:
                self._ctx_source = source  # the server is identified: ask only it from now on
                return n
            if status in (404, 405, 501):
                self._ctx_dead.add(source)
        return None
