"""Stream converters that turn tool calls written as text into real tool-call blocks.

``EmulatedToolStream`` is for backends without native tools (the contract of
``tool_contract`` was injected); ``text_tool_calls.TextToolCallStream`` for OpenAI-compatible
backends whose models sometimes write calls as text. Both take the backend's events and give
events in which:

* text outside candidate blocks streams as it arrives (only what may be the start of an
  opener is held back, a few characters);
* a block that turns out to be a call is withheld and becomes ``BlockStart(tool_call)`` +
  one ``ToolArgsDelta`` with the whole JSON + ``BlockStop``; a block that does not is released
  as text, so nothing is lost and nothing of a call leaks as text;
* indexes are renumbered from 0 without gaps; thinking blocks pass through;
* ``stop_reason`` becomes ``tool_use`` when a call was produced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from .. import ir
from .action_blocks import CallExtractor, Piece, limit_for
from .tool_contract import effective_tools


class CallStream:
    """The shared converter; ``enabled=False`` only renumbers (text passes untouched)."""

    __slots__ = ("_ex", "_next", "_map", "_text_up", "_open_text", "_enabled")

    def __init__(
        self,
        tools: Sequence[ir.Tool],
        *,
        enabled: bool = True,
        max_calls: int = 8,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self._ex = CallExtractor(tools, max_calls=max_calls, new_id=new_id)
        self._enabled = enabled and bool(tools)
        self._next = 0  # next output block index
        self._map: dict[int, int] = {}  # upstream index -> output index, passthrough blocks
        self._text_up: int | None = None  # upstream text block being parsed
        self._open_text: int | None = None  # output text block currently open

    @property
    def calls(self) -> int:
        """How many tool calls this converter has produced so far."""
        return self._ex.calls

    def feed(self, ev: ir.Event) -> list[ir.Event]:
        if isinstance(ev, ir.TextDelta):
            if ev.index == self._text_up:
                return self._emit(self._ex.feed(ev.text))
            return self._passthrough_delta(ev)
        if isinstance(ev, (ir.ThinkingDelta, ir.ToolArgsDelta, ir.SignatureDelta)):
            return self._passthrough_delta(ev)
        if isinstance(ev, ir.BlockStart):
            out = self._end_text()
            if ev.kind == "text" and self._enabled:
                self._text_up = ev.index
                return out
            self._on_foreign_block(ev)
            new = self._next
            self._next += 1
            self._map[ev.index] = new
            out.append(ir.BlockStart(new, ev.kind, ev.id, ev.name, ev.tool_kind, ev.redacted_data))
            return out
        if isinstance(ev, ir.BlockStop):
            if ev.index == self._text_up:
                return self._end_text()
            new_idx = self._map.pop(ev.index, None)
            return [] if new_idx is None else [ir.BlockStop(new_idx)]
        if isinstance(ev, ir.MessageDelta):
            out = self._end_text()
            if self._ex.calls and ev.stop_reason != "tool_use":
                ev = ir.MessageDelta("tool_use", None, ev.usage)
            out.append(ev)
            return out
        if isinstance(ev, (ir.MessageStop, ir.StreamError)):
            out = self._end_text()
            out.append(ev)
            return out
        return [ev]  # MessageStart, Ping

    def finish(self) -> list[ir.Event]:
        """Release anything still held (an upstream that ended without closing its block)."""
        return self._end_text()

    # ------------------------------------------------------------------ internals

    def _on_foreign_block(self, ev: ir.BlockStart) -> None:
        """Hook: a block this converter does not parse is starting."""

    def _passthrough_delta(
        self, ev: ir.TextDelta | ir.ThinkingDelta | ir.ToolArgsDelta | ir.SignatureDelta
    ) -> list[ir.Event]:
        new = self._map.get(ev.index)
        if new is None:
            return []  # a delta for a block never started: not ours to invent
        if isinstance(ev, ir.TextDelta):
            return [ir.TextDelta(new, ev.text)]
        if isinstance(ev, ir.ThinkingDelta):
            return [ir.ThinkingDelta(new, ev.text)]
        if isinstance(ev, ir.ToolArgsDelta):
            return [ir.ToolArgsDelta(new, ev.fragment)]
        return [ir.SignatureDelta(new, ev.signature, ev.encrypted)]

    def _end_text(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        if self._text_up is not None:
            self._text_up = None
            out = self._emit(self._ex.flush())
        if self._open_text is not None:
            out.append(ir.BlockStop(self._open_text))
            self._open_text = None
        return out

    def _emit(self, pieces: list[Piece]) -> list[ir.Event]:
        out: list[ir.Event] = []
        for piece in pieces:
            if isinstance(piece, str):
                if self._open_text is None:
                    self._open_text = self._next
                    self._next += 1
                    out.append(ir.BlockStart(self._open_text, "text"))
                out.append(ir.TextDelta(self._open_text, piece))
                continue
            if self._open_text is not None:
                out.append(ir.BlockStop(self._open_text))
                self._open_text = None
            i = self._next
            self._next += 1
            out += [
                ir.BlockStart(i, "tool_call", id=piece.id, name=piece.name, tool_kind=piece.kind),
                ir.ToolArgsDelta(i, piece.arguments),
                ir.BlockStop(i),
            ]
        return out


class EmulatedToolStream(CallStream):
    """Converter for a tool-less backend's stream. ``req`` is the client's request as it
    arrived (with its tools), not the one ``inject_contract`` made of it."""

    __slots__ = ()

    def __init__(
        self,
        req: ir.Request,
        *,
        max_calls: int | None = None,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        choice = req.tool_choice.type if req.tool_choice else "auto"
        super().__init__(
            effective_tools(req),
            enabled=choice != "none",
            max_calls=limit_for(req) if max_calls is None else max_calls,
            new_id=new_id,
        )


def response_with_calls(
    resp: ir.Response,
    tools: Sequence[ir.Tool],
    *,
    max_calls: int = 8,
    new_id: Callable[[], str] | None = None,
) -> ir.Response:
    """A whole response with the calls in its text parts made real (the non-streaming path);
    ``resp`` itself when there were none."""
    ex = CallExtractor(tools, max_calls=max_calls, new_id=new_id)
    content: list[ir.Part] = []
    for part in resp.content:
        if not isinstance(part, ir.TextPart):
            content.append(part)
            continue
        start = len(content)
        for piece in ex.feed(part.text) + ex.flush():
            last = content[-1] if len(content) > start else None
            if not isinstance(piece, str):
                content.append(piece)
            elif isinstance(last, ir.TextPart):
                content[-1] = ir.TextPart(last.text + piece)
            else:
                content.append(ir.TextPart(piece))
    if not ex.calls:
        return resp
    return replace(resp, content=tuple(content), stop_reason="tool_use", stop_sequence=None)


def emulate_response(
    resp: ir.Response, req: ir.Request, *, new_id: Callable[[], str] | None = None
) -> ir.Response:
    """What ``EmulatedToolStream`` makes of a response that arrived whole."""
    if req.tool_choice is not None and req.tool_choice.type == "none":
        return resp
    return response_with_calls(resp, effective_tools(req), max_calls=limit_for(req), new_id=new_id)
