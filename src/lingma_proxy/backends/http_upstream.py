"""The one HTTP layer every HTTP backend uses (OpenAI-compatible, Anthropic, Lingma remote).

It owns what the three used to write each on their own: sending the request (one retry on a
pooled keep-alive connection the server had just closed), the connect timeout, the first-byte
timeout (the first *body* byte: a server that sends its headers at once and its answer ten
seconds later has not answered), the error mapping to ``ProxyError`` (HTTP error statuses,
refused connections, timeouts, dropped bodies, answers that are not what was asked for),
release/drain of the connection, and the one scrub every upstream error text passes through.

Backends keep only what is theirs: building the request, parsing their dialect, signing, and
the wording of their failures (a ``Faults`` object: the layer decides *which* failure it is,
the backend says what the user should check).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import aiohttp

from .. import errors
from ..redaction import SecretRegistry
from .http_util import read_capped, release

__all__ = ["DROPS", "Faults", "HttpUpstream", "Opened", "Phase", "Scrub", "Timeouts", "describe_body",
           "redact_urls", "timeout_error"]

Phase = Literal["connect", "first_byte", "idle", "total"]
Scrub = Callable[[str], str]
MAX_ERROR_BODY = 64 * 1024
# What a connection that goes away mid-body raises.
DROPS = (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
_URL = re.compile(r"\bhttps?://[^\s\"'<>]+", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")


def redact_urls(text: str) -> str:
    """``text`` with every URL's user info and query removed (the default scrub)."""
    return _URL.sub(lambda m: errors.redact_url(m.group(0)), text) if "://" in text else text


def timeout_error(endpoint: str, phase: Phase, answered: bool, timeouts: Timeouts, *,
                  connect_hint: str, first_byte_hint: str = "") -> errors.UpstreamTimeout:
    """The one wording of an upstream timeout; each backend adds what its user should check."""
    if phase == "connect":
        msg = f"connecting to {endpoint} timed out after {timeouts.connect:g} s (connect timeout): {connect_hint}"
    elif phase in ("first_byte", "idle"):
        what = "no data" if answered else "no answer"
        hint = f"; {first_byte_hint}" if first_byte_hint else ""
        msg = f"upstream {endpoint} sent {what} within {timeouts.first_byte:g} s (first-byte timeout{hint})"
    else:
        msg = f"upstream {endpoint} did not finish within {timeouts.total:g} s (total timeout)"
    return errors.UpstreamTimeout(msg, retryable=True)


