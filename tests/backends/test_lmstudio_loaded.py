"""LM Studio hot model switching: a free-form client model name goes to the model LM Studio has
loaded now (looked up, cached briefly, never hard-coded)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.openai_upstream import CREATED, FakeOpenAIUpstream
from lingma_proxy.backends import openai_compat
from lingma_proxy.backends.openai_compat import OpenAICompatBackend
from lingma_proxy.relay import Relay, RelayOptions


def entry(mid: str, state: str, kind: str = "llm") -> dict[str, object]:
    return {"id": mid, "object": "model", "type": kind, "state": state, "max_context_length": 32768}


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIUpstream]:
    async with FakeOpenAIUpstream() as f:
        f.models = [{"id": m, "object": "model", "created": CREATED, "owned_by": "me"}
                    for m in ("qwen-coder", "llama-3", "nomic-embed")]
        yield f


@pytest.fixture
async def relay(fake: FakeOpenAIUpstream) -> AsyncIterator[Relay]:
    backend = OpenAICompatBackend("lmstudio", fake.root_url)
    yield Relay({"lmstudio": backend}, RelayOptions(default_backend="lmstudio"))
    await backend.aclose()


async def test_free_form_name_goes_to_the_loaded_model_and_follows_a_switch(
        fake: FakeOpenAIUpstream, relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(openai_compat, "_now", lambda: clock[0])
    fake.lmstudio_models = [entry("nomic-embed", "loaded", "embeddings"), entry("qwen-coder", "not-loaded"),
                            entry("llama-3", "loaded")]
    assert (await relay.route("claude-opus-5-5"))[1] == "llama-3"

    fake.lmstudio_models = [entry("qwen-coder", "loaded"), entry("llama-3", "not-loaded")]
    clock[0] += 1.0  # within the cache: no new lookup yet
    assert (await relay.route("claude-opus-5-5"))[1] == "llama-3"
    clock[0] += 5.0
    assert (await relay.route("claude-opus-5-5"))[1] == "qwen-coder"
    # A name the server lists is used as it is; the lookup is only for free-form names.
    assert (await relay.route("llama-3"))[1] == "llama-3"


async def test_nothing_loaded_or_not_lmstudio(fake: FakeOpenAIUpstream, relay: Relay,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(openai_compat, "_now", lambda: clock[0])
    fake.lmstudio_models = [entry("llama-3", "not-loaded")]
    assert (await relay.route("gpt-5.5"))[1] == "qwen-coder"  # JIT: the first chat model

    fake.lmstudio_models = None  # not LM Studio: 404, remembered
    clock[0] += 10
    assert (await relay.route("gpt-5.5"))[1] == "qwen-coder"
    asked = len([r for r in fake.requests if r.path == "/api/v0/models"])
    clock[0] += 10
    await relay.route("gpt-5.5")
    assert len([r for r in fake.requests if r.path == "/api/v0/models"]) == asked


async def test_configured_default_model_wins(fake: FakeOpenAIUpstream) -> None:
    fake.lmstudio_models = [entry("llama-3", "loaded")]
    backend = OpenAICompatBackend("lmstudio", fake.root_url)
    relay = Relay({"lmstudio": backend}, RelayOptions(default_backend="lmstudio", default_model="qwen-coder"))
    assert (await relay.route("claude-opus-5-5"))[1] == "qwen-coder"
    await backend.aclose()
