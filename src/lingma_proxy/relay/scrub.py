"""What reaches a client as an error never carries a configured secret.

Upstreams echo keys back (a 401 body quoting the key it refused, a proxy page showing the
request headers). Every error the relay hands on passes the process's one ``SecretRegistry``:

* a ``ProxyError`` from a backend (its message, ``SecretRegistry.scrub_error`` in the call's
  pump) before it is rendered, as an HTTP error or as the dialect's mid-stream error event;
* ``outcome``: an error outcome's body (status >= 400), and an error status forwarded byte for
  byte on the passthrough path, whose body is gathered (error bodies are small; past
  ``GATHER_MAX`` the rest is scrubbed chunk by chunk) so a secret split across two chunks is
  still found.

Successful answers are left alone: the client asked for them, and they go to the client only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..redaction import SecretRegistry
from .call import Outcome

__all__ = ["GATHER_MAX", "outcome"]

GATHER_MAX = 1024 * 1024


def outcome(secrets: SecretRegistry, out: Outcome) -> Outcome:
    """``out`` with an error body scrubbed; success is returned as it is."""
    if out.status < 400 or not len(secrets):
        return out
    if out.stream is not None:
        out.stream = _gathered(secrets, out.stream)
    elif out.body:
        out.body = secrets.scrub_bytes(out.body)
    return out


async def _gathered(secrets: SecretRegistry, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            if size <= GATHER_MAX:
                parts.append(chunk)
                size += len(chunk)
                continue
            if parts:
                yield secrets.scrub_bytes(b"".join(parts))
                parts = []
            yield secrets.scrub_bytes(chunk)
        if parts:
            yield secrets.scrub_bytes(b"".join(parts))
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
