"""The OpenAI Chat Completions dialect (``/v1/chat/completions``), both directions: clients
(Cline, Continue, SDKs) speak it to us, and OpenAI-compatible local servers speak it to the
``openai_compat`` backend."""

from ._common import NAME
from .dialect import DIALECT
from .numbers import check_numbers
from .request import parse_request
from .request_render import render_request
from .response import (
    parse_error,
    parse_response,
    render_error,
    render_response,
    split_think,
)
from .stream import StreamRenderer
from .stream_parse import StreamParser
from .think import ThinkSplitter

__all__ = [
    "DIALECT",
    "NAME",
    "StreamParser",
    "StreamRenderer",
    "ThinkSplitter",
    "check_numbers",
    "parse_error",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
    "split_think",
]
