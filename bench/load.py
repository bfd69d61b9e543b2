"""The load generator: closed-loop aiohttp clients against 127.0.0.1, interleaved rounds.

A *target* is one kind of request against one server (the fake upstream directly, or the proxy
in one dialect). A *block* sends N requests to one target from ``concurrency`` workers, each
sending its next request as soon as its previous answer has been read to the end. A *round*
runs one block of every target, in an order rotated each round so no target always runs
first (or right after the same neighbour). Overhead is computed per round (proxied median minus
the median of its direct baseline in the same round), then the median over rounds is reported:
the methodology of the published gateway overhead benchmarks (peers-and-pitfalls.md §3 A).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

SYSTEM = "You are a helpful coding assistant. Answer briefly."
QUESTION = "The test suite fails on parse_range. What is wrong?"
HEADERS = {"content-type": "application/json", "accept": "application/json"}
ANTHROPIC_HEADERS = {**HEADERS, "anthropic-version": "2023-06-01", "x-api-key": "bench"}


def chat_body(stream: bool, model: str = "bench-model") -> bytes:
    body: dict[str, Any] = {
        "model": model, "max_tokens": 256,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def messages_body(stream: bool, model: str = "claude-opus-5-5") -> bytes:
    return orjson.dumps({
        "model": model, "max_tokens": 256, "stream": stream, "system": SYSTEM,
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
    })


def responses_body(stream: bool, model: str = "gpt-5.5-codex") -> bytes:
    # Codex's shape: stateless (store false), the whole history every turn.
    return orjson.dumps({
        "model": model, "stream": stream, "store": False, "instructions": SYSTEM,
        "max_output_tokens": 256,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": QUESTION}]}],
    })


@dataclass(frozen=True)
class Target:
    name: str
    server: str  # "upstream" | "proxy"
    path: str
    body: bytes
    stream: bool
    dialect: str  # how to read the answer when validating it
    baseline: str | None = None  # the direct target this one is compared with
    headers: dict[str, str] = field(default_factory=lambda: HEADERS)


def scenario_targets() -> list[Target]:
    chat = "/v1/chat/completions"
    return [
        Target("direct_chat", "upstream", chat, chat_body(False), False, "chat"),
        Target("direct_chat_stream", "upstream", chat, chat_body(True), True, "chat"),
        Target("chat", "proxy", chat, chat_body(False), False, "chat", "direct_chat"),
        Target("chat_stream", "proxy", chat, chat_body(True), True, "chat", "direct_chat_stream"),
        Target("messages", "proxy", "/v1/messages", messages_body(False), False, "anthropic",
               "direct_chat", ANTHROPIC_HEADERS),
        Target("messages_stream", "proxy", "/v1/messages", messages_body(True), True, "anthropic",
               "direct_chat_stream", ANTHROPIC_HEADERS),
        Target("responses_stream", "proxy", "/v1/responses", responses_body(True), True, "responses",
               "direct_chat_stream"),
    ]


def stream_targets(model: str) -> list[Target]:
    """The streamed paths only, for a model name that selects the upstream's answer."""
    chat = "/v1/chat/completions"
    return [
        Target("direct_chat_stream", "upstream", chat, chat_body(True, model), True, "chat"),
        Target("chat_stream", "proxy", chat, chat_body(True, model), True, "chat", "direct_chat_stream"),
        Target("messages_stream", "proxy", "/v1/messages", messages_body(True, model), True, "anthropic",
               "direct_chat_stream", ANTHROPIC_HEADERS),
        Target("responses_stream", "proxy", "/v1/responses", responses_body(True, model), True, "responses",
               "direct_chat_stream"),
    ]


# ---------------------------------------------------------------------------- validation


def answer_text(dialect: str, stream: bool, raw: bytes) -> str:
    """The assistant text in an answer (to check every path really answers, once per target)."""
    if not stream:
        body = orjson.loads(raw)
        if dialect == "chat":
            return str(body["choices"][0]["message"]["content"])
        if dialect == "anthropic":
            return "".join(b.get("text", "") for b in body["content"])
        return "".join(c.get("text", "") for item in body["output"] for c in item.get("content", []))
    out: list[str] = []
    ended = False
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            ended = True
            continue
        ev = orjson.loads(data)
        if dialect == "chat":
            for ch in ev.get("choices", []):
                out.append(ch.get("delta", {}).get("content") or "")
        elif dialect == "anthropic":
            if ev.get("type") == "content_block_delta" and ev["delta"].get("type") == "text_delta":
                out.append(ev["delta"]["text"])
            ended = ended or ev.get("type") == "message_stop"
        else:
            if ev.get("type") == "response.output_text.delta":
                out.append(ev["delta"])
            ended = ended or ev.get("type") == "response.completed"
    if not ended:
        raise AssertionError(f"{dialect} stream did not end properly")
    return "".join(out)


