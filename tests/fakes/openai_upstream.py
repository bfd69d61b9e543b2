"""A scriptable fake of an OpenAI-compatible upstream (LM Studio, Ollama, llama.cpp, vLLM).

A real HTTP server (aiohttp.web on 127.0.0.1, free port) speaking Chat Completions the way
local servers do, streaming or not. Tests queue ``Reply`` scripts; with nothing queued it
echoes ("Hello from fake: <last user text>"). It records every request it received.

In a test::

    async with FakeOpenAIUpstream() as fake:
        fake.queue(Reply.tools([Call("Bash", '{"command":"ls"}')], quirks={"omit_index"}))
        backend = OpenAICompatBackend("local", fake.base_url)

For the benchmark, in its own process (no recording, pre-encoded frames)::

    python -m tests.fakes.openai_upstream --port 8101 --latency 0 [--chunks 1000]
    python tests/fakes/openai_upstream.py --port 0      # prints "listening on <url>"

A request whose model name ends with ``chunks-<N>`` gets N small text chunks (the
1,000-chunk benchmark) without any scripting.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

try:
    from .served import AioFake
except ImportError:  # run by path as a script
    from served import AioFake  # type: ignore[no-redef]
from multidict import CIMultiDict

CREATED = 1_700_000_000
DONE = b"data: [DONE]\n\n"
_CHUNKS_MODEL = re.compile(r"chunks-(\d+)$")
_WORDS = re.compile(r"\S+\s*|\s+")

QUIRKS = frozenset(
    {
        "omit_index",  # tool_call deltas carry no "index"
        "omit_id",  # tool_call deltas carry no "id"
        "omit_type",  # tool_call deltas carry no "type"
        "args_one_blob",  # the whole arguments string arrives with the name (Ollama)
        "args_after_finish",  # argument fragments arrive after the finish_reason chunk
        "finish_stop",  # finish_reason "stop" although tool calls were made
        "usage_in_finish",  # usage rides on the finish chunk (llama.cpp), always sent
        "no_role_chunk",  # no leading {"role": "assistant"} chunk
        "no_done",  # no "data: [DONE]" at the end (the body still ends cleanly)
        "ignore_stream",  # answer plain JSON although stream=true was asked
    }
)


@dataclass(frozen=True)
class Call:
    """A tool call to emit; ``fragments`` is how many pieces the arguments stream in."""

    name: str
    arguments: str = "{}"
    id: str | None = None  # None: call_<n>
    fragments: int = 3


@dataclass
class Reply:
    """One scripted answer. Build with the class methods; timing knobs apply to all kinds."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    reasoning_field: str = "reasoning_content"  # Ollama/OpenRouter say "reasoning"
    tool_calls: list[Call] = field(default_factory=list)
    finish_reason: str | None = None  # None: "tool_calls" when calls were made, else "stop"
    quirks: frozenset[str] = frozenset()
    usage: dict[str, Any] | None = None  # overrides the derived numbers
    # Not a completion at all:
    status: int = 200
    body: bytes | None = None  # error body (status >= 400) or any fixed body
    content_type: str = "application/json"
    raw: list[bytes] | None = None  # SSE frames sent as they are
    # Timing and failure:
    header_delay: float = 0.0  # before the status line
    first_byte_delay: float = 0.0  # after the headers, before the first frame
    chunk_delay: float = 0.0  # between frames
    drop_after: int | None = None  # frames sent before the connection goes away
    drop_mode: Literal["abort", "eof"] = "abort"  # abort: cut the TCP connection
    # "eof": end the body cleanly (no finish_reason, no [DONE])
    truncate_after: int | None = None  # a fixed ``body``: bytes sent before it ends (drop_mode applies)

    def __post_init__(self) -> None:
        unknown = set(self.quirks) - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}")
        self.quirks = frozenset(self.quirks)

    @classmethod
    def of_text(cls, *chunks: str, **kw: Any) -> Reply:
        return cls(text=list(chunks), **kw)

    @classmethod
    def tools(cls, calls: Iterable[Call], *, text: Iterable[str] = (), **kw: Any) -> Reply:
        return cls(text=list(text), tool_calls=list(calls), **kw)

    @classmethod
    def thinking(cls, reasoning: Iterable[str], text: Iterable[str] = (), **kw: Any) -> Reply:
        return cls(reasoning=list(reasoning), text=list(text), **kw)

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "",
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        type: str = "invalid_request_error",
        code: str | None = None,
        **kw: Any,
    ) -> Reply:
        """An HTTP error; ``body`` replaces the OpenAI-shaped default (e.g. an HTML page)."""
        if body is None:
            err = {"message": message or f"fake error {status}", "type": type, "param": None, "code": code}
            body = orjson.dumps({"error": err})
        return cls(status=status, body=body, content_type=content_type, **kw)

    @classmethod
    def html(cls, status: int = 502, title: str = "502 Bad Gateway", **kw: Any) -> Reply:
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return cls.error(status, body=page.encode(), content_type="text/html", **kw)

    @classmethod
    def raw_sse(cls, *frames: bytes | str, **kw: Any) -> Reply:
        data = [f.encode() if isinstance(f, str) else f for f in frames]
        return cls(raw=data, content_type="text/event-stream", **kw)

    @classmethod
    def json(cls, value: Any, status: int = 200, **kw: Any) -> Reply:
        """A fixed JSON answer, whatever the request asked (stream or not)."""
        return cls(status=status, body=orjson.dumps(value), **kw)

    @classmethod
    def many(cls, n: int, piece: str = "x ", **kw: Any) -> Reply:
        return cls(text=[piece] * n, **kw)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: CIMultiDict[str]
    raw: bytes
    json: Any = None
    usage: dict[str, Any] | None = None  # the usage the fake answered with
    disconnected: bool = False  # the client went away before the answer was complete
    disconnected_at: float | None = None  # time.monotonic() when it did
    completed: bool = False


