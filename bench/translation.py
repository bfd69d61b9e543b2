"""In-process cost of translating a 200 KB Claude Code request to an OpenAI Chat upstream.

No HTTP: the same functions the proxy runs per request, stage by stage, on one request body:

decode      ``orjson.loads`` of the raw body (``relay.decode_json``)
parse       ``anthropic_messages.parse_request`` (wire -> IR)
prepare     ``Relay.prepare`` (billing-header hygiene, upstream model name) and the relay's
            transform planning (``relay.transforms.plan_transforms``) when it exists
estimate    ``tokens.estimate_request`` (the input-token estimate every call mints)
render      ``OpenAICompatBackend.payload`` (``openai_chat.render_request``, streaming)
dumps       ``orjson.dumps`` of the upstream payload

``total`` runs them all in sequence (what one request costs); ``count_tokens`` is what
``/v1/messages/count_tokens`` costs (decode + parse + estimate).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from lingma_proxy import ir
from lingma_proxy.backends.openai_compat import OpenAICompatBackend
from lingma_proxy.dialects import anthropic_messages
from lingma_proxy.features import tokens
from lingma_proxy.relay import Relay, RelayOptions, decode_json

try:
    from lingma_proxy.relay.transforms import plan_transforms
except ImportError:  # a relay without feature transforms
    plan_transforms = None

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import claude_request  # bench/ is a folder of scripts, not a package

# Built, never connected: no I/O happens until stream() or list_models() is called.
BACKEND = OpenAICompatBackend("bench", "http://127.0.0.1:9/v1", default_model="bench-model")


def upstream_payload(ureq: ir.Request) -> dict[str, Any]:
    """The body the OpenAI backend sends upstream."""
    payload: dict[str, Any] = BACKEND.payload(ureq)
    return payload


def relay_prepare(relay: Relay, req: ir.Request) -> ir.Request:
    ureq = relay.prepare(req, BACKEND, "bench-model")
    if plan_transforms is not None:
        _, ureq = plan_transforms(req, ureq, BACKEND, relay.options.tool_mode)
    return ureq


def _time(fn: Callable[[], object], repeat: int, budget: float) -> dict[str, float]:
    for _ in range(3):
        fn()
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < repeat and (len(samples) < 5 or time.perf_counter() < deadline):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "n": len(samples)}


def measure(repeat: int = 50, budget: float = 4.0) -> dict[str, Any]:
    """Stage timings (ms) of one ~200 KB Claude Code request; GC stays on, as in the proxy."""
    body = claude_request.build()
    raw = orjson.dumps(body)
    relay = Relay({}, RelayOptions())
    decoded = decode_json(raw)
    req = anthropic_messages.parse_request(decoded)
    ureq = relay_prepare(relay, req)
    payload = upstream_payload(ureq)
    out = orjson.dumps(payload)

    def total() -> None:
        r = anthropic_messages.parse_request(decode_json(raw))
        tokens.estimate_request(r)
        orjson.dumps(upstream_payload(relay_prepare(relay, r)))

    def count() -> object:
        return tokens.estimate_request(anthropic_messages.parse_request(decode_json(raw)))

    stages: dict[str, Callable[[], object]] = {
        "decode": lambda: decode_json(raw),
        "parse": lambda: anthropic_messages.parse_request(decoded),
        "prepare": lambda: relay_prepare(relay, req),
        "estimate": lambda: tokens.estimate_request(req),
        "render": lambda: upstream_payload(ureq),
        "dumps": lambda: orjson.dumps(payload),
        "total": total,
        "count_tokens": count,
    }
    results = {name: _time(fn, repeat, budget) for name, fn in stages.items()}
    return {
        "request_bytes": len(raw),
        "upstream_bytes": len(out),
        "messages": len(body["messages"]),
        "tools": len(body["tools"]),
        "system_bytes": len(orjson.dumps(body["system"])),
        "estimated_input_tokens": tokens.estimate_request(req),
        "stages": results,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
