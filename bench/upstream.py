"""A zero-latency OpenAI-compatible upstream for the benchmark, in its own process.

Raw asyncio + httptools (uvloop when installed), every answer pre-encoded bytes, so the
baseline is as cheap as a local HTTP server can be and identical for the direct and the
proxied runs (the proxy's extra request fields change nothing in the answer):

* ``GET /v1/models``: the models list (the proxy resolves model names against it);
* ``POST /v1/chat/completions``: a short assistant reply (22 one-word chunks when the body
  asks ``"stream": true``, one JSON document otherwise); a model name ending in ``chunks-<N>``
  gets N one-word chunks (the 1,000-chunk test);
  ``paced-<N>x<MS>`` gets N one-word chunks MS milliseconds apart (a model generating);
* anything else: 404.

A stream is sent as HTTP/1.1 chunked transfer encoding, one HTTP chunk per SSE frame, like
uvicorn, Node and llama.cpp send them, written in one call (zero latency between frames).

    python bench/upstream.py [--port 0]     # prints "listening on http://127.0.0.1:PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from functools import lru_cache

import httptools
import orjson

MODEL = "bench-model"
CHUNKS_MODEL = "bench-chunks-1000"
PACED_MODEL = "bench-paced-100x10"  # 100 chunks 10 ms apart: a fast local model (~100 tok/s)
REPLY = (
    "The failing test was an off-by-one in parse_range: the upper bound was exclusive. "
    "I fixed it and the whole suite passes now."
)
WORDS = tuple(re.findall(r"\S+\s*", REPLY))  # one chunk per word, as a model streams tokens
CREATED = 1_700_000_000
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
_CHUNKS = re.compile(rb'"model"\s*:\s*"[^"]*chunks-(\d+)"')
_PACED = re.compile(rb'"model"\s*:\s*"[^"]*paced-(\d+)x(\d+)"')
_USAGE = {"prompt_tokens": 42, "completion_tokens": 30, "total_tokens": 72}


def _response(status: str, content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status.encode() + b"\r\ncontent-type: " + content_type
        + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _chunk(delta: dict[str, object], finish: str | None = None, usage: object = None) -> bytes:
    obj: dict[str, object] = {
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + orjson.dumps(obj) + b"\n\n"


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
               b"transfer-encoding: chunked\r\n\r\n")


@lru_cache(maxsize=16)
def stream_frames(n_chunks: int = 0) -> tuple[bytes, ...]:
    """HTTP chunks of a stream: REPLY word by word, or ``n_chunks`` one-word deltas; the last
    one also carries the usage chunk, [DONE] and the end of the body."""
    pieces = ["tok "] * n_chunks if n_chunks else list(WORDS)
    frames = [_chunk({"role": "assistant", "content": ""})]
    frames += [_chunk({"content": p}) for p in pieces]
    frames.append(_chunk({}, "stop"))
    frames.append(_chunk({}, usage=_USAGE))
    frames.append(b"data: [DONE]\n\n")
    http = [b"%x\r\n%s\r\n" % (len(f), f) for f in frames]
    return (*http[:-3], b"".join(http[-3:]) + b"0\r\n\r\n")


@lru_cache(maxsize=16)
def stream_answer(n_chunks: int = 0) -> bytes:
    """The whole chunked HTTP answer of a stream (see ``stream_frames``), for one write."""
    return STREAM_HEAD + b"".join(stream_frames(n_chunks))


COMPLETION = _response("200 OK", b"application/json", orjson.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": CREATED, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
    "usage": _USAGE,
}))
MODELS = _response("200 OK", b"application/json", orjson.dumps({
    "object": "list",
    "data": [{"id": m, "object": "model", "created": CREATED, "owned_by": "bench"}
             for m in (MODEL, CHUNKS_MODEL, PACED_MODEL)],
}))
NOT_FOUND = _response("404 Not Found", b"application/json",
                      b'{"error":{"message":"not found","type":"invalid_request_error"}}')


def answer(method: bytes, url: bytes, body: bytes) -> bytes | tuple[tuple[bytes, ...], float]:
    """The bytes to send, or (HTTP chunks, seconds between them) for a paced stream."""
    path = url.split(b"?", 1)[0].rstrip(b"/")
    if method == b"POST" and path.endswith(b"/chat/completions"):
        if not _STREAM_TRUE.search(body):
            return COMPLETION
        if m := _PACED.search(body):
            return stream_frames(int(m.group(1))), int(m.group(2)) / 1000
        m = _CHUNKS.search(body)
        return stream_answer(int(m.group(1)) if m else 0)
    if method == b"GET" and path.endswith(b"/models"):
        return MODELS
    return NOT_FOUND


class _Conn(asyncio.Protocol):
    __slots__ = ("body", "parser", "timers", "transport", "url")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.timers: list[asyncio.TimerHandle] = []

    def connection_lost(self, exc: Exception | None) -> None:
        for t in self.timers:
            t.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        out = answer(self.parser.get_method(), self.url, b"".join(self.body))
        self.url = b""
        self.body = []
        if isinstance(out, tuple):
            frames, gap = out
            self.transport.write(STREAM_HEAD + frames[0])
            later = asyncio.get_running_loop().call_later
            self.timers = [later(i * gap, self.transport.write, f) for i, f in enumerate(frames[1:], 1)]
            return  # keep-alive: the client sends its next request after the last frame
        self.transport.write(out)
        if not self.parser.should_keep_alive():
            self.transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Conn, host, port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{bound}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("the benchmark upstream listens on loopback only")
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
