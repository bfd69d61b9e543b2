"""The Messages dialect as the registry holds it."""

from __future__ import annotations

from typing import Any

from ..base import BEARER, CountTokens, Dialect, Key, Options, Route, count_with_max_tokens, simple, simple_renderer
from ._wire import NAME
from .numbers import check_numbers
from .reassemble import reassemble
from .request import parse_request
from .request_render import render_request
from .response import parse_error, parse_response, render_error, render_response
from .stream import StreamParser, StreamRenderer


def _count_answer(n: int) -> dict[str, Any]:
    return {"input_tokens": n}


DIALECT = Dialect(
    name=NAME,
    routes=(Route("/v1/messages"), Route("/v1/messages/count_tokens", kind="count_tokens")),
    parse=simple(parse_request),
    render_request=render_request,
    parse_response=parse_response,
    render_response=render_response,
    render_error=render_error,
    parse_error=parse_error,
    renderer=simple_renderer(StreamRenderer),
    stream_parser=StreamParser,
    id_prefix="msg_",
    options=Options(ping_after_start=True,
                    count_tokens=CountTokens(count_with_max_tokens(parse_request), _count_answer),
                    protocols=("anthropic.messages",),
                    discovery={NAME: "/v1/messages", "count_tokens": "/v1/messages/count_tokens"},
                    error_prefixes=("/v1/messages",), keys=(BEARER, Key("header", "x-api-key"))),
    check_numbers=check_numbers,
    reassemble=reassemble,
)
