"""Anthropic Messages streaming, both ways: IR events -> SSE frames, upstream SSE -> IR events.

The renderer writes the exact grammar Claude Code relies on: one ``content_block_start`` /
deltas / ``content_block_stop`` per block with gap-free indexes, tool arguments only as
``input_json_delta`` (never inside ``content_block_start``), real token counts in both
``message_start`` and ``message_delta``, and always a closing ``message_delta`` +
``message_stop`` unless an ``error`` event ended the stream.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from ... import errors, ir, sse
from ._wire import dump_object, stop_in, stop_out, usage_in, usage_out
from .response import error_body, error_from_body, message_id

PING = b'event: ping\ndata: {"type": "ping"}\n\n'


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


class StreamRenderer:
    """IR events -> Anthropic SSE frames: ``feed(event) -> list[bytes]``, ``finish()``."""

    __slots__ = ("_req", "_started", "_done", "_stopped", "_usage", "_open", "_wire", "_seen")

    def __init__(self, req: ir.Request) -> None:
        self._req = req
        self._started = False
        self._done = False  # message_stop or error written: nothing may follow
        self._stopped = False  # message_delta written
        self._usage = ir.Usage()
        self._open: int | None = None  # IR index of the open block
        self._wire = 0  # next wire index: counted here so the output has no gaps
        self._seen: set[int] = set()  # IR indexes already opened once

    def feed(self, ev: ir.Event) -> list[bytes]:
        if self._done:
            return []
        if isinstance(ev, ir.Ping):
            return [PING]
        if isinstance(ev, ir.StreamError):
            out = self._close()
            self._done = True
            return out + [_frame("error", error_body(ev.kind, ev.message))]
        out = [] if self._started or isinstance(ev, ir.MessageStart) else self._start(None)
        if isinstance(ev, ir.TextDelta):
            if ev.text:
                out += self._ensure(ev.index, "text")
                out.append(_delta(self._wire - 1, {"type": "text_delta", "text": ev.text}))
        elif isinstance(ev, ir.ToolArgsDelta):
            if ev.fragment and (ev.index == self._open or ev.index not in self._seen):
                out += self._ensure(ev.index, "tool_call")
                out.append(_delta(self._wire - 1, {"type": "input_json_delta", "partial_json": ev.fragment}))
        elif isinstance(ev, ir.ThinkingDelta):
            if ev.text:
                out += self._ensure(ev.index, "thinking")
                out.append(_delta(self._wire - 1, {"type": "thinking_delta", "thinking": ev.text}))
        elif isinstance(ev, ir.SignatureDelta):
            # A Responses ``encrypted`` blob means nothing to an Anthropic client.
            if ev.signature and (ev.index == self._open or ev.index not in self._seen):
                out += self._ensure(ev.index, "thinking")
                out.append(_delta(self._wire - 1, {"type": "signature_delta", "signature": ev.signature}))
        elif isinstance(ev, ir.BlockStart):
            out += self._close()
            out.append(self._open_block(ev))
        elif isinstance(ev, ir.BlockStop):
            if ev.index == self._open:
                out += self._close()
        elif isinstance(ev, ir.MessageStart):
            if not self._started:
                out += self._start(ev)
        elif isinstance(ev, ir.MessageDelta):
            out += self._close()
            out.append(self._message_delta(ev.stop_reason, ev.stop_sequence, ev.usage))
        elif isinstance(ev, ir.MessageStop):
            out += self._end()
        return out

    def finish(self) -> list[bytes]:
        """Close a stream that ended without MessageStop so the client never hangs."""
        if self._done:
            return []
        out = [] if self._started else self._start(None)
        return out + self._end()

    # ------------------------------------------------------------------ internals

    def _start(self, ev: ir.MessageStart | None) -> list[bytes]:
        self._started = True
        if ev is not None:
            self._usage = ev.usage
        message: dict[str, Any] = {
            "id": message_id(ev.id if ev is not None else ""),
            "type": "message",
            "role": "assistant",
            "model": (ev.model if ev is not None else "") or self._req.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_out(self._usage),
        }
        return [_frame("message_start", {"type": "message_start", "message": message})]

    def _open_block(self, ev: ir.BlockStart) -> bytes:
        self._open = ev.index
        self._seen.add(ev.index)
        index = self._wire
        self._wire += 1
        block: dict[str, Any]
        if ev.kind == "text":
            block = {"type": "text", "text": ""}
        elif ev.kind == "thinking":
            if ev.redacted_data is not None:
                block = {"type": "redacted_thinking", "data": ev.redacted_data}
            else:
                block = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            # Arguments follow as input_json_delta: Claude Code ignores input given here.
            block = {
                "type": "tool_use",
                "id": ev.id or "toolu_" + secrets.token_hex(12),
                "name": ev.name,
                "input": {},
            }
        return _frame("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})

    def _ensure(self, index: int, kind: ir.BlockKind) -> list[bytes]:
        """A delta for a block that is not open opens it implicitly (lenient upstreams)."""
        if index == self._open:
            return []
        out = self._close()
        out.append(self._open_block(ir.BlockStart(index, kind)))
        return out

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        return [_frame("content_block_stop", {"type": "content_block_stop", "index": self._wire - 1})]

    def _message_delta(self, reason: ir.StopReason, seq: str | None, usage: ir.Usage | None) -> bytes:
        self._stopped = True
        self._usage = self._usage.merged(usage)
        return _frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_out(reason), "stop_sequence": seq},
                "usage": usage_out(self._usage),
            },
        )

    def _end(self) -> list[bytes]:
        out = self._close()
        if not self._stopped:
            out.append(self._message_delta("end_turn", None, None))
        self._done = True
        out.append(_frame("message_stop", {"type": "message_stop"}))
        return out


class StreamParser:
    """Anthropic upstream SSE -> IR events; an ``error`` event raises ``ProxyError``.

    Blocks the IR cannot carry (server tool use and results) are skipped whole, and the IR
    indexes of the rest renumbered so they stay gap-free.
    """

    __slots__ = ("_index", "_next", "_usage", "_started", "_stopped")

    def __init__(self) -> None:
        self._index: dict[int, int] = {}  # upstream index -> IR index, for carried blocks
        self._next = 0
        self._usage = ir.Usage()
        self._started = False
        self._stopped = False

    def feed(self, ev: sse.SSEEvent) -> list[ir.Event]:
        if ev.comment is not None or not ev.data:
            return []
        try:
            data = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            raise errors.UpstreamError("upstream sent a stream event that is not JSON") from None
        if not isinstance(data, dict):
            raise errors.UpstreamError("upstream sent a stream event that is not a JSON object")
        kind = data.get("type")
        if not isinstance(kind, str):
            kind = ev.event
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_stop":
            i = self._index.get(_int(data.get("index")))
            return [] if i is None else [ir.BlockStop(i)]
        if kind == "message_start":
            self._started = True
            msg = data.get("message")
            msg = msg if isinstance(msg, dict) else {}
            mid, model = msg.get("id"), msg.get("model")
            self._usage = usage_in(msg.get("usage"))
            return [
                ir.MessageStart(
                    mid if isinstance(mid, str) else "",
                    model if isinstance(model, str) else "",
                    self._usage,
                )
            ]
        if kind == "message_delta":
            delta = data.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            seq = delta.get("stop_sequence")
            self._usage = self._usage.merged(usage_in(data.get("usage")))
            return [
                ir.MessageDelta(
                    stop_in(delta.get("stop_reason")),
                    seq if isinstance(seq, str) else None,
                    self._usage,
                )
            ]
        if kind == "message_stop":
            self._stopped = True
            return [ir.MessageStop()]
        if kind == "ping":
            return [ir.Ping()]
        if kind == "error":
            raise error_from_body(500, data)
        return []

    def finish(self) -> list[ir.Event]:
        if not self._stopped:
            what = "before message_stop" if self._started else "without sending a message"
            raise errors.UpstreamError(f"upstream stream ended {what}", retryable=not self._started)
        return []

    def _block_start(self, data: dict[str, Any]) -> list[ir.Event]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        btype = block.get("type")
        out: list[ir.Event] = []
        i = self._next
        if btype == "text":
            out.append(ir.BlockStart(i, "text"))
            text = block.get("text")
            if isinstance(text, str) and text:
                out.append(ir.TextDelta(i, text))
        elif btype == "thinking":
            out.append(ir.BlockStart(i, "thinking"))
            text, sig = block.get("thinking"), block.get("signature")
            if isinstance(text, str) and text:
                out.append(ir.ThinkingDelta(i, text))
            if isinstance(sig, str) and sig:
                out.append(ir.SignatureDelta(i, sig))
        elif btype == "redacted_thinking":
            rdata = block.get("data")
            out.append(ir.BlockStart(i, "thinking", redacted_data=rdata if isinstance(rdata, str) else ""))
        elif btype == "tool_use":
            tid, name, args = block.get("id"), block.get("name"), block.get("input")
            out.append(
                ir.BlockStart(
                    i,
                    "tool_call",
                    id=tid if isinstance(tid, str) else "",
                    name=name if isinstance(name, str) else "",
                )
            )
            text = dump_object(args) if isinstance(args, dict) and args else None
            if text:
                out.append(ir.ToolArgsDelta(i, text))
        else:
            return []
        self._index[_int(data.get("index"))] = i
        self._next += 1
        return out

    def _block_delta(self, data: dict[str, Any]) -> list[ir.Event]:
        i = self._index.get(_int(data.get("index")))
        delta = data.get("delta")
        if i is None or not isinstance(delta, dict):
            return []
        dtype = delta.get("type")
        if dtype == "text_delta":
            text = delta.get("text")
            return [ir.TextDelta(i, text)] if isinstance(text, str) and text else []
        if dtype == "input_json_delta":
            frag = delta.get("partial_json")
            return [ir.ToolArgsDelta(i, frag)] if isinstance(frag, str) and frag else []
        if dtype == "thinking_delta":
            text = delta.get("thinking")
            return [ir.ThinkingDelta(i, text)] if isinstance(text, str) and text else []
        if dtype == "signature_delta":
            sig = delta.get("signature")
            return [ir.SignatureDelta(i, sig)] if isinstance(sig, str) and sig else []
        return []  # citations_delta and future kinds


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1
