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
