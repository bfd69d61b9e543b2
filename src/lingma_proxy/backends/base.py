"""The one small interface every backend implements.

A backend turns an ``ir.Request`` into a stream of ``ir.Event``s. Non-streaming answers are
folded from the same stream by the relay, so a backend has exactly one generation path.
Errors are raised as ``errors.ProxyError`` subclasses: before the first event when the
upstream refused the request (so the relay can fall back or answer with a status), or
mid-stream when it failed later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .. import ir
from ..redaction import SecretRegistry


@dataclass(frozen=True, slots=True)
class Capabilities:
    native_tools: bool = True
    images: bool = True
    reasoning: bool = True
    count_tokens: bool = False  # the upstream can count tokens itself
    passthrough_dialect: str | None = None  # a client of this dialect may be byte-forwarded
    # list_models names every model the upstream accepts; False (Anthropic: aliases such as
    # claude-sonnet-4-5 are accepted but not listed) keeps unknown client names as they are.
    exhaustive_models: bool = True


@dataclass(frozen=True, slots=True)
class BackendState:
    """What /health and the console show about a backend."""

    name: str
    kind: str
    ok: bool
    detail: str = ""
    endpoint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Forwarded:
    """An upstream answer forwarded byte for byte (the passthrough fast path).

    ``body`` yields the upstream bytes as they arrive; closing it (``aclose``) releases the
    upstream connection, also when the client left early.
    """

    status: int
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes]


@runtime_checkable
class Passthrough(Protocol):
    """Offered by a backend whose upstream speaks ``capabilities.passthrough_dialect``.

    The relay, never the server, decides to use it: for a client of that dialect whose request
    needs no transform. ``path`` and ``query`` are the client's (``/v1/messages``,
    ``beta=true``); ``headers`` are the client's request headers.
    """

    async def passthrough(self, path: str, raw: bytes, headers: Mapping[str, str],
                          query: str = "") -> Forwarded: ...


@runtime_checkable
class UsesSecrets(Protocol):
    """Offered by a backend that holds or learns credentials beyond its configured key (the
    Lingma remote backend's login, re-read when its files change) or scrubs its own error
    texts. The composition root hands it the process's one registry once, before serving; the
    backend ``add``s what it learns, and may scrub upstream texts with it."""

    def use_secrets(self, registry: SecretRegistry) -> None: ...


# The calling client's request headers, bound by the relay for the duration of one request:
# a backend configured without a key may forward the client's own (Anthropic).
CLIENT_HEADERS: ContextVar[Mapping[str, str] | None] = ContextVar("client_headers", default=None)


@runtime_checkable
class Backend(Protocol):
    name: str
    kind: str
    capabilities: Capabilities

    async def list_models(self) -> list[ir.ModelInfo]: ...

    def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]: ...

    async def state(self) -> BackendState: ...

    async def aclose(self) -> None: ...
