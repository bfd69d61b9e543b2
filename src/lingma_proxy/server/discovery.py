"""Model lists in the shapes each client family probes for, health, version, capabilities."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__, errors, ir
from ..dialects.base import Dialect, ModelList, Route as DialectRoute
from ..dialects.registry import all_dialects, default
from ..relay import Relay
from .dialect_errors import matches

SERVICE = "lingma-proxy"
DEFAULT_CONTEXT = 32_768  # shown when a backend does not say (LM Studio's common default)


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _relay(request: Request) -> Relay:
    return request.app.state.relay  # type: ignore[no-any-return]


async def _models(request: Request) -> list[ir.ModelInfo]:
    return await _relay(request).list_models()


def _openai_model(m: ir.ModelInfo, created: int) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "object": "model", "created": created,
                           "owned_by": m.owned_by or m.backend or SERVICE}
    if m.display_name:
        out["name"] = m.display_name
    if m.context_window:
        out["context_window"] = m.context_window
    return out


def _marked(request: Request, route: DialectRoute) -> bool:
    for key in route.marked_by:
        if key.place == "query" and key.name in request.query_params:
            return True
        if key.place == "header" and key.name in request.headers:
            return True
    return False


def _claimed(request: Request) -> tuple[Dialect, ModelList] | None:
    """A dialect whose client this is, on a model-list path other APIs share (Gemini's /v1/models)."""
    for d in all_dialects():
        if d.options.models is None:
            continue
        for r in d.routes:
            if r.kind in ("models", "model") and r.marked_by and matches(r, request.url.path) \
                    and _marked(request, r):
                return d, d.options.models
    return None


async def models(request: Request) -> Response:
    claimed = _claimed(request)
    if claimed is not None:
        return _json(claimed[1].render_list(await _models(request)))
    created = int(time.time())
    return _json({"object": "list", "data": [_openai_model(m, created) for m in await _models(request)]})


async def _one(request: Request, wanted: str, dialect: Dialect,
               render: Callable[[ir.ModelInfo], dict[str, Any]]) -> Response:
    for m in await _models(request):
        if m.id == wanted:
            return _json(render(m))
    err = errors.NotFound(f"model {wanted!r} is not offered by any configured backend", param="model")
    return _json(dialect.render_error(err), 404)


async def model(request: Request) -> Response:
    wanted = request.path_params["model_id"]
    claimed = _claimed(request)
    if claimed is not None:
        return await _one(request, wanted, claimed[0], claimed[1].render_one)
    return await _one(request, wanted, default(), lambda m: _openai_model(m, int(time.time())))


def _dialect_models(dialect: Dialect, route: DialectRoute, listing: ModelList) -> Route:
    """A dialect's own model-list route (on a path no other API serves)."""
    async def endpoint(request: Request) -> Response:
        if route.kind == "models":
            return _json(listing.render_list(await _models(request)))
        return await _one(request, request.path_params[route.model_param or "model"], dialect, listing.render_one)

    return Route(route.path, endpoint, methods=list(route.methods))


async def lmstudio_models(request: Request) -> Response:
    out = []
    for m in await _models(request):
        ctx = m.context_window or DEFAULT_CONTEXT
        out.append({"id": m.id, "key": m.id, "display_name": m.display_name or m.id, "type": "llm",
                    "publisher": m.owned_by or m.backend, "max_context_length": ctx,
                    "loaded_instances": [{"id": m.id, "model": m.id, "config": {"context_length": ctx}}]})
    return _json({"models": out})


async def ollama_tags(request: Request) -> Response:
    out = []
    for m in await _models(request):
        fam = m.owned_by or m.backend or SERVICE
        out.append({"name": m.id, "model": m.id, "modified_at": "1970-01-01T00:00:00Z", "size": 0,
                    "digest": "", "details": {"family": fam, "families": [fam],
                                              "parameter_size": "", "quantization_level": ""}})
    return _json({"models": out})


async def props(request: Request) -> Response:
    ms = await _models(request)
    settings = request.app.state.settings
    alias = settings.model or (ms[0].id if ms else "")
    ctx = next((m.context_window for m in ms if m.id == alias and m.context_window), DEFAULT_CONTEXT)
    return _json({"model_alias": alias, "default_generation_settings": {"n_ctx": ctx},
                  "total_slots": settings.max_concurrent})


async def version(request: Request) -> Response:
    return _json({"service": SERVICE, "version": __version__})


async def _states(request: Request) -> list[dict[str, Any]]:
    out = []
    for b in _relay(request).backends.values():
        try:
            out.append(asdict(await b.state()))
        except errors.ProxyError as exc:
            out.append({"name": b.name, "kind": b.kind, "ok": False, "detail": exc.message})
    return out


# What /health tells anyone about the recorder: counts only (no file path, no error text, which
# may name local paths: the console shows those). ``dropped`` > 0 means records were lost.
_RECORDING_FIELDS = ("enabled", "written", "queued", "peak_queued", "capacity", "dropped", "dropped_logs", "failures")


def _recording(request: Request) -> dict[str, Any] | None:
    obs = getattr(request.app.state, "obs", None)
    if obs is None:
        return None
    status = obs.status()
    return {k: status[k] for k in _RECORDING_FIELDS if k in status}


async def health(request: Request) -> Response:
    relay = _relay(request)
    states = [] if request.method == "HEAD" else await _states(request)
    ok = bool(relay.backends) and all(s["ok"] for s in states)
    body: dict[str, Any] = {"ok": ok, "service": SERVICE, "version": __version__,
                            "default_backend": relay.options.default_backend, "backends": states}
    if not relay.backends:
        body["detail"] = relay.options.unavailable_reason or "no backend configured"
    recording = _recording(request)
    if recording is not None:
        body["recording"] = recording
    if request.method == "HEAD":
        return Response(status_code=200)
    status = 200 if ok or request.url.path == "/" else 503
    return _json(body, status)


async def capabilities(request: Request) -> Response:
    relay = _relay(request)
    caps = [(b.name, b.kind, b.capabilities) for b in relay.backends.values()]

    def any_cap(attr: str) -> bool:
        return any(getattr(c, attr) for _, _, c in caps)

    return _json({
        "service": SERVICE,
        "version": __version__,
        "protocols": [p for d in all_dialects() for p in d.options.protocols]
        + ["lm_studio.discovery", "ollama.discovery", "llamacpp.discovery"],
        "features": {
            "streaming": True,
            "tools": any_cap("native_tools"),
            "images": any_cap("images"),
            "reasoning": any_cap("reasoning"),
            "count_tokens": True,
            "keepalive_ping_seconds": relay.options.ping_interval,
            "max_concurrent": relay.options.max_concurrent,
        },
        "backends": [{"name": n, "kind": k, "capabilities": asdict(c)} for n, k, c in caps],
        "default_backend": relay.options.default_backend,
        "routes": [{"pattern": r.pattern, "backend": r.backend, "model": r.model} for r in relay.options.routes],
        "endpoints": {
            **{k: v for d in all_dialects() for k, v in d.options.discovery.items()},
            "models": "/v1/models", "capabilities": "/v1/capabilities", "props": "/props",
            "version": "/version", "health": "/health",
        },
    })


def routes() -> list[Route]:
    own = [_dialect_models(d, r, d.options.models) for d in all_dialects() if d.options.models is not None
           for r in d.routes if r.kind in ("models", "model") and not r.marked_by]
    return own + [
        Route("/", health, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/models", models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", model, methods=["GET"]),
        Route("/api/v1/models", lmstudio_models, methods=["GET"]),
        Route("/api/tags", ollama_tags, methods=["GET"]),
        Route("/props", props, methods=["GET"]),
        Route("/v1/props", props, methods=["GET"]),
        Route("/capabilities", capabilities, methods=["GET"]),
        Route("/v1/capabilities", capabilities, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
    ]
