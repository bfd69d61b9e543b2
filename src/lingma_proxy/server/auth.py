"""Optional client authentication: one key, accepted wherever a registered dialect's clients
send theirs (``Dialect.options.keys``: a Bearer token, ``x-api-key``, ``x-goog-api-key``, ``?key=``).

With no key configured every request passes (the reference product's behaviour, and what local
agents expect: they send any key). Errors come in the dialect of the path.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import errors
from ..dialects.base import all_keys
from ..dialects.registry import all_dialects
from .admin import is_admin_path, utf8
from .dialect_errors import dialect_for_path

OPEN_PATHS = frozenset({"/", "/health", "/version"})


class AuthMiddleware:
    def __init__(self, app: ASGIApp, api_key: str | None) -> None:
        self.app = app
        self.key = utf8(api_key) if api_key else None  # bytes: compared with the raw header bytes
        keys = all_keys(all_dialects())
        self.bearer = any(k.place == "bearer" for k in keys)
        self.headers = frozenset(k.name.lower().encode() for k in keys if k.place == "header")
        self.params = frozenset(k.name for k in keys if k.place == "query")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS \
                or scope["method"] == "OPTIONS" or is_admin_path(scope["path"]):  # admin.py guards those
            await self.app(scope, receive, send)
            return
        if self._authorized(scope):
            await self.app(scope, receive, send)
            return
        hint = " or ".join(k.describe() for k in dialect_for_path(scope["path"]).options.keys)
        err = errors.AuthenticationFailed(f"invalid or missing API key: send it as {hint}")
        body = recorded_refusal(scope, err)
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json")]})  # CORS: origins.py
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: Scope) -> bool:
        assert self.key is not None
        for name, value in scope["headers"]:
            if name in self.headers and hmac.compare_digest(value.strip(), self.key):
                return True
            if name == b"authorization" and self.bearer:
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
                    return True
        query = scope.get("query_string", b"")
        if self.params and query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if name in self.params and hmac.compare_digest(utf8(value), self.key):
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