def describe_body(content_type: str, body: bytes, limit: int = 120) -> str:
    """A short, single-line account of an unexpected body: its content type and first bytes."""
    ctype = content_type.split(";")[0].strip() or "no content type"
    if not body.strip():
        return f"an empty body ({ctype})"
    text = " ".join(_TAGS.sub(" ", body[:2048].decode("utf-8", "replace")).split()) if b"<" in body[:64] else \
        " ".join(body[:limit * 2].decode("utf-8", "replace").split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{ctype}: {text!r}"


class Faults(Protocol):
    """How one backend words its upstream's failures."""

    def http_error(self, status: int, body: bytes, resp: aiohttp.ClientResponse) -> errors.ProxyError:
        """An error status (``body``: its first 64 KiB)."""
        ...

    def unreachable(self, exc: aiohttp.ClientError) -> errors.ProxyError:
        """The request could not be sent or had no answer (refused, DNS, reset before headers)."""
        ...

    def timed_out(self, phase: Phase, answered: bool) -> errors.ProxyError:
        """A timeout; ``answered``: the status line had arrived."""
        ...

    def dropped(self, exc: BaseException | None) -> errors.ProxyError:
        """The body ended before it was complete (``exc`` None: it ended cleanly but too early)."""
        ...


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; 0 means no limit."""

    connect: float = 10
    first_byte: float = 600
    total: float = 0

    def client(self) -> aiohttp.ClientTimeout:
        # sock_connect only: waiting for a free pooled connection is not a connect failure.
        return aiohttp.ClientTimeout(total=self.total or None, sock_connect=self.connect or None)


class HttpUpstream:
    """One backend's upstream: its session (a getter: created lazily, in the running loop),
    timeouts and scrub (see the module docstring)."""

    __slots__ = ("_registry", "_scrub", "_secrets", "session", "timeouts")

    def __init__(self, session: Callable[[], aiohttp.ClientSession], timeouts: Timeouts, *,
                 scrub: Scrub | None = None,
                 secrets: Iterable[str | None] = ()) -> None:
        self.session = session
        self.timeouts = timeouts
        self._scrub = scrub or redact_urls
        # Secrets the backend itself holds (its keys): replaced even when the hook knows nothing.
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)
        self._registry: SecretRegistry | None = None

    def scrub(self, text: str) -> str:
        """The one scrub every upstream error text passes through."""
        if self._registry is not None:
            text = self._registry.scrub_text(text)
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "***")
        return self._scrub(text)

    def use_secrets(self, registry: SecretRegistry) -> None:
        """Scrub with the process's one registry too (``UsesSecrets``: the composition root hands
        it over before serving), ahead of the hook: every configured or learned secret, every spelling."""
        self._registry = registry

    def scrubbed(self, err: errors.ProxyError) -> errors.ProxyError:
        msg = self.scrub(err.message)
        if msg != err.message:
            err.message = msg
            err.args = (msg,)
        return err

    async def open(self, url: str, data: bytes | None, headers: Mapping[str, str], faults: Faults, *,
                   method: str = "POST", proxy: str | None = None,
                   accept: Callable[[int], bool] = lambda status: status < 300) -> Opened:
        """Send the request and wait, within the first-byte timeout, for the first body bytes.

        A status ``accept`` refuses is raised as ``faults.http_error``; every other failure is
        raised as the fitting ``Faults`` error, scrubbed.
        """
        client = self.session()
        resp: aiohttp.ClientResponse | None = None
        timer = asyncio.timeout(self.timeouts.first_byte or None)
        try:
            async with timer:
                for attempt in (0, 1):
                    try:
                        resp = await client.request(method, url, data=data, headers=headers, proxy=proxy,
                                                    timeout=self.timeouts.client(), allow_redirects=False)
                        break
                    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                        # A pooled keep-alive connection the server had just closed: once more on a
                        # fresh one. A connect failure is not retried.
                        if attempt or isinstance(exc, aiohttp.ClientConnectorError):
                            raise
                assert resp is not None
                if not accept(resp.status):
                    body = await read_capped(resp, MAX_ERROR_BODY)
                    raise faults.http_error(resp.status, body, resp)
                first = await resp.content.readany()
            return Opened(self, resp, first, faults)
        except BaseException as exc:
            if resp is not None:
                resp.close()
            if isinstance(exc, errors.ProxyError):
                raise self.scrubbed(exc) from None
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise self.scrubbed(faults.timed_out("connect", False)) from None
            if isinstance(exc, TimeoutError):
                phase: Phase = "first_byte" if timer.expired() else "total"
                raise self.scrubbed(faults.timed_out(phase, resp is not None)) from None
            if isinstance(exc, DROPS) and resp is not None:
                raise self.scrubbed(faults.dropped(exc)) from None
            if isinstance(exc, aiohttp.ClientError):
                raise self.scrubbed(faults.unreachable(exc)) from None
            raise


class Opened:
    """A response whose status is accepted and whose first body bytes (``first``) arrived."""

    __slots__ = ("faults", "first", "resp", "upstream")

    def __init__(self, upstream: HttpUpstream, resp: aiohttp.ClientResponse, first: bytes, faults: Faults) -> None:
        self.upstream, self.resp, self.first, self.faults = upstream, resp, first, faults

    @property
    def status(self) -> int:
        return self.resp.status

    @property
    def content_type(self) -> str:
        return self.resp.headers.get("Content-Type", "").lower()

    def is_sse(self) -> bool:
        return "text/event-stream" in self.content_type

    def _fail(self, exc: BaseException, answered: bool = True) -> errors.ProxyError:
        if isinstance(exc, TimeoutError):
            return self.upstream.scrubbed(self.faults.timed_out("total", answered))
        return self.upstream.scrubbed(self.faults.dropped(exc))

    async def read(self, idle: float | None = None) -> bytes:
        """The next bytes (``b""`` at the end); ``idle``: the longest silence allowed."""
        timer = asyncio.timeout(idle)
        try:
            async with timer:
                return await self.resp.content.readany()
        except TimeoutError:
            if timer.expired():
                raise self.upstream.scrubbed(self.faults.timed_out("idle", True)) from None
            raise self._fail(TimeoutError()) from None
        except DROPS as exc:
            raise self._fail(exc) from None

    async def chunks(self, drop_ok: Callable[[], bool] = lambda: False) -> AsyncGenerator[bytes, None]:
        """``first``, then the rest as it arrives; a drop ends quietly when ``drop_ok()``."""
        if self.first:
            yield self.first
        content = self.resp.content
        try:
            while chunk := await content.readany():
                yield chunk
        except TimeoutError:
            raise self._fail(TimeoutError()) from None
        except DROPS as exc:
            if not drop_ok():
                raise self._fail(exc) from None

    async def read_all(self, cap: int) -> bytes:
        """The whole body (``first`` included), at most ``cap`` bytes; a drop is raised."""
        buf = bytearray(self.first)
        content = self.resp.content
        try:
            while len(buf) < cap and (chunk := await content.readany()):
                buf += chunk
        except TimeoutError:
            raise self._fail(TimeoutError()) from None
        except DROPS as exc:
            raise self._fail(exc) from None
        if len(buf) >= cap and not content.at_eof():
            raise self.upstream.scrubbed(errors.UpstreamError(f"the upstream answer is larger than {cap} bytes"))
        return bytes(buf)

    async def drain(self, seconds: float) -> None:
        """Read what is left (normally just the end of the body) so the connection can be
        reused; a server that keeps the body open gets ``seconds``, then it is closed."""
        content = self.resp.content
        if content.at_eof():
            return
        try:
            async with asyncio.timeout(seconds):
                while await content.readany():
                    pass
        except (TimeoutError, *DROPS):
            pass

    def release(self) -> None:
        """Back to the pool when fully read; closed otherwise (so the server stops generating)."""
        release(self.resp)
