"""The Anthropic Messages dialect (``POST /v1/messages``): the contract in ``dialects``."""

from ._wire import NAME
from .dialect import DIALECT
from .numbers import check_numbers
from .request import parse_request
from .request_render import render_request
from .response import parse_error, parse_response, render_error, render_response
from .stream import StreamParser, StreamRenderer

__all__ = [
    "DIALECT",
    "NAME",
    "StreamParser",
    "StreamRenderer",
    "check_numbers",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]
