"""The Responses dialect as the registry holds it."""

from __future__ import annotations

from typing import Any

from ..base import BEARER, CountTokens, Dialect, Key, Options, Route, count_with_max_tokens, simple, simple_renderer
from ._wire import NAME
from .numbers import check_numbers
from .request import parse_request
from .request_render import render_request
from .response import parse_error, parse_response, render_error, render_response
from .stream import StreamRenderer
from .stream_parse import StreamParser


def _count_answer(n: int) -> dict[str, Any]:
    return {"object": "response.input_tokens", "input_tokens": n}


def reassemble(datas: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last event carrying the whole response (``response.completed`` and the like)."""
    final = [d["response"] for d in datas if isinstance(d.get("response"), dict)]
    return final[-1] if final else None


DIALECT = Dialect(
    name=NAME,
    routes=(Route("/v1/responses"), Route("/api/v1/responses"),
            Route("/v1/responses/input_tokens", kind="count_tokens")),
    parse=simple(parse_request),
    render_request=render_request,
    parse_response=parse_response,
    render_response=render_response,
    render_error=render_error,
    parse_error=parse_error,
    renderer=simple_renderer(StreamRenderer),
    stream_parser=StreamParser,
    id_prefix="resp_",
    options=Options(response_store=True, count_tokens=CountTokens(count_with_max_tokens(parse_request), _count_answer),
                    protocols=("openai.responses",), discovery={NAME: "/v1/responses"},
                    keys=(BEARER, Key("header", "x-api-key"))),
    check_numbers=check_numbers,
    reassemble=reassemble,
)
