"""Anthropic Messages through the real server, driven by the official anthropic SDK."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from fakes.ir_backend import ScriptedBackend, text_script, thinking_script, tool_script
from lingma_proxy import errors, ir

BASH = {"name": "Bash", "description": "run", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}


@pytest.fixture
def client(server) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="anything", max_retries=0, timeout=20)


def test_non_streaming_text(client, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("Hi!", input_tokens=21, output_tokens=2))
    m = client.messages.create(model="claude-opus-5-5", max_tokens=100,
                               messages=[{"role": "user", "content": "hello"}])
    assert [b.type for b in m.content] == ["text"] and m.content[0].text == "Hi!"
    assert m.stop_reason == "end_turn" and m.model == "claude-opus-5-5"
    assert (m.usage.input_tokens, m.usage.output_tokens) == (21, 2)


def test_stream_thinking_and_tools(client, scripted: ScriptedBackend) -> None:
    scripted.push(*thinking_script("let me see", "Running it.", signature="sig-xyz"))
    with client.messages.stream(model="claude-opus-5-5", max_tokens=1000,
                                thinking={"type": "enabled", "budget_tokens": 500},
                                messages=[{"role": "user", "content": "go"}]) as s:
        m = s.get_final_message()
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking == "let me see" and m.content[0].signature == "sig-xyz"
    assert scripted.requests[-1].reasoning is not None and scripted.requests[-1].reasoning.budget_tokens == 500

    scripted.push(*tool_script(("toolu_1", "Bash", '{"command":"ls -la | grep \\"x\\""}'),
                               ("toolu_2", "Bash", '{"command":"pwd"}'), text="Two commands."))
    with client.messages.stream(model="claude-opus-5-5", max_tokens=1000, tools=[BASH],
                                messages=[{"role": "user", "content": "go"}]) as s:
        events = list(s)
        m = s.get_final_message()
    assert m.stop_reason == "tool_use"
    assert [b.type for b in m.content] == ["text", "tool_use", "tool_use"]
    assert m.content[1].input == {"command": 'ls -la | grep "x"'} and m.content[2].id == "toolu_2"
    starts = [e.index for e in events if e.type == "content_block_start"]
    assert starts == [0, 1, 2]
    first = events[0]
    assert first.type == "message_start" and first.message.usage.input_tokens > 0


def test_system_messages_billing_header_and_cache_control(client, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("ok"))
    client.messages.create(
        model="claude-opus-5-5", max_tokens=10,
        system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=99;"},
                {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                  {"role": "system", "content": "env: linux"}, {"role": "user", "content": "c"}],
    )
    req = scripted.requests[-1]
    assert req.system_text() == "You are Claude Code."
    assert [m.role for m in req.messages] == ["user", "assistant", "system", "user"]


def test_count_tokens_is_local_and_counts_tools(client, scripted: ScriptedBackend) -> None:
    small = client.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
    big = client.messages.count_tokens(model="m", tools=[{**BASH, "name": f"Bash{i}"} for i in range(5)], system="s" * 4000,
                                       messages=[{"role": "user", "content": "hi"}])
    assert 0 < small.input_tokens < big.input_tokens
    assert scripted.requests == []


@pytest.mark.parametrize(("exc", "status", "etype"), [
    (errors.Overloaded("overloaded upstream"), 529, "overloaded_error"),
    (errors.RateLimited("rate"), 429, "rate_limit_error"),
    (errors.UpstreamUnavailable("no backend"), 503, "api_error"),
])
def test_errors_in_anthropic_shape(client, scripted, exc, status, etype) -> None:
    scripted.push(exc)
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}], stream=True)
    assert info.value.status_code == status
    assert info.value.body["error"]["type"] == etype


def test_mid_stream_error_event(client, scripted) -> None:
    scripted.push(ir.MessageStart("u", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "par"),
                  errors.Overloaded("went away"))
    with pytest.raises(anthropic.APIStatusError), \
            client.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s:
        s.get_final_message()


def test_ping_sent_while_upstream_is_silent(scripted) -> None:
    from server_harness import ServerThread, make_settings_fast_ping

    scripted.push(("sleep", 0.5), *text_script("late"))
    with ServerThread(make_settings_fast_ping(), {"scripted": scripted}) as srv:
        r = httpx.post(srv.url + "/v1/messages?beta=true", timeout=10, json={
            "model": "m", "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "x"}]})
    events = [ln[7:] for ln in r.text.splitlines() if ln.startswith("event: ")]
    assert events[0] == "message_start"
    assert events.count("ping") >= 3  # one at start, then every 0.1 s of silence
    assert events[-1] == "message_stop"


@pytest.mark.parametrize(("body", "param"), [
    (b'{"model": "m", "max_tokens": 5}', "messages"),
    (b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "bogus"}]}]}', "type"),
    (b'{"model": 5, "max_tokens": 5, "messages": []}', "model"),
])
def test_bad_requests_in_anthropic_shape(server, body: bytes, param: str) -> None:
    r = httpx.post(server.url + "/v1/messages", content=body)
    assert r.status_code == 400
    j = r.json()
    assert j["type"] == "error" and j["error"]["type"] == "invalid_request_error" and param in j["error"]["message"]
