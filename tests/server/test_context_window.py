"""Context-window management and local count_tokens through the real server and official SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from fakes.ir_backend import ScriptedBackend
from fakes.openai_upstream import FakeOpenAIUpstream
from lingma_proxy.config import BackendConfig
from lingma_proxy.exchange import Exchange
from lingma_proxy.features.context_window import note_text
from server_harness import ServerThread, make_settings

WORDS = "the quick brown fox jumps over the lazy dog " * 40  # ~400 tokens
BASH = {"name": "Bash", "description": "run a shell command", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}


def agent_session(rounds: int) -> list[dict[str, Any]]:
    """A task, then tool rounds (call + result), then a question: Anthropic Messages shape."""
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "Fix the build. " + WORDS}]
    for i in range(rounds):
        msgs.append({"role": "assistant", "content": [
            {"type": "text", "text": f"Step {i}."},
            {"type": "tool_use", "id": f"toolu_{i}", "name": "Bash", "input": {"command": f"make step{i}"}}]})
        msgs.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": f"output {i}: " + WORDS}]})
    msgs.append({"role": "assistant", "content": "Done."})
    msgs.append({"role": "user", "content": "What did you change?"})
    return msgs


# ------------------------------------------------------------------ error mode, three dialects


@pytest.fixture(scope="module")
def small_window() -> Iterator[tuple[ServerThread, ScriptedBackend]]:
    backend = ScriptedBackend()
    with ServerThread(make_settings(context_window=2000, context_overflow="error"), {"scripted": backend}) as s:
        yield s, backend


def test_error_mode_anthropic_sdk(small_window: tuple[ServerThread, ScriptedBackend]) -> None:
    server, backend = small_window
    seen = len(backend.requests)
    client = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=20)
    for stream in (False, True):
        with pytest.raises(anthropic.BadRequestError) as info:
            client.messages.create(model="claude-opus-5-5", max_tokens=1000, stream=stream,
                                   messages=[{"role": "user", "content": WORDS * 6}])
        err = info.value
        assert err.status_code == 400
        assert err.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
        message = err.body["error"]["message"]  # type: ignore[index]
        assert message.startswith("prompt is too long: ") and "tokens > 1500 maximum" in message
        assert "2000-token context window" in message and "context_overflow=truncate" in message
    assert len(backend.requests) == seen  # nothing reached the backend


def test_error_mode_openai_chat_sdk(small_window: tuple[ServerThread, ScriptedBackend]) -> None:
    server, _ = small_window
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=20)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": WORDS * 6}])
    assert info.value.status_code == 400 and info.value.code == "context_length_exceeded"
    assert "prompt is too long" in info.value.message and "tokens > 1500 maximum" in info.value.message


def test_error_mode_openai_responses_sdk(small_window: tuple[ServerThread, ScriptedBackend]) -> None:
    server, _ = small_window
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=20)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input=WORDS * 6, stream=True)
    assert info.value.status_code == 400 and info.value.code == "context_length_exceeded"
    assert "prompt is too long" in info.value.message


def test_under_the_limit_passes_and_count_tokens_is_cached(small_window: tuple[ServerThread, ScriptedBackend]) -> None:
    server, _ = small_window
    client = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=20)
    m = client.messages.create(model="claude-opus-5-5", max_tokens=100,
                               messages=[{"role": "user", "content": "hello"}])
    assert m.content[0].type == "text"
    relay = server.app.state.relay
    hits = relay.count_cache.hits
    body: dict[str, Any] = {"model": "claude-opus-5-5", "tools": [BASH], "system": "be brief",
                            "messages": agent_session(2)}
    counts = [client.messages.count_tokens(**body).input_tokens for _ in range(5)]  # type: ignore[arg-type]
    assert len(set(counts)) == 1 and counts[0] > 1000  # count_tokens is never refused for size
    assert relay.count_cache.hits == hits + 4
    fewer = client.messages.count_tokens(model="claude-opus-5-5", messages=agent_session(2)).input_tokens
    assert fewer < counts[0]  # system and tools are counted
    assert relay.count_cache.hits == hits + 4


# ------------------------------------------------------------------ truncation, LM Studio discovery


@pytest.fixture(scope="module")
def lmstudio() -> Iterator[tuple[ServerThread, FakeOpenAIUpstream]]:
    fake = FakeOpenAIUpstream().start_thread()
    fake.lmstudio_models = [{"id": "fake-model", "type": "llm", "state": "loaded",
                             "loaded_context_length": 3000, "max_context_length": 131072}]
    settings = make_settings(backend="openai", openai_base_url=fake.base_url, context_overflow="truncate",
                             backends=(BackendConfig("openai", "openai", fake.base_url),))
    try:
        with ServerThread(settings) as server:
            yield server, fake
    finally:
        fake.stop_thread()


def test_truncation_against_a_discovered_lmstudio_window(lmstudio: tuple[ServerThread, FakeOpenAIUpstream]) -> None:
    server, fake = lmstudio
    exchanges: list[Exchange] = []
    server.app.state.relay.observers.append(exchanges.append)
    client = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=20)
    m = client.messages.create(model="claude-opus-5-5", max_tokens=64000, tools=[BASH],  # type: ignore[list-item]
                               messages=agent_session(12))  # type: ignore[arg-type]
    assert m.content[0].type == "text" and "What did you change?" in m.content[0].text  # the fake echoes
    sent = fake.chat_requests()[-1].json
    msgs = sent["messages"]
    roles = [x["role"] for x in msgs]
    assert roles[0] == "user" and "system" not in roles[1:]
    assert len(msgs) < 2 * 12 + 3
    first = msgs[0]["content"] if isinstance(msgs[0]["content"], str) else "".join(
        p.get("text", "") for p in msgs[0]["content"])
    assert first.startswith("Fix the build.")
    dropped = 2 * 12 + 3 - len(msgs)
    assert note_text(dropped) in first
    calls: set[str] = set()
    for x in msgs:
        for c in x.get("tool_calls") or ():
            calls.add(c["id"])
        if x["role"] == "tool":
            assert x["tool_call_id"] in calls, "orphan tool result sent upstream"
    answered = {x["tool_call_id"] for x in msgs if x["role"] == "tool"}
    assert calls == answered
    assert sent["max_tokens"] < 3000  # 64000 lowered to what the window leaves
    ex = exchanges[-1]
    assert ex.warnings and ex.warnings[0].startswith(f"context window: dropped the {dropped} oldest messages")


def test_count_tokens_stays_local_with_a_real_upstream(lmstudio: tuple[ServerThread, FakeOpenAIUpstream]) -> None:
    server, fake = lmstudio
    before = len(fake.requests)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=20)
    n = client.responses.input_tokens.count(model="gpt-5.5", input="hello there")
    assert 5 <= n.input_tokens <= 20
    raw = orjson.dumps({"model": "gpt-5.5", "input": "hello there"})
    again = client.post("/responses/input_tokens", body=orjson.loads(raw), cast_to=object)
    assert isinstance(again, dict) and again["input_tokens"] == n.input_tokens
    assert server.app.state.relay.count_cache.hits >= 1
    assert all(not r.path.endswith("/chat/completions") for r in fake.requests[before:])
