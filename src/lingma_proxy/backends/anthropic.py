"""Backend for the Anthropic Messages API (api.anthropic.com or any server speaking it).

Two paths:

* ``stream(ir.Request)``: the translated path for OpenAI Chat and Responses clients, through
  the ``anthropic_messages`` dialect (render_request upstream, StreamParser back).
* ``passthrough(path, raw, headers, query)``: Anthropic clients are forwarded byte for byte
  (body, ``anthropic-version``/``anthropic-beta``, the query), the answer streamed back
  unbuffered, so thinking signatures and fields we do not model survive untouched.

Credentials: the configured key (``--anthropic-api-key``) replaces whatever the client sent;
without one, the client's own ``x-api-key`` / ``Authorization`` goes upstream (Claude Code's
key or OAuth login), except a credential equal to the proxy's own ``api_key``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict

from .. import errors, ir
from ..dialects.anthropic_messages import (
    StreamParser,
    parse_error,
    parse_response,
    render_request,
)
from ..redaction import SecretRegistry
from ..sse import SSEDecoder
from .base import BackendState, Capabilities, Forwarded
from .http_upstream import HttpUpstream, Opened, Phase, Scrub, Timeouts, describe_body, timeout_error
from .http_util import LazySession

__all__ = ["API_VERSION", "DEFAULT_BASE_URL", "AnthropicBackend"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
_MAX_ERROR_BODY = 64 * 1024
_MODELS_TTL, _MODELS_MISS_TTL = 300.0, 30.0
_CHECK = "check --anthropic-base-url and the network"
_MAX_JSON_BODY = 32 * 1024 * 1024  # a non-streaming answer is buffered whole, to be checked before it is sent
# A whole stream has a message_stop, or an error event (JSON strings escape quotes and newlines,
# so text quoting these markers does not match).
_STREAM_END = re.compile(rb"event:\s*(message_stop|error)\s*\r?\n|\"type\"\s*:\s*\"message_stop\"")
# Never forwarded: hop-by-hop headers, what aiohttp sets itself, and accept-encoding (asked as
# identity: a compressing upstream would hold SSE frames back, and traces stay readable).
_DROP_REQUEST = frozenset({
    "host", "content-length", "connection", "keep-alive", "proxy-connection", "transfer-encoding",
    "te", "trailer", "upgrade", "accept-encoding", "proxy-authorization",
})
_DROP_RESPONSE = frozenset({
    "content-length", "connection", "keep-alive", "transfer-encoding", "content-encoding",
    "trailer", "upgrade", "server", "date",
})
_AUTH = ("x-api-key", "authorization")
_COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers")


def normalize_base_url(url: str) -> str:
    """``https://api.anthropic.com`` whether given with or without ``/v1`` (paths add it)."""
    url = (url or DEFAULT_BASE_URL).strip().rstrip("/")
    return url.removesuffix("/v1")


def _credential(value: str) -> str:
    return value[7:].strip() if value[:7].lower() == "bearer " else value.strip()


