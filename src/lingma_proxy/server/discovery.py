"""Model lists in the shapes each client family probes for, health, version, capabilities."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__, errors, ir
from ..dialects import openai_chat
from ..relay import Relay

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


async def models(request: Request) -> Response:
    created = int(time.time())
    return _json({"object": "list", "data": [_openai_model(m, created) for m in await _models(request)]})


async def model(request: Request) -> Response:
    wanted = request.path_params["model_id"]
    for m in await _models(request):
        if m.id == wanted:
            return _json(_openai_model(m, int(time.time())))
    err = errors.NotFound(f"model {wanted!r} is not offered by any configured backend", param="model")
    return _json(openai_chat.render_error(err), 404)


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
    return _json({"model_alias": alias, "default_generation_settings": {"n_ctx": ctx}, "total_slots": settings.max_concurrent})


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
        "protocols": ["openai.chat_completions", "openai.responses", "anthropic.messages",
                      "lm_studio.discovery", "ollama.discovery", "llamacpp.discovery"],
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
            "openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses",
            "anthropic_messages": "/v1/messages", "count_tokens": "/v1/messages/count_tokens",
            "models": "/v1/models", "capabilities": "/v1/capabilities", "props": "/props",
            "version": "/version", "health": "/health",
        },
    })


def routes() -> list[Route]:
    return [
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
