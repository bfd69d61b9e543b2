"""IR stream events -> Chat Completions SSE (``chat.completion.chunk`` frames).

Every chunk shares one id/created/model, so the JSON around each delta is encoded once and
each event costs one small ``orjson.dumps`` of its delta. Custom-kind tool calls stream as
functions (arguments ``{"input": ...}``): Chat has no streaming shape for custom calls.
"""

from __future__ import annotations

import time

import orjson

from ... import ir
from ._common import completion_id, finish_reason, render_usage

_DONE = b"data: [DONE]\n\n"
_PING = b": ping\n\n"
_ROLE = b'{"role":"assistant","content":""}'


class StreamRenderer:
    """``feed(ir.Event) -> list[bytes]`` of whole SSE frames; ``finish()`` closes a stream
    that ended without ``MessageStop`` so the client never hangs."""

    __slots__ = (
        "_created",
        "_done",
        "_finished",
        "_head",
        "_include_usage",
        "_n_tools",
        "_req",
        "_tail",
        "_tools",
        "_usage",
        "_usage_head",
    )  # fmt: skip

    def __init__(self, req: ir.Request | None = None, *, created: int | None = None) -> None:
        self._req = req
        self._created = int(time.time()) if created is None else created
        self._head = b""  # b'data: {"id":...,"choices":[{"index":0,"delta":'
        self._tail = b',"finish_reason":null}]}\n\n'
        self._usage_head = b""
        self._tools: dict[int, int] = {}  # IR block index -> ordinal among tool calls
        self._n_tools = 0
        self._usage = ir.Usage()
        self._finished = False  # the finish_reason chunk went out
        self._done = False  # [DONE] went out
        opts = req.extra.get("stream_options") if req is not None else None
        self._include_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))

    def _start(self, msg_id: str, model: str) -> bytes:
        prefix = (
            b'{"id":' + orjson.dumps(completion_id(msg_id))
            + b',"object":"chat.completion.chunk","created":' + str(self._created).encode()
            + b',"model":' + orjson.dumps(model)
        )  # fmt: skip
        self._head = b"data: " + prefix + b',"choices":[{"index":0,"delta":'
        self._usage_head = b"data: " + prefix + b',"choices":[],"usage":'
        return self._head + _ROLE + self._tail

    def _chunk(self, delta: bytes) -> bytes:
        return self._head + delta + self._tail

    def feed(self, ev: ir.Event) -> list[bytes]:
        if self._done:
            return []
        out: list[bytes] = []
        if not self._head and not isinstance(ev, (ir.MessageStart, ir.Ping, ir.StreamError)):
            out.append(self._start("", self._req.model if self._req is not None else ""))
        if isinstance(ev, ir.TextDelta):
            if ev.text:
                out.append(self._chunk(b'{"content":' + orjson.dumps(ev.text) + b"}"))
        elif isinstance(ev, ir.ToolArgsDelta):
            if ev.fragment:
                frag = orjson.dumps(ev.fragment)
                n = str(self._tools.get(ev.index, 0)).encode()
                out.append(self._chunk(b'{"tool_calls":[{"index":' + n + b',"function":{"arguments":' + frag + b"}}]}"))
        elif isinstance(ev, ir.ThinkingDelta):
            if ev.text:
                out.append(self._chunk(b'{"reasoning_content":' + orjson.dumps(ev.text) + b"}"))
        elif isinstance(ev, ir.BlockStart):
            if ev.kind == "tool_call":
                ordinal = self._n_tools
                self._tools[ev.index] = ordinal
                self._n_tools += 1
                call = {"index": ordinal, "id": ev.id, "type": "function",
                        "function": {"name": ev.name, "arguments": ""}}
                out.append(self._chunk(orjson.dumps({"tool_calls": [call]})))
        elif isinstance(ev, ir.MessageStart):
            if not self._head:
                out.append(self._start(ev.id, ev.model or (self._req.model if self._req is not None else "")))
            self._usage = self._usage.merged(ev.usage)
        elif isinstance(ev, ir.MessageDelta):
            self._usage = self._usage.merged(ev.usage)
            out.append(self._finish_chunk(ev.stop_reason))
        elif isinstance(ev, ir.MessageStop):
            out += self._close()
        elif isinstance(ev, ir.Ping):
            out.append(_PING)
        elif isinstance(ev, ir.StreamError):
            body = {"error": {"message": ev.message, "type": ev.kind, "param": None, "code": None}}
            out += [b"data: " + orjson.dumps(body) + b"\n\n", _DONE]
            self._done = True
        return out

    def _finish_chunk(self, reason: ir.StopReason) -> bytes:
        self._finished = True
        fr = finish_reason(reason, self._n_tools > 0).encode()
        return self._head + b'{},"finish_reason":"' + fr + b'"}]}\n\n'

    def _close(self) -> list[bytes]:
        out: list[bytes] = []
        if not self._finished:
            out.append(self._finish_chunk("end_turn"))
        if self._include_usage:
            out.append(self._usage_head + orjson.dumps(render_usage(self._usage)) + b"}\n\n")
        out.append(_DONE)
        self._done = True
        return out

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        out: list[bytes] = []
        if not self._head:
            out.append(self._start("", self._req.model if self._req is not None else ""))
        return out + self._close()

