"""The Dialect seam: one frozen object per wire API, everything the rest of the house needs.

A dialect package exports ``DIALECT``; ``dialects.registry`` collects them (entry points, the
built-ins as a fallback). The server builds its routes from ``routes``, renders errors with
``render_error``, lists models and counts tokens through ``options``; the relay parses, renders
and streams through it. Nothing outside ``dialects/`` names a dialect.

A route can say things about the call that the body does not (Gemini names the model and the
stream-ness in the URL): the server hands them over as a ``Target`` with ``Dialect.at(target)``,
which returns the same dialect bound to that call, so ``parse_request(body)`` and
``stream_renderer(req)`` keep one argument for every caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from .. import errors, ir
from ..sse import SSEEvent

Kind = Literal["generate", "count_tokens", "models", "model"]
KeyPlace = Literal["bearer", "header", "query"]
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


class StreamRenderer(Protocol):
    """IR events -> whole wire frames (bytes) for a client."""

    def feed(self, event: ir.Event) -> list[bytes]: ...
    def finish(self) -> list[bytes]: ...


class StreamParser(Protocol):
    """Upstream SSE events -> IR events; an upstream error event raises ``ProxyError``."""

    def feed(self, event: SSEEvent) -> list[ir.Event]: ...
    def finish(self) -> list[ir.Event]: ...


@dataclass(frozen=True, slots=True)
class Key:
    """Where a client's key may arrive: ``Authorization: Bearer``, a named header, a query parameter."""

    place: KeyPlace
    name: str = ""

    def describe(self) -> str:
        if self.place == "bearer":
            return "`Authorization: Bearer <key>`"
        return f"`{self.name}`" if self.place == "header" else f"`?{self.name}=`"


BEARER = Key("bearer")


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint. ``path`` is a Starlette pattern; ``model_param`` names the path parameter
    holding the model (``None``: the model is in the body); ``stream`` is fixed by the path
    (``None``: the body says). ``marked_by``: on a path another API also serves (Gemini's
    ``GET /v1/models``), the keys whose presence says the request is this dialect's."""

    path: str
    kind: Kind = "generate"
    methods: tuple[str, ...] = ("POST",)
    model_param: str | None = None
    stream: bool | None = None
    marked_by: tuple[Key, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    """What the route, not the body, says about one call."""

    model: str | None = None
    stream: bool | None = None
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CountTokens:
    """A count-tokens endpoint: its request parser and the shape of its answer."""

    parse: Callable[[Any, Target], ir.Request]
    render: Callable[[int], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ModelList:
    """Model-list endpoints in the dialect's own shape (beyond the OpenAI-style discovery)."""

    render_list: Callable[[list[ir.ModelInfo]], dict[str, Any]]
    render_one: Callable[[ir.ModelInfo], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Options:
    ping_after_start: bool = False  # a ping right after the stream's start (Anthropic's grammar)
    response_store: bool = False  # answers are kept for ``previous_response_id`` (OpenAI Responses)
    count_tokens: CountTokens | None = None
    models: ModelList | None = None
    # What /v1/capabilities lists: protocol names and endpoint names -> paths.
    protocols: tuple[str, ...] = ()
    discovery: Mapping[str, str] = field(default_factory=dict)
    # Paths (prefixes) whose errors, 404s included, come in this dialect's shape.
    error_prefixes: tuple[str, ...] = ()
    default_errors: bool = False  # the shape of every other path's errors (one dialect has it)
    keys: tuple[Key, ...] = (BEARER,)  # where this dialect's clients send their key


def _one_arg_parse(parse: Callable[[Any], ir.Request]) -> Callable[[Any, Target], ir.Request]:
    return lambda body, target: parse(body)


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    routes: tuple[Route, ...]
    parse: Callable[[Any, Target], ir.Request]  # client wire JSON -> IR; InvalidRequest names the field
    render_request: Callable[[ir.Request], dict[str, Any]]  # IR -> wire JSON for an upstream
    parse_response: Callable[[Any], ir.Response]
    render_response: Callable[[ir.Response, ir.Request], dict[str, Any]]
    render_error: Callable[[errors.ProxyError], dict[str, Any]]  # the HTTP status is err.status
    parse_error: Callable[[int, bytes], errors.ProxyError]
    renderer: Callable[[ir.Request, Target], StreamRenderer]
    stream_parser: Callable[[], StreamParser]
    id_prefix: str
    options: Options = Options()
    check_numbers: Callable[[Any], None] = lambda body: None  # the numbers an upstream must not see
    reassemble: Callable[[list[dict[str, Any]]], dict[str, Any] | None] = lambda datas: None
    stream_content_type: Callable[[Target], str] = lambda target: SSE_CONTENT_TYPE
    target: Target = Target()

    def at(self, target: Target) -> Dialect:
        """This dialect bound to one call's route parameters."""
        return replace(self, target=target)

    def parse_request(self, body: Any) -> ir.Request:
        return self.parse(body, self.target)

    def parse_count(self, body: Any) -> ir.Request:
        counter = self.options.count_tokens
        return counter.parse(body, self.target) if counter is not None else self.parse(body, self.target)

    def stream_renderer(self, req: ir.Request) -> StreamRenderer:
        return self.renderer(req, self.target)

    def content_type(self) -> str:
        return self.stream_content_type(self.target)

    def count_key(self) -> str:
        """What, besides the body, a token count depends on (the model in a Gemini path)."""
        return self.name if self.target.model is None else f"{self.name}:{self.target.model}"


def simple(parse: Callable[[Any], ir.Request]) -> Callable[[Any, Target], ir.Request]:
    """A parser of dialects whose body says everything."""
    return _one_arg_parse(parse)


def simple_renderer(cls: Callable[[ir.Request], StreamRenderer]) -> Callable[[ir.Request, Target], StreamRenderer]:
    return lambda req, target: cls(req)


def count_with_max_tokens(parse: Callable[[Any], ir.Request]) -> Callable[[Any, Target], ir.Request]:
    """Count bodies carry no ``max_tokens``, which the generation parsers require."""

    def counted(body: Any, target: Target) -> ir.Request:
        if isinstance(body, dict) and "max_tokens" not in body:
            body = {**body, "max_tokens": 1}
        return parse(body)

    return counted


def all_keys(dialects: Iterable[Dialect]) -> tuple[Key, ...]:
    """Every place any dialect's clients send a key, first declaration first."""
    out: dict[Key, None] = {}
    for d in dialects:
        for k in d.options.keys:
            out.setdefault(k)
    return tuple(out)
