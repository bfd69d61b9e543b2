"""The Gemini API dialect (``/v1beta/models/{model}:generateContent``, ``:streamGenerateContent``,
``:countTokens``, ``GET /v1beta/models``): the contract in ``dialects``, with two differences the
routes must know. Gemini names the model and the stream-ness in the URL, so ``parse_request``
takes them as keyword arguments; and its stream has two framings, so ``StreamRenderer`` takes
``sse=`` (``?alt=sse``: SSE frames; otherwise one incrementally written JSON array). ``DIALECT``
(dialect.py) binds both from the route (``Dialect.at``); the server serves it from the registry.
"""

from ._wire import NAME
from .dialect import DIALECT
from .request import parse_count_tokens, parse_request
from .request_render import render_request, request_path
from .response import (
    parse_error,
    parse_response,
    render_count_tokens,
    render_error,
    render_model,
    render_models,
    render_response,
)
from .schema import from_json_schema, to_json_schema
from .stream import StreamParser, StreamRenderer

__all__ = [
    "DIALECT",
    "NAME",
    "StreamParser",
    "StreamRenderer",
    "from_json_schema",
    "parse_count_tokens",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_count_tokens",
    "render_error",
    "render_model",
    "render_models",
    "render_request",
    "render_response",
    "request_path",
    "to_json_schema",
]
