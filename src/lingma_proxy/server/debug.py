"""The reference's debug endpoints: recent requests, the access log and the process log.

``/debug/requests`` (``/api/requests``), ``/debug/access-logs`` (``/api/access-logs``) and
``/debug/logs`` (``/api/logs``); newest first, ``?limit=`` 1..200 (default 50). Requests come
from the recording when there is one (sanitized bodies included), else from memory. Access:
``admin.py`` (loopback, or the admin key).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..storage import queries
from ..storage.hub import Observability
from ..storage.memory import line
from . import admin

SERVICE = "lingma-proxy"
BODY_MAX = 16_000  # per body in this endpoint: 200 records must stay a reasonable answer
Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: Endpoint) -> Endpoint:
    async def wrapper(request: Request) -> Response:
        if not admin.allowed(request):
            return admin.denied(request)
        if request.method == "HEAD":
            return Response(status_code=200)
        return await endpoint(request)

    return wrapper


def limit_of(request: Request, default: int = 50, top: int = 200) -> int:
    try:
        n = int(request.query_params.get("limit", ""))
    except ValueError:
        return default
    return max(1, min(top, n))


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json", headers={"cache-control": "no-store"})


def _obs(request: Request) -> Observability:
    return request.app.state.obs  # type: ignore[no-any-return]


def state(request: Request) -> dict[str, Any]:
    relay = request.app.state.relay
    obs = _obs(request)
    return {"backends": list(relay.backends), "default_backend": relay.options.default_backend,
            "uptime_s": round(time.time() - obs.started), "recording": obs.status()}


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= BODY_MAX:
        return text
    return text[:BODY_MAX] + f"\n… [{len(text) - BODY_MAX} more chars: see /console]"


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))


def reference_shape(r: dict[str, Any]) -> dict[str, Any]:
    """Our record with the reference's field names added (time at completion, statusCode ...)."""
    out = {"time": _rfc3339(r["ts"] + r["latency_ms"] / 1000), "method": "POST", "path": r["path"],
           "statusCode": r["status"], "durationMs": round(r["latency_ms"])}
    out.update(r)
    return out


async def recent_requests(request: Request, limit: int) -> list[dict[str, Any]]:
    obs = _obs(request)
    if obs.has_db():
        try:
            rows = await obs.read(queries.list_requests, limit=limit, bodies=True)
        except sqlite3.Error:
            rows = None
        if rows is not None:
            for r in rows:
                r["request"] = _cut(r["request"])
                r["response"] = _cut(r["response"] if r["response"] is not None else r.pop("message"))
                r.pop("message", None)
            return rows
    return obs.access.summaries(limit)


@guarded
async def requests(request: Request) -> Response:
    records = [reference_shape(r) for r in await recent_requests(request, limit_of(request))]
    return _json({"ok": True, "service": SERVICE, "count": len(records), "requests": records,
                  "state": state(request)})


@guarded
async def access_logs(request: Request) -> Response:
    limit = limit_of(request)
    obs = _obs(request)
    summaries = obs.access.summaries(limit)
    if not summaries and obs.has_db():  # just restarted: the recording still knows
        try:
            summaries = await obs.read(queries.list_requests, limit=limit)
        except sqlite3.Error:
            pass
    logs = [line(s) for s in summaries]
    return _json({"ok": True, "service": SERVICE, "kind": "http_access_logs", "count": len(logs),
                  "logs": logs, "state": state(request)})


@guarded
async def app_logs(request: Request) -> Response:
    entries = _obs(request).logs.entries(limit=limit_of(request, top=2000),
                                         level=request.query_params.get("level"))
    logs = [{"time": _rfc3339(e["ts"]), **e} for e in reversed(entries)]
    return _json({"ok": True, "service": SERVICE, "kind": "app_logs", "count": len(logs), "logs": logs,
                  "state": state(request)})


def routes() -> list[Route]:
    return [
        Route("/debug/requests", requests, methods=["GET", "HEAD"]),
        Route("/api/requests", requests, methods=["GET", "HEAD"]),
        Route("/debug/access-logs", access_logs, methods=["GET", "HEAD"]),
        Route("/api/access-logs", access_logs, methods=["GET", "HEAD"]),
        Route("/debug/logs", app_logs, methods=["GET", "HEAD"]),
        Route("/api/logs", app_logs, methods=["GET", "HEAD"]),
    ]
