"""Who may see the console and the debug endpoints: loopback, or whoever holds the admin key.

Recorded prompts are private, so these paths have their own rule instead of the client API key:

* A loopback client is trusted when the ``Host`` it asked for is a loopback name too (a DNS
  rebinding page reaches 127.0.0.1 under its own host name) and, when the browser sends an
  ``Origin``, it is this server's (another site's page must not read the recording through
  ``Access-Control-Allow-Origin: *``).
* With ``admin_key`` configured, any client sending it (``x-admin-key``, ``Authorization:
  Bearer``, or the console's sign-in cookie) is let in; the same-origin rule still applies.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ..config.schema import is_loopback

ADMIN_PREFIXES = ("/debug/", "/console")
ADMIN_PATHS = frozenset({"/api/requests", "/api/access-logs", "/api/logs"})
COOKIE = "lingma_proxy_admin"


def is_admin_path(path: str) -> bool:
    return path in ADMIN_PATHS or path.startswith(ADMIN_PREFIXES)


def cookie_value(admin_key: str) -> str:
    """What the sign-in cookie holds: derived from the key, never the key itself."""
    return hmac.new(utf8(admin_key), b"lingma-proxy console", hashlib.sha256).hexdigest()


def _host_name(value: str) -> str:
    try:
        return urlsplit("//" + value).hostname or ""
    except ValueError:
        return ""


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    try:
        return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    except ValueError:
        return False


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-admin-key")
    if key:
        return key.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def utf8(value: str) -> bytes:
    """A configured value's bytes; one read from the environment may hold undecodable bytes
    (surrogate escapes), which come back as they were."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def wire_bytes(value: str) -> bytes:
    """The bytes a header or cookie value arrived as (the ASGI server decoded them as latin-1);
    any other text as UTF-8. Never raises: a comparison must answer no, not 500."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return utf8(value)


def same_secret(given: str | bytes, expected: str) -> bool:
    """Constant-time equality of a presented credential (header, cookie, form field) and the
    configured one, on bytes: ``hmac.compare_digest`` refuses non-ASCII ``str``."""
    data = given if isinstance(given, bytes) else wire_bytes(given)
    return hmac.compare_digest(data, utf8(expected))


def has_admin_key(request: Request, admin_key: str | None) -> bool:
    if not admin_key:
        return False
    key = presented_key(request)
    if key is not None and same_secret(key, admin_key):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and same_secret(cookie, cookie_value(admin_key))


def allowed(request: Request) -> bool:
    if not same_origin(request):
        return False
    client = request.client.host if request.client is not None else ""
    settings = request.app.state.settings
    host = _host_name(request.headers.get("host", ""))
    if is_loopback(client) and (is_loopback(host) or host == settings.host.lower()):
        return True
    return has_admin_key(request, settings.admin_key)


def denied(request: Request) -> Response:
    admin = bool(request.app.state.settings.admin_key)
    message = ("this page needs the admin key (x-admin-key header, or sign in at /console)" if admin
               else "the console and debug endpoints answer loopback clients only; set admin_key "
                    "to open them to other hosts")
    if not same_origin(request):
        message = "cross-origin requests to the console and debug endpoints are refused"
    body: dict[str, Any] = {"error": {"type": "permission_error", "message": message}}
    return Response(orjson.dumps(body), status_code=403, media_type="application/json")
