"""OpenAI Chat Completions through the real server, driven by the official openai SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from fakes.ir_backend import HANG, ScriptedBackend, text_script, thinking_script, tool_script
from lingma_proxy import errors, ir

TOOLS = [{"type": "function", "function": {"name": "Read", "description": "read a file",
          "parameters": {"type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}}]


@pytest.fixture
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0, timeout=20)


def test_non_streaming_text(client: openai.OpenAI, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("Hello there", input_tokens=17, output_tokens=4))
    r = client.chat.completions.create(model="gpt-5.5", messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == "Hello there"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "gpt-5.5"
    assert r.usage is not None and (r.usage.prompt_tokens, r.usage.completion_tokens) == (17, 4)
    # the free-form client model is mapped to what the backend offers
    assert scripted.requests[-1].model == "test-model"


def test_streaming_text_with_usage(client: openai.OpenAI, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("streamed words", input_tokens=9, output_tokens=2))
    chunks = list(client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streamed words"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 9
    assert len({c.id for c in chunks}) == 1


def test_parallel_tool_calls_stream_helper(client: openai.OpenAI, scripted: ScriptedBackend) -> None:
    scripted.push(*tool_script(("call_a", "Read", '{"file_path":"/a.py"}'),
                               ("call_b", "Read", '{"file_path":"/b \\"q\\" | x.py"}'), text="Reading."))
    with client.chat.completions.stream(model="m", messages=[{"role": "user", "content": "read"}],
                                        tools=TOOLS) as stream:
        final = stream.get_final_completion()
    msg = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert msg.content == "Reading."
    assert [(t.id, t.function.name, json.loads(t.function.arguments)) for t in msg.tool_calls] == [
        ("call_a", "Read", {"file_path": "/a.py"}), ("call_b", "Read", {"file_path": '/b "q" | x.py'})]
    got = scripted.requests[-1]
    assert [t.name for t in got.tools] == ["Read"]


def test_tool_round_trip_reaches_backend_as_ir(client: openai.OpenAI, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("done"))
    client.chat.completions.create(model="m", tools=TOOLS, messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "read a"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/a"}'}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "print(1)"},
    ])
    req = scripted.requests[-1]
    assert req.system_text() == "be brief"
    call = req.messages[1].content[0]
    result = req.messages[2].content[0]
    assert isinstance(call, ir.ToolCallPart) and call.id == "call_a"
    assert isinstance(result, ir.ToolResultPart) and result.tool_call_id == "call_a" and result.text() == "print(1)"


def test_reasoning_content_is_returned(client: openai.OpenAI, scripted: ScriptedBackend) -> None:
    scripted.push(*thinking_script("pondering", "42"))
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}], reasoning_effort="high")
    assert r.choices[0].message.content == "42"
    assert r.choices[0].message.model_extra.get("reasoning_content") == "pondering"
    assert scripted.requests[-1].reasoning is not None and scripted.requests[-1].reasoning.effort == "high"


@pytest.mark.parametrize(("exc", "sdk_error", "status"), [
    (errors.RateLimited("slow down"), openai.RateLimitError, 429),
    (errors.Overloaded("busy"), openai.APIStatusError, 529),
    (errors.UpstreamUnavailable("nothing listens at http://127.0.0.1:9/v1"), openai.APIStatusError, 503),
    (errors.InvalidRequest("bad thing"), openai.BadRequestError, 400),
    (errors.AuthenticationFailed("upstream says no"), openai.AuthenticationError, 401),
])
def test_upstream_errors_map_to_sdk_errors(client, scripted, exc, sdk_error, status) -> None:
    scripted.push(exc)
    for stream in (False, True):
        with pytest.raises(sdk_error) as info:
            r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=stream)
            if stream:
                list(r)
        assert info.value.status_code == status
        assert exc.message in str(info.value)


def test_mid_stream_error_raises_in_sdk(client, scripted) -> None:
    scripted.push(ir.MessageStart("u", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "partial"),
                  errors.UpstreamError("upstream closed the stream"))
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True))


@pytest.mark.parametrize(("body", "needle"), [
    (b"{not json", "invalid JSON"),
    (b"[]", ""),
    (b'{"model": "m"}', "messages"),
    (b'{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}', "role"),
    (b'{"model": "m", "messages": "hi"}', "messages"),
])
def test_bad_requests_answer_400_in_openai_shape(server, body: bytes, needle: str) -> None:
    r = httpx.post(server.url + "/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert needle in err["message"] and err["type"] == "invalid_request_error"


def test_client_disconnect_cancels_upstream(server, scripted: ScriptedBackend) -> None:
    scripted.push(ir.MessageStart("u", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "first"), HANG)
    with httpx.stream("POST", server.url + "/v1/chat/completions", timeout=10,
                      json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as r:
        for line in r.iter_lines():
            if "first" in line:
                break
    import time
    deadline = time.monotonic() + 5
    while scripted.cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert scripted.cancelled == 1
