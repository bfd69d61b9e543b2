"""The Lingma remote backend: the Lingma cloud API called directly with the user's own login.

Per chat: credentials (re-read when their files change), the host (explicit, or detected and
probed), a COSY-signed POST of the chat body, and the SSE envelope unwrapped into the OpenAI
Chat ``StreamParser``. The model list is cached (the reference fetched it before every chat).
Fallback to the next model in the configured order happens here, only for failures another
model could avoid and only while nothing has been yielded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ... import errors, ir
from ...config import DEFAULT_FALLBACK_MODELS
from ...dialects.openai_chat import StreamParser
from ...redaction import SecretRegistry
from ...sse import SSEDecoder
from ..base import BackendState, Capabilities
from ..http_upstream import DROPS, HttpUpstream, Opened, Phase, Scrub, Timeouts
from ..http_util import connection_reason, read_capped
from . import (
    remote_baseurl as rb,
    remote_body,
    remote_errors as rerr,
    remote_hosts,
    remote_models,
    remote_signing as rs,
)
from .remote_cache import CredentialStore
from .remote_credentials import Credential, expire_text
from .remote_envelope import DONE, unwrap
from .remote_images import route_images
from .remote_models import RemoteModel

log = logging.getLogger("lingma_proxy.remote")

MODELS_TTL = 300.0
MODELS_ERROR_TTL = 5.0
MODELS_TIMEOUT = 15.0
MAX_IMAGE_BODY = 15 * 1024 * 1024  # the gateway refuses about 16 MB (400) and 32 MB (413)
_MAX_ERROR_BODY = 64 * 1024
_FINISH = re.compile(r'"finish_reason"\s*:\s*"')


class RemoteBackend:
    """See the module docstring. Everything is lazy: constructing it touches nothing."""

    kind = "remote"
    capabilities = Capabilities(native_tools=True, images=True, reasoning=True, count_tokens=False)

    def __init__(
        self,
        name: str = "remote",
        *,
        base_url: str = "",
        auth_file: str = "",
        cache_dir: str = "",
        proxy_url: str = "",
        version: str = rs.DEFAULT_VERSION,
        identity: str = "main",
        default_model: str = remote_models.DEFAULT_MODEL,
        fallback: bool = True,
        fallback_models: Sequence[str] = (),
        connect_timeout: float = 10,
        first_byte_timeout: float = 600,
        total_timeout: float = 0,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        remember_host: bool = True,
        image_backend: Any = None,
        scrub: Scrub | None = None,
    ) -> None:
        self.name = name
        self.version = version or rs.DEFAULT_VERSION
        self.identity = rs.identity(identity)
        self.default_model = remote_models.normalize(default_model or remote_models.DEFAULT_MODEL)
        self.fallback = fallback
        self.fallback_models = tuple(fallback_models) or DEFAULT_FALLBACK_MODELS
        self.store = CredentialStore(auth_file, cache_dir, env, home)
        self._env, self._home = self.store.env, self.store.home
        self._explicit = base_url.rstrip("/")
        self._base = self._explicit
        self._base_source = "configured" if self._explicit else ""
        self._candidates: list[str] = [self._explicit] if self._explicit else []
        self._remember = remember_host
        self._remembered = ""
        self._proxy = proxy_url
        self._connect_timeout = connect_timeout
        self._first_byte_timeout = first_byte_timeout
        self._total_timeout = total_timeout
        self._session: aiohttp.ClientSession | None = None
        self._upstream = HttpUpstream(self._client, Timeouts(connect_timeout, first_byte_timeout, total_timeout),
                                      scrub=scrub)
        self._models: tuple[float, tuple[str, str], list[RemoteModel]] | None = None
        self._models_error: tuple[float, tuple[str, str], errors.ProxyError] | None = None
        self._resolve_lock: asyncio.Lock | None = None
        self.image_backend = image_backend
        self._secrets: SecretRegistry | None = None

    def __repr__(self) -> str:
        return f"RemoteBackend({self.name!r}, {self._base or 'auto'!r})"

    # ------------------------------------------------------------------ plumbing

    def _client(self) -> aiohttp.ClientSession:
        s = self._session
        if s is None or s.closed:
            timeout = aiohttp.ClientTimeout(total=self._total_timeout or None,
                                            sock_connect=self._connect_timeout or None)
            if self._proxy.startswith("socks"):
                try:
                    from aiohttp_socks import ProxyConnector
                except ImportError:
                    raise errors.UpstreamUnavailable(
                        "--remote-proxy-url is a socks5 proxy, which needs the aiohttp-socks package "
                        "(pip install aiohttp-socks); an http:// or https:// proxy works without it") from None
                connector: aiohttp.BaseConnector = ProxyConnector.from_url(self._proxy)
            else:
                connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=15, ttl_dns_cache=300)
            # With no explicit proxy, HTTPS_PROXY/HTTP_PROXY/NO_PROXY apply, like Go's default transport.
            s = aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=not self._proxy,
                                      auto_decompress=True)
            self._session = s
        return s

    def _proxy_arg(self) -> str | None:
        return self._proxy if self._proxy and not self._proxy.startswith("socks") else None

    async def aclose(self) -> None:
        s, self._session = self._session, None
        if s is not None and not s.closed:
            await s.close()
        if self.image_backend is not None:
            await self.image_backend.aclose()

    def use_secrets(self, registry: SecretRegistry) -> None:
        """The login is read lazily (and again when its files change): each one read is added."""
        self._secrets = registry
        self._upstream.use_secrets(registry)

    async def credential(self) -> Credential:
        cred = await asyncio.to_thread(self.store.get)
        if self._secrets is not None:
            self._secrets.add(*cred.secrets(), cred.user_id, cred.machine_id)
        return cred

    async def base_url(self) -> str:
        """The host in use: explicit, or the best detected candidate (scanned once)."""
        if self._base:
            return self._base
        if self._resolve_lock is None:
            self._resolve_lock = asyncio.Lock()
        async with self._resolve_lock:
            if not self._base:
                hints, last = await asyncio.to_thread(self._scan)
                self._candidates = rb.rank([h for h, _ in hints], last)
                self._base = self._candidates[0]
                srcs = dict(hints)
                self._base_source = ("last working host" if last and self._base == last
                                     else srcs.get(self._base, "default"))
                log.info("remote API host %s (from %s)", self._base, self._base_source)
        return self._base

    def _scan(self) -> tuple[list[tuple[str, str]], str | None]:
        return remote_hosts.scan_hints(self._env, self._home), remote_hosts.read_last_good(self._env, self._home)

    def _headers(self, cred: Credential, path: str, body: bytes, model: str = "") -> dict[str, str]:
        h = rs.headers(cosy_key=cred.cosy_key, encrypt_user_info=cred.encrypt_user_info, user_id=cred.user_id,
                       machine_id=cred.machine_id, date=str(int(time.time())), body=body, path=path,
                       version=self.version, ident=self.identity)
        if model and self.identity is rs.CLI:
            h["X-Model-Key"], h["X-Model-Source"] = model, "system"
        return h

    def _host_worked(self, base: str) -> None:
        if not self._explicit and self._remember and self._remembered != base:
            self._remembered = base
            remote_hosts.remember(base, self._env, self._home)

    # ------------------------------------------------------------------ models

    async def list_models(self) -> list[ir.ModelInfo]:
        return remote_models.model_infos(await self.remote_models(), self.name)

    async def remote_models(self, timeout: float = MODELS_TIMEOUT) -> list[RemoteModel]:
        """The account's models (cached ``MODELS_TTL`` s per account and host)."""
        cred = await self.credential()
        base = await self.base_url()
        key = (cred.user_id, base)
        now = time.monotonic()
        if self._models is not None and self._models[1] == key and now - self._models[0] < MODELS_TTL:
            return self._models[2]
        failed = self._models_error
        if failed is not None and failed[1] == key and now - failed[0] < MODELS_ERROR_TTL:
            raise failed[2]
        try:
            models = await self._fetch_models(cred, base, timeout)
        except errors.ProxyError as exc:
            probed = await self._probe_other_hosts(cred, exc, timeout)
            if probed is None:
                self._models_error = (now, key, exc)
                raise
            models, base = probed, self._base
        self._models = (time.monotonic(), (cred.user_id, base), models)
        self._models_error = None
        return models

    async def _fetch_models(self, cred: Credential, base: str, timeout: float) -> list[RemoteModel]:
        path = rs.MODEL_LIST_PATH
        headers = self._headers(cred, path, b"")
        what = "the model list request"
        try:
            async with self._client().get(base + path, headers=headers, proxy=self._proxy_arg(),
                                          allow_redirects=False, timeout=aiohttp.ClientTimeout(
                                              total=timeout, sock_connect=self._connect_timeout or None)) as resp:
                body = await read_capped(resp, 16 * 1024 * 1024)
                if resp.status != 200:
                    raise rerr.http_error(resp.status, body[:_MAX_ERROR_BODY], base=base, what=what,
                                          source=cred.source, location=resp.headers.get("Location", ""),
                                          secrets=cred.secrets())
        except TimeoutError:
            raise errors.UpstreamTimeout(f"the Lingma remote API at {base} did not answer {what} within "
                                         f"{timeout:g} s", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise rerr.unreachable(base, connection_reason(exc)) from None
        if body.lstrip()[:1] == b"<":
            raise rerr.html_answer(base, what)
        try:
            models = remote_models.parse_model_list(orjson.loads(body))
        except (orjson.JSONDecodeError, ValueError):
            raise errors.UpstreamError(f"the Lingma remote API at {base} answered {what} with something that is "
                                       f"not a model list: {rerr.body_detail(body)!r}") from None
        self._host_worked(base)
        return models

    async def _probe_other_hosts(self, cred: Credential, exc: errors.ProxyError,
                                 timeout: float) -> list[RemoteModel] | None:
        """With a detected host that failed like a wrong host, try the other candidates."""
        if self._explicit or isinstance(exc, (errors.AuthenticationFailed, errors.PermissionDenied)):
            return None
        for cand in self._candidates:
            if cand == self._base:
                continue
            try:
                models = await self._fetch_models(cred, cand, timeout)
            except errors.ProxyError:
                continue
            log.warning("remote API host %s failed (%s); switching to %s", self._base, exc.message, cand)
            self._base, self._base_source = cand, "probed"
            return models
        return None

    async def _available(self) -> list[str] | None:
        try:
            models = await self.remote_models()
        except errors.ProxyError:
            return None
        return [m.key for m in models if m.enabled]

    # ------------------------------------------------------------------ chat

    async def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]:
        """Stream ``request``, falling back across models before any output (see module doc)."""
        if self.image_backend is not None and remote_body.has_images(request):
            async for ev in route_images(self.image_backend, self.stream_remote, request):
                yield ev
            return
        async for ev in self.stream_remote(request):
            yield ev

    async def stream_remote(self, request: ir.Request) -> AsyncIterator[ir.Event]:
        """The remote API only (images, if any, inline)."""
        cred = await self.credential()
        known = self._models[2] if self._models is not None else ()
        primary = remote_models.normalize(request.model or self.default_model, known) or self.default_model
        attempts = [primary]
        if self.fallback:
            attempts = remote_models.attempt_models(primary, self.fallback_models, await self._available())
        failures: list[str] = []
        for i, model in enumerate(attempts):
            yielded = False
            try:
                async for ev in self._attempt(request, model, cred):
                    yielded = True
                    yield ev
                return
            except errors.ProxyError as exc:
                if yielded or i == len(attempts) - 1 or not rerr.worth_fallback(exc):
                    if failures:
                        exc.message = f"{exc.message} (after falling back from {', '.join(failures)})"
                        exc.args = (exc.message,)
                    raise
                failures.append(model)
                log.warning("remote model %s failed before any output (%s); trying %s", model, exc.message,
                            attempts[i + 1])

    async def _attempt(self, request: ir.Request, model: str, cred: Credential) -> AsyncIterator[ir.Event]:
        base = await self.base_url()
        body = remote_body.encode(remote_body.build_body(
            request, model, version=self.version, identity=self.identity.name))
        if len(body) > MAX_IMAGE_BODY:
            raise errors.RequestTooLarge(
                f"the request is {len(body) / 1048576:.1f} MB; the Lingma remote API refuses bodies above about "
                f"14 MB (large images): send smaller or fewer images")
        path = rs.CHAT_PATH
        headers = self._headers(cred, path, body, model)
        faults = _ChatFaults(self, base, model, cred)
        opened = await self._upstream.open(base + path + "?" + rs.CHAT_QUERY, body, headers, faults,
                                           proxy=self._proxy_arg(), accept=lambda status: status == 200)
        try:
            if "html" in opened.content_type or opened.first.lstrip()[:1] == b"<":
                raise rerr.html_answer(base, faults.what)
            async for ev in self._events(opened, faults):
                yield ev
            await opened.drain(0.5)  # what follows [DONE], so the connection can be reused
        except errors.ProxyError as exc:  # in-stream error texts come from the server: scrub them
            exc.message = rerr.scrub(exc.message, cred.secrets())
            exc.args = (exc.message,)
            raise self._upstream.scrubbed(exc) from None
        finally:
            opened.release()
        self._host_worked(base)

    async def _events(self, opened: Opened, faults: _ChatFaults) -> AsyncIterator[ir.Event]:
        base, model, chunk = faults.base, faults.model, opened.first
        decoder = SSEDecoder()
        parser = StreamParser()
        finished = content = False
        held: ir.Event | None = None  # MessageStart waits for content, so fallback stays possible
        if chunk.lstrip()[:1] == b"{":  # one JSON document instead of a stream
            chunk = _as_envelope(chunk + await _rest(opened), base, model)
        while True:
            for sev in decoder.feed(chunk) if chunk else decoder.finish():
                inner = unwrap(sev)
                if inner is None:
                    continue
                if inner is not DONE and not finished and _FINISH.search(inner.data):
                    finished = True
                for ev in self._parse(parser, inner, base, model, content):
                    if isinstance(ev, ir.MessageStart):
                        held = ev
                        continue
                    if held is not None:
                        yield held
                        held = None
                    content = content or isinstance(ev, ir.BlockStart)
                    faults.content = content
                    yield ev
                if inner is DONE:
                    return
            if not chunk:
                break
            chunk = await opened.read(idle=self._first_byte_timeout or None)
        if not finished:
            raise rerr.dropped(base, model, "no [DONE] and no finish_reason")
        for ev in self._parse(parser, None, base, model, content):
            if held is not None:
                yield held
                held = None
            yield ev

    @staticmethod
    def _parse(parser: StreamParser, inner: Any, base: str, model: str, content: bool) -> list[ir.Event]:
        """Feed one inner event (None: the end); an end with no content is an empty answer."""
        try:
            out = parser.feed(inner) if inner is not None else parser.finish()
        except errors.ProxyError as exc:
            if "before any completion chunk" in exc.message:
                raise rerr.empty_answer(base, model) from None
            if type(exc) is errors.UpstreamError:
                exc.message = f"the Lingma remote API at {base} ({model}): {exc.message}"
                exc.args = (exc.message,)
            raise
        if not content and out and isinstance(out[-1], ir.MessageStop) and not any(
                isinstance(ev, ir.BlockStart) for ev in out):
            raise rerr.empty_answer(base, model)
        return out

    # ------------------------------------------------------------------ state

    async def state(self) -> BackendState:
        extra: dict[str, Any] = {"identity": self.identity.name, "version": self.version,
                                 "fallback": list(self.fallback_models) if self.fallback else []}
        try:
            cred = await self.credential()
        except errors.ProxyError as exc:
            return BackendState(self.name, self.kind, False, exc.message, self._base, extra)
        base = await self.base_url()
        extra.update(credential_source=cred.source, account=cred.account(), base_url_source=self._base_source)
        if cred.token_expire_ms:
            extra["expires_at"] = expire_text(cred.token_expire_ms)
        ok, detail = True, f"logged in as {cred.account()}"
        if self._models_error is not None and self._models is None:
            ok, detail = False, self._models_error[2].message
        elif self._models is not None:
            extra["models"] = len(self._models[2])
        return BackendState(self.name, self.kind, ok, detail, base, extra)




