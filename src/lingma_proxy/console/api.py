"""The console's JSON API (``/console/api/...``): a thin layer over storage queries and the relay."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__, errors, ir
from ..config import ConfigError
from ..dialects.registry import default as default_dialect
from ..server.debug import guarded
from ..storage import bundle, queries
from ..storage.hub import Observability
from . import settings_edit

log = logging.getLogger("lingma_proxy.console")
PROBE_PROMPT = "Reply with the single word OK."


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store"})


def _error(message: str, status: int = 400, **extra: Any) -> Response:
    return _json({"error": {"message": message, **extra}}, status)


def _obs(request: Request) -> Observability:
    return request.app.state.obs  # type: ignore[no-any-return]


def _int(request: Request, name: str, default: int, lo: int = 1, hi: int = 1000) -> int:
    try:
        return max(lo, min(hi, int(request.query_params.get(name, default))))
    except ValueError:
        return default


def media_type(content_type: str) -> str:
    """``type/subtype`` of a Content-Type header, lowercased, parameters dropped."""
    return content_type.partition(";")[0].strip().lower()


async def _body(request: Request) -> dict[str, Any]:
    if media_type(request.headers.get("content-type", "")) != "application/json":
        # a JSON content type forces a CORS preflight: a foreign page cannot post here blind (and a
        # substring test would take `text/plain; charset=application/json`, which needs none)
        raise errors.InvalidRequest("send Content-Type: application/json", status=415)
    try:
        value = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidRequest(f"invalid JSON body: {exc}") from None
    if not isinstance(value, dict):
        raise errors.InvalidRequest("the body must be a JSON object")
    return value


async def _states(request: Request) -> list[dict[str, Any]]:
    out = []
    for b in request.app.state.relay.backends.values():
        try:
            out.append(asdict(await b.state()))
        except errors.ProxyError as exc:
            out.append({"name": b.name, "kind": b.kind, "ok": False, "detail": exc.message})
        except Exception as exc:  # a broken backend must not break the dashboard
            out.append({"name": b.name, "kind": b.kind, "ok": False, "detail": type(exc).__name__})
    return out


def _memory_overview(obs: Observability, now: float) -> dict[str, Any]:
    """The dashboard from the in-memory ring when nothing is recorded."""
    recent = obs.access.summaries(200)
    start = int(now // 60) - 59
    per = {start + i: [0, 0] for i in range(60)}
    for s in recent:
        m = int(s["ts"] // 60)
        if m in per:
            per[m][0] += 1
            per[m][1] += s["status"] >= 400
    ok = [s for s in recent if 200 <= s["status"] < 400]
    return {
        "per_minute": [{"t": m * 60, "requests": v[0], "errors": v[1]} for m, v in sorted(per.items())],
        "latency_ms": queries.percentiles([s["latency_ms"] for s in ok]),
        "ttfb_ms": queries.percentiles([s["ttfb_ms"] for s in ok if s["ttfb_ms"] is not None]),
        "sample": len(recent),
        "recent_latency": [{"id": s["id"], "ts": s["ts"], "latency_ms": s["latency_ms"], "status": s["status"],
                            "model": s["model"]} for s in reversed(recent[:40])],
        "today": {"requests": len(recent), "errors": sum(s["status"] >= 400 for s in recent),
                  "input_tokens": sum(s["input_tokens"] for s in recent),
                  "output_tokens": sum(s["output_tokens"] for s in recent), "cache_read_tokens": 0},
        "all_time": {}, "usage_by_model": [],
    }


def api(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Admin-guarded, and a ProxyError becomes a JSON error with its status."""

    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except errors.ProxyError as exc:
            return _error(exc.message, exc.status)

    return guarded(endpoint)


# ------------------------------------------------------------------------------ endpoints


@api
async def overview(request: Request) -> Response:
    obs = _obs(request)
    relay = request.app.state.relay
    now = time.time()
    try:
        data = await obs.read(queries.overview, now=now) if obs.has_db() else _memory_overview(obs, now)
    except sqlite3.Error as exc:
        log.warning("dashboard query failed: %s", exc)
        data = _memory_overview(obs, now)
    data["recent"] = await _recent(request, 8)
    data.update({
        "version": __version__, "uptime_s": round(now - obs.started), "now": now,
        "endpoint": str(request.base_url).rstrip("/"), "backends": await _states(request),
        "default_backend": relay.options.default_backend,
        "unavailable_reason": relay.options.unavailable_reason, "recording": obs.status(),
    })
    return _json(data)


async def _recent(request: Request, limit: int, **filters: Any) -> list[dict[str, Any]]:
    obs = _obs(request)
    if obs.has_db():
        try:
            return await obs.read(queries.list_requests, limit=limit, **filters)
        except sqlite3.Error as exc:
            log.warning("requests query failed: %s", exc)
    return obs.access.summaries(limit)


@api
async def requests(request: Request) -> Response:
    p = request.query_params
    before = p.get("before")
    filters: dict[str, Any] = {k: p.get(k) or None for k in ("model", "status", "backend", "dialect", "q")}
    try:
        filters["before"] = float(before) if before else None
    except ValueError:
        return _error("before must be a unix time")
    items = await _recent(request, _int(request, "limit", 100), **filters)
    return _json({"requests": items, "recording": _obs(request).status()})


@api
async def request_detail(request: Request) -> Response:
    obs = _obs(request)
    rid = request.path_params["rid"]
    row = await obs.read(queries.get_request, rid) if obs.has_db() else None
    if row is None:
        return _error(f"no recorded request {rid!r}" if obs.has_db() else "recording is off: only "
                      "summaries are kept", 404)
    return _json(row)


