"""A scriptable fake of the Anthropic Messages API (aiohttp.web on 127.0.0.1, free port).

It records every request byte for byte (method, path, query, raw header pairs, body) and
answers ``POST /v1/messages`` with queued ``AReply`` scripts (raw SSE frames sent exactly as
given, a JSON body, or an error), else a small echo stream; ``/v1/messages/count_tokens``
answers ``{"input_tokens": len(body) // 10}``; ``GET /v1/models`` lists ``models``.

Faults: ``AReply.html`` / ``AReply.raw`` (any status, content type and bytes), ``AReply.error``
with status 200 (an error object in a success answer), ``error_frame`` for an ``event: error``
mid-stream, and on any reply ``header_delay``, ``first_byte_delay`` (headers at once, body
late), ``truncate_after`` bytes (``truncate_mode`` abort: the connection is cut; eof: the
body ends cleanly but short).

    fake = FakeAnthropicUpstream().start_thread()   # sync tests (the SDK clients)
    fake.queue(AReply.sse(thinking_frames("sig-abc")))
    ...
    fake.stop_thread()
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

try:
    from .served import AioFake
except ImportError:  # run by path as a script
    from served import AioFake  # type: ignore[no-redef]

SIGNATURE = "EqQBCkgIARABGAIiQHV4Ym9yZy1zaWduYXR1cmUtZm9yLXRlc3Rz+/="


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    disconnected_at: float | None = None  # time.monotonic() when the proxy hung up on us

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return orjson.loads(self.body)


_REC = web.RequestKey("rec", Recorded)  # the Recorded of a request, for _watched


@dataclass
class AReply:
    status: int = 200
    frames: list[bytes] | None = None  # SSE, sent one write per frame
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    frame_delay: float = 0.0
    # Faults (any of them sends the body by hand, after the headers):
    header_delay: float = 0.0  # before the status line
    first_byte_delay: float = 0.0  # after the headers, before the first body byte
    truncate_after: int | None = None  # body bytes sent before the body ends early
    truncate_mode: Literal["abort", "eof"] = "abort"  # abort: cut the TCP connection; eof: end it cleanly

    def faulty(self) -> bool:
        return bool(self.first_byte_delay or self.truncate_after is not None)

    @classmethod
    def sse(cls, frames: list[bytes], **kw: Any) -> AReply:
        return cls(frames=frames, content_type="text/event-stream", **kw)

    @classmethod
    def json(cls, value: Any, status: int = 200, **kw: Any) -> AReply:
        return cls(status=status, body=orjson.dumps(value), **kw)

    @classmethod
    def error(cls, status: int, etype: str, message: str, **kw: Any) -> AReply:
        """Anthropic's error JSON (``status`` 200 too: an error object in a success answer)."""
        return cls.json({"type": "error", "error": {"type": etype, "message": message}}, status, **kw)

    @classmethod
    def html(cls, status: int = 502, title: str = "502 Bad Gateway", **kw: Any) -> AReply:
        page = f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return cls(status=status, body=page.encode(), content_type="text/html", **kw)

    @classmethod
    def raw(cls, body: bytes, status: int = 200, content_type: str = "application/json", **kw: Any) -> AReply:
        """Any bytes with any status and content type (empty bodies, garbage)."""
        return cls(status=status, body=body, content_type=content_type, **kw)


def error_frame(etype: str = "overloaded_error", message: str = "Overloaded") -> bytes:
    """The ``event: error`` Anthropic sends mid-stream."""
    return frame("error", {"type": "error", "error": {"type": etype, "message": message}})


def frame(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def message_start(model: str = "claude-test", input_tokens: int = 25, **extra: Any) -> bytes:
    msg = {"id": "msg_up_1", "type": "message", "role": "assistant", "model": model, "content": [],
           "stop_reason": None, "stop_sequence": None,
           "usage": {"input_tokens": input_tokens, "output_tokens": 1}, **extra}
    return frame("message_start", {"type": "message_start", "message": msg})


def text_frames(text: str = "Hello from Anthropic", output_tokens: int = 5, model: str = "claude-test") -> list[bytes]:
    half = len(text) // 2
    return [
        message_start(model),
        frame("ping", {"type": "ping"}),
        frame("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": text[:half]}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "text_delta", "text": text[half:]}}),
        frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        frame("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                "usage": {"output_tokens": output_tokens}}),
        frame("message_stop", {"type": "message_stop"}),
    ]