class AnthropicBackend:
    """One Anthropic Messages upstream (see the module docstring)."""

    kind = "anthropic"
    capabilities = Capabilities(native_tools=True, images=True, reasoning=True, count_tokens=True,
                                passthrough_dialect="anthropic_messages", exhaustive_models=False,
                                own_context_window=True, keeps_billing_header=True, traced_by_default=True)

    def __init__(
        self,
        name: str,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        default_model: str = "",
        connect_timeout: float = 10,
        first_byte_timeout: float = 600,
        total_timeout: float = 0,
        proxy_key: str | None = None,
        session: aiohttp.ClientSession | None = None,
        scrub: Scrub | None = None,
    ) -> None:
        self.name = name
        self.base_url = normalize_base_url(base_url)
        self.endpoint = errors.redact_url(self.base_url)
        self.default_model = default_model
        self._api_key = api_key or None
        self._proxy_key = proxy_key or None
        self._connect_timeout = connect_timeout
        self._first_byte_timeout = first_byte_timeout
        self._total_timeout = total_timeout
        self._timeout = aiohttp.ClientTimeout(total=total_timeout or None, sock_connect=connect_timeout or None)
        self._session = LazySession(session, timeout=self._timeout, keepalive_timeout=30.0)
        self._upstream = HttpUpstream(self._session.get, Timeouts(connect_timeout, first_byte_timeout, total_timeout),
                                      scrub=scrub, secrets=(api_key, proxy_key))
        self._models: tuple[float, list[ir.ModelInfo]] | None = None

    def use_secrets(self, registry: SecretRegistry) -> None:
        """Upstream error texts are scrubbed with the process's registry as well (``UsesSecrets``)."""
        self._upstream.use_secrets(registry)

    def __repr__(self) -> str:
        return f"AnthropicBackend({self.name!r}, {self.endpoint!r})"

    # ------------------------------------------------------------------ session and auth

    def _client(self) -> aiohttp.ClientSession:
        return self._session.get()

    async def aclose(self) -> None:
        await self._session.aclose()

    def _client_auth(self, headers: Mapping[str, str] | None) -> dict[str, str]:
        """The upstream auth header: the configured key, else the client's own credential."""
        if self._api_key:
            return {"x-api-key": self._api_key}
        if not headers:
            return {}
        for name in _AUTH:
            value = headers.get(name)
            if not value or (self._proxy_key and _credential(value) == self._proxy_key):
                continue
            cred = _credential(value)
            if name == "authorization" and not cred.startswith("sk-ant-api"):
                return {"authorization": value}  # an OAuth token (Claude Code's login)
            return {"x-api-key": cred}
        return {}

    def _json_headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "accept-encoding": "identity",
            "anthropic-version": API_VERSION,
            **self._client_auth(client_headers),
        }

    def forward_headers(self, headers: Mapping[str, str]) -> CIMultiDict[str]:
        """The client's headers as sent upstream (see the module docstring)."""
        out: CIMultiDict[str] = CIMultiDict()
        items: Iterable[tuple[str, str]] = headers.items()
        for k, v in items:
            lk = k.lower()
            if lk in _DROP_REQUEST or lk in _AUTH:
                continue
            out.add(k, v)
        for k, v in self._client_auth(headers).items():
            out[k] = v
        out["accept-encoding"] = "identity"
        if "anthropic-version" not in out:
            out["anthropic-version"] = API_VERSION
        return out

    # ------------------------------------------------------------------ passthrough

    async def passthrough(self, path: str, raw: bytes, headers: Mapping[str, str],
                          query: str = "") -> Forwarded:
        """POST ``raw`` to the upstream's ``path`` unchanged; the answer as it arrives.

        Only a real Anthropic answer is forwarded: an event stream (checked to end with
        ``message_stop`` or ``error``), a JSON answer (buffered and checked to be whole), or an
        error in Anthropic's own shape. Anything else (a web page, an empty or cut-off body, an
        error object with status 200) is raised as the ``ProxyError`` it is, which the relay
        renders as Anthropic error JSON.
        """
        url = self.base_url + path + ("?" + query if query else "")
        opened = await self._upstream.open(url, raw, self.forward_headers(headers), self, accept=lambda _: True)
        out = [(k, v) for k, v in opened.resp.headers.items() if k.lower() not in _DROP_RESPONSE]
        if opened.status < 300 and opened.is_sse():
            return Forwarded(opened.status, out, self._sse_body(opened, path))
        try:
            body = await opened.read_all(_MAX_JSON_BODY)
        finally:
            opened.release()
        if opened.status >= 300:
            body = self._error_answer(opened.status, opened.content_type, body, path, headers)
        else:
            self._check_answer(opened.status, opened.content_type, body, path)
        return Forwarded(opened.status, out, _once(body))

    async def _sse_body(self, opened: Opened, path: str) -> AsyncIterator[bytes]:
        """The stream's bytes as they arrive, cut at event boundaries: an event split across reads
        waits for its end, so when the upstream drops mid-event the client's error event follows
        whole events, never half of one. A stream that ends without ``message_stop`` (or an
        ``error`` event) is raised as dropped: the client never takes it for a whole answer."""
        ended, pending = False, b""
        try:
            async for chunk in opened.chunks():
                data = pending + chunk if pending else chunk
                end = _event_end(data)
                pending = data[end:]
                if end:
                    whole = data[:end] if pending else data
                    ended = ended or _STREAM_END.search(whole) is not None
                    yield whole
            if pending:  # a last event without its blank line: the upstream's bytes, as sent
                ended = ended or _STREAM_END.search(pending) is not None
                yield pending
            if not ended:
                raise self._upstream.scrubbed(errors.UpstreamError(
                    f"upstream {self.endpoint}{path} ended the stream before message_stop; the answer is incomplete",
                    retryable=True))
        finally:
            opened.release()

    def _error_answer(self, status: int, ctype: str, body: bytes, path: str, headers: Mapping[str, str]) -> bytes:
        """An error status: Anthropic's own error JSON is forwarded (scrubbed); anything else raised."""
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            value = None
        err = value.get("error") if isinstance(value, dict) else None
        if isinstance(value, dict) and value.get("type") == "error" and isinstance(err, dict) \
                and isinstance(err.get("type"), str):
            text = body.decode("utf-8", "replace")
            clean = self._upstream.scrub(text)
            return body if clean == text else clean.encode()
        raise self._upstream.scrubbed(self._bad_answer(status, ctype, body, path))

    def _check_answer(self, status: int, ctype: str, body: bytes, path: str) -> None:
        """A 2xx JSON answer must be one whole JSON object, and not an error."""
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict) and (value.get("type") == "error" or ("error" in value and "content" not in value)):
            err = parse_error(502, body)
            err.message = f"{err.message} (upstream {self.endpoint}{path} sent this error with HTTP {status})"
            err.args = (err.message,)
            raise self._upstream.scrubbed(err)
        if not isinstance(value, dict) or (path.endswith("/messages") and "content" not in value):
            raise self._upstream.scrubbed(self._bad_answer(status, ctype, body, path))

    def _bad_answer(self, status: int, ctype: str, body: bytes, path: str) -> errors.ProxyError:
        what = describe_body(ctype, body)
        if body.lstrip()[:1] in (b"{", b"[") and "json" in ctype:
            what = f"a JSON document that is cut short or invalid ({what})"
        msg = f"upstream {self.endpoint}{path} answered HTTP {status} with {what}, not an Anthropic API answer"
        if status < 300:
            return errors.UpstreamError(msg, retryable=True)
        err = errors.from_status(status, msg)
        err.retryable = status in (408, 429, 529) or status >= 500
        return err

    # ------------------------------------------------------------------ translated path

    async def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]:
        """POST /v1/messages (always streaming) and yield IR events as they arrive."""
        model = request.model or self.default_model
        body = render_request(replace(request, model=model, stream=True))
        path = "/v1/messages"
        opened = await self._upstream.open(self.base_url + path, orjson.dumps(body),
                                           self._json_headers(request.client_headers), self)
        try:
            lead = opened.first.lstrip()[:1]
            if "json" in opened.content_type or lead == b"{":
                for ev in await self._json_answer(opened, path):
                    yield ev
                return
            if not opened.is_sse() and lead not in (b"e", b"d", b":"):
                raise self._upstream.scrubbed(self._bad_answer(opened.status, opened.content_type,
                                                               opened.first, path))
            decoder, parser = SSEDecoder(), StreamParser()
            try:
                async with aclosing(opened.chunks()) as chunks:
                    async for chunk in chunks:
                        for sev in decoder.feed(chunk):
                            for ev in parser.feed(sev):
                                yield ev
                for sev in decoder.finish():
                    for ev in parser.feed(sev):
                        yield ev
                for ev in parser.finish():
                    yield ev
            except errors.ProxyError as exc:  # the upstream's own words (an error event): scrubbed
                raise self._upstream.scrubbed(exc) from None
        finally:
            opened.release()

    async def _json_answer(self, opened: Opened, path: str) -> list[ir.Event]:
        raw = await opened.read_all(_MAX_JSON_BODY)
        self._check_answer(opened.status, opened.content_type, raw, path)
        try:
            return ir.response_events(parse_response(orjson.loads(raw)))
        except (orjson.JSONDecodeError, errors.ProxyError):
            raise errors.UpstreamError(f"upstream {self.endpoint}/v1/messages answered an unreadable body",
                                       retryable=True) from None

    async def count_tokens(self, request: ir.Request) -> int:
        """Input tokens as the upstream counts them (POST /v1/messages/count_tokens)."""
        full = render_request(replace(request, model=request.model or self.default_model, stream=False))
        body = {k: full[k] for k in _COUNT_FIELDS if k in full}
        path = "/v1/messages/count_tokens"
        headers = {**self._json_headers(request.client_headers), "accept": "application/json"}
        opened = await self._upstream.open(self.base_url + path, orjson.dumps(body), headers, self)
        try:
            raw = await opened.read_all(_MAX_ERROR_BODY)
        finally:
            opened.release()
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        n = value.get("input_tokens") if isinstance(value, dict) else None
        if not isinstance(n, int):
            raise errors.UpstreamError(f"upstream {self.endpoint}{path} answered no input_tokens")
        return n

    # ------------------------------------------------------------------ HTTP

    async def _get_json(self, path: str, timeout: float,
                        client_headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        headers = {"accept": "application/json", "anthropic-version": API_VERSION,
                   **self._client_auth(client_headers)}
        try:
            async with self._client().get(self.base_url + path, headers=headers, allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                raw = await resp.read()
                try:
                    return resp.status, orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    return resp.status, None
        except TimeoutError:
            raise errors.UpstreamTimeout(f"upstream {self.endpoint}{path} did not answer within {timeout:g} s",
                                         retryable=True) from None
        except aiohttp.ClientError as exc:
            raise self._upstream.scrubbed(self._connection_error(exc)) from None

    # ------------------------------------------------------------------ errors

    # The Faults protocol of http_upstream: the layer picks the failure, these say what to check.

    def http_error(self, status: int, body: bytes, resp: aiohttp.ClientResponse) -> errors.ProxyError:
        return self._http_error(status, body, resp.request_info.url.path, resp.request_info.headers)

    def unreachable(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        return self._connection_error(exc)

    def timed_out(self, phase: Phase, answered: bool) -> errors.ProxyError:
        return timeout_error(self.endpoint, phase, answered, self._upstream.timeouts, connect_hint=_CHECK)

    def dropped(self, exc: BaseException | None) -> errors.ProxyError:
        how = f" ({type(exc).__name__})" if exc is not None else ""
        return errors.UpstreamError(
            f"upstream {self.endpoint} closed the stream before it finished{how}; the answer is incomplete",
            retryable=True)

    def _http_error(self, status: int, body: bytes, path: str, headers: Mapping[str, str]) -> errors.ProxyError:
        try:
            err = parse_error(status, body)
        except Exception:  # noqa: BLE001 - a dialect bug must not hide the upstream's answer
            err = errors.from_status(status, body[:300].decode("utf-8", "replace"))
        where = f"upstream {self.endpoint}{path} answered HTTP {status}"
        if status == 401 and not any(h in headers for h in _AUTH):
            where += "; no --anthropic-api-key is configured and the client sent no key"
        err.message = f"{err.message} ({where})"
        err.args = (err.message,)
        if status in (408, 429, 529) or status >= 500:
            err.retryable = True
        return err

    def _connection_error(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or type(exc.os_error).__name__
            return errors.UpstreamUnavailable(
                f"cannot connect to the Anthropic API at {self.endpoint} ({reason}): {_CHECK}", retryable=True)
        if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
            return errors.UpstreamError(f"upstream {self.endpoint} closed the connection without answering",
                                        retryable=True)
        return errors.UpstreamError(f"upstream {self.endpoint} failed: {type(exc).__name__}", retryable=True)

    # ------------------------------------------------------------------ models and state

    async def list_models(self) -> list[ir.ModelInfo]:
        """GET /v1/models (cached); empty when no key is configured (the upstream requires one)."""
        return await self.list_models_for({})

    async def list_models_for(self, client_headers: Mapping[str, str]) -> list[ir.ModelInfo]:
        """``list_models``, asked with the client's own key when none is configured."""
        now = asyncio.get_running_loop().time()
        if self._models is not None and self._models[0] > now:
            return list(self._models[1])
        if not self._client_auth(client_headers):
            return []
        try:
            status, body = await self._get_json("/v1/models?limit=1000", 10.0, client_headers)
        except errors.ProxyError:
            self._models = (now + _MODELS_MISS_TTL, [])
            raise
        models: list[ir.ModelInfo] = []
        data = body.get("data") if isinstance(body, dict) else None
        for e in data if status == 200 and isinstance(data, list) else ():
            mid = e.get("id") if isinstance(e, dict) else None
            if isinstance(mid, str) and mid:
                name = e.get("display_name")
                models.append(ir.ModelInfo(id=mid, backend=self.name, upstream_id=mid, owned_by="anthropic",
                                           display_name=name if isinstance(name, str) else ""))
        self._models = (now + (_MODELS_TTL if models else _MODELS_MISS_TTL), models)
        return list(models)

    async def state(self) -> BackendState:
        """With a key: ok when GET /v1/models answers 200 within 2 s. Without: ok (clients'
        own keys are forwarded; nothing to check before a client calls)."""
        if not self._api_key:
            return BackendState(self.name, self.kind, True, "no API key configured: clients' own keys are forwarded",
                                self.endpoint)
        try:
            status, _ = await self._get_json("/v1/models?limit=1", 2.0)
        except errors.ProxyError as exc:
            return BackendState(self.name, self.kind, False, exc.message, self.endpoint)
        if status != 200:
            return BackendState(self.name, self.kind, False, f"GET {self.endpoint}/v1/models answered HTTP {status}",
                                self.endpoint)
        return BackendState(self.name, self.kind, True, "reachable", self.endpoint)


async def _once(body: bytes) -> AsyncIterator[bytes]:
    if body:
        yield body


def _event_end(data: bytes) -> int:
    """The offset just past the last complete SSE event in ``data`` (0: none yet)."""
    lf, crlf = data.rfind(b"\n\n"), data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
