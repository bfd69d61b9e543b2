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
    return str(exc) or type(exc).__name__
