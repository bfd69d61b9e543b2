"""OpenAI Responses through the real server, driven by the official openai SDK (Codex's API)."""

from __future__ import annotations

import json

import openai
import pytest

from fakes.ir_backend import ScriptedBackend, text_script, thinking_script, tool_script
from lingma_proxy import errors, ir

EXEC = {"type": "function", "name": "exec_command", "description": "run",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]}}
APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "apply a patch",
               "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/s"}}


@pytest.fixture
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0, timeout=20)


def test_create_text(client, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("plain answer", input_tokens=33, output_tokens=3))
    r = client.responses.create(model="gpt-5.5", input="hi", instructions="be short")
    assert r.output_text == "plain answer" and r.status == "completed"
    assert r.usage is not None and r.usage.input_tokens == 33
    assert scripted.requests[-1].system_text() == "be short"


def test_stream_function_and_custom_tool_calls(client, scripted: ScriptedBackend) -> None:
    scripted.push(*tool_script(("call_x1", "exec_command", '{"cmd":"ls"}'),
                               ("call_x2", "apply_patch", json.dumps({"input": "*** Begin Patch\n*** End Patch"}))))
    seen_call_ids: list[str] = []
    with client.responses.stream(model="gpt-5.5", input="do it", tools=[EXEC, APPLY_PATCH]) as s:
        for ev in s:
            item = getattr(ev, "item", None)
            if item is not None and getattr(item, "call_id", None):
                seen_call_ids.append(item.call_id)
        final = s.get_final_response()
    kinds = [(o.type, o.call_id) for o in final.output]
    assert kinds == [("function_call", "call_x1"), ("custom_tool_call", "call_x2")]
    assert final.output[1].input == "*** Begin Patch\n*** End Patch"
    assert set(seen_call_ids) == {"call_x1", "call_x2"}
    sent = scripted.requests[-1]
    assert {t.name: t.kind for t in sent.tools} == {"exec_command": "function", "apply_patch": "custom"}


def test_codex_style_history_and_reasoning(client, scripted: ScriptedBackend) -> None:
    scripted.push(*thinking_script("thinking...", "Final."))
    r = client.responses.create(model="gpt-5.5", reasoning={"effort": "medium"}, store=False, input=[
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "base prompt"}]},
        {"type": "message", "role": "user", "id": "msg_1", "content": [{"type": "input_text", "text": "list"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "exec_command", "arguments": '{"cmd":"ls"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.py"},
    ], tools=[EXEC])
    assert [o.type for o in r.output] == ["reasoning", "message"]
    assert r.output_text == "Final."
    req = scripted.requests[-1]
    assert req.system_text() == "base prompt"
    assert isinstance(req.messages[1].content[0], ir.ToolCallPart)
    assert isinstance(req.messages[2].content[0], ir.ToolResultPart)


def test_previous_response_id_continues_the_conversation(client, scripted: ScriptedBackend) -> None:
    scripted.push(*text_script("first answer"))
    scripted.push(*text_script("second answer"))
    first = client.responses.create(model="m", input="remember 7", store=True)
    second = client.responses.create(model="m", input="what number?", previous_response_id=first.id)
    assert second.output_text == "second answer"
    texts = [m.text() for m in scripted.requests[-1].messages]
    assert texts == ["remember 7", "first answer", "what number?"]


def test_unknown_previous_response_id_is_404(client, scripted) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="m", input="x", previous_response_id="resp_nope")


def test_input_tokens_endpoint(server) -> None:
    import httpx

    r = httpx.post(server.url + "/v1/responses/input_tokens", json={"model": "m", "input": "hello world " * 50})
    assert r.status_code == 200 and r.json()["object"] == "response.input_tokens" and r.json()["input_tokens"] > 50


def test_mid_stream_failure_is_response_failed(client, scripted) -> None:
    scripted.push(ir.MessageStart("u", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "par"),
                  errors.UpstreamError("dropped"))
    types = []
    with pytest.raises(openai.APIError), client.responses.stream(model="m", input="x") as s:
        for ev in s:
            types.append(ev.type)
    assert "response.completed" not in types
