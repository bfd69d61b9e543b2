"""The one small interface every backend implements.

A backend turns an ``ir.Request`` into a stream of ``ir.Event``s. Non-streaming answers are
folded from the same stream by the relay, so a backend has exactly one generation path.
Errors are raised as ``errors.ProxyError`` subclasses: before the first event when the
upstream refused the request (so the relay can fall back or answer with a status), or
mid-stream when it failed later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
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
    # The upstream enforces and reports its own context window (Anthropic): the relay's context
    # policy (relay/context.py) leaves its requests alone.
    own_context_window: bool = False
    # The upstream reads Claude Code's per-request billing header in the system prompt; every
    # other upstream gets it stripped (it changes each turn and defeats prompt caching).
    keeps_billing_header: bool = False
    # Full traces are kept for this backend when ``trace`` is unset (storage/traces.py): the
    # upstream's own bytes are worth keeping (thinking signatures).
    traced_by_default: bool = False


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

    name: str

    async def passthrough(self, path: str, raw: bytes, headers: Mapping[str, str],
                          query: str = "") -> Forwarded: ...


@runtime_checkable
class UsesSecrets(Protocol):
    """Offered by a backend that holds or learns credentials beyond its configured key (the
    Lingma remote backend's login, re-read when its files change) or scrubs its own error
    texts. The composition root hands it the process's one registry once, before serving; the
    backend ``add``s what it learns, and may scrub upstream texts with it."""

    def use_secrets(self, registry: SecretRegistry) -> None: ...


# Optional abilities, each tested by the relay with isinstance (never getattr, never the
# backend's brand). A backend offers one by defining the method.


@runtime_checkable
class TokenCounter(Protocol):
    """The upstream counts a request's input tokens itself (``capabilities.count_tokens``)."""

    async def count_tokens(self, request: ir.Request) -> int: ...


@runtime_checkable
class ContextWindows(Protocol):
    """The backend can say how many tokens ``model`` takes (LM Studio, Ollama, llama.cpp, vLLM);
    ``None`` when it cannot tell."""

    async def context_window(self, model: str) -> int | None: ...


@runtime_checkable
class PreferredModel(Protocol):
    """The model a free-form client name should go to when nothing else decides (LM Studio:
    the loaded one); ``None`` when there is no preference."""

    async def preferred_model(self) -> str | None: ...


@runtime_checkable
class ClientModels(Protocol):
    """A backend that lists models with the calling client's credentials when it has none of
    its own (Anthropic without a configured key): the relay routes with ``client_headers``."""

    async def list_models_for(self, client_headers: Mapping[str, str]) -> list[ir.ModelInfo]: ...


@runtime_checkable
class Backend(Protocol):
    name: str
    kind: str
    capabilities: Capabilities

    async def list_models(self) -> list[ir.ModelInfo]: ...

    def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]: ...

    async def state(self) -> BackendState: ...

    async def aclose(self) -> None: ...
