"""Chat Completions dialect, requests: client bodies -> IR (golden cases, error table, fuzz)
and IR -> upstream bodies for OpenAI-compatible local servers."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from openai.types.chat import completion_create_params as ccp

from dialects.test_openai_chat_support import check_json, goldens, load_request
from lingma_proxy import errors, ir
from lingma_proxy.dialects import openai_chat as oc

CASES = sorted(p.name for p in goldens.GOLDEN.iterdir() if p.name.startswith("req_openai_chat_"))
PARAMS = pydantic.TypeAdapter(ccp.CompletionCreateParamsBase)


def load(case: str) -> dict[str, Any]:
    return json.loads((goldens.GOLDEN / case / "openai_chat.request.json").read_text())


def test_cases_exist() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize("case", CASES)
def test_parse_request_golden(case: str) -> None:
    body = load(case)
    PARAMS.validate_python(body)  # the case itself is a valid Chat request per the SDK
    req = oc.parse_request(body)
    check_json(goldens.GOLDEN / case / "ir.json", goldens.to_json(req))
    # the golden IR loads back to the same value (so the render golden starts from it)
    assert load_request(goldens.GOLDEN / case / "ir.json") == req


@pytest.mark.parametrize("case", CASES)
def test_render_request_golden(case: str) -> None:
    body = oc.render_request(load_request(goldens.GOLDEN / case / "ir.json"))
    PARAMS.validate_python(body)
    check_json(goldens.GOLDEN / case / "openai_chat.upstream.json", body)


def _roles(body: dict[str, Any]) -> list[str]:
    return [m["role"] for m in body["messages"]]


def test_tool_round_facts() -> None:
    req = oc.parse_request(load("req_openai_chat_tool_round"))
    assert req.system == (ir.TextPart("You are Cline, a coding agent."),)
    assert [m.role for m in req.messages] == ["user", "assistant", "user", "assistant", "user", "user"]
    calls = [p for p in req.messages[1].content if isinstance(p, ir.ToolCallPart)]
    assert [(c.id, c.arguments) for c in calls] == [("call_a", '{"path":"a.py"}'), ("call_b", '{"path":"b.py"}')]
    results = req.messages[2].content
    assert [(r.tool_call_id, r.text()) for r in results if isinstance(r, ir.ToolResultPart)] == [
        ("call_a", "print('a')"), ("call_b", "print('b')")
    ]
    patch = req.messages[3].content[0]
    assert isinstance(patch, ir.ToolCallPart) and patch.kind == "custom"
    assert json.loads(patch.arguments)["input"].startswith("*** Begin Patch\n")
    assert [t.kind for t in req.tools] == ["function", "custom"]  # web_search dropped
    assert req.tool_choice == ir.ToolChoice("any") and req.max_tokens == 4096 and req.stop == ("<|END|>",)
    assert req.extra == {"stream_options": {"include_usage": True}, "seed": 7, "user": "user-42", "prompt_cache_key": "cline-session-1"}

    body = oc.render_request(req)
    assert _roles(body) == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "user"]
    assert body["tool_choice"] == "required" and body["stream_options"] == {"include_usage": True}
    assert body["seed"] == 7 and body["user"] == "user-42"
    custom = body["tools"][1]["function"]
    assert custom["parameters"]["required"] == ["input"] and "*** Begin Patch" in custom["description"]
    assert body["messages"][5]["content"] is None and body["messages"][5]["tool_calls"][0]["function"]["name"] == "apply_patch"


def test_developer_role_facts() -> None:
    req = oc.parse_request(load("req_openai_chat_developer_role"))
    assert req.system == (ir.TextPart("Be terse."), ir.TextPart("Project: lingma-proxy."))
    assert req.messages[2] == ir.Message("system", (ir.TextPart("From now on answer in French."),))
    assert req.messages[0].name == "alice"
    assert req.reasoning == ir.Reasoning(effort="high") and req.tool_choice == ir.ToolChoice("tool", "calc")
    body = oc.render_request(req)
    assert body["messages"][0] == {"role": "system", "content": "Be terse.\n\nProject: lingma-proxy."}
    assert _roles(body) == ["system", "user", "assistant", "system", "user"]
    assert "developer" not in _roles(body)


def test_image_facts() -> None:
    req = oc.parse_request(load("req_openai_chat_images"))
    _, data_img, url_img = req.messages[0].content
    assert data_img == ir.ImagePart(media_type="image/png", data=data_img.data) and data_img.data  # type: ignore[union-attr]
    assert url_img == ir.ImagePart(url="https://example.com/shot.jpg")
    (result,) = req.messages[2].content
    assert isinstance(result, ir.ToolResultPart) and isinstance(result.content[1], ir.ImagePart)
    body = oc.render_request(req)
    assert _roles(body) == ["user", "assistant", "tool", "user"]  # the next user turn joins the images
    tool_msg, shown = body["messages"][2], body["messages"][3]
    assert tool_msg == {"role": "tool", "tool_call_id": "call_s", "content": "Captured."}
    assert shown["content"] == [
        {"type": "text", "text": "Image output of tool call call_s:"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
        {"type": "text", "text": "What changed?"},
    ]
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == "{}"  # "" is no JSON object
    assert body["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


def test_reasoning_history_facts() -> None:
    req = oc.parse_request(load("req_openai_chat_reasoning_history"))
    assert req.messages[1].content[0] == ir.ThinkingPart("I should call ls.")
    assert req.messages[3].content[0] == ir.ThinkingPart("Two files.")
    assert req.reasoning == ir.Reasoning(enabled=False)
    body = oc.render_request(req)
    assert body["reasoning_effort"] == "none"  # same dialect: the client's opt-out travels
    assert all("reasoning_content" not in m for m in body["messages"])
    assert "reasoning_effort" not in oc.render_request(dataclasses.replace(req, dialect="anthropic_messages"))


def test_response_format_facts() -> None:
    req = oc.parse_request(load("req_openai_chat_response_format"))
    assert req.response_format is not None and req.response_format["type"] == "json_schema"
    assert req.stop == ("\n\n", "END") and req.metadata == {"run": "r1"} and req.stream
    body = oc.render_request(req)
    assert body["response_format"] == load("req_openai_chat_response_format")["response_format"]
    assert body["logprobs"] is True and body["top_logprobs"] == 2 and "n" not in body


# ----------------------------------------------------------------------------- render units


def _req(*messages: ir.Message, **kw: Any) -> ir.Request:
    return ir.Request(model="m", messages=messages, **kw)


def test_render_foreign_request_keeps_extra_out() -> None:
    req = _req(ir.Message("user", (ir.TextPart("hi"),)), extra={"seed": 1, "anthropic_beta": "x"}, dialect="anthropic_messages", top_k=5)
    body = oc.render_request(req)
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}


def test_render_extra_never_overrides_modelled_fields() -> None:
    req = _req(ir.Message("user", (ir.TextPart("hi"),)), dialect=oc.NAME, max_tokens=5, extra={"max_tokens": 9, "model": "x"})
    body = oc.render_request(req)
    assert body["max_tokens"] == 5 and body["model"] == "m"


def test_render_anthropic_style_user_message_with_results_and_text() -> None:
    user = ir.Message("user", (
        ir.ToolResultPart("t1", (ir.ImagePart("image/png", "AAAA"),), is_error=True),
        ir.ToolResultPart("t2", (ir.TextPart("ok"),)),
        ir.TextPart("continue"),
    ))  # fmt: skip
    assistant = ir.Message("assistant", (
        ir.ThinkingPart("secret", signature="sig"),
        ir.ToolCallPart("t1", "Shot"),
        ir.ToolCallPart("t2", "Bash", '{"c":1}'),
        ir.TextPart("after the calls"),
    ))  # fmt: skip
    body = oc.render_request(_req(ir.Message("user", (ir.TextPart("go"),)), assistant, user, stream=True))
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "after the calls",
        "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "Shot", "arguments": "{}"}},
            {"id": "t2", "type": "function", "function": {"name": "Bash", "arguments": '{"c":1}'}},
        ],
    }
    assert body["messages"][2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error: (image output follows in the next message)"},
        {"role": "tool", "tool_call_id": "t2", "content": "ok"},
        {"role": "user", "content": [
            {"type": "text", "text": "Image output of tool call t1:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            {"type": "text", "text": "continue"},
        ]},
    ]  # fmt: skip
    assert body["stream_options"] == {"include_usage": True}


def test_render_drops_thinking_only_turns_and_tool_choice_without_tools() -> None:
    msgs = (ir.Message("user", (ir.TextPart("a"),)), ir.Message("assistant", (ir.ThinkingPart("t"),)), ir.Message("user", (ir.TextPart("b"),)))
    body = oc.render_request(_req(*msgs, tool_choice=ir.ToolChoice("none"), parallel_tool_calls=False))
    assert _roles(body) == ["user", "user"] and "tool_choice" not in body and "parallel_tool_calls" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [(ir.ToolChoice("auto"), "auto"), (ir.ToolChoice("none"), "none"), (ir.ToolChoice("any"), "required"),
     (ir.ToolChoice("tool", "f"), {"type": "function", "function": {"name": "f"}})],
)  # fmt: skip
def test_render_tool_choice(choice: ir.ToolChoice, wire: Any) -> None:
    body = oc.render_request(_req(ir.Message("user", ()), tools=(ir.Tool("f"),), tool_choice=choice))
    assert body["tool_choice"] == wire


def test_render_big_grammar_is_left_out() -> None:
    fmt = {"type": "grammar", "grammar": {"syntax": "lark", "definition": "x" * 5000}}
    body = oc.render_request(_req(ir.Message("user", ()), tools=(ir.Tool("p", "Patch", kind="custom", format=fmt),)))
    desc = body["tools"][0]["function"]["description"]
    assert desc.startswith("Patch\n\n") and "xxxx" not in desc


def test_render_reasoning_effort() -> None:
    base = _req(ir.Message("user", ()))
    assert oc.render_request(dataclasses.replace(base, reasoning=ir.Reasoning(effort="low")))["reasoning_effort"] == "low"
    assert "reasoning_effort" not in oc.render_request(dataclasses.replace(base, reasoning=ir.Reasoning(budget_tokens=1000)))


# ----------------------------------------------------------------------------- parse units


def _body(**kw: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **kw}


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("minimal", ir.Reasoning(effort="minimal")), ("low", ir.Reasoning(effort="low")), ("xhigh", ir.Reasoning(effort="high")),
     ("max", ir.Reasoning(effort="max")), ("none", ir.Reasoning(enabled=False)), (None, None)],
)  # fmt: skip
def test_reasoning_effort(effort: str | None, expected: ir.Reasoning | None) -> None:
    assert oc.parse_request(_body(reasoning_effort=effort)).reasoning == expected


def test_legacy_functions_and_function_messages() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
            {"role": "function", "name": "get_weather", "content": "rain"},
        ],
        "functions": [{"name": "get_weather", "parameters": {"type": "object"}}],
        "function_call": {"name": "get_weather"},
    }
    req = oc.parse_request(body)
    call = req.messages[1].content[0]
    result = req.messages[2].content[0]
    assert isinstance(call, ir.ToolCallPart) and isinstance(result, ir.ToolResultPart)
    assert call.id == result.tool_call_id and result.text() == "rain"
    assert req.tools == (ir.Tool("get_weather", parameters={"type": "object"}),)
    assert req.tool_choice == ir.ToolChoice("tool", "get_weather")


def test_allowed_tools_narrows_the_tool_list() -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b", "c")]
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "b"}}]}}
    req = oc.parse_request(_body(tools=tools, tool_choice=choice))
    assert [t.name for t in req.tools] == ["b"] and req.tool_choice == ir.ToolChoice("any")


def test_refusal_part_and_empty_strings() -> None:
    body = _body(messages=[
        {"role": "user", "content": ""},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
    ])  # fmt: skip
    req = oc.parse_request(body)
    assert req.messages[0].content == () and req.messages[1].content == (ir.TextPart("No."),)


def test_max_completion_tokens_wins() -> None:
    assert oc.parse_request(_body(max_tokens=10, max_completion_tokens=20)).max_tokens == 20
    assert oc.parse_request(_body(max_tokens=10)).max_tokens == 10


# The error table: each malformed body and the param the error names.
ERRORS: list[tuple[Any, str | None]] = [
    ([], None),
    ("x", None),
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    (_body(model=""), "model"),
    (_body(model=3), "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": {"role": "user"}}, "messages"),
    (_body(messages=["hi"]), "messages[0]"),
    (_body(messages=[{"content": "hi"}]), "messages[0].role"),
    (_body(messages=[{"role": "robot", "content": "hi"}]), "messages[0].role"),
    (_body(messages=[{"role": ["user"], "content": "hi"}]), "messages[0].role"),
    (_body(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    (_body(messages=[{"role": "user", "content": [5]}]), "messages[0].content[0]"),
    (_body(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content[0].text"),
    (_body(messages=[{"role": "user", "content": [{"type": "video"}]}]), "messages[0].content[0].type"),
    (_body(messages=[{"role": "user", "content": [{"type": {}}]}]), "messages[0].content[0].type"),
    (_body(messages=[{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]), "messages[0].content[0].type"),
    (_body(messages=[{"role": "user", "content": [{"type": "file", "file": {}}]}]), "messages[0].content[0].type"),
    (_body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": 7}}]}]), "messages[1].content[1].image_url.url"),
    (_body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]}]), "messages[0].content[0].image_url.url"),
    (_body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]), "messages[0].content[0].image_url.url"),
    (_body(messages=[{"role": "user", "content": [{"type": "image_url"}]}]), "messages[0].content[0].image_url"),
    (_body(messages=[{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]), "messages[0].content[0].type"),
    (_body(messages=[{"role": "assistant", "tool_calls": {}}]), "messages[0].tool_calls"),
    (_body(messages=[{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}]), "messages[0].tool_calls[0].id"),
    (_body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]), "messages[0].tool_calls[0].function.name"),
    (_body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 3}}]}]), "messages[0].tool_calls[0].function.arguments"),
    (_body(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "type": "custom", "custom": {"name": "p"}}]}]), "messages[0].tool_calls[0].custom.input"),
    (_body(messages=[{"role": "tool", "content": "x"}]), "messages[0].tool_call_id"),
    (_body(messages=[{"role": "function", "content": "x"}]), "messages[0].name"),
    (_body(messages=[{"role": "tool", "tool_call_id": "c", "content": [{"type": "refusal", "refusal": "x"}]}]), "messages[0].content[0].type"),
    (_body(tools={}), "tools"),
    (_body(tools=[3]), "tools[0]"),
    (_body(tools=[{"type": "function"}]), "tools[0].function"),
    (_body(tools=[{"type": "function", "function": {"description": "d"}}]), "tools[0].function.name"),
    (_body(tools=[{"type": "function", "function": {"name": "f", "parameters": []}}]), "tools[0].function.parameters"),
    (_body(tools=[{"type": "function", "function": {"name": "f", "strict": "yes"}}]), "tools[0].function.strict"),
    (_body(tools=[{"type": "custom", "custom": {"name": "p", "format": "lark"}}]), "tools[0].custom.format"),
    (_body(functions=[{"description": "x"}]), "functions[0].name"),
    (_body(tool_choice="sometimes"), "tool_choice"),
    (_body(tool_choice=3), "tool_choice"),
    (_body(tool_choice={"type": "function", "function": {}}), "tool_choice.function.name"),
    (_body(tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "x", "tools": []}}), "tool_choice.allowed_tools.mode"),
    (_body(function_call="required"), "function_call"),
    (_body(n=2), "n"),
    (_body(max_tokens=0), "max_tokens"),
    (_body(max_tokens="10"), "max_tokens"),
    (_body(max_completion_tokens=1.5), "max_completion_tokens"),
    (_body(temperature="hot"), "temperature"),
    (_body(top_p=True), "top_p"),
    (_body(stream="yes"), "stream"),
    (_body(parallel_tool_calls=1), "parallel_tool_calls"),
    (_body(stop=5), "stop"),
    (_body(stop=["a", 1]), "stop[1]"),
    (_body(reasoning_effort="ultra"), "reasoning_effort"),
    (_body(reasoning_effort=3), "reasoning_effort"),
    (_body(response_format="json"), "response_format"),
    (_body(metadata=[1]), "metadata"),
]


@pytest.mark.parametrize(("body", "param"), ERRORS, ids=[str(p) + f"-{i}" for i, (_, p) in enumerate(ERRORS)])
def test_error_table(body: Any, param: str | None) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        oc.parse_request(body)
    assert info.value.param == param
    assert info.value.message and (param is None or param.split("[")[0] in info.value.message)


# ----------------------------------------------------------------------------- fuzz

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=12,
)
BASE = load("req_openai_chat_tool_round")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


PATHS = _paths(BASE)[1:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_value_anywhere_is_a_clean_error_or_a_request(path: tuple[Any, ...], value: Any) -> None:
    body = copy.deepcopy(BASE)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        req = oc.parse_request(body)
    except errors.InvalidRequest as e:
        assert e.message
        return
    oc.render_request(req)  # whatever parses also renders
