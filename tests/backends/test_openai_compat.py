"""OpenAICompatBackend against a real HTTP fake of LM Studio/Ollama/llama.cpp/vLLM."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from fakes.openai_upstream import Call, FakeOpenAIUpstream, Reply, usage_for
from lingma_proxy import errors, ir
from lingma_proxy.backends import openai_compat
from lingma_proxy.backends.base import Backend, BackendState
from lingma_proxy.backends.openai_compat import (
    OpenAICompatBackend,
    normalize_base_url,
    probe,
)

KEY = "sk-test-5ecret-key"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIUpstream]:
    async with FakeOpenAIUpstream() as f:
        yield f


@pytest.fixture
async def backend(fake: FakeOpenAIUpstream) -> AsyncIterator[OpenAICompatBackend]:
    b = OpenAICompatBackend("local", fake.root_url, KEY, first_byte_timeout=5)
    yield b
    await b.aclose()


def req(text: str = "hi there", model: str = "fake-model", **kw: Any) -> ir.Request:
    return ir.Request(model=model, messages=(ir.Message("user", (ir.TextPart(text),)),), **kw)


async def collect(b: OpenAICompatBackend, r: ir.Request | None = None) -> list[ir.Event]:
    return [ev async for ev in b.stream(r or req())]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_well_formed(events: list[ir.Event]) -> None:
    """The IR stream invariants: one start, sequential gap-free blocks, delta, stop last."""
    assert isinstance(events[0], ir.MessageStart)
    assert isinstance(events[-2], ir.MessageDelta) and isinstance(events[-1], ir.MessageStop)
    open_block, next_index = None, 0
    for ev in events[1:-2]:
        if isinstance(ev, ir.BlockStart):
            assert open_block is None and ev.index == next_index
            open_block, next_index = ev.index, next_index + 1
        elif isinstance(ev, ir.BlockStop):
            assert ev.index == open_block
            open_block = None
        elif isinstance(ev, (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)):
            assert ev.index == open_block
    assert open_block is None


def usage_of(fake: FakeOpenAIUpstream) -> ir.Usage:
    u = fake.chat_requests()[-1].usage
    assert u is not None
    return ir.Usage(input_tokens=u["prompt_tokens"], output_tokens=u["completion_tokens"])


# --------------------------------------------------------------------------- success paths


def test_is_a_backend() -> None:
    b = OpenAICompatBackend("x", "http://127.0.0.1:1")
    assert isinstance(b, Backend)
    assert b.capabilities.native_tools and b.capabilities.images and b.capabilities.reasoning
    assert not b.capabilities.count_tokens
    assert KEY not in repr(OpenAICompatBackend("x", "http://127.0.0.1:1", KEY))


async def test_text_stream(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.of_text("Hel", "lo", " world"))
    events = await collect(backend)
    assert_well_formed(events)
    assert [e for e in events if isinstance(e, ir.TextDelta)] == [
        ir.TextDelta(0, "Hel"), ir.TextDelta(0, "lo"), ir.TextDelta(0, " world")
    ]
    assert ir.accumulate(events) == ir.Response(
        id="chatcmpl-fake-1", model="fake-model", content=(ir.TextPart("Hello world"),),
        stop_reason="end_turn", usage=usage_of(fake),
    )


async def test_default_echo_and_request_shape(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    events = await collect(backend, req("ping pong", stream=False, max_tokens=50))
    assert ir.accumulate(events).text() == "Hello from fake: ping pong"
    (rec,) = fake.chat_requests()
    assert rec.path == "/v1/chat/completions"
    assert rec.headers["Authorization"] == f"Bearer {KEY}"
    assert rec.headers["Accept"] == "text/event-stream"
    assert rec.headers["Content-Type"] == "application/json"
    body = rec.json
    # Always streamed upstream, even for a non-streaming client; usage asked for.
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "fake-model" and body["max_tokens"] == 50
    assert body["messages"][-1]["role"] == "user"


async def test_no_authorization_without_key(fake: FakeOpenAIUpstream) -> None:
    b = OpenAICompatBackend("local", fake.base_url)
    try:
        await collect(b)
        await b.list_models()
    finally:
        await b.aclose()
    assert all("Authorization" not in r.headers for r in fake.requests)


async def test_default_model_fills_an_empty_model(fake: FakeOpenAIUpstream) -> None:
    b = OpenAICompatBackend("local", fake.base_url, default_model="qwen3-coder")
    try:
        await collect(b, req(model=""))
    finally:
        await b.aclose()
    assert fake.chat_requests()[0].json["model"] == "qwen3-coder"


async def test_events_are_yielded_as_they_arrive(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.of_text("a", "b", "c", chunk_delay=0.3))
    t0 = time.monotonic()
    first_text = None
    async for ev in backend.stream(req()):
        if isinstance(ev, ir.TextDelta) and first_text is None:
            first_text = time.monotonic() - t0
    total = time.monotonic() - t0
    assert first_text is not None and first_text < 0.5 and total >= 0.9


async def test_json_answer_to_a_stream_request(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.of_text("Hi", " there", quirks={"ignore_stream"}))
    events = await collect(backend)
    expected = ir.Response(
        id="chatcmpl-fake-1", model="fake-model", content=(ir.TextPart("Hi there"),),
        stop_reason="end_turn", usage=usage_of(fake),
    )
    assert events == ir.response_events(expected)


async def test_thousand_chunks(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.many(1000))
    events = await collect(backend)
    assert sum(isinstance(e, ir.TextDelta) for e in events) == 1000
    assert ir.accumulate(events).text() == "x " * 1000


async def test_chunks_model_needs_no_script(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    events = await collect(backend, req(model="bench-chunks-50"))
    assert ir.accumulate(events).text() == "x " * 50


# --------------------------------------------------------------------------- tools and reasoning

CALLS = [
    Call("Bash", '{"command":"ls -la | grep \\"x\\""}', fragments=4),
    Call("Read", '{"path":"/tmp/\u00fc.txt"}', fragments=2),
]


@pytest.mark.parametrize(
    "quirk",
    [None, "omit_index", "omit_id", "omit_type", "args_one_blob", "args_after_finish", "finish_stop"],
)
async def test_parallel_tool_calls(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend, quirk: str | None
) -> None:
    fake.queue(Reply.tools(CALLS, text=["Let me look."], quirks=frozenset({quirk} if quirk else ())))
    events = await collect(backend)
    assert_well_formed(events)
    resp = ir.accumulate(events)
    assert resp.stop_reason == "tool_use"
    assert resp.text() == "Let me look."
    calls = resp.tool_calls()
    assert [(c.name, c.parsed_arguments()) for c in calls] == [
        ("Bash", {"command": 'ls -la | grep "x"'}),
        ("Read", {"path": "/tmp/\u00fc.txt"}),
    ]
    if quirk == "omit_id":
        assert all(c.id for c in calls) and calls[0].id != calls[1].id
    else:
        assert [c.id for c in calls] == ["call_0", "call_1"]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend, field: str) -> None:
    fake.queue(Reply.thinking(["Let me ", "think."], ["Answer"], reasoning_field=field))
    events = await collect(backend)
    assert_well_formed(events)
    assert ir.accumulate(events).content == (ir.ThinkingPart("Let me think."), ir.TextPart("Answer"))


async def test_think_tags_in_content_become_thinking(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.of_text("<thi", "nk>hm", "m</think>", "Answer"))
    events = await collect(backend)
    assert_well_formed(events)
    assert ir.accumulate(events).content == (ir.ThinkingPart("hmm"), ir.TextPart("Answer"))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, errors.InvalidRequest, False),
        (401, errors.AuthenticationFailed, False),
        (404, errors.NotFound, False),
        (429, errors.RateLimited, True),
        (500, errors.UpstreamError, True),
        (502, errors.UpstreamError, True),
        (503, errors.Overloaded, True),
    ],
)
async def test_http_errors(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend, status: int, cls: type, retryable: bool
) -> None:
    fake.queue(Reply.error(status, f"upstream says no ({status}) to {KEY}"))
    gen = backend.stream(req())
    with pytest.raises(errors.ProxyError) as info:
        await gen.__anext__()  # raised before any event
    err = info.value
    assert type(err) is cls and err.retryable is retryable
    assert f"upstream says no ({status})" in err.message
    assert "/v1/chat/completions" in err.message and f"HTTP {status}" in err.message
    assert KEY not in err.message and KEY not in str(err)


async def test_html_502_page(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.html(502))
    with pytest.raises(errors.UpstreamError) as info:
        await collect(backend)
    err = info.value
    assert type(err) is errors.UpstreamError and err.status == 502 and err.retryable
    assert "HTML page (502 Bad Gateway)" in err.message and "<" not in err.message
    assert "/v1/chat/completions" in err.message


async def test_connection_refused_names_the_url_not_the_key() -> None:
    port = free_port()
    b = OpenAICompatBackend("local", f"http://user:pw@127.0.0.1:{port}", KEY)
    try:
        with pytest.raises(errors.UpstreamUnavailable) as info:
            await collect(b)
    finally:
        await b.aclose()
    msg = info.value.message
    assert f"http://127.0.0.1:{port}/v1" in msg and "LM Studio" in msg and "--openai-base-url" in msg
    assert KEY not in msg and "pw" not in msg and info.value.retryable


async def test_dns_failure() -> None:
    b = OpenAICompatBackend("local", "http://no-such-host.invalid:1234")
    try:
        with pytest.raises(errors.UpstreamUnavailable) as info:
            await collect(b)
    finally:
        await b.aclose()
    assert "no-such-host.invalid" in info.value.message


@pytest.mark.parametrize("stall", ["header_delay", "first_byte_delay"])
async def test_first_byte_timeout(fake: FakeOpenAIUpstream, stall: str) -> None:
    fake.queue(Reply(text=["late"], **{stall: 2.0}))
    b = OpenAICompatBackend("local", fake.base_url, first_byte_timeout=0.3)
    t0 = time.monotonic()
    try:
        with pytest.raises(errors.UpstreamTimeout) as info:
            await collect(b)
    finally:
        await b.aclose()
    assert time.monotonic() - t0 < 1.5
    assert "first-byte timeout" in info.value.message and info.value.retryable


async def test_total_timeout(fake: FakeOpenAIUpstream) -> None:
    fake.queue(Reply.of_text("a", "b", "c", "d", chunk_delay=0.4))
    b = OpenAICompatBackend("local", fake.base_url, total_timeout=0.6)
    try:
        with pytest.raises(errors.UpstreamTimeout) as info:
            await collect(b)
    finally:
        await b.aclose()
    assert "total timeout" in info.value.message


@pytest.mark.parametrize("mode", ["abort", "eof"])
async def test_drop_mid_stream_is_an_error(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend, mode: str) -> None:
    fake.queue(Reply.of_text("a", "b", "c", "d", drop_after=3, drop_mode=mode))
    seen: list[ir.Event] = []
    with pytest.raises(errors.UpstreamError) as info:
        async for ev in backend.stream(req()):
            seen.append(ev)
    assert "closed the stream before it finished" in info.value.message
    assert [e for e in seen if isinstance(e, ir.TextDelta)] == [ir.TextDelta(0, "a"), ir.TextDelta(0, "b")]
    assert not any(isinstance(e, ir.MessageStop) for e in seen)


async def test_empty_body_is_an_error(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.raw_sse())
    with pytest.raises(errors.UpstreamError, match="closed the stream before it finished"):
        await collect(backend)


@pytest.mark.parametrize("how", ["no_done", "abort_after_finish"])
async def test_end_after_finish_reason_without_done_is_fine(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend, how: str
) -> None:
    if how == "no_done":
        fake.queue(Reply.of_text("ok", quirks={"no_done"}))
    else:  # role, text, finish, usage frames sent; the connection is cut before [DONE]
        fake.queue(Reply.of_text("ok", drop_after=4))
    events = await collect(backend)
    assert_well_formed(events)
    assert ir.accumulate(events).text() == "ok"


async def test_error_event_in_stream(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.queue(Reply.raw_sse(
        b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":'
        b'[{"index":0,"delta":{"role":"assistant","content":"par"},"finish_reason":null}]}\n\n',
        b'data: {"error":{"message":"model crashed","type":"server_error"}}\n\n',
    ))
    with pytest.raises(errors.ProxyError, match="model crashed"):
        await collect(backend)


async def test_consumer_leaving_closes_the_upstream_connection(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend
) -> None:
    fake.queue(Reply.many(500, chunk_delay=0.01))
    gen = backend.stream(req())
    texts = 0
    async for ev in gen:
        texts += isinstance(ev, ir.TextDelta)
        if texts == 3:
            break
    await gen.aclose()  # what the relay does when the client goes away
    await fake.wait_for(lambda: fake.disconnects == 1, timeout=2)
    assert fake.chat_requests()[0].disconnected
    # The backend stays usable afterwards.
    fake.queue(Reply.of_text("again"))
    assert ir.accumulate(await collect(backend)).text() == "again"


async def test_cancel_while_waiting_for_the_first_byte_closes_the_connection(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend
) -> None:
    fake.queue(Reply(text=["late"], header_delay=5.0))
    task = asyncio.create_task(collect(backend))
    await fake.wait_for(lambda: len(fake.chat_requests()) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake.wait_for(lambda: fake.disconnects == 1, timeout=2)


async def test_connection_is_reused(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    for _ in range(3):
        await collect(backend)
    session = backend._session.current
    assert session is not None
    connector = session.connector
    assert connector is not None
    assert sum(len(v) for v in connector._conns.values()) == 1  # one idle keep-alive connection


# --------------------------------------------------------------------------- base URL


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/", "/v1/chat/completions"])
async def test_base_url_with_or_without_v1(fake: FakeOpenAIUpstream, suffix: str) -> None:
    b = OpenAICompatBackend("local", fake.root_url + suffix)
    try:
        await collect(b)
        await b.list_models()
    finally:
        await b.aclose()
    assert [r.path for r in fake.requests] == ["/v1/chat/completions", "/v1/models"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://localhost:1234", "http://localhost:1234/v1"),
        ("http://localhost:1234/v1/", "http://localhost:1234/v1"),
        ("localhost:11434", "http://localhost:11434/v1"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
        ("https://api.groq.com/openai/v1/chat/completions", "https://api.groq.com/openai/v1"),
        ("http://host:8000/v1/models", "http://host:8000/v1"),
        ("https://gen.example/v1beta/openai/", "https://gen.example/v1beta/openai"),
    ],
)
def test_normalize_base_url(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


# --------------------------------------------------------------------------- models and state


async def test_list_models_and_cache(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(openai_compat, "_now", lambda: clock[0])
    fake.models = [
        {"id": "qwen3-coder-30b", "object": "model", "owned_by": "organization_owner"},
        {"id": "llama-3.1-8b", "object": "model", "owned_by": "vllm", "max_model_len": 32768},
    ]
    expected = [
        ir.ModelInfo(id="qwen3-coder-30b", backend="local", upstream_id="qwen3-coder-30b",
                     owned_by="organization_owner"),
        ir.ModelInfo(id="llama-3.1-8b", backend="local", upstream_id="llama-3.1-8b",
                     owned_by="vllm", context_window=32768),
    ]
    assert await backend.list_models() == expected
    fake.models = [{"id": "other"}]
    clock[0] += 9
    assert await backend.list_models() == expected  # cached
    assert len([r for r in fake.requests if r.path == "/v1/models"]) == 1
    clock[0] += 2
    assert [m.id for m in await backend.list_models()] == ["other"]
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {KEY}"


async def test_list_models_errors(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.models_status = 401
    with pytest.raises(errors.AuthenticationFailed, match="/v1/models"):
        await backend.list_models()


async def test_state(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    endpoint = fake.base_url
    assert await backend.state() == BackendState(
        "local", "openai", True, "1 models", endpoint, extra={"models": ["fake-model"]}
    )
    fake.models_status = 500
    st = await backend.state()
    assert not st.ok and "HTTP 500" in st.detail and st.endpoint == endpoint
    fake.models_status, fake.models_body = 200, b"<html>some other web app</html>"
    st = await backend.state()
    assert not st.ok and "not a model list" in st.detail
    fake.models_body, fake.models_delay = None, 3.0
    t0 = time.monotonic()
    st = await backend.state()
    assert not st.ok and time.monotonic() - t0 < 2.8


async def test_state_when_nothing_listens() -> None:
    port = free_port()
    b = OpenAICompatBackend("lms", f"http://127.0.0.1:{port}", KEY, kind="lmstudio")
    try:
        st = await b.state()
    finally:
        await b.aclose()
    assert not st.ok and st.kind == "lmstudio" and f"127.0.0.1:{port}" in st.detail
    assert KEY not in st.detail


async def test_probe(fake: FakeOpenAIUpstream) -> None:
    assert await probe(fake.root_url)
    assert await probe(fake.base_url)
    assert not await probe(f"http://127.0.0.1:{free_port()}")
    fake.models_status = 404
    assert not await probe(fake.root_url)


# --------------------------------------------------------------------------- context windows


async def test_context_window_lmstudio(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.models = [{"id": "qwen3-coder-30b"}, {"id": "gemma-3"}]
    fake.lmstudio_models = [
        {"id": "qwen3-coder-30b", "type": "llm", "state": "loaded",
         "max_context_length": 262144, "loaded_context_length": 32768},
        {"id": "gemma-3", "type": "vlm", "state": "not-loaded", "max_context_length": 131072},
    ]
    assert await backend.context_window("qwen3-coder-30b") == 32768
    assert await backend.context_window("gemma-3") is None  # JIT load length unknown
    n = len(fake.requests)
    assert await backend.context_window("qwen3-coder-30b") == 32768  # cached
    assert len(fake.requests) == n
    assert "/props" not in [r.path for r in fake.requests]


async def test_context_window_llamacpp(fake: FakeOpenAIUpstream, backend: OpenAICompatBackend) -> None:
    fake.props = {"default_generation_settings": {"n_ctx": 16384}, "total_slots": 1}
    assert await backend.context_window("fake-model") == 16384
    paths = [r.path for r in fake.requests]
    assert paths == ["/v1/models", "/api/v0/models", "/props"]


async def test_context_window_ollama(fake: FakeOpenAIUpstream) -> None:
    fake.ollama_show = {
        "qwen2.5-coder:7b": {"model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}},
        "llama3:8b": {"parameters": "stop \"<|eot_id|>\"\nnum_ctx 8192", "model_info": {"llama.context_length": 8192 * 4}},
    }
    b = OpenAICompatBackend("ollama", fake.root_url, kind="ollama")
    try:
        assert await b.context_window("qwen2.5-coder:7b") == 32768
        assert await b.context_window("llama3:8b") == 8192
        assert await b.context_window("missing") is None
    finally:
        await b.aclose()
    assert {r.path for r in fake.requests} == {"/v1/models", "/api/show"}
    assert fake.requests[-1].json == {"model": "missing"}


async def test_context_window_unknown_is_none_and_cheap(
    fake: FakeOpenAIUpstream, backend: OpenAICompatBackend
) -> None:
    assert await backend.context_window("fake-model") is None
    first = len(fake.requests)
    assert first == 4  # /v1/models, then each discovery endpoint once
    backend._ctx_cache.clear()
    assert await backend.context_window("fake-model") is None
    assert len(fake.requests) == first  # dead endpoints are not asked again


async def test_context_window_never_raises() -> None:
    b = OpenAICompatBackend("local", f"http://127.0.0.1:{free_port()}")
    try:
        assert await b.context_window("m") is None
    finally:
        await b.aclose()


# --------------------------------------------------------------------------- the fake itself


async def test_fake_non_streaming_and_usage(fake: FakeOpenAIUpstream) -> None:
    import aiohttp

    fake.queue(Reply.tools([Call("Bash", '{"command":"ls"}')], text=["ok"]))
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession() as s, s.post(fake.base_url + "/chat/completions", data=orjson.dumps(body)) as r:
        got = await r.json()
    raw_len = len(orjson.dumps(body))
    assert got["usage"] == usage_for(raw_len, len("ok") + len('{"command":"ls"}'))
    assert got["choices"][0] == {
        "index": 0, "logprobs": None, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": "ok", "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}}
        ]},
    }


def test_fake_runs_in_a_thread() -> None:
    import urllib.request

    fake = FakeOpenAIUpstream(record=False).start_thread()
    try:
        with urllib.request.urlopen(fake.base_url + "/models", timeout=5) as r:
            assert orjson.loads(r.read())["data"][0]["id"] == "fake-model"
    finally:
        fake.stop_thread()


def test_unknown_quirk_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown quirks"):
        Reply(quirks=frozenset({"typo"}))



async def test_userinfo_in_url_becomes_basic_auth(fake: FakeOpenAIUpstream) -> None:
    b = OpenAICompatBackend("local", f"http://me:p%40ss@127.0.0.1:{fake.port}")
    try:
        await collect(b)
    finally:
        await b.aclose()
    assert b.endpoint == fake.base_url
    assert fake.requests[0].headers["Authorization"] == "Basic bWU6cEBzcw=="  # me:p@ss
