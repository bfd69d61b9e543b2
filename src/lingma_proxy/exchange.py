"""The record of one request through the proxy, handed to observers (recording, traces).

Built by the relay as the request goes; observers receive it once, after the answer was sent
(or the client left). It holds references, not copies: the raw client body and, for streams,
the rendered SSE chunks the client received (bounded by ``MAX_CAPTURE`` bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from . import ir

MAX_CAPTURE = 2 * 1024 * 1024


@dataclass(slots=True)
class Exchange:
    id: str
    started: float  # unix time
    dialect: str
    path: str = ""
    client_model: str = ""
    backend: str = ""
    upstream_model: str = ""
    stream: bool = False
    status: int = 0
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    usage: ir.Usage | None = None
    stop_reason: str | None = None
    error: str | None = None
    error_kind: str | None = None
    attempts: list[str] = field(default_factory=list)  # backend/model tried, in order
    request_body: bytes = b""
    response_body: bytes | None = None  # JSON answer (non-streaming or error)
    response: ir.Response | None = None  # the folded answer, streams included
    stream_chunks: list[bytes] = field(default_factory=list)  # what a streaming client got
    captured_bytes: int = 0
    client_gone: bool = False
    warnings: list[str] = field(default_factory=list)  # e.g. context window filling or truncated
    request_headers: Mapping[str, str] = field(default_factory=dict)  # the client's, unredacted
    query: str = ""  # the client's query string (Claude Code sends beta=true)
    response_headers: Mapping[str, str] = field(default_factory=dict)  # passthrough: the upstream's
    passthrough: bool = False  # forwarded byte for byte (relay/passthrough.py)

    def capture(self, chunk: bytes) -> None:
        if self.captured_bytes < MAX_CAPTURE:
            self.stream_chunks.append(chunk)
            self.captured_bytes += len(chunk)


class Observer(Protocol):
    def __call__(self, exchange: Exchange) -> None:
        """Take the finished exchange; must not block (queue it and return)."""
