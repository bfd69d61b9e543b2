"""Trace files: where and with which permissions, redaction (grep for the keys), base64
markers, reassembled streams, retention."""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from fakes.anthropic_upstream import (
    SIGNATURE,
    AReply,
    FakeAnthropicUpstream,
    text_frames,
    thinking_frames,
)
from fakes.ir_backend import ScriptedBackend, text_script
from lingma_proxy.backends.anthropic import AnthropicBackend
from lingma_proxy.exchange import Exchange
from lingma_proxy.storage import trace_format
from lingma_proxy.storage.traces import TraceWriter
from server_harness import ServerThread, make_settings

CLIENT_KEY = "sk-ant-api03-CLIENTSECRET-0123456789abcdef"
PROXY_KEY = "proxy-key-SECRET-42424242"
BODY_KEY = "body-field-SECRET-777777777"
IMAGE = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 6000).decode()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropicUpstream]:
    f = FakeAnthropicUpstream().start_thread()
    yield f
    f.stop_thread()


def writer_of(server: ServerThread) -> TraceWriter:
    return next(o for o in server.app.state.relay.observers if isinstance(o, TraceWriter))


def files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json"))


def test_passthrough_trace_is_private_redacted_and_reassembled(tmp_path: Path, fake: FakeAnthropicUpstream) -> None:
    fake.queue(AReply.sse(thinking_frames()))
    backend = AnthropicBackend("claude", fake.url, None)
    settings = make_settings(backend="claude", data_dir=str(tmp_path), api_key=PROXY_KEY)
    with ServerThread(settings, {"claude": backend}) as s:
        client = anthropic.Anthropic(base_url=s.url, api_key=PROXY_KEY, max_retries=0,
                                     default_headers={"x-custom-token": CLIENT_KEY})
        with client.messages.stream(
            model="claude-opus-5-5", max_tokens=2000, extra_query={"beta": "true"},
            metadata={"user_id": "u1"}, extra_body={"credentials": {"api_key": BODY_KEY}},
            tools=[{"name": "Deploy", "input_schema": {"type": "object", "properties": {
                "api_key": {"type": "string", "description": "the key"}}}}],
            messages=[{"role": "user", "content": [
                {"type": "text", "text": f"my key is {CLIENT_KEY}, keep it safe"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": IMAGE}}]}],
        ) as stream:
            final = stream.get_final_message()
        assert writer_of(s).flush()
    assert final.content[0].signature == SIGNATURE  # type: ignore[union-attr]

    root = tmp_path / "traces"
    [path] = files(root)
    assert path.parent == root / "claude"
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = path.read_bytes()
    for secret in (CLIENT_KEY, PROXY_KEY, BODY_KEY):
        assert secret.encode() not in raw, secret
    assert IMAGE[:200].encode() not in raw

    t = orjson.loads(raw)
    assert t["backend"] == "claude" and t["passthrough"] is True and t["dialect"] == "anthropic_messages"
    req = t["request"]
    assert req["method"] == "POST" and req["path"] == "/v1/messages" and req["query"] == "beta=true"
    creds = [req["headers"][h] for h in ("x-api-key", "authorization") if h in req["headers"]]
    assert creds and set(creds) == {"[REDACTED]"}
    assert req["headers"]["x-custom-token"] == "[REDACTED]"
    assert req["headers"]["anthropic-version"].startswith("20")
    body = req["body"]
    assert body["credentials"] == {"api_key": "[REDACTED]"}
    assert body["max_tokens"] == 2000  # token counts are not secrets
    assert body["tools"][0]["input_schema"]["properties"]["api_key"]["type"] == "string"  # a schema, kept
    assert body["messages"][0]["content"][0]["text"] == "my key is [REDACTED], keep it safe"
    marker = body["messages"][0]["content"][1]["source"]["data"]
    assert marker.startswith(f"[base64 omitted: {len(IMAGE)} chars, sha256 ")

    resp = t["response"]
    assert resp["status"] == 200 and resp["headers"]["content-type"].startswith("text/event-stream")
    assert len(resp["events"]) == len(thinking_frames())
    assert resp["events"][0]["event"] == "message_start"
    msg = resp["body"]
    assert msg["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": SIGNATURE},
        {"type": "text", "text": "Answer.", "x_future_field": 7},
    ]
    assert msg["stop_reason"] == "end_turn" and msg["usage"]["output_tokens"] == 12
    assert msg["x_future_field"] == {"beta": True}
    assert t["usage"]["output_tokens"] == 12 and t["timing"]["ttfb_ms"] is not None


def test_translated_chat_stream_trace(tmp_path: Path, fake: FakeAnthropicUpstream) -> None:
    fake.queue(AReply.sse(text_frames("Hello traced world")))
    backend = AnthropicBackend("anthropic", fake.url, None)
    with ServerThread(make_settings(backend="anthropic", data_dir=str(tmp_path)), {"anthropic": backend}) as s:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
        list(client.chat.completions.create(model="claude-x", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "hi"}]))
        assert writer_of(s).flush()
    [path] = files(tmp_path / "traces" / "anthropic")
    assert CLIENT_KEY.encode() not in path.read_bytes()
    t = orjson.loads(path.read_bytes())
    assert t["passthrough"] is False and t["dialect"] == "openai_chat"
    assert t["request"]["headers"]["authorization"] == "[REDACTED]"
    msg = t["response"]["body"]
    assert msg["object"] == "chat.completion" and msg["choices"][0]["message"]["content"] == "Hello traced world"
    assert msg["choices"][0]["finish_reason"] == "stop" and msg["usage"]["completion_tokens"] == 5


def test_default_traces_only_the_anthropic_backend(tmp_path: Path) -> None:
    scripted = ScriptedBackend()
    scripted.push(*text_script("ok"))
    with ServerThread(make_settings(data_dir=str(tmp_path)), {"scripted": scripted}) as s:
        assert not any(isinstance(o, TraceWriter) for o in s.app.state.relay.observers)
    scripted.push(*text_script("ok"))
    with ServerThread(make_settings(data_dir=str(tmp_path), trace=True), {"scripted": scripted}) as s:
        anthropic.Anthropic(base_url=s.url, api_key="k", max_retries=0).messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert writer_of(s).flush()
    [path] = files(tmp_path / "traces" / "scripted")
    t = orjson.loads(path.read_bytes())
    assert t["response"]["body"]["content"][0]["text"] == "ok"  # a non-streaming answer, as sent


# ----------------------------------------------------------------------------- units


def exchange(i: int, size: int = 10) -> Exchange:
    return Exchange(id=f"ex{i:03d}", started=1_700_000_000 + i, dialect="anthropic_messages", backend="b",
                    path="/v1/messages", request_body=orjson.dumps({"model": "m", "pad": "x" * size}),
                    status=200, response_body=b'{"type":"message"}')


def test_retention_by_count_and_size(tmp_path: Path) -> None:
    w = TraceWriter(tmp_path, max_files=3)
    for i in range(5):
        w.write(exchange(i))
    assert [p.name.split("-")[1] for p in files(tmp_path)] == ["ex002.json", "ex003.json", "ex004.json"]
    one = files(tmp_path)[0].stat().st_size
    w2 = TraceWriter(tmp_path / "s", max_bytes=int(one * 2.5))
    for i in range(5):
        w2.write(exchange(i))
    assert len(files(tmp_path / "s")) == 2


def test_observer_returns_at_once(tmp_path: Path) -> None:
    w = TraceWriter(tmp_path, wants=lambda b: b == "b")
    t0 = time.perf_counter()
    for i in range(50):
        w(exchange(i, size=200_000))
    assert time.perf_counter() - t0 < 0.5  # queued: the writing happens in the thread
    assert w.flush()
    assert len(files(tmp_path)) == 50
    other = exchange(99)
    other.backend = "openai"
    w(other)
    w.close()
    assert len(files(tmp_path)) == 50


@pytest.mark.parametrize(("value", "expected"), [
    ({"api_key": "abc", "max_tokens": 5, "input_tokens": 3}, {"api_key": "[REDACTED]", "max_tokens": 5,
                                                               "input_tokens": 3}),
    ({"properties": {"password": {"type": "string"}}}, {"properties": {"password": {"type": "string"}}}),
    ({"refresh_token": "r", "github_token": "g", "prompt_cache_key": "p"},
     {"refresh_token": "[REDACTED]", "github_token": "[REDACTED]", "prompt_cache_key": "p"}),
    ({"signature": "A" * 5000}, {"signature": "A" * 5000}),
    ({"text": "word " * 500}, {"text": "word " * 500}),
])
def test_scrub_table(value: Any, expected: Any) -> None:
    assert trace_format.scrub(value, set()) == expected


def test_key_like_text_is_redacted() -> None:
    out = trace_format.scrub({"text": "export OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234 now"}, set())
    assert "sk-proj-abcdefghijklmnop1234" not in out["text"] and "[REDACTED]" in out["text"]


def test_data_url_marker() -> None:
    url = "data:image/png;base64," + IMAGE
    out = trace_format.scrub({"image_url": {"url": url}}, set())
    assert out["image_url"]["url"].startswith("[base64 omitted: ")
