"""Tool emulation and text tool-call parsing as the relay wires them, through the real server."""

from __future__ import annotations

import json

import anthropic
import openai

from fakes.ir_backend import ScriptedBackend, text_script
from lingma_proxy.backends.base import Capabilities
from server_harness import ServerThread, make_settings

BASH = {"name": "Bash", "description": "Run a shell command", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}

ACTION = 'Let me look.\n```json action\n{"tool": "terminal", "parameters": {"command": "ls -la"}}\n```\n'


def test_emulated_tools_for_a_backend_without_native_tools() -> None:
    backend = ScriptedBackend(capabilities=Capabilities(native_tools=False))
    backend.push(*text_script(ACTION))
    backend.push(*text_script(ACTION))
    with ServerThread(make_settings(), {"scripted": backend}) as srv:
        c = anthropic.Anthropic(base_url=srv.url, api_key="x", max_retries=0)
        m = c.messages.create(model="claude-opus-5-5", max_tokens=100, tools=[BASH],
                              messages=[{"role": "user", "content": "list files"}])
        assert m.stop_reason == "tool_use"
        assert [b.type for b in m.content] == ["text", "tool_use"]
        assert m.content[0].text.strip() == "Let me look."
        assert m.content[1].name == "Bash" and m.content[1].input == {"command": "ls -la"}
        sent = backend.requests[-1]
        assert sent.tools == () and "Bash" in sent.system_text()  # the contract names the client's tool

        with c.messages.stream(model="claude-opus-5-5", max_tokens=100, tools=[BASH],
                               messages=[{"role": "user", "content": "list files"}]) as s:
            m2 = s.get_final_message()
        assert [b.type for b in m2.content] == ["text", "tool_use"] and m2.content[1].input == {"command": "ls -la"}


def test_text_tool_calls_from_a_local_model_become_real_calls() -> None:
    backend = ScriptedBackend()
    backend.push(*text_script('<tool_call>{"name": "Read", "arguments": {"file_path": "/x.py"}}</tool_call>'))
    tools = [{"type": "function", "function": {"name": "Read", "parameters": {
        "type": "object", "properties": {"file_path": {"type": "string"}}, "required": ["file_path"]}}}]
    with ServerThread(make_settings(), {"scripted": backend}) as srv:
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key="x", max_retries=0)
        r = c.chat.completions.create(model="m", tools=tools, messages=[{"role": "user", "content": "read"}])
        call = r.choices[0].message.tool_calls[0]
        assert r.choices[0].finish_reason == "tool_calls"
        assert call.function.name == "Read" and json.loads(call.function.arguments) == {"file_path": "/x.py"}


def test_native_mode_leaves_text_alone() -> None:
    backend = ScriptedBackend()
    text = '<tool_call>{"name": "Read", "arguments": {"file_path": "/x.py"}}</tool_call>'
    backend.push(*text_script(text))
    with ServerThread(make_settings(tool_mode="native"), {"scripted": backend}) as srv:
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key="x", max_retries=0)
        r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "read"}], tools=[
            {"type": "function", "function": {"name": "Read", "parameters": {"type": "object"}}}])
        assert r.choices[0].message.content == text and not r.choices[0].message.tool_calls


def test_missed_tool_call_is_retried_once_and_continues_the_message() -> None:
    backend = ScriptedBackend(capabilities=Capabilities(native_tools=False))
    backend.push(*text_script("I'll read the file first."))  # announces, does not call
    backend.push(*text_script(ACTION))
    with ServerThread(make_settings(), {"scripted": backend}) as srv:
        c = anthropic.Anthropic(base_url=srv.url, api_key="x", max_retries=0)
        with c.messages.stream(model="m", max_tokens=100, tools=[BASH],
                               messages=[{"role": "user", "content": "what is here?"}]) as s:
            events = list(s)
            m = s.get_final_message()
    assert len(backend.requests) == 2
    retry = backend.requests[1]
    assert "I'll read the file first." in retry.messages[-2].text()  # the missed reply is kept
    assert [b.type for b in m.content] == ["text", "text", "tool_use"]
    assert m.content[2].input == {"command": "ls -la"} and m.stop_reason == "tool_use"
    assert [e.index for e in events if e.type == "content_block_start"] == [0, 1, 2]
    assert sum(e.type == "message_stop" for e in events) == 1


def test_no_second_retry_when_the_retry_also_misses() -> None:
    backend = ScriptedBackend(capabilities=Capabilities(native_tools=False))
    backend.push(*text_script("I'll run it now."))
    backend.push(*text_script("I'll run it now, really."))
    backend.push(*text_script("third reply must never be asked for"))
    with ServerThread(make_settings(), {"scripted": backend}) as srv:
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key="x", max_retries=0)
        r = c.chat.completions.create(model="m", messages=[{"role": "user", "content": "run ls"}], tools=[
            {"type": "function", "function": {"name": "Bash", "parameters": BASH["input_schema"]}}])
    assert len(backend.requests) == 2
    assert r.choices[0].finish_reason == "stop" and not r.choices[0].message.tool_calls
    assert "third" not in (r.choices[0].message.content or "")
