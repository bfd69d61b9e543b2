"""The console's pages: ``/console`` (one HTML page, static CSS/JS, no build step) and its sign-in."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..server import admin
from . import api

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}

_SIGN_IN = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>lingma-proxy console</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/console/static/app.css"></head>
<body class="gate"><form class="card gate-card" method="post" action="/console/login">
<h1>lingma-proxy</h1><p>{message}</p>{form}</form></body></html>"""
_FORM = ('<label>Admin key <input type="password" name="key" autocomplete="current-password" autofocus></label>'
         '<button class="btn primary" type="submit">Sign in</button>')


def _gate(request: Request, message: str, status: int = 403) -> Response:
    form = _FORM if request.app.state.settings.admin_key and admin.same_origin(request) else ""
    return HTMLResponse(_SIGN_IN.format(message=message, form=form), status_code=status, headers=SECURITY_HEADERS)


async def page(request: Request) -> Response:
    if not admin.allowed(request):
        if request.app.state.settings.admin_key:
            return _gate(request, "Sign in with the admin key to open the console.", 401)
        return _gate(request, "The console answers loopback clients only. Open it on the machine running "
                              "the proxy, or configure <code>admin_key</code>.")
    html = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{version}}", __version__)
    return HTMLResponse(html, headers=SECURITY_HEADERS)


async def login(request: Request) -> Response:
    key = request.app.state.settings.admin_key
    if not key or not admin.same_origin(request):
        return _gate(request, "Sign-in is not available here.")
    if api.media_type(request.headers.get("content-type", "")) != "application/x-www-form-urlencoded":
        return _gate(request, "Sign in with the form on this page.", 415)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = (form.get("key") or [""])[0]
    if not admin.same_secret(admin.utf8(given), key):
        return _gate(request, "That is not the admin key.", 401)
    response = RedirectResponse("/console", status_code=303)
    response.set_cookie(admin.COOKIE, admin.cookie_value(key), httponly=True, samesite="strict",
                        path="/", secure=request.url.scheme == "https")
    return response


async def slash(request: Request) -> Response:
    return RedirectResponse("/console", status_code=308)


class GuardedStatic(StaticFiles):
    """Assets carry no data, but the same rule keeps the console's surface uniform."""

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        request = Request(scope)
        if not admin.allowed(request) and not scope["path"].endswith("app.css"):
            await admin.denied(request)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def routes() -> list[BaseRoute]:
    return [
        Route("/console", page, methods=["GET"]),
        Route("/console/", slash, methods=["GET"]),
        Route("/console/login", login, methods=["POST"]),
        Mount("/console/static", app=GuardedStatic(directory=STATIC), name="console-static"),
        *api.routes(),
    ]