def thinking_frames(signature: str = SIGNATURE) -> list[bytes]:
    """Thinking (signed) + text, with a field no SDK models (``x_future_field``) on the way."""
    return [
        message_start(x_future_field={"beta": True}),
        frame("content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "thinking_delta", "thinking": "Let me think."}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "signature_delta", "signature": signature}}),
        frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        frame("content_block_start", {"type": "content_block_start", "index": 1,
                                      "content_block": {"type": "text", "text": "", "x_future_field": 7}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 1,
                                      "delta": {"type": "text_delta", "text": "Answer."}}),
        frame("content_block_stop", {"type": "content_block_stop", "index": 1}),
        frame("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                "usage": {"output_tokens": 12}}),
        frame("message_stop", {"type": "message_stop"}),
    ]


def tool_frames(name: str = "Bash", args: str = '{"command": "ls"}') -> list[bytes]:
    return [
        message_start(),
        frame("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_up_1", "name": name, "input": {}}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "input_json_delta", "partial_json": args[:5]}}),
        frame("content_block_delta", {"type": "content_block_delta", "index": 0,
                                      "delta": {"type": "input_json_delta", "partial_json": args[5:]}}),
        frame("content_block_stop", {"type": "content_block_stop", "index": 0}),
        frame("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                "usage": {"output_tokens": 9}}),
        frame("message_stop", {"type": "message_stop"}),
    ]


class FakeAnthropicUpstream(AioFake):
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, 0
        self.requests: list[Recorded] = []
        self.script: deque[AReply] = deque()
        self.models = [{"type": "model", "id": "claude-test", "display_name": "Claude Test",
                        "created_at": "2025-01-01T00:00:00Z"}]
        self._runner: web.AppRunner | None = None
        self.disconnects = 0  # requests whose connection the proxy closed before the answer ended
        self.count_delay = 0.0  # seconds /v1/messages/count_tokens "thinks" before answering

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def queue(self, *replies: AReply) -> None:
        self.script.extend(replies)

    def messages(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    # ---- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._watched(self._messages))
        app.router.add_post("/v1/messages/count_tokens", self._watched(self._count))
        app.router.add_get("/v1/models", self._models)
        # handler_cancellation: a handler is cancelled when the proxy closes the connection,
        # which is how the fake sees (and timestamps) the proxy hanging up.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # ---- handlers

    async def _record(self, request: web.Request) -> Recorded:
        raw = await request.read()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        rec = Recorded(request.method, request.path, request.query_string, headers, raw)
        self.requests.append(rec)
        request[_REC] = rec
        return rec

    def _watched(self, handler: Any) -> Any:
        """``handler``, noting when the proxy hangs up before the answer is complete."""

        async def run(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except (asyncio.CancelledError, ConnectionResetError):
                rec = request.get(_REC)
                if rec is not None and rec.disconnected_at is None:
                    rec.disconnected_at = time.monotonic()
                self.disconnects += 1
                raise

        return run

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        reply = self.script.popleft() if self.script else None
        if reply is None:
            body = rec.json()
            if body.get("stream"):
                reply = AReply.sse(text_frames(model=body.get("model", "")))
            else:
                reply = AReply.json({"id": "msg_up_1", "type": "message", "role": "assistant",
                                     "model": body.get("model", ""),
                                     "content": [{"type": "text", "text": "Hello from Anthropic"}],
                                     "stop_reason": "end_turn", "stop_sequence": None,
                                     "usage": {"input_tokens": 25, "output_tokens": 5}})
        headers = {"request-id": "req_fake_1", "anthropic-ratelimit-requests-remaining": "99", **reply.headers}
        if reply.header_delay:
            await asyncio.sleep(reply.header_delay)
        if reply.faulty():
            return await self._faulty(request, reply, headers)
        if reply.frames is None:
            return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type,
                                headers=headers)
        resp = web.StreamResponse(status=reply.status, headers={**headers, "Content-Type": reply.content_type})
        await resp.prepare(request)
        for f in reply.frames:
            if reply.frame_delay:
                await asyncio.sleep(reply.frame_delay)
            await resp.write(f)
        await resp.write_eof()
        return resp

    async def _faulty(self, request: web.Request, reply: AReply, headers: dict[str, str]) -> web.StreamResponse:
        """Headers at once; then the body late, cut short, or both."""
        resp = web.StreamResponse(status=reply.status, headers={**headers, "Content-Type": reply.content_type})
        await resp.prepare(request)
        if reply.first_byte_delay:
            await asyncio.sleep(reply.first_byte_delay)
        pieces = reply.frames if reply.frames is not None else [reply.body or b""]
        left = reply.truncate_after
        for piece in pieces:
            if left is not None:
                piece, left = piece[:left], left - len(piece[:left])
            if piece:
                await resp.write(piece)
            if left == 0:
                break
            if reply.frame_delay:
                await asyncio.sleep(reply.frame_delay)
        if reply.truncate_after is not None and reply.truncate_mode == "abort":
            if request.transport is not None:
                request.transport.close()  # flushes what was written, then cuts: no chunked terminator
            return resp
        await resp.write_eof()
        return resp

    async def _count(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        if self.count_delay:
            await asyncio.sleep(self.count_delay)
        return web.json_response({"input_tokens": len(rec.body) // 10})

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"data": self.models, "has_more": False, "first_id": None, "last_id": None})
