"""The console's, the debug endpoints' and the discovery routes' JSON answers never carry a
registered secret.

Those answers gather text from everywhere (records, the log ring, backend states on /health,
model list errors, probe answers, settings views): rather than trusting each producer, every
JSON answer on an admin path (``admin.is_admin_path``) and every JSON answer to a ``GET``
(/health, /v1/models, /props ...) passes the process's ``SecretRegistry`` once, as bytes, on
its way out. The generation and count endpoints are the relay's (``Relay.scrubbed``: error
bodies only, a successful answer is the client's own). Static console files and non-JSON
answers go through untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..redaction import SecretRegistry
from .admin import is_admin_path

__all__ = ["ScrubAnswers"]

_STATIC = "/console/static"


class ScrubAnswers:
    def __init__(self, app: ASGIApp, secrets: SecretRegistry) -> None:
        self.app = app
        self.secrets = secrets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_STATIC) or not len(self.secrets) \
                or not (is_admin_path(path) or scope.get("method") in ("GET", "HEAD")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def scrubbing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                ctype = next((v for k, v in message.get("headers", ()) if k.lower() == b"content-type"), b"")
                if b"json" not in ctype.lower():
                    await send(message)  # not ours to touch: pass everything on as it comes
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = self.secrets.scrub_bytes(b"".join(parts))
            headers = [(k, v) for k, v in start.get("headers", ()) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, scrubbing_send)
