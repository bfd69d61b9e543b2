"""A lean streaming response for SSE.

Starlette's StreamingResponse runs every stream inside an anyio task group (one for the body,
one listening for the disconnect); under 16 concurrent streams that machinery was the largest
single cost in the profile. Here one plain asyncio task (``hangup.Hangup``, usually the one the
endpoint started before the relay call) waits for ``http.disconnect`` and cancels the streaming
task when it comes, which is all a proxy needs: the relay's generator then closes and the
upstream request is cancelled with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from starlette.types import Receive, Scope, Send

from .hangup import Hangup


class SSEResponse:
    def __init__(self, body: AsyncIterator[bytes], status_code: int = 200,
                 headers: Mapping[str, str] | None = None, *, hangup: Hangup | None = None) -> None:
        self.body = body
        self.status_code = status_code
        self.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        self.hangup = hangup  # the endpoint's watcher, still watching (server/hangup.py)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = self.hangup if self.hangup is not None else Hangup(receive)
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async for chunk in self.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not watcher.absorb():
                raise
            # the client left: nothing more to send; the finally below closes the relay stream
        finally:
            watcher.stop()
            aclose = getattr(self.body, "aclose", None)
            if aclose is not None:
                await aclose()