@api
async def clear_requests(request: Request) -> Response:
    await _body(request)
    obs = _obs(request)
    n = await asyncio.to_thread(obs.write_sync, "DELETE FROM requests") if obs.has_db() else 0
    obs.access.ring.clear()
    log.info("the console cleared %d recorded requests", n)
    return _json({"deleted": n})


@api
async def models(request: Request) -> Response:
    relay = request.app.state.relay
    states = {s["name"]: s for s in await _states(request)}
    out = []
    for name, b in relay.backends.items():
        entry: dict[str, Any] = {"name": name, "kind": b.kind, "state": states.get(name),
                                 "capabilities": asdict(b.capabilities), "models": [],
                                 "default": name == relay.options.default_backend}
        try:
            entry["models"] = [asdict(m) for m in await b.list_models()]
        except errors.ProxyError as exc:
            entry["error"] = exc.message
        out.append(entry)
    routes = [{"pattern": r.pattern, "backend": r.backend, "model": r.model} for r in relay.options.routes]
    return _json({"backends": out, "routes": routes, "default_model": relay.options.default_model})


@api
async def probe(request: Request) -> Response:
    """One tiny request through the relay, as a client would send it (it is recorded too)."""
    body = await _body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error("model must be a model id")
    # In the default dialect's wire form (what most clients speak), rendered from the IR.
    dialect = default_dialect()
    raw = orjson.dumps(dialect.render_request(ir.Request(
        model=model, messages=(ir.Message("user", (ir.TextPart(PROBE_PROMPT),)),), max_tokens=16)))
    t0 = time.perf_counter()
    outcome = await request.app.state.relay.handle(dialect, raw, path="/console/probe")
    ms = round((time.perf_counter() - t0) * 1000, 1)
    try:
        answer = orjson.loads(outcome.body) if outcome.body else {}
    except orjson.JSONDecodeError:
        answer = {}
    if outcome.status != 200:
        message = dialect.parse_error(outcome.status, outcome.body).message if outcome.body else ""
        return _json({"ok": False, "model": model, "status": outcome.status, "latency_ms": ms,
                      "error": message or f"HTTP {outcome.status}"})
    try:
        text = dialect.parse_response(answer).text()
    except (errors.ProxyError, KeyError, IndexError, TypeError, AttributeError):
        text = ""
    return _json({"ok": True, "model": model, "status": 200, "latency_ms": ms, "text": text[:500],
                  "used": answer.get("model"), "usage": answer.get("usage")})


@api
async def settings_view(request: Request) -> Response:
    data = settings_edit.view(request.app.state.settings)
    data["recording"] = _obs(request).status()
    return _json(data)


@api
async def settings_apply(request: Request) -> Response:
    body = await _body(request)
    changes = body.get("values")
    if not isinstance(changes, dict):
        return _error("values must be an object of setting -> value")
    current = request.app.state.settings
    try:
        new = settings_edit.edited(current, changes)
    except ConfigError as exc:
        return _error(exc.message, 400, key=exc.key)
    saved = None
    if body.get("save"):
        try:
            saved = str(settings_edit.save(new, changes))
        except (OSError, ConfigError) as exc:
            return _error(f"the settings were not applied: cannot save them: {exc}", 500)
    try:
        # the composition root's restart service (server/core.py), handed over on app.state
        result = await request.app.state.restart(new)
    except errors.ProxyError as exc:
        return _error(f"the new settings did not start ({exc.message}); the previous ones keep serving", 400)
    except Exception as exc:  # keep serving on the old core whatever happened
        log.exception("restart failed")
        return _error(f"the new settings did not start ({type(exc).__name__}: {exc}); "
                      "the previous ones keep serving", 500)
    result["saved_to"] = saved
    result["settings"] = settings_edit.view(new)
    return _json(result)


@api
async def logs(request: Request) -> Response:
    p = request.query_params
    entries = _obs(request).logs.entries(after=_int(request, "after", 0, lo=0, hi=2**62),
                                         limit=_int(request, "limit", 500, hi=2000),
                                         level=p.get("level") or None, q=p.get("q") or None)
    return _json({"logs": entries})


@api
async def feedback_bundle(request: Request) -> Response:
    obs = _obs(request)
    settings = request.app.state.settings
    recent: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    if obs.has_db():
        recent = await obs.read(queries.list_requests, limit=100, bodies=True)
        usage = await obs.read(queries.usage, days=30)
    else:
        recent = obs.access.summaries(100)
    lines = obs.logs.entries(limit=2000)
    data = await asyncio.to_thread(
        bundle.build, settings, requests=recent, logs=lines, usage=usage, recording=obs.status(),
        note=request.query_params.get("note", ""), secrets=request.app.state.secrets)
    name = time.strftime("lingma-proxy-feedback-%Y%m%d-%H%M%S.zip")
    return Response(data, media_type="application/zip",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


def routes() -> list[Route]:
    return [
        Route("/console/api/overview", overview, methods=["GET"]),
        Route("/console/api/requests", requests, methods=["GET"]),
        Route("/console/api/requests/clear", clear_requests, methods=["POST"]),
        Route("/console/api/requests/{rid}", request_detail, methods=["GET"]),
        Route("/console/api/models", models, methods=["GET"]),
        Route("/console/api/probe", probe, methods=["POST"]),
        Route("/console/api/settings", settings_view, methods=["GET"]),
        Route("/console/api/settings", settings_apply, methods=["POST"]),
        Route("/console/api/logs", logs, methods=["GET"]),
        Route("/console/api/feedback-bundle", feedback_bundle, methods=["GET"]),
    ]
