"""OpenAI Responses requests: wire -> IR (parse_request) and IR -> wire (render_request).

Golden cases live in ``tests/golden/req_openai_responses_<case>/``: the client's
``openai_responses.request.json``, the parsed ``ir.json`` and ``openai_responses.rendered.json``
(what a Responses upstream would receive). Regenerate with ``UPDATE_GOLDENS=1``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from goldens import GOLDEN, to_json
from lingma_proxy import errors, ir
from lingma_proxy.dialects import openai_responses as R

CASES = sorted(p.name.removeprefix("req_openai_responses_")
               for p in GOLDEN.glob("req_openai_responses_*"))


def case_dir(case: str) -> Path:
    return GOLDEN / f"req_openai_responses_{case}"


def load_body(case: str) -> Any:
    return json.loads((case_dir(case) / "openai_responses.request.json").read_text())


def check_golden(path: Path, value: Any) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDENS"):
        path.write_text(text)
    assert path.exists(), f"missing golden {path}: run with UPDATE_GOLDENS=1"
    assert json.loads(path.read_text()) == json.loads(text)


def test_cases_exist() -> None:
    assert set(CASES) >= {"codex", "string_input", "images"}


@pytest.mark.parametrize("case", CASES)
def test_parse_request_golden(case: str) -> None:
    req = R.parse_request(load_body(case))
    check_golden(case_dir(case) / "ir.json", to_json(req))


@pytest.mark.parametrize("case", CASES)
def test_render_request_golden(case: str) -> None:
    # from the parsed request: goldens.from_json cannot rebuild ToolChoice (its "type"
    # field collides with the class tag)
    req = R.parse_request(load_body(case))
    check_golden(case_dir(case) / "openai_responses.rendered.json", R.render_request(req))


def _normal(req: ir.Request) -> ir.Request:
    """What render -> parse keeps: the system as one text, no message or call item ids."""
    messages = []
    for m in req.messages:
        parts = tuple(dataclasses.replace(p, item_id=None) if isinstance(p, ir.ToolCallPart)
                      else p for p in m.content)
        messages.append(dataclasses.replace(m, id=None, content=parts))
    system = (ir.TextPart(req.system_text()),) if req.system else ()
    return dataclasses.replace(req, messages=tuple(messages), system=system)


@pytest.mark.parametrize("case", CASES)
def test_render_then_parse_round_trips(case: str) -> None:
    req = R.parse_request(load_body(case))
    assert _normal(R.parse_request(R.render_request(req))) == _normal(req)


# --------------------------------------------------------------------------- the Codex request


def test_codex_request() -> None:
    req = R.parse_request(load_body("codex"))
    assert req.system_text().startswith("You are Codex")  # first developer message
    assert len(req.system) == 1
    roles = [m.role for m in req.messages]
    assert roles == ["user", "user", "assistant", "user", "assistant", "user", "assistant",
                     "system", "user"]
    assert req.messages[0].id == "msg_env"
    # reasoning + function call merged into one assistant turn, in order
    think, call = req.messages[2].content
    assert think == ir.ThinkingPart("**Inspecting the file**",
                                    encrypted="gAAAAABpZ-first-encrypted-reasoning==",
                                    item_id="rs_a1")
    assert call == ir.ToolCallPart("call_Xk2", "exec_command",
                                   '{"cmd":"sed -n 1,40p src/app.py","workdir":"/work/demo"}',
                                   item_id="fc_a1")
    (result,) = req.messages[3].content
    assert isinstance(result, ir.ToolResultPart) and result.tool_call_id == "call_Xk2"
    think2, text, patch = req.messages[4].content
    assert think2.text == "" and think2.encrypted == "gAAAAABpZ-second-encrypted-reasoning=="
    assert text == ir.TextPart("Patching the greeting now.")
    assert isinstance(patch, ir.ToolCallPart) and patch.kind == "custom"
    assert patch.parsed_arguments()["input"].startswith("*** Begin Patch\n")
    (out,) = req.messages[5].content
    assert isinstance(out, ir.ToolResultPart) and out.kind == "custom"
    assert req.messages[7].text().startswith("<permissions instructions>")
    # tools: web_search, tool_search, local_shell dropped; the custom tool kept with its grammar
    assert [(t.name, t.kind) for t in req.tools] == [
        ("exec_command", "function"), ("view_image", "function"), ("apply_patch", "custom")]
    assert req.tools[2].format is not None and req.tools[2].format["syntax"] == "lark"
    assert req.tool_choice == ir.ToolChoice("auto") and req.parallel_tool_calls is True
    assert req.reasoning == ir.Reasoning(effort="medium", summary="auto")
    assert req.stream is True and req.dialect == "openai_responses"
    assert req.extra == {
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "019a8b2c-5d4e-7f60-9a1b-2c3d4e5f6a7b",
        "client_metadata": {"x-codex-installation-id": "inst-1234"},
        "verbosity": "low",
    }


def test_string_input_with_instructions() -> None:
    req = R.parse_request(load_body("string_input"))
    assert req.system == (ir.TextPart("Answer in JSON."),)
    assert req.messages == (ir.Message("user", (ir.TextPart("Name three primes."),)),)
    assert req.reasoning == ir.Reasoning(enabled=False)
    assert req.tool_choice == ir.ToolChoice("tool", "lookup")
    assert req.response_format is not None
    assert req.response_format["type"] == "json_schema"
    assert req.response_format["json_schema"]["name"] == "primes"
    assert (req.max_tokens, req.temperature, req.top_p) == (256, 0.2, 0.95)
    assert req.extra["previous_response_id"] == "resp_0123"


def test_images_and_files() -> None:
    req = R.parse_request(load_body("images"))
    assert req.system_text() == "You look at screenshots."
    user = req.messages[0].content
    assert user[1] == ir.ImagePart(media_type="image/png", data=load_body("images")["input"][1][
        "content"][1]["image_url"].split(",", 1)[1])
    assert user[2] == ir.ImagePart(url="https://example.com/cat.jpg")
    assert user[3] == ir.TextPart("[file: notes.txt]\nhello notes")
    assert isinstance(user[4], ir.TextPart) and "report.pdf" in user[4].text
    assert len(user) == 5  # input_audio dropped
    (res,) = req.messages[2].content
    assert isinstance(res, ir.ToolResultPart)
    assert res.content == (ir.TextPart("screenshot attached"),
                           ir.ImagePart(media_type="image/jpeg", data="/9j/4AAQSkZJRg=="))
    assert req.messages[3].content[0] == ir.ToolCallPart("call_empty", "view_image", "{}")
    assert req.messages[4].content == (ir.ToolResultPart("call_empty", ()),)
    assert req.messages[5] == ir.Message("system", (ir.TextPart("Be brief."),))
    assert req.messages[6] == ir.Message(
        "assistant", (ir.TextPart("I see a cat."), ir.TextPart("I won't identify people.")))
    assert req.tool_choice == ir.ToolChoice("any")


def test_consecutive_outputs_merge_and_user_messages_stay_apart() -> None:
    body = {"model": "m", "input": [
        {"type": "function_call", "call_id": "a", "name": "f", "arguments": "{}"},
        {"type": "function_call", "call_id": "b", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "a", "output": "1"},
        {"type": "function_call_output", "call_id": "b", "output": "2"},
        {"role": "user", "content": "next"},
        {"role": "user", "content": "and more"},
    ]}
    req = R.parse_request(body)
    assert [(m.role, len(m.content)) for m in req.messages] == [
        ("assistant", 2), ("user", 2), ("user", 1), ("user", 1)]


def test_render_request_drops_foreign_thinking_and_keeps_call_ids() -> None:
    req = ir.Request(model="m", messages=(
        ir.Message("user", (ir.TextPart("q"),)),
        ir.Message("assistant", (
            ir.ThinkingPart("anthropic thoughts", signature="sig"),
            ir.ThinkingPart("", encrypted="enc", item_id="rs_1"),
            ir.TextPart("calling"),
            ir.ToolCallPart("toolu_01", "Bash", '{"command":"ls"}'),
            ir.ToolCallPart("call_p", "apply_patch", '{"input":"*** Begin Patch"}', "custom"),
        )),
        ir.Message("user", (ir.ToolResultPart("toolu_01", (ir.TextPart("a.py"),)),
                            ir.ToolResultPart("call_p", (ir.TextPart("ok"),), kind="custom"),
                            ir.TextPart("go on"))),
    ), system=(ir.TextPart("sys"),), reasoning=ir.Reasoning(effort="max"), dialect="anthropic")
    body = R.render_request(req)
    assert body["instructions"] == "sys"
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "enc"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "calling"}]},
        {"type": "function_call", "call_id": "toolu_01", "name": "Bash",
         "arguments": '{"command":"ls"}'},
        {"type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch",
         "input": "*** Begin Patch"},
        {"type": "function_call_output", "call_id": "toolu_01", "output": "a.py"},
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "ok"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]},
    ]
    assert body["reasoning"] == {"effort": "xhigh"}
    assert body["store"] is False and body["include"] == ["reasoning.encrypted_content"]


# --------------------------------------------------------------------------- errors


def _msg(content: Any) -> dict[str, Any]:
    return {"model": "m", "input": [{"role": "user", "content": content}]}


def _item(item: Any) -> dict[str, Any]:
    return {"model": "m", "input": [item]}


def _with(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "input": "hi", **fields}


ERRORS: list[tuple[Any, str | None]] = [
    ([], None),
    ("text", None),
    ({"input": "hi"}, "model"),
    ({"model": "", "input": "hi"}, "model"),
    ({"model": 3, "input": "hi"}, "model"),
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": {"role": "user"}}, "input"),
    (_item(1), "input[0]"),
    (_item(None), "input[0]"),
    (_item({"content": "x"}), "input[0].type"),
    (_item({"type": 5}), "input[0].type"),
    (_item({"role": "bot", "content": "x"}), "input[0].role"),
    (_msg(5), "input[0].content"),
    (_msg([1]), "input[0].content[0]"),
    (_msg([{"type": "input_text"}]), "input[0].content[0].text"),
    (_msg([{"type": "input_text", "text": 5}]), "input[0].content[0].text"),
    (_msg([{"type": "refusal", "text": "x"}]), "input[0].content[0].refusal"),
    (_msg([{"type": "input_image", "file_id": "file_1"}]), "input[0].content[0].file_id"),
    (_msg([{"type": "input_image"}]), "input[0].content[0].image_url"),
    (_msg([{"type": "input_image", "image_url": 7}]), "input[0].content[0].image_url"),
    (_msg([{"type": "input_image", "image_url": "data:image/png,abc"}]),
     "input[0].content[0].image_url"),
    (_msg([{"type": "input_file", "file_data": "data:text/plain;base64,!!!"}]),
     "input[0].content[0].file_data"),
    (_item({"type": "function_call", "name": "f", "arguments": "{}"}), "input[0].call_id"),
    (_item({"type": "function_call", "call_id": "", "name": "f"}), "input[0].call_id"),
    (_item({"type": "function_call", "call_id": "c"}), "input[0].name"),
    (_item({"type": "function_call", "call_id": "c", "name": "f", "arguments": 5}),
     "input[0].arguments"),
    (_item({"type": "function_call_output", "output": "x"}), "input[0].call_id"),
    (_item({"type": "function_call_output", "call_id": "c", "output": 5}), "input[0].output"),
    (_item({"type": "custom_tool_call_output", "call_id": "c", "output": {"a": 1}}),
     "input[0].output"),
    (_item({"type": "custom_tool_call", "call_id": "c", "name": "p", "input": 5}),
     "input[0].input"),
    (_item({"type": "reasoning", "summary": [], "encrypted_content": 5}),
     "input[0].encrypted_content"),
    (_with(instructions=5), "instructions"),
    (_with(tools={}), "tools"),
    (_with(tools=[1]), "tools[0]"),
    (_with(tools=[{"type": "function"}]), "tools[0].name"),
    (_with(tools=[{"type": "function", "name": "f", "parameters": "x"}]), "tools[0].parameters"),
    (_with(tools=[{"type": "function", "name": "f", "description": 1}]), "tools[0].description"),
    (_with(tools=[{"type": "function", "name": "f", "strict": "yes"}]), "tools[0].strict"),
    (_with(tools=[{"type": "custom", "name": "p", "format": "lark"}]), "tools[0].format"),
    (_with(tool_choice="sometimes"), "tool_choice"),
    (_with(tool_choice=1), "tool_choice"),
    (_with(tool_choice={"type": "function"}), "tool_choice.name"),
    (_with(max_output_tokens=0), "max_output_tokens"),
    (_with(max_output_tokens=True), "max_output_tokens"),
    (_with(max_output_tokens="5"), "max_output_tokens"),
    (_with(temperature="hot"), "temperature"),
    (_with(top_p=False), "top_p"),
    (_with(reasoning="high"), "reasoning"),
    (_with(reasoning={"effort": 3}), "reasoning.effort"),
    (_with(reasoning={"summary": 1}), "reasoning.summary"),
    (_with(text="plain"), "text"),
    (_with(text={"format": "json"}), "text.format"),
    (_with(text={"format": {"type": "json_schema", "name": "x"}}), "text.format.schema"),
    (_with(metadata=[]), "metadata"),
    (_with(stream="yes"), "stream"),
    (_with(parallel_tool_calls="y"), "parallel_tool_calls"),
    (_with(previous_response_id=5), "previous_response_id"),
    (_with(store="no"), "store"),
    (_with(include="reasoning.encrypted_content"), "include"),
    (_with(include=[1]), "include"),
]


@pytest.mark.parametrize(("body", "param"), ERRORS)
def test_invalid_requests(body: Any, param: str | None) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        R.parse_request(body)
    assert info.value.param == param
    assert info.value.message


TOLERATED: list[Any] = [
    _item({"type": "item_reference", "id": "msg_1"}),
    _item({"type": "additional_tools", "tools": []}),
    _item({"type": "local_shell_call", "call_id": "c", "action": {}}),
    _item({"type": "mcp_list_tools", "server_label": "x"}),
    _item({"type": "reasoning", "summary": "not a list"}),
    _msg([{"type": "input_audio", "input_audio": {}}]),
    _msg(""),
    _with(tools=[{"type": "web_search"}, {"type": "mcp", "server_label": "x"}, {"type": 5}]),
    _with(tool_choice={"type": "allowed_tools", "mode": "auto", "tools": []}),
    _with(reasoning={"effort": "extreme"}),
    _with(text={"format": {"type": "text"}}),
    {"model": "m"},
]


@pytest.mark.parametrize("body", TOLERATED)
def test_tolerated_and_dropped(body: Any) -> None:
    req = R.parse_request(body)
    assert req.tools == ()
    assert all(m.content for m in req.messages)


# --------------------------------------------------------------------------- fuzz

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=20,
)
WORDS = st.sampled_from([
    "message", "function_call", "function_call_output", "custom_tool_call",
    "custom_tool_call_output", "reasoning", "input_text", "output_text", "input_image",
    "input_file", "refusal", "user", "assistant", "developer", "system", "function", "custom",
    "data:image/png;base64,AA==", "data:text/plain;base64,aGk=", "data:x", "",
])
KEYS = st.sampled_from([
    "type", "role", "content", "text", "call_id", "name", "arguments", "output", "input", "id",
    "summary", "encrypted_content", "image_url", "file_id", "file_data", "refusal", "format",
    "parameters", "effort", "schema",
])
VALUE = st.recursive(
    WORDS | st.none() | st.integers(-2, 3) | st.booleans(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
TOP = st.fixed_dictionaries({"model": st.just("m")}, optional={
    "input": VALUE, "instructions": VALUE, "tools": VALUE, "tool_choice": VALUE,
    "reasoning": VALUE, "text": VALUE, "max_output_tokens": VALUE, "temperature": VALUE,
    "include": VALUE, "store": VALUE, "previous_response_id": VALUE, "metadata": VALUE,
})


def _parse_or_invalid(body: Any) -> None:
    try:
        req = R.parse_request(body)
    except errors.InvalidRequest:
        return
    R.render_request(req)  # whatever parses must render


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_random_json_never_crashes(body: Any) -> None:
    _parse_or_invalid(body)


@settings(max_examples=500, deadline=None)
@given(TOP)
def test_random_shaped_requests_never_crash(body: Any) -> None:
    _parse_or_invalid(body)
