"""Responses SSE from an upstream -> IR events (``StreamParser``).

Each output item becomes one IR block. Servers differ in how much they stream (some send only
``output_item.done``), so a block is opened from whichever event names an item first and
filled from the ``done`` item when no deltas came.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from ... import errors, ir, sse
from ._wire import error_from_wire, parse_usage
from .response import stop_reason_of

_INPUT_OPEN = '{"input":"'
_INPUT_CLOSE = '"}'


def _escape(text: str) -> str:
    """``text`` as the inside of a JSON string, so custom input streams as JSON fragments."""
    return orjson.dumps(text)[1:-1].decode()


def _s(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _texts(value: Any, key: str = "text") -> str:
    if not isinstance(value, list):
        return ""
    return "".join(x[key] for x in value if isinstance(x, dict) and isinstance(x.get(key), str))


class _Blk:
    __slots__ = ("index", "output_index", "kind", "filled", "custom")

    def __init__(self, index: int, output_index: Any, kind: str, custom: bool = False) -> None:
        self.index = index
        self.output_index = output_index
        self.kind = kind  # an IR BlockKind
        self.filled = False  # a delta arrived, so the done item adds nothing
        self.custom = custom


class StreamParser:
    """``feed(sse.SSEEvent) -> list[ir.Event]``; error events raise ``ProxyError``."""

    __slots__ = ("_started", "_done", "_next", "_blk", "_has_calls")

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._next = 0
        self._blk: _Blk | None = None
        self._has_calls = False

    def feed(self, event: sse.SSEEvent) -> list[ir.Event]:
        if self._done or event.comment is not None or not event.data or event.data == "[DONE]":
            return []
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise errors.UpstreamError("upstream sent a Responses event that is not JSON") from None
        if not isinstance(data, dict):
            return []
        kind = data.get("type")
        if not isinstance(kind, str):
            kind = event.event or ""
        out: list[ir.Event] = []
        if kind == "error":
            raise error_from_wire(data.get("error") if "error" in data else data)
        if kind == "response.failed":
            resp = data.get("response")
            raise error_from_wire(resp.get("error") if isinstance(resp, dict) else None)
        if not self._started:
            resp = data.get("response")
            self._start(out, resp if isinstance(resp, dict) else {})
        if kind.endswith(".delta"):
            self._delta(out, kind, data)
        elif kind == "response.output_item.added":
            item = data.get("item")
            if isinstance(item, dict):
                self._begin(out, item, data.get("output_index"))
        elif kind == "response.output_item.done":
            item = data.get("item")
            if isinstance(item, dict):
                self._item_done(out, item, data.get("output_index"))
        elif kind == "response.reasoning_summary_part.added":
            blk = self._blk
            if blk is not None and blk.kind == "thinking" and blk.filled:
                out.append(ir.ThinkingDelta(blk.index, "\n\n"))
        elif kind in ("response.completed", "response.incomplete"):
            resp = data.get("response")
            self._end(out, resp if isinstance(resp, dict) else {})
        return out

    def finish(self) -> list[ir.Event]:
        if self._done:
            return []
        raise errors.UpstreamError(
            "upstream Responses stream ended before response.completed", retryable=True
        )

    # ------------------------------------------------------------------ helpers

    def _start(self, out: list[ir.Event], resp: dict[str, Any]) -> None:
        self._started = True
        usage = parse_usage(resp.get("usage")) or ir.Usage()
        out.append(ir.MessageStart(_s(resp, "id"), _s(resp, "model"), usage))

    def _close(self, out: list[ir.Event]) -> None:
        blk = self._blk
        if blk is not None:
            if blk.custom:
                out.append(ir.ToolArgsDelta(blk.index, _INPUT_CLOSE))
            out.append(ir.BlockStop(blk.index))
            self._blk = None

    def _new(self, out: list[ir.Event], start: ir.BlockStart, output_index: Any) -> _Blk:
        self._close(out)
        self._next += 1
        blk = _Blk(start.index, output_index, start.kind, start.tool_kind == "custom")
        self._blk = blk
        out.append(start)
        if blk.custom:
            out.append(ir.ToolArgsDelta(blk.index, _INPUT_OPEN))
        return blk

    def _begin(self, out: list[ir.Event], item: dict[str, Any], output_index: Any) -> _Blk | None:
        kind = item.get("type")
        i = self._next
        if kind == "message":
            return self._new(out, ir.BlockStart(i, "text"), output_index)
        if kind == "reasoning":
            return self._new(out, ir.BlockStart(i, "thinking"), output_index)
        if kind == "function_call" or kind == "custom_tool_call":
            self._has_calls = True
            tool_kind: Literal["function", "custom"] = (
                "custom" if kind == "custom_tool_call" else "function"
            )
            start = ir.BlockStart(
                i, "tool_call", id=_s(item, "call_id"), name=_s(item, "name"), tool_kind=tool_kind
            )
            blk = self._new(out, start, output_index)
            early = _s(item, "input" if blk.custom else "arguments")
            if early:
                blk.filled = True
                out.append(ir.ToolArgsDelta(i, _escape(early) if blk.custom else early))
            return blk
        self._close(out)  # web_search_call etc.: nothing the IR can carry
        return None

    def _current(self, out: list[ir.Event], kind: ir.BlockKind, output_index: Any) -> _Blk:
        blk = self._blk
        if blk is None or blk.kind != kind or blk.output_index != output_index:
            blk = self._new(out, ir.BlockStart(self._next, kind), output_index)
        return blk

    def _delta(self, out: list[ir.Event], kind: str, data: dict[str, Any]) -> None:
        delta = data.get("delta")
        if not isinstance(delta, str) or not delta:
            return
        oi = data.get("output_index")
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            blk = self._current(out, "text", oi)
            out.append(ir.TextDelta(blk.index, delta))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            blk = self._current(out, "thinking", oi)
            out.append(ir.ThinkingDelta(blk.index, delta))
        elif kind in (
            "response.function_call_arguments.delta",
            "response.custom_tool_call_input.delta",
        ):
            blk_or_none = self._blk
            if blk_or_none is None or blk_or_none.kind != "tool_call":
                return  # arguments for an item that never announced itself: no id to use
            blk = blk_or_none
            out.append(ir.ToolArgsDelta(blk.index, _escape(delta) if blk.custom else delta))
        else:
            return
        blk.filled = True

    def _item_done(self, out: list[ir.Event], item: dict[str, Any], output_index: Any) -> None:
        blk = self._blk
        if blk is None or blk.output_index != output_index:
            blk = self._begin(out, item, output_index)
            if blk is None:
                return
        kind = item.get("type")
        i = blk.index
        if kind == "reasoning":
            if not blk.filled:
                text = "\n\n".join(
                    t for t in (_texts(item.get("summary")), _texts(item.get("content"))) if t
                )
                if text:
                    out.append(ir.ThinkingDelta(i, text))
            encrypted = _s(item, "encrypted_content")
            if encrypted:
                out.append(ir.SignatureDelta(i, encrypted=encrypted))
        elif not blk.filled:
            if kind == "message":
                content = item.get("content")
                text = _texts(content) + _texts(content, "refusal")
                if text:
                    out.append(ir.TextDelta(i, text))
            elif kind == "function_call":
                args = _s(item, "arguments")
                if args:
                    out.append(ir.ToolArgsDelta(i, args))
            elif kind == "custom_tool_call":
                text = _s(item, "input")
                if text:
                    out.append(ir.ToolArgsDelta(i, _escape(text)))
        self._close(out)

    def _end(self, out: list[ir.Event], resp: dict[str, Any]) -> None:
        self._close(out)
        self._done = True
        usage = parse_usage(resp.get("usage"))
        out.append(ir.MessageDelta(stop_reason_of(resp, self._has_calls), usage=usage))
        out.append(ir.MessageStop())
