"""relay.context: where the limit comes from, what is sent, what is recorded; the count cache."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fakes.ir_backend import ScriptedBackend
from lingma_proxy import errors, ir
from lingma_proxy.backends.base import Capabilities
from lingma_proxy.config import BackendConfig, Settings
from lingma_proxy.exchange import Exchange
from lingma_proxy.features import tokens
from lingma_proxy.relay import RelayOptions
from lingma_proxy.relay.context import apply_context_policy, backend_context_windows, context_limit, reserve_for
from lingma_proxy.relay.count_cache import CountCache


class Discovering(ScriptedBackend):
    def __init__(self, window: int | None, listed: int | None = None, kind: str = "openai") -> None:
        # an Anthropic upstream says so by its capability, not its brand
        super().__init__("local", capabilities=Capabilities(own_context_window=kind == "anthropic"))
        self.kind = kind
        self.window = window
        self.listed = listed
        self.asked: list[str] = []

    async def context_window(self, model: str) -> int | None:
        self.asked.append(model)
        return self.window

    async def list_models(self) -> list[ir.ModelInfo]:
        return [ir.ModelInfo(id="test-model", backend=self.name, upstream_id="test-model",
                             context_window=self.listed)]


def big_request(n: int = 40, max_tokens: int | None = None) -> ir.Request:
    msgs: list[ir.Message] = []
    for i in range(n):
        msgs += [ir.Message("user", (ir.TextPart(f"question {i} " + "words " * 60),)),
                 ir.Message("assistant", (ir.TextPart(f"answer {i} " + "words " * 60),))]
    msgs.append(ir.Message("user", (ir.TextPart("last question"),)))
    return ir.Request("test-model", tuple(msgs), system=(ir.TextPart("be brief"),), max_tokens=max_tokens)


@pytest.mark.parametrize(("options", "backend", "expected"), [
    (RelayOptions(context_windows={"local": 1000}, context_window=2000), Discovering(3000, 4000), 1000),
    (RelayOptions(context_window=2000), Discovering(3000, 4000), 2000),
    (RelayOptions(), Discovering(3000, 4000), 3000),
    (RelayOptions(), Discovering(None, 4000), 4000),  # the model list (Lingma catalog)
    (RelayOptions(), Discovering(None, None), None),
    (RelayOptions(), ScriptedBackend(), None),  # no discovery method at all
])
async def test_limit_sources_in_order(options: RelayOptions, backend: Any, expected: int | None) -> None:
    assert await context_limit(backend, "test-model", options) == expected


async def test_no_limit_known_sends_the_request_untouched() -> None:
    req = big_request()
    assert await apply_context_policy(req, req, Discovering(None), RelayOptions()) is req


async def test_anthropic_backends_are_skipped() -> None:
    backend = Discovering(100, kind="anthropic")
    req = big_request()
    assert await apply_context_policy(req, req, backend, RelayOptions(context_window=100)) is req
    assert backend.asked == []


async def test_error_mode_raises_with_the_upstream_model_name() -> None:
    req = big_request()
    with pytest.raises(errors.ContextLengthExceeded) as info:
        await apply_context_policy(req, req, Discovering(2000), RelayOptions())
    assert "model test-model has a 2000-token context window" in info.value.message
    assert "500 tokens are kept for the answer" in info.value.message  # a quarter: no max_tokens given


async def test_truncate_mode_records_the_warning_on_the_exchange(caplog: pytest.LogCaptureFixture) -> None:
    req = big_request(max_tokens=32000)
    ex = Exchange(id="x", started=0.0, dialect="anthropic_messages")
    with caplog.at_level(logging.WARNING, "lingma_proxy.relay"):
        out = await apply_context_policy(req, req, Discovering(4000), RelayOptions(context_overflow="truncate"), ex)
    est = tokens.estimate_request(out)
    assert est <= 3000 and out.messages[-1] == req.messages[-1]
    assert len(ex.warnings) == 1 and ex.warnings[0].startswith("context window: dropped the ")
    assert ex.warnings[0] in caplog.text and "backend local" in caplog.text
    # 32000 output tokens cannot fit next to the prompt: lowered to what is left of the window
    assert out.max_tokens == 4000 - est


async def test_warning_at_75_percent_without_changes() -> None:
    req = big_request(5, max_tokens=10)
    est = tokens.estimate_request(req)
    ex = Exchange(id="x", started=0.0, dialect="openai_chat")
    out = await apply_context_policy(req, req, Discovering(int(est / 0.8)), RelayOptions(), ex)
    assert out is req
    assert ex.warnings == [f"context window: the prompt fills 80% of the {int(est / 0.8)}-token window "
                           f"({est} estimated tokens)"]


def test_reserve_is_max_tokens_capped_at_a_quarter() -> None:
    assert reserve_for(big_request(max_tokens=1000), 32768) == 1000
    assert reserve_for(big_request(max_tokens=64000), 32768) == 8192
    assert reserve_for(big_request(), 32768) == 4096


def test_backend_options_context_window_is_read_from_settings() -> None:
    s = Settings(backends=(BackendConfig("a", "openai", "http://x/v1", options={"context_window": 8192}),
                           BackendConfig("b", "openai", "http://y/v1")))
    assert backend_context_windows(s) == {"a": 8192}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_count_cache_by_body_hash_with_ttl_and_size() -> None:
    clock = Clock()
    cache = CountCache(ttl=30, size=2, clock=clock)
    k1 = CountCache.key("anthropic_messages", b'{"a":1}')
    assert CountCache.key("openai_responses", b'{"a":1}') != k1
    assert cache.get(k1) is None
    cache.put(k1, b"one")
    assert cache.get(k1) == b"one" and cache.hits == 1
    clock.now = 30.0
    assert cache.get(k1) is None  # expired
    cache.put(k1, b"one")
    k2, k3 = CountCache.key("x", b"2"), CountCache.key("x", b"3")
    cache.put(k2, b"two")
    cache.put(k3, b"three")
    assert cache.get(k1) is None and cache.get(k2) == b"two" and cache.get(k3) == b"three"
