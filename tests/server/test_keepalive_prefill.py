"""Keep-alive while a slow local backend processes a long prompt (item 7a).

The fake OpenAI-compatible upstream sends its headers at once and then stays silent for
``first_byte_delay`` seconds, as LM Studio or llama.cpp do during prompt processing. Through
the real server, Anthropic clients get ``event: ping`` frames during the silence and Chat and
Responses clients get SSE comments; the official SDKs still parse the streams whole.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from fakes.openai_upstream import FakeOpenAIUpstream, Reply
from lingma_proxy.config import BackendConfig
from server_harness import ServerThread, make_settings

PREFILL = 0.6  # seconds of upstream silence
INTERVAL = 0.1  # ping_interval


@pytest.fixture(scope="module")
def slow() -> Iterator[tuple[ServerThread, FakeOpenAIUpstream]]:
    fake = FakeOpenAIUpstream().start_thread()
    settings = make_settings(backend="openai", openai_base_url=fake.base_url, ping_interval=INTERVAL,
                             backends=(BackendConfig("openai", "openai", fake.base_url),))
    try:
        with ServerThread(settings) as server:
            yield server, fake
    finally:
        fake.stop_thread()


def slow_reply() -> Reply:
    return Reply.of_text("Hello", " after", " prefill", first_byte_delay=PREFILL)


CASES = [
    ("/v1/messages", {"model": "claude-opus-5-5", "max_tokens": 100, "stream": True,
                      "messages": [{"role": "user", "content": "long prompt"}]}, b'event: ping\ndata: {"type": "ping"}\n\n'),
    ("/v1/chat/completions", {"model": "gpt-5.5", "stream": True,
                              "messages": [{"role": "user", "content": "long prompt"}]}, b": ping\n\n"),
    ("/v1/responses", {"model": "gpt-5.5", "stream": True, "input": "long prompt"}, b": ping\n\n"),
]


@pytest.mark.parametrize(("path", "body", "ping"), CASES, ids=["anthropic", "chat", "responses"])
def test_pings_flow_during_the_prefill(slow: tuple[ServerThread, FakeOpenAIUpstream], path: str,
                                       body: dict[str, object], ping: bytes) -> None:
    server, fake = slow
    fake.queue(slow_reply())
    received = bytearray()
    with httpx.stream("POST", server.url + path, json=body, timeout=20) as r:
        assert r.status_code == 200
        for chunk in r.iter_raw():
            received += chunk
    raw = bytes(received)
    head = raw[: raw.index(b"Hello")]  # everything the client got before the first token
    # about PREFILL / INTERVAL pings (the Anthropic stream also opens with its own ping)
    assert head.count(ping) >= 3, head
    if path != "/v1/messages":
        assert b"event: ping" not in raw


def test_anthropic_sdk_parses_a_stream_with_prefill_pings(slow: tuple[ServerThread, FakeOpenAIUpstream]) -> None:
    server, fake = slow
    fake.queue(slow_reply())
    client = anthropic.Anthropic(base_url=server.url, api_key="x", max_retries=0, timeout=20)
    with client.messages.stream(model="claude-opus-5-5", max_tokens=100,
                                messages=[{"role": "user", "content": "long prompt"}]) as s:
        kinds = [e.type for e in s]
        m = s.get_final_message()
    assert m.content[0].type == "text" and m.content[0].text == "Hello after prefill"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert m.usage.input_tokens > 0


def test_openai_sdks_parse_streams_with_prefill_comments(slow: tuple[ServerThread, FakeOpenAIUpstream]) -> None:
    server, fake = slow
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=20)
    fake.queue(slow_reply())
    chunks = list(client.chat.completions.create(model="gpt-5.5", stream=True,
                                                 messages=[{"role": "user", "content": "long prompt"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello after prefill"
    assert chunks[-1].choices[0].finish_reason == "stop"
    fake.queue(slow_reply())
    with client.responses.stream(model="gpt-5.5", input="long prompt") as s:
        events = [e.type for e in s]
        final = s.get_final_response()
    assert final.output_text == "Hello after prefill"
    assert events[0] == "response.created" and events[-1] == "response.completed"
