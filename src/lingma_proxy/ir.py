"""The neutral in-between form every dialect parses into and renders from.

Requests and responses are frozen dataclasses; a stream is a sequence of events modelled on
block start / delta / stop (the strictest of the three wire grammars), so every dialect can be
rendered from it without look-ahead.

Conventions every parser and renderer keeps:

* Conversation roles are ``user``, ``assistant`` and ``system``. A ``system`` message inside
  ``Request.messages`` is a mid-conversation instruction (Anthropic ``role: "system"`` turns,
  Chat/Responses ``system``/``developer`` messages after the first turn); leading system text
  lives in ``Request.system``.
* Tool results are parts of a ``user`` message (as in Anthropic); Chat ``tool`` messages and
  Responses ``function_call_output`` items become such parts, consecutive ones merged.
* ``ToolCallPart.arguments`` is always the text of a JSON object. A ``custom`` tool (Codex
  ``apply_patch``) carries its free-form input as ``{"input": "<text>"}``.
* Stream blocks are strictly sequential: a block is started, receives deltas and is stopped
  before the next one starts. Indexes start at 0 and have no gaps.
* Usage follows Anthropic semantics: ``input_tokens`` excludes cache reads and writes, which
  are counted separately.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import orjson

Role: TypeAlias = Literal["user", "assistant", "system"]
StopReason: TypeAlias = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn", "error"
]
BlockKind: TypeAlias = Literal["text", "thinking", "tool_call"]
Effort: TypeAlias = Literal["minimal", "low", "medium", "high", "max"]


# --------------------------------------------------------------------------- parts


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image, either inline (base64 ``data`` with ``media_type``) or by ``url``."""

    media_type: str = ""
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ThinkingPart:
    """Model reasoning.

    ``signature`` is an Anthropic thinking signature (only meaningful to an Anthropic
    upstream); ``encrypted`` is a Responses ``encrypted_content`` blob (only meaningful to a
    Responses upstream); ``redacted`` marks an Anthropic ``redacted_thinking`` block whose
    opaque payload is in ``encrypted``. ``item_id`` keeps a Responses reasoning item id.
    """

    text: str
    signature: str | None = None
    encrypted: str | None = None
    redacted: bool = False
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str = "{}"
    kind: Literal["function", "custom"] = "function"
    item_id: str | None = None  # Responses item id (fc_...), distinct from the call id

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as a dict; invalid or non-object JSON yields ``{}`` (never raises)."""
        return loads_object(self.arguments)


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    tool_call_id: str
    content: tuple[TextPart | ImagePart, ...] = ()
    is_error: bool = False
    kind: Literal["function", "custom"] = "function"

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


Part: TypeAlias = TextPart | ImagePart | ThinkingPart | ToolCallPart | ToolResultPart


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: tuple[Part, ...]
    name: str | None = None
    id: str | None = None  # Responses message item id, when the client sent one

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


# --------------------------------------------------------------------------- request


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    kind: Literal["function", "custom"] = "function"
    # A custom tool's grammar/format description (Codex sends a lark grammar); kept for prompts.
    format: Mapping[str, Any] | None = None
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ToolChoice:
    type: Literal["auto", "any", "none", "tool"] = "auto"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Reasoning:
    """What the client asked of reasoning. ``enabled=False`` is an explicit opt-out."""

    enabled: bool = True
    effort: Effort | None = None
    budget_tokens: int | None = None
    summary: str | None = None  # Responses reasoning.summary ("auto", "detailed", ...)


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    messages: tuple[Message, ...]
    system: tuple[TextPart, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    stream: bool = False
    reasoning: Reasoning | None = None
    response_format: Mapping[str, Any] | None = None  # Chat response_format shape
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The wire dialect this request was parsed from, and the fields that dialect's parser did
    # not model (e.g. Chat ``seed``, ``stream_options``; Responses ``store``,
    # ``previous_response_id``). A renderer of the same dialect may carry them upstream.
    dialect: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Where the client wrote each image, tool call and tool result (``id(part)`` -> wire path,
    # e.g. ``messages[3].content[0].source``), so features/validate.py can name the field it
    # refuses. Not part of the request's value: never compared, rendered or stored.
    origins: Mapping[int, str] = field(default_factory=dict, compare=False, repr=False)
    # The calling client's HTTP request headers, set by the relay: a backend configured without
    # a key of its own may forward the client's (Anthropic). Carried here rather than in a
    # context variable so what a backend reads is what the relay handed it. Plain data; like
    # ``origins``, never compared, rendered, recorded or shown (it holds the client's key).
    client_headers: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def system_text(self) -> str:
        return "\n\n".join(p.text for p in self.system)

    def tool(self, name: str) -> Tool | None:
        for t in self.tools:
            if t.name == name:
                return t
        return None


# --------------------------------------------------------------------------- response


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0  # part of output_tokens, reported separately where a dialect can

    @property
    def total_input_tokens(self) -> int:
        """Prompt tokens in OpenAI's sense (cached tokens included)."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    def merged(self, other: Usage | None) -> Usage:
        """Later non-zero numbers win: streams report input first and output last."""
        if other is None:
            return self
        return Usage(
            input_tokens=other.input_tokens or self.input_tokens,
            output_tokens=other.output_tokens or self.output_tokens,
            cache_read_input_tokens=other.cache_read_input_tokens or self.cache_read_input_tokens,
            cache_creation_input_tokens=other.cache_creation_input_tokens
            or self.cache_creation_input_tokens,
            reasoning_tokens=other.reasoning_tokens or self.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class Response:
    id: str
    model: str
    content: tuple[Part, ...]
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    def tool_calls(self) -> list[ToolCallPart]:
        return [p for p in self.content if isinstance(p, ToolCallPart)]


# --------------------------------------------------------------------------- stream events


@dataclass(frozen=True, slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class BlockStart:
    """Opens block ``index``. For ``tool_call`` blocks ``id`` and ``name`` are set (and
    ``tool_kind`` tells a custom tool); for a redacted thinking block ``redacted_data``."""

    index: int
    kind: BlockKind
    id: str = ""
    name: str = ""
    tool_kind: Literal["function", "custom"] = "function"
    redacted_data: str | None = None
    item_id: str | None = None  # a Responses item id (rs_..., fc_...) to keep across a round trip


@dataclass(frozen=True, slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class SignatureDelta:
    """A thinking block's signature (Anthropic) or encrypted content (Responses)."""

    index: int
    signature: str = ""
    encrypted: str = ""


@dataclass(frozen=True, slots=True)
class ToolArgsDelta:
    index: int
    fragment: str


@dataclass(frozen=True, slots=True)
class BlockStop:
    index: int


@dataclass(frozen=True, slots=True)
class MessageDelta:
    stop_reason: StopReason
    stop_sequence: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class MessageStop:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    """Keep-alive while the upstream is silent; renderers write it in their dialect."""


@dataclass(frozen=True, slots=True)
class StreamError:
    """A failure after the stream began. ``kind`` is an ``errors.ProxyError.kind``."""

    kind: str
    message: str
    status: int = 500


Event: TypeAlias = (
    MessageStart
    | BlockStart
    | TextDelta
    | ThinkingDelta
    | SignatureDelta
    | ToolArgsDelta
    | BlockStop
    | MessageDelta
    | MessageStop
    | Ping
    | StreamError
)


# --------------------------------------------------------------------------- fold


class Accumulator:
    """Folds stream events into a Response; the one fold every non-streaming path uses.

    ``feed`` accepts events one at a time so callers can fold while they also forward; a
    ``StreamError`` is remembered in ``error`` (the caller decides whether to raise).
    """

    __slots__ = ("id", "model", "usage", "stop_reason", "stop_sequence", "error", "_blocks")

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.usage = Usage()
        self.stop_reason: StopReason = "end_turn"
        self.stop_sequence: str | None = None
        self.error: StreamError | None = None
        self._blocks: dict[int, _Block] = {}

    def feed(self, ev: Event) -> None:
        if isinstance(ev, (TextDelta, ThinkingDelta)):
            self._blocks[ev.index].chunks.append(ev.text)
        elif isinstance(ev, ToolArgsDelta):
            self._blocks[ev.index].chunks.append(ev.fragment)
        elif isinstance(ev, BlockStart):
            self._blocks[ev.index] = _Block(ev)
        elif isinstance(ev, SignatureDelta):
            blk = self._blocks[ev.index]
            blk.signature += ev.signature
            blk.encrypted += ev.encrypted
        elif isinstance(ev, MessageStart):
            self.id, self.model = ev.id, ev.model
            self.usage = self.usage.merged(ev.usage)
        elif isinstance(ev, MessageDelta):
            self.stop_reason, self.stop_sequence = ev.stop_reason, ev.stop_sequence
            self.usage = self.usage.merged(ev.usage)
        elif isinstance(ev, StreamError):
            self.error = ev

    def response(self) -> Response:
        parts: list[Part] = []
        for _, blk in sorted(self._blocks.items()):
            part = blk.part()
            if part is not None:
                parts.append(part)
        return Response(
            id=self.id,
            model=self.model,
            content=tuple(parts),
            stop_reason=self.stop_reason,
            stop_sequence=self.stop_sequence,
            usage=self.usage,
        )


class _Block:
    __slots__ = ("start", "chunks", "signature", "encrypted")

    def __init__(self, start: BlockStart) -> None:
        self.start = start
        self.chunks: list[str] = []
        self.signature = ""
        self.encrypted = ""

    def part(self) -> Part | None:
        s = self.start
        body = "".join(self.chunks)
        if s.kind == "text":
            return TextPart(body) if body else None
        if s.kind == "thinking":
            if s.redacted_data is not None:
                return ThinkingPart("", encrypted=s.redacted_data, redacted=True)
            return ThinkingPart(
                body,
                signature=self.signature or None,
                encrypted=self.encrypted or None,
                item_id=s.item_id,
            )
        return ToolCallPart(
            id=s.id, name=s.name, arguments=body or "{}", kind=s.tool_kind, item_id=s.item_id
        )


def accumulate(events: Iterable[Event]) -> Response:
    """Fold a complete event sequence into a Response."""
    acc = Accumulator()
    for ev in events:
        acc.feed(ev)
    return acc.response()


def response_events(resp: Response) -> list[Event]:
    """The event sequence that ``accumulate`` folds back into ``resp`` (used to stream a
    response that arrived whole, e.g. from a non-streaming upstream)."""
    u = resp.usage
    start_usage = Usage(u.input_tokens, 0, u.cache_read_input_tokens, u.cache_creation_input_tokens)
    out: list[Event] = [MessageStart(resp.id, resp.model, start_usage)]
    for i, part in enumerate(resp.content):
        if isinstance(part, TextPart):
            out += [BlockStart(i, "text"), TextDelta(i, part.text), BlockStop(i)]
        elif isinstance(part, ThinkingPart):
            if part.redacted:
                out += [BlockStart(i, "thinking", redacted_data=part.encrypted or ""), BlockStop(i)]
                continue
            out += [BlockStart(i, "thinking", item_id=part.item_id), ThinkingDelta(i, part.text)]
            if part.signature or part.encrypted:
                out.append(SignatureDelta(i, part.signature or "", part.encrypted or ""))
            out.append(BlockStop(i))
        elif isinstance(part, ToolCallPart):
            out += [
                BlockStart(
                    i, "tool_call", id=part.id, name=part.name, tool_kind=part.kind,
                    item_id=part.item_id,
                ),
                ToolArgsDelta(i, part.arguments),
                BlockStop(i),
            ]
    out += [MessageDelta(resp.stop_reason, resp.stop_sequence, resp.usage), MessageStop()]
    return out


# --------------------------------------------------------------------------- helpers


def loads_object(text: str) -> dict[str, Any]:
    """Parse a JSON object leniently: anything that is not an object becomes ``{}``."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a backend offers. ``id`` is what clients send; ``upstream_id`` what the
    backend calls it."""

    id: str
    backend: str = ""
    upstream_id: str = ""
    display_name: str = ""
    owned_by: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: tuple[str, ...] = ()  # "tools", "vision", "reasoning"