# --------------------------------------------------------------------------- rendering


def usage_for(raw_request_len: int, output_chars: int) -> dict[str, Any]:
    """Deterministic usage: a token per 4 bytes of request, per 4 characters of output."""
    p = max(1, raw_request_len // 4)
    c = max(1, output_chars // 4)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _output_chars(r: Reply) -> int:
    n = sum(map(len, r.text)) + sum(map(len, r.reasoning))
    return n + sum(len(c.arguments) for c in r.tool_calls)


def _split(s: str, n: int) -> list[str]:
    if n <= 1 or len(s) <= 1:
        return [s]
    step = -(-len(s) // n)
    return [s[i : i + step] for i in range(0, len(s), step)]


def _call_id(c: Call, i: int) -> str:
    return c.id or f"call_{i}"


def _finish_reason(r: Reply) -> str:
    if r.finish_reason is not None:
        return r.finish_reason
    if r.tool_calls and "finish_stop" not in r.quirks:
        return "tool_calls"
    return "stop"


class _Chunker:
    __slots__ = ("head", "tail")

    def __init__(self, rid: str, model: str) -> None:
        # Every chunk shares this envelope: encode it once, splice the choice in.
        pre = orjson.dumps(
            {"id": rid, "object": "chat.completion.chunk", "created": CREATED, "model": model,
             "system_fingerprint": "fp_fake"}
        )
        self.head = b"data: " + pre[:-1] + b',"choices":['
        self.tail = b"]}\n\n"

    def delta(self, delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        out = self.head + orjson.dumps(choice) + self.tail
        if usage is not None:
            out = out[: -len(self.tail)] + b'],"usage":' + orjson.dumps(usage) + b"}\n\n"
        return out

    def usage(self, usage: Any) -> bytes:
        return self.head + b'],"usage":' + orjson.dumps(usage) + b"}\n\n"


def stream_frames(r: Reply, model: str, rid: str, usage: dict[str, Any] | None) -> list[bytes]:
    """The SSE frames for ``r``; ``usage`` is sent in a last chunk when not None."""
    ch = _Chunker(rid, model)
    q = r.quirks
    out: list[bytes] = []
    if "no_role_chunk" not in q:
        out.append(ch.delta({"role": "assistant", "content": ""}))
    for piece in r.reasoning:
        out.append(ch.delta({r.reasoning_field: piece}))
    for piece in r.text:
        out.append(ch.delta({"content": piece}))
    late: list[bytes] = []
    for i, c in enumerate(r.tool_calls):
        head: dict[str, Any] = {"index": i, "id": _call_id(c, i), "type": "function",
                                "function": {"name": c.name, "arguments": ""}}
        frags = [] if "args_one_blob" in q else _split(c.arguments, c.fragments)
        if "args_one_blob" in q:
            head["function"]["arguments"] = c.arguments
        for key, quirk in (("index", "omit_index"), ("id", "omit_id"), ("type", "omit_type")):
            if quirk in q:
                del head[key]
        out.append(ch.delta({"tool_calls": [head]}))
        dest = late if "args_after_finish" in q else out
        for frag in frags:
            entry: dict[str, Any] = {"function": {"arguments": frag}}
            if "omit_index" not in q:
                entry["index"] = i
            dest.append(ch.delta({"tool_calls": [entry]}))
    if "usage_in_finish" in q:
        out.append(ch.delta({}, _finish_reason(r), usage or {}))
        usage = None
    else:
        out.append(ch.delta({}, _finish_reason(r)))
    out += late
    if usage is not None:
        out.append(ch.usage(usage))
    if "no_done" not in q:
        out.append(DONE)
    return out


def completion_body(r: Reply, model: str, rid: str, usage: dict[str, Any]) -> bytes:
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(r.text) or None}
    if r.reasoning:
        msg[r.reasoning_field] = "".join(r.reasoning)
    if r.tool_calls:
        msg["tool_calls"] = [
            {"id": _call_id(c, i), "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(r.tool_calls)
        ]
    return orjson.dumps(
        {"id": rid, "object": "chat.completion", "created": CREATED, "model": model,
         "choices": [{"index": 0, "message": msg, "logprobs": None, "finish_reason": _finish_reason(r)}],
         "usage": usage, "system_fingerprint": "fp_fake"}
    )


def _last_user_text(body: Any) -> str:
    msgs = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(msgs, list):
        return ""
    for m in reversed(msgs):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return "".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")
    return ""


def echo_reply(body: Any) -> Reply:
    return Reply(text=_WORDS.findall("Hello from fake: " + _last_user_text(body)))


# --------------------------------------------------------------------------- server


class FakeOpenAIUpstream(AioFake):
    """The fake server. ``base_url`` ends with ``/v1``; ``root_url`` has no path."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        chunks: int | None = None,
        record: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.latency = latency  # default delay before the first frame of every stream
        self.chunk_delay = chunk_delay
        self.chunks = chunks  # default replies become this many chunks
        self.record = record
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.script: deque[Reply] = deque()
        self.models: list[dict[str, Any]] = [
            {"id": "fake-model", "object": "model", "created": CREATED, "owned_by": "fake"}
        ]
        self.models_status = 200
        self.models_delay = 0.0
        self.models_body: bytes | None = None  # answer GET /v1/models with these bytes instead
        self.lmstudio_models: list[dict[str, Any]] | None = None  # GET /api/v0/models
        self.props: dict[str, Any] | None = None  # GET /props (llama.cpp)
        self.ollama_show: dict[str, dict[str, Any]] | None = None  # POST /api/show by model
        self._seq = 0
        self._many_cache: dict[tuple[int, str], list[bytes]] = {}
        self._changed: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None

    # ---- scripting

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def wait_for(self, predicate: Any, timeout: float = 2.0) -> None:
        """Wait until ``predicate()`` holds (checked whenever a request changes state)."""
        assert self._changed is not None
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    # ---- lifecycle

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/api/v0/models", self._lmstudio)
        app.router.add_get("/props", self._props)
        app.router.add_post("/api/show", self._show)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self) -> None:
        self._changed = asyncio.Event()
        self._runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    # ---- handlers

    async def _record(self, request: web.Request) -> tuple[RecordedRequest | None, bytes, Any]:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        rec = None
        if self.record:
            rec = RecordedRequest(request.method, request.path, CIMultiDict(request.headers), raw, body)
            self.requests.append(rec)
            self._notify()
        return rec, raw, body

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        rec, raw, body = await self._record(request)
        if not isinstance(body, dict):
            return _json_error(400, "request body is not a JSON object")
        model = body.get("model")
        if not isinstance(model, str):
            model = ""
        reply = self.script.popleft() if self.script else None
        self._seq += 1
        rid = f"chatcmpl-fake-{self._seq}"
        if reply is None:
            m = _CHUNKS_MODEL.search(model)
            n = int(m.group(1)) if m else self.chunks
            reply = Reply.many(n) if n else echo_reply(body)
            if n and reply.chunk_delay == 0 and self.chunk_delay == 0:
                return await self._send_many(request, rec, body, model, n, len(raw))
        if reply.header_delay:
            try:
                await asyncio.sleep(reply.header_delay)
            except asyncio.CancelledError:  # the client left while we "processed the prompt"
                self._disconnected(rec)
                raise
        late_or_cut = reply.first_byte_delay or reply.truncate_after is not None
        if reply.body is not None and reply.raw is None and late_or_cut:
            return await self._send_body(request, rec, reply)
        if reply.status >= 400 or (reply.body is not None and reply.raw is None):
            resp = web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)
            self._done(rec)
            return resp
        wants_stream = body.get("stream") is True
        usage = reply.usage or usage_for(len(raw), _output_chars(reply))
        if rec is not None:
            rec.usage = usage
        if reply.raw is None and (not wants_stream or "ignore_stream" in reply.quirks):
            out = web.Response(body=completion_body(reply, model, rid, usage), content_type="application/json")
            self._done(rec)
            return out
        if reply.raw is not None:
            frames = reply.raw
        else:
            opts = body.get("stream_options")
            include = isinstance(opts, dict) and opts.get("include_usage") is True
            frames = stream_frames(reply, model, rid, usage if include else None)
        return await self._send_frames(request, rec, frames, reply)

    async def _send_many(
        self, request: web.Request, rec: RecordedRequest | None, body: dict[str, Any], model: str,
        n: int, raw_len: int,
    ) -> web.StreamResponse:
        key = (n, model)
        frames = self._many_cache.get(key)
        if frames is None:
            frames = stream_frames(Reply.many(n, quirks=frozenset({"no_done"})), model, "chatcmpl-fake", None)
            frames = frames[:-1]  # without the finish chunk: usage varies per request
            self._many_cache[key] = frames
        opts = body.get("stream_options")
        ch = _Chunker("chatcmpl-fake", model)
        tail = [ch.delta({}, "stop")]
        if isinstance(opts, dict) and opts.get("include_usage") is True:
            tail.append(ch.usage(usage_for(raw_len, 2 * n)))
        tail.append(DONE)
        if body.get("stream") is not True:
            reply = Reply.many(n)
            usage = usage_for(raw_len, 2 * n)
            self._done(rec)
            return web.Response(body=completion_body(reply, model, "chatcmpl-fake", usage),
                                content_type="application/json")
        return await self._send_frames(request, rec, frames + tail, Reply(first_byte_delay=0.0))

    async def _send_frames(
        self, request: web.Request, rec: RecordedRequest | None, frames: list[bytes], reply: Reply
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        first_delay = reply.first_byte_delay or self.latency
        gap = reply.chunk_delay or self.chunk_delay
        limit = reply.drop_after
        try:
            if first_delay:
                await asyncio.sleep(first_delay)
            if not gap and limit is None:
                await resp.write(b"".join(frames))  # zero latency: one write, the cheapest baseline
            else:
                for i, frame in enumerate(frames):
                    if limit is not None and i >= limit:
                        break
                    if i and gap:
                        await asyncio.sleep(gap)
                    tr = request.transport
                    if tr is None or tr.is_closing():
                        raise ConnectionResetError
                    await resp.write(frame)
            if limit is not None and reply.drop_mode == "abort":
                tr = request.transport
                if tr is not None:
                    tr.close()  # flushes what was written, then cuts: no chunked terminator
                self._done(rec)
                return resp
            await resp.write_eof()
        except ConnectionResetError:
            self._disconnected(rec)
            return resp
        except asyncio.CancelledError:  # handler_cancellation: the client went away
            self._disconnected(rec)
            raise
        self._done(rec)
        return resp

    async def _send_body(self, request: web.Request, rec: RecordedRequest | None, reply: Reply) -> web.StreamResponse:
        """A fixed body with its headers at once, then late (``first_byte_delay``) or cut short."""
        resp = web.StreamResponse(status=reply.status, headers={"Content-Type": reply.content_type})
        await resp.prepare(request)
        body = reply.body or b""
        try:
            if reply.first_byte_delay:
                await asyncio.sleep(reply.first_byte_delay)
            if reply.truncate_after is not None:
                body = body[: reply.truncate_after]
            if body:
                await resp.write(body)
            if reply.truncate_after is not None and reply.drop_mode == "abort":
                if request.transport is not None:
                    request.transport.close()
                self._done(rec)
                return resp
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            self._disconnected(rec)
            raise
        self._done(rec)
        return resp

    def _disconnected(self, rec: RecordedRequest | None) -> None:
        self.disconnects += 1
        if rec is not None:
            rec.disconnected = True
            if rec.disconnected_at is None:
                rec.disconnected_at = time.monotonic()
        self._notify()

    def _done(self, rec: RecordedRequest | None) -> None:
        if rec is not None:
            rec.completed = True
            self._notify()

    async def _models(self, request: web.Request) -> web.StreamResponse:
        rec, _, _ = await self._record(request)
        if self.models_delay:
            await asyncio.sleep(self.models_delay)
        self._done(rec)
        if self.models_status != 200:
            return _json_error(self.models_status, "models unavailable")
        if self.models_body is not None:
            return web.Response(body=self.models_body, content_type="text/html")
        return web.Response(body=orjson.dumps({"object": "list", "data": self.models}),
                            content_type="application/json")

    async def _lmstudio(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if self.lmstudio_models is None:
            return await self._not_found(request, recorded=True)
        return web.Response(body=orjson.dumps({"object": "list", "data": self.lmstudio_models}),
                            content_type="application/json")

    async def _props(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if self.props is None:
            return await self._not_found(request, recorded=True)
        return web.Response(body=orjson.dumps(self.props), content_type="application/json")

    async def _show(self, request: web.Request) -> web.StreamResponse:
        _, _, body = await self._record(request)
        if self.ollama_show is None:
            return await self._not_found(request, recorded=True)
        name = body.get("model") or body.get("name") if isinstance(body, dict) else None
        info = self.ollama_show.get(name) if isinstance(name, str) else None
        if info is None:
            return web.Response(status=404, body=orjson.dumps({"error": f"model '{name}' not found"}),
                                content_type="application/json")
        return web.Response(body=orjson.dumps(info), content_type="application/json")

    async def _not_found(self, request: web.Request, recorded: bool = False) -> web.StreamResponse:
        if not recorded:
            await self._record(request)
        # LM Studio's wording for an unknown route
        return _json_error(404, f"Unexpected endpoint or method. ({request.method} {request.path})")


def _json_error(status: int, message: str) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


# --------------------------------------------------------------------------- process entry


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Fake OpenAI-compatible upstream for benchmarks")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds before the first frame")
    ap.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between frames")
    ap.add_argument("--chunks", type=int, default=None, help="default replies get N chunks")
    args = ap.parse_args(argv)

    async def serve() -> None:
        fake = FakeOpenAIUpstream(host=args.host, port=args.port, latency=args.latency,
                                  chunk_delay=args.chunk_delay, chunks=args.chunks, record=False)
        await fake.start()
        print(f"listening on {fake.root_url}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
