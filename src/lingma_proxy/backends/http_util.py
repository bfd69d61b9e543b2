"""Small aiohttp helpers the HTTP backends share."""

from __future__ import annotations

import aiohttp


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """At most ``cap`` bytes of a body: an error page must not cost unbounded memory."""
    buf = bytearray()
    while len(buf) < cap:
        chunk = await resp.content.readany()
        if not chunk:
            break
        buf += chunk
    return bytes(buf[:cap])


def connection_reason(exc: BaseException) -> str:
    """A short human reason for a failed connection ("Connection refused", ...)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.os_error.strerror or type(exc.os_error).__name__
    if isinstance(exc, aiohttp.ClientPayloadError):  # its text is a repr of aiohttp internals
        return "the connection closed before the body was complete"
    return str(exc) or type(exc).__name__


def release(resp: aiohttp.ClientResponse) -> None:
    """Give a fully read response's connection back to the pool; close an unread one (client
    gone, error, early end) so the server stops generating."""
    if resp.content.at_eof():
        resp.release()
    else:
        resp.close()


class LazySession:
    """A backend's one aiohttp session, created inside the running loop on first use (and again
    after it was closed). A session passed in by the caller (tests) is used as is and never
    closed here."""

    __slots__ = ("_session", "_own", "_timeout", "_keepalive")

    def __init__(self, session: aiohttp.ClientSession | None, *, timeout: aiohttp.ClientTimeout,
                 keepalive_timeout: float) -> None:
        self._session = session
        self._own = session is None
        self._timeout = timeout
        self._keepalive = keepalive_timeout

    @property
    def current(self) -> aiohttp.ClientSession | None:
        return self._session

    def get(self) -> aiohttp.ClientSession:
        s = self._session
        if s is None or s.closed:
            connector = aiohttp.TCPConnector(limit=64, keepalive_timeout=self._keepalive,
                                             ttl_dns_cache=300)
            s = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._session, self._own = s, True
        return s

    async def aclose(self) -> None:
        s, self._session = self._session, None
        if s is not None and self._own and not s.closed:
            await s.close()