async def validate(session: aiohttp.ClientSession, base: str, t: Target, expected: str) -> None:
    async with session.post(base + t.path, data=t.body, headers=t.headers) as resp:
        raw = await resp.read()
        if resp.status != 200:
            raise AssertionError(f"{t.name}: HTTP {resp.status}: {raw[:300]!r}")
    got = answer_text(t.dialect, t.stream, raw)
    if got != expected:
        raise AssertionError(f"{t.name}: unexpected answer {got[:120]!r}")


# ---------------------------------------------------------------------------- load


@dataclass
class Block:
    latencies: list[float]  # seconds, request sent -> last body byte read
    ttfb: list[float]  # seconds, request sent -> first body byte read
    errors: int
    wall: float
    server_cpu: float = 0.0  # CPU seconds the target's server used during the block

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall > 0 else 0.0


async def run_block(session: aiohttp.ClientSession, url: str, t: Target, n: int, concurrency: int,
                    time_limit: float) -> Block:
    lat: list[float] = []
    ttfb: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + time_limit
    body, headers, stream = t.body, t.headers, t.stream
    perf = time.perf_counter

    async def worker() -> None:
        nonlocal issued, errors
        while issued < n and perf() < deadline:
            issued += 1
            t0 = perf()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    content = resp.content
                    if stream:
                        await content.readany()
                        t1 = perf()
                        while await content.readany():
                            pass
                    else:
                        await resp.read()
                        t1 = perf()
                    ok = resp.status == 200
            except (TimeoutError, aiohttp.ClientError):
                errors += 1
                continue
            t2 = perf()
            if ok:
                lat.append(t2 - t0)
                ttfb.append(t1 - t0)
            else:
                errors += 1

    start = perf()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Block(lat, ttfb, errors, perf() - start)


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of an unsorted list."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


@dataclass
class Series:
    """All rounds of one target at one concurrency."""

    blocks: list[Block] = field(default_factory=list)

    def all(self, attr: str = "latencies") -> list[float]:
        return [x for b in self.blocks for x in getattr(b, attr)]

    def round_medians(self, attr: str = "latencies") -> list[float]:
        return [statistics.median(getattr(b, attr)) if getattr(b, attr) else float("nan") for b in self.blocks]

    def round_p99s(self) -> list[float]:
        return [pct(b.latencies, 99) for b in self.blocks]

    def summary(self) -> dict[str, float]:
        lat, tt = self.all(), self.all("ttfb")
        cpu = sum(b.server_cpu for b in self.blocks)
        return {
            "requests": len(lat),
            "errors": sum(b.errors for b in self.blocks),
            "p50_ms": ms(statistics.median(self.round_medians())) if lat else float("nan"),
            "p99_ms": ms(statistics.median(self.round_p99s())) if lat else float("nan"),
            "p99_pooled_ms": ms(pct(lat, 99)),
            "server_cpu_us_per_req": round(cpu / len(lat) * 1e6, 1) if lat else float("nan"),
            "ttfb_p50_ms": ms(statistics.median(self.round_medians("ttfb"))) if tt else float("nan"),
            "rps": statistics.median(b.rps for b in self.blocks) if self.blocks else 0.0,
        }


def ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def added(proxied: Series, direct: Series, attr: str = "latencies") -> float:
    """Median over rounds of (proxied round median - direct round median), in ms."""
    diffs = [p - d for p, d in zip(proxied.round_medians(attr), direct.round_medians(attr))]
    return ms(statistics.median(diffs))


def added_p99(proxied: Series, direct: Series) -> float:
    """Median over rounds of (proxied round p99 - direct round p99), in ms."""
    return ms(statistics.median(p - d for p, d in zip(proxied.round_p99s(), direct.round_p99s())))


async def run_rounds(urls: dict[str, str], targets: list[Target], concurrency: int, n: int,
                     warmup: int, rounds: int, time_limit: float,
                     cpu: Callable[[str], float] | None = None) -> dict[str, Series]:
    """Warm every target up, then ``rounds`` interleaved rounds of one block per target.

    ``cpu(server)`` reads the CPU seconds a server process has used (outside the timed loop).
    """
    timeout = aiohttp.ClientTimeout(total=60)
    sessions = {
        server: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False),
            timeout=timeout, auto_decompress=False,
        )
        for server in urls
    }
    try:
        for t in targets:
            await run_block(sessions[t.server], urls[t.server] + t.path, t, warmup, concurrency, time_limit)
        series = {t.name: Series() for t in targets}
        for r in range(rounds):
            k = r % len(targets)
            for t in targets[k:] + targets[:k]:
                c0 = cpu(t.server) if cpu else 0.0
                block = await run_block(sessions[t.server], urls[t.server] + t.path, t, n, concurrency, time_limit)
                block.server_cpu = cpu(t.server) - c0 if cpu else 0.0
                series[t.name].blocks.append(block)
        return series
    finally:
        for s in sessions.values():
            await s.close()
