"""The Chat Completions dialect as the registry holds it."""

from __future__ import annotations

from ..base import BEARER, Dialect, Key, Options, Route, simple, simple_renderer
from ._common import NAME
from .numbers import check_numbers
from .reassemble import reassemble
from .request import parse_request
from .request_render import render_request
from .response import parse_error, parse_response, render_error, render_response
from .stream import StreamRenderer
from .stream_parse import StreamParser

DIALECT = Dialect(
    name=NAME,
    routes=(Route("/v1/chat/completions"), Route("/api/v1/chat/completions"), Route("/chat/completions")),
    parse=simple(parse_request),
    render_request=render_request,
    parse_response=parse_response,
    render_response=render_response,
    render_error=render_error,
    parse_error=parse_error,
    renderer=simple_renderer(StreamRenderer),
    stream_parser=StreamParser,
    id_prefix="chatcmpl-",
    options=Options(protocols=("openai.chat_completions",), discovery={NAME: "/v1/chat/completions"},
                    default_errors=True, keys=(BEARER, Key("header", "x-api-key"))),
    check_numbers=check_numbers,
    reassemble=reassemble,
)
