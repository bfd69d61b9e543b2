"""The one small interface every backend implements.

A backend turns an ``ir.Request`` into a stream of ``ir.Event``s. Non-streaming answers are
folded from the same stream by the relay, so a backend has exactly one generation path.
Errors are raised as ``errors.ProxyError`` subclasses: before the first event when the
upstream refused the request (so the relay can fall back or answer with a status), or
mid-stream when it failed later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .. import ir


@dataclass(frozen=True, slots=True)
class Capabilities:
    native_tools: bool = True
    images: bool = True
    reasoning: bool = True
    count_tokens: bool = False  # the upstream can count tokens itself
    passthrough_dialect: str | None = None  # a client of this dialect may be byte-forwarded


@dataclass(frozen=True, slots=True)
class BackendState:
    """What /health and the console show about a backend."""

    name: str
    kind: str
    ok: bool
    detail: str = ""
    endpoint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    name: str
    kind: str
    capabilities: Capabilities

    async def list_models(self) -> list[ir.ModelInfo]: ...

    def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]: ...

    async def state(self) -> BackendState: ...

    async def aclose(self) -> None: ...
