"""Optional client authentication: one key, accepted as a Bearer token or ``x-api-key``.

With no key configured every request passes (the reference product's behaviour, and what local
agents expect: they send any key). Errors come in the dialect of the path.
"""

from __future__ import annotations

import hmac

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import errors
from .admin import is_admin_path, utf8
from .dialect_errors import dialect_for_path

OPEN_PATHS = frozenset({"/", "/health", "/version"})


class AuthMiddleware:
    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.key = utf8(api_key) if api_key else None  # bytes: compared with the raw header bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS \
                or scope["method"] == "OPTIONS" or is_admin_path(scope["path"]):  # admin.py guards those
            await self.app(scope, receive, send)
            return
        if self._authorized(scope):
            await self.app(scope, receive, send)
            return
        err = errors.AuthenticationFailed(
            "invalid or missing API key: send it as `Authorization: Bearer <key>` or `x-api-key`")
        body = recorded_refusal(scope, err)
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json")]})  # CORS: origins.py
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: Scope) -> bool:
        assert self.key is not None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and hmac.compare_digest(value.strip(), self.key):
                return True
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
                    return True
        return False


def recorded_refusal(scope: Scope, err: errors.ProxyError) -> bytes:
    """The refusal's body, and the refusal recorded like every request (``Relay.record_failure``)."""
    dialect = dialect_for_path(scope["path"])
    relay = getattr(getattr(scope.get("app"), "state", None), "relay", None)
    if relay is None:
        return orjson.dumps(dialect.render_error(err))
    query = scope.get("query_string", b"").decode("latin-1")
    return bytes(relay.record_failure(dialect, err, path=scope["path"], headers=Headers(scope=scope),
                                      query=query).body)
