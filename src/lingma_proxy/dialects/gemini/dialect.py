"""The Gemini dialect as the registry holds it: its routes carry the model (and the stream-ness)
in the path, and its stream has two framings (``?alt=sse``: SSE; otherwise a JSON array)."""

from __future__ import annotations

from typing import Any

from .. import base
from ..base import CountTokens, Dialect, Key, ModelList, Options, Route, Target
from ._wire import NAME
from .reassemble import reassemble
from .request import parse_count_tokens, parse_request
from .request_render import render_request
from .response import (
    parse_error,
    parse_response,
    render_count_tokens,
    render_error,
    render_model,
    render_models,
    render_response,
)
from .stream import StreamParser, StreamRenderer

API_KEY = Key("header", "x-goog-api-key")
QUERY_KEY = Key("query", "key")
# What marks a Gemini client on a path the OpenAI discovery serves too (GET /v1/models).
MARKS = (API_KEY, QUERY_KEY, Key("header", "x-goog-api-client"))


def _routes(prefix: str, marks: tuple[Key, ...]) -> tuple[Route, ...]:
    model = f"{prefix}/models/{{model:path}}"
    return (
        Route(f"{model}:generateContent", model_param="model", stream=False),
        Route(f"{model}:streamGenerateContent", model_param="model", stream=True),
        Route(f"{model}:countTokens", kind="count_tokens", model_param="model"),
        Route(f"{prefix}/models", kind="models", methods=("GET",), marked_by=marks),
        Route(model, kind="model", methods=("GET",), model_param="model", marked_by=marks),
    )


def _parse(body: Any, target: Target) -> Any:
    return parse_request(body, model=target.model or "", stream=bool(target.stream))


def _count(body: Any, target: Target) -> Any:
    return parse_count_tokens(body, model=target.model or "")


def _sse(target: Target) -> bool:
    return target.query.get("alt") == "sse"


def _renderer(req: Any, target: Target) -> StreamRenderer:
    return StreamRenderer(req, sse=_sse(target))


def _content_type(target: Target) -> str:
    return base.SSE_CONTENT_TYPE if _sse(target) else "application/json; charset=utf-8"


DIALECT = Dialect(
    name=NAME,
    # /v1/ too: google-genai 1.x+ calls it by default; Gemini CLI and older SDKs call /v1beta/.
    routes=_routes("/v1beta", ()) + _routes("/v1", MARKS),
    parse=_parse,
    render_request=render_request,
    parse_response=parse_response,
    render_response=render_response,
    render_error=render_error,
    parse_error=parse_error,
    renderer=_renderer,
    stream_parser=StreamParser,
    id_prefix="",
    options=Options(count_tokens=CountTokens(_count, render_count_tokens),
                    models=ModelList(render_models, render_model),
                    protocols=("google.gemini",),
                    discovery={NAME: "/v1beta/models/{model}:generateContent"},
                    error_prefixes=("/v1beta/",), keys=(API_KEY, QUERY_KEY)),
    reassemble=reassemble,
    stream_content_type=_content_type,
)
