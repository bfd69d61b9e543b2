"""The Anthropic backend through the real server: byte passthrough for Anthropic clients (the
official anthropic SDK and raw httpx for exactness), translation for OpenAI clients."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from fakes.anthropic_upstream import (
    SIGNATURE,
    AReply,
    FakeAnthropicUpstream,
    text_frames,
    thinking_frames,
    tool_frames,
)
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.config import Route
from lingma_proxy.exchange import Exchange
from server_harness import ServerThread, make_settings

CLIENT_KEY = "sk-ant-api03-client-0123456789abcdef"
CONFIG_KEY = "sk-ant-api03-configured-9876543210"
BETA = "interleaved-thinking-2025-05-14,context-management-2025-06-27,future-beta-2099-01-01"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropicUpstream]:
    f = FakeAnthropicUpstream().start_thread()
    yield f
    f.stop_thread()


@pytest.fixture
def upstream(fake: FakeAnthropicUpstream) -> FakeAnthropicUpstream:
    fake.requests.clear()
    fake.script.clear()
    return fake


def serve(fake: FakeAnthropicUpstream, key: str | None = None, **settings: Any) -> ServerThread:
    backend = AnthropicBackend("anthropic", fake.url, key, first_byte_timeout=10)
    settings.setdefault("trace", False)
    return ServerThread(make_settings(backend="anthropic", **settings), {"anthropic": backend})


@pytest.fixture
def server(upstream: FakeAnthropicUpstream) -> Iterator[ServerThread]:
    with serve(upstream) as s:
        yield s


@pytest.fixture
def seen(server: ServerThread) -> list[Exchange]:
    out: list[Exchange] = []
    server.app.state.relay.observers.append(out.append)
    return out


HISTORY_BODY = {
    "model": "claude-opus-5-5",
    "max_tokens": 128000,
    "stream": True,
    "thinking": {"type": "adaptive", "display": "omitted"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
    "x_unknown_beta_field": {"keep": ["me", 1, None]},
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "earlier thought", "signature": SIGNATURE},
            {"type": "text", "text": "hello", "x_block_extra": True}]},
        {"role": "user", "content": [{"type": "text", "text": "again", "cache_control": {"type": "ephemeral"}}]},
    ],
}


def test_passthrough_is_byte_exact(server: ServerThread, upstream: FakeAnthropicUpstream,
                                   seen: list[Exchange]) -> None:
    # Odd spacing and key order on purpose: a re-serialised body would differ.
    raw = orjson.dumps(HISTORY_BODY).replace(b'"stream":true', b'"stream" :  true')
    frames = thinking_frames()
    upstream.queue(AReply.sse(frames))
    headers = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": BETA,
               "content-type": "application/json", "x-claude-code-session-id": "sess-1"}
    with httpx.Client(timeout=10) as c:
        r = c.post(server.url + "/v1/messages?beta=true", content=raw, headers=headers)
    assert r.status_code == 200
    assert r.content == b"".join(frames)  # the answer as the upstream sent it
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["request-id"] == "req_fake_1"
    got = upstream.messages()[-1]
    assert got.body == raw and got.query == "beta=true"
    for name in ("anthropic-version", "anthropic-beta", "x-claude-code-session-id", "x-api-key"):
        assert got.header(name) == headers[name]
    assert got.header("accept-encoding") == "identity"
    ex = seen[-1]
    assert ex.passthrough and ex.status == 200 and ex.stream and ex.ttfb_ms is not None
    assert b"".join(ex.stream_chunks) == r.content and ex.query == "beta=true"
    assert ex.usage is not None and ex.usage.output_tokens == 12
    assert ex.response is not None and ex.response.content[0].signature == SIGNATURE  # type: ignore[union-attr]


def test_sdk_stream_keeps_signature(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    upstream.queue(AReply.sse(thinking_frames()))
    client = anthropic.Anthropic(base_url=server.url, api_key=CLIENT_KEY, max_retries=0)
    with client.messages.stream(model="claude-opus-5-5", max_tokens=2000,
                                thinking={"type": "enabled", "budget_tokens": 1024},
                                messages=[{"role": "user", "content": "think"}],
                                extra_headers={"anthropic-beta": BETA}, extra_query={"beta": "true"},
                                extra_body={"x_unknown_beta_field": 1}) as s:
        m = s.get_final_message()
    assert m.content[0].type == "thinking" and m.content[0].signature == SIGNATURE
    assert m.content[1].type == "text" and m.content[1].text == "Answer."
    got = upstream.messages()[-1]
    assert got.json()["x_unknown_beta_field"] == 1 and got.header("anthropic-beta") == BETA


def test_sdk_non_streaming_and_errors(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key=CLIENT_KEY, max_retries=0)
    m = client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "a"}])
    assert m.content[0].text == "Hello from Anthropic" and m.usage.input_tokens == 25  # type: ignore[union-attr]
    upstream.queue(AReply.error(429, "rate_limit_error", "slow down please"))
    with pytest.raises(anthropic.RateLimitError) as exc:
        client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "a"}])
    assert exc.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down please"}}


def test_count_tokens_is_forwarded(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    client = anthropic.Anthropic(base_url=server.url, api_key=CLIENT_KEY, max_retries=0)
    n = client.messages.count_tokens(model="claude-x", messages=[{"role": "user", "content": "count me"}],
                                     extra_query={"beta": "true"})
    got = upstream.requests[-1]
    assert got.path == "/v1/messages/count_tokens" and got.query == "beta=true"
    assert n.input_tokens == len(got.body) // 10
    assert got.header("x-api-key") == CLIENT_KEY


def test_configured_key_replaces_the_clients(upstream: FakeAnthropicUpstream) -> None:
    with serve(upstream, CONFIG_KEY) as s:
        client = anthropic.Anthropic(base_url=s.url, api_key=CLIENT_KEY, max_retries=0)
        client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "a"}])
    got = upstream.messages()[-1]
    assert got.header("x-api-key") == CONFIG_KEY
    assert CLIENT_KEY not in str(got.headers)


def test_route_renames_model_only(upstream: FakeAnthropicUpstream) -> None:
    routes = (Route("claude-opus-*", "anthropic", "claude-test"),)
    with serve(upstream, routes=routes) as s:
        client = anthropic.Anthropic(base_url=s.url, api_key=CLIENT_KEY, max_retries=0)
        client.messages.create(model="claude-opus-5-5", max_tokens=10, messages=[{"role": "user", "content": "a"}],
                               extra_body={"x_unknown_beta_field": [1, 2]})
    body = upstream.messages()[-1].json()
    assert body["model"] == "claude-test" and body["x_unknown_beta_field"] == [1, 2]


def test_upstream_down_is_a_clear_error(upstream: FakeAnthropicUpstream) -> None:
    backend = AnthropicBackend("anthropic", "http://127.0.0.1:9", None, connect_timeout=2)
    with ServerThread(make_settings(backend="anthropic", trace=False), {"anthropic": backend}) as s:
        client = anthropic.Anthropic(base_url=s.url, api_key=CLIENT_KEY, max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as exc:
            client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "a"}])
    assert exc.value.status_code == 503 and "cannot connect to the Anthropic API" in str(exc.value)


# ----------------------------------------------------------------------------- translated


def test_openai_chat_translated(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    upstream.queue(AReply.sse(text_frames("Hi there, friend")))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    stream = client.chat.completions.create(
        model="claude-sonnet-4-5", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hi there, friend"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    got = upstream.messages()[-1]
    body = got.json()
    assert body["model"] == "claude-sonnet-4-5" and body["stream"] is True and body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert got.header("x-api-key") == CLIENT_KEY  # the client's Bearer key, as Anthropic wants it
    assert got.header("anthropic-version") == "2023-06-01"


def test_openai_tool_call_and_responses(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    upstream.queue(AReply.sse(tool_frames("Bash", '{"command": "ls -la"}')))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    tools = [{"type": "function", "function": {"name": "Bash", "parameters": {
        "type": "object", "properties": {"command": {"type": "string"}}}}}]
    r = client.chat.completions.create(model="claude-x", tools=tools,  # type: ignore[arg-type]
                                       messages=[{"role": "user", "content": "list"}])
    call = r.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "Bash" and orjson.loads(call.function.arguments) == {"command": "ls -la"}
    assert upstream.messages()[-1].json()["tools"][0]["name"] == "Bash"

    upstream.queue(AReply.sse(text_frames("From responses")))
    resp = client.responses.create(model="claude-x", input="hi")
    assert resp.output_text == "From responses"


def test_upstream_error_translated(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    upstream.queue(AReply.error(400, "invalid_request_error", "prompt is too long: 300000 tokens > 200000"))
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="claude-x", messages=[{"role": "user", "content": "x"}])
    assert "prompt is too long" in str(exc.value) and CLIENT_KEY not in str(exc.value)


def test_passthrough_streams_unbuffered(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    upstream.queue(AReply.sse(text_frames(), frame_delay=0.12))  # 8 frames, about 1 s in all
    body = orjson.dumps({"model": "claude-x", "max_tokens": 10, "stream": True,
                         "messages": [{"role": "user", "content": "a"}]})
    t0 = time.perf_counter()
    with httpx.Client(timeout=10) as c, c.stream("POST", server.url + "/v1/messages", content=body,
                                                 headers={"x-api-key": CLIENT_KEY}) as r:
        chunks = r.iter_raw()
        first = next(chunks)
        t_first = time.perf_counter() - t0
        rest = b"".join(chunks)
    total = time.perf_counter() - t0
    assert first.startswith(b"event: message_start") and b"message_stop" in rest
    assert t_first < 0.6 < total


def test_client_leaving_frees_the_slot(upstream: FakeAnthropicUpstream) -> None:
    with serve(upstream, max_concurrent=1) as s:
        seen: list[Exchange] = []
        s.app.state.relay.observers.append(seen.append)
        upstream.queue(AReply.sse(text_frames(), frame_delay=0.2))
        body = orjson.dumps({"model": "claude-x", "max_tokens": 10, "stream": True,
                             "messages": [{"role": "user", "content": "a"}]})
        with httpx.Client(timeout=10) as c:
            with c.stream("POST", s.url + "/v1/messages", content=body, headers={"x-api-key": CLIENT_KEY}) as r:
                next(r.iter_raw())  # then leave mid-stream
            client = anthropic.Anthropic(base_url=s.url, api_key=CLIENT_KEY, max_retries=0, timeout=5)
            m = client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "b"}])
        assert m.content[0].text == "Hello from Anthropic"  # type: ignore[union-attr]
        deadline = time.monotonic() + 3
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    gone = [e for e in seen if e.client_gone]
    assert len(gone) == 1 and gone[0].status == 499 and gone[0].passthrough


def test_responses_input_tokens_counted_upstream(server: ServerThread, upstream: FakeAnthropicUpstream) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    n = client.responses.input_tokens.count(model="claude-x", input="hello there")
    got = upstream.requests[-1]
    assert got.path == "/v1/messages/count_tokens" and n.input_tokens == len(got.body) // 10
    assert set(got.json()) == {"model", "messages"}  # no max_tokens: count_tokens refuses it