def _as_envelope(raw: bytes, base: str, model: str) -> bytes:
    """A lone JSON answer: an envelope becomes one SSE event; anything else is an error."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and ("body" in doc or "statusCodeValue" in doc):
        return b"data:" + raw.strip() + b"\n\ndata:[DONE]\n\n"
    code = doc.get("errorCode") or doc.get("code") if isinstance(doc, dict) else None
    status = int(code) if isinstance(code, (int, str)) and str(code).isdigit() and 400 <= int(code) < 600 else 502
    raise rerr.http_error(status, raw, base=base, what=f"the chat request for {model} (in a 200 answer)")


async def _rest(opened: Opened) -> bytes:
    try:
        return await read_capped(opened.resp, _MAX_ERROR_BODY)
    except DROPS:
        return b""


class _ChatFaults:
    """How one chat attempt's failures are worded (the ``Faults`` of http_upstream)."""

    __slots__ = ("backend", "base", "content", "cred", "model", "what")

    def __init__(self, backend: RemoteBackend, base: str, model: str, cred: Credential) -> None:
        self.backend, self.base, self.model, self.cred = backend, base, model, cred
        self.what = f"the chat request for {model}"
        self.content = False  # answer content was yielded: a stall is then "sent nothing more"

    def http_error(self, status: int, body: bytes, resp: aiohttp.ClientResponse) -> errors.ProxyError:
        return rerr.http_error(status, body, base=self.base, what=self.what, source=self.cred.source,
                               location=resp.headers.get("Location", ""), secrets=self.cred.secrets())

    def unreachable(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        if isinstance(exc, DROPS) and not isinstance(exc, aiohttp.ClientConnectorError):
            return rerr.dropped(self.base, self.model, connection_reason(exc))
        return rerr.unreachable(self.base, connection_reason(exc))

    def timed_out(self, phase: Phase, answered: bool) -> errors.ProxyError:
        b = self.backend
        if phase == "connect":
            return rerr.unreachable(self.base, f"connect timeout after {b._connect_timeout:g} s")
        if phase == "total":
            return rerr.too_slow(self.base, self.model, b._total_timeout)
        return rerr.stalled(self.base, self.model, b._first_byte_timeout, phase == "idle" and self.content)

    def dropped(self, exc: BaseException | None) -> errors.ProxyError:
        return rerr.dropped(self.base, self.model, connection_reason(exc) if exc is not None else "")

