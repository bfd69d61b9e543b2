"""Anthropic Messages requests: parse (client -> IR) against golden cases and a table of
malformed inputs, and render (IR -> Anthropic upstream) for same- and cross-dialect requests."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import goldens
from lingma_proxy import errors, ir
from lingma_proxy.dialects import anthropic_messages as am

CASES = sorted(p.name for p in goldens.GOLDEN.glob("req_anthropic_*"))


def load(case: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((goldens.GOLDEN / case / "anthropic_messages.request.json").read_text())
    return body


# --------------------------------------------------------------------------- golden parse


@pytest.mark.parametrize("case", CASES)
def test_parse_matches_golden_ir(case: str) -> None:
    req = am.parse_request(load(case))
    expected = json.loads((goldens.GOLDEN / case / "ir.json").read_text())
    assert goldens.to_json(req) == expected
    assert goldens.from_json(expected) == req


@pytest.mark.parametrize("case", CASES)
def test_parse_does_not_mutate_the_body(case: str) -> None:
    body = load(case)
    before = copy.deepcopy(body)
    am.parse_request(body)
    assert body == before


def test_claude_code_request_renders_back_to_anthropic() -> None:
    out = am.render_request(am.parse_request(load("req_anthropic_claude_code")))
    assert out["model"] == "claude-opus-5-5" and out["max_tokens"] == 128000 and out["stream"] is True
    assert [b["text"][:13] for b in out["system"]] == ["x-anthropic-b", "You are Claud", "You are an in"]
    assert all("cache_control" not in b for b in out["system"])
    assert out["messages"][0] == {
        "role": "system",
        "content": [{"type": "text", "text": "<env>\nWorking directory: /repo\nPlatform: linux\n</env>"}],
    }
    assistant = out["messages"][2]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "I should run pytest first.", "signature": "EqQBCkYIBxgCKkBsig=="}
    assert assistant[2]["input"] == {"command": "pytest -x -q | tail -5", "description": "Run tests"}
    results = out["messages"][3]["content"]
    assert results[0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_01A",
        "content": [
            {"type": "text", "text": "FAILED tests/test_a.py::test_x - AssertionError"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        ],
        "is_error": True,
    }
    assert results[1] == {"type": "tool_result", "tool_use_id": "toolu_01B", "content": [{"type": "text", "text": "ok"}]}
    assert [t["name"] for t in out["tools"]] == ["Bash", "Read", "NotebookEdit"]
    assert out["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert out["output_config"] == {"effort": "medium"}
    assert out["context_management"] == {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    assert out["metadata"]["user_id"].startswith('{"device_id"')
    assert "tool_choice" not in out and "temperature" not in out


def test_haiku_request_renders_back_to_anthropic() -> None:
    out = am.render_request(am.parse_request(load("req_anthropic_haiku_images")))
    assert out["system"] == "You are a helpful assistant."
    assert "thinking" not in out  # a forced tool choice and thinking cannot go together
    assert out["tool_choice"] == {"type": "tool", "name": "describe", "disable_parallel_tool_use": True}
    assert out["tools"] == [
        {
            "name": "describe",
            "description": "Describe an image.",
            "input_schema": {"type": "object", "properties": {"what": {"type": "string"}}},
            "strict": True,
        }
    ]
    assert (out["temperature"], out["top_k"], out["stop_sequences"]) == (1.0, 40, ["\n\nHuman:"])
    user = out["messages"][0]["content"]
    assert [b["type"] for b in user] == ["text", "image", "image", "text", "text"]
    assert user[2]["source"] == {"type": "url", "url": "https://example.com/cat.png"}
    assert out["messages"][1]["content"] == [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3redacted"},
        {"type": "text", "text": "A cat and a note."},
    ]


def test_subagent_request_renders_back_to_anthropic() -> None:
    out = am.render_request(am.parse_request(load("req_anthropic_subagent")))
    assert out["thinking"] == {"type": "disabled"}
    assert out["output_config"] == {"effort": "low"}
    assert out["max_tokens"] == 8192
    assert out["tool_choice"] == {"type": "any"}
    assert out["top_p"] == 0.9 and out["service_tier"] == "auto"
    assert out["messages"][1]["content"] == [{"type": "tool_use", "id": "toolu_9", "name": "Glob", "input": {}}]


# --------------------------------------------------------------------------- parse details


def base(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    body.update(kw)
    return body


@pytest.mark.parametrize(
    ("thinking", "output_config", "reasoning", "extra"),
    [
        (None, None, None, {}),
        ({"type": "enabled", "budget_tokens": 2048}, None, ir.Reasoning(True, budget_tokens=2048), {}),
        ({"type": "adaptive"}, None, ir.Reasoning(True), {}),
        ({"type": "disabled"}, None, ir.Reasoning(False), {}),
        (None, {"effort": "high"}, ir.Reasoning(True, effort="high"), {}),
        ({"type": "disabled"}, {"effort": "low"}, ir.Reasoning(False, effort="low"), {}),
        ({"type": "enabled", "budget_tokens": 4096}, {"effort": "max"}, ir.Reasoning(True, effort="max", budget_tokens=4096), {}),
        ({"type": "adaptive", "display": "summarized"}, {"effort": "xhigh"}, ir.Reasoning(True, effort="high"),
         {"thinking": {"display": "summarized"}, "output_config": {"effort": "xhigh"}}),
        ({"type": "between_tools"}, None, ir.Reasoning(True), {"thinking": {"type": "between_tools"}}),
        (None, {"effort": "ultra"}, None, {"output_config": {"effort": "ultra"}}),
        (None, {"format": {"type": "json_schema", "schema": {}}}, None, {"output_config": {"format": {"type": "json_schema", "schema": {}}}}),
    ],
)  # fmt: skip
def test_reasoning(thinking: Any, output_config: Any, reasoning: ir.Reasoning | None, extra: dict[str, Any]) -> None:
    body = base()
    if thinking is not None:
        body["thinking"] = thinking
    if output_config is not None:
        body["output_config"] = output_config
    req = am.parse_request(body)
    assert req.reasoning == reasoning and dict(req.extra) == extra


def test_same_dialect_keeps_unmodelled_thinking_and_effort() -> None:
    body = base(thinking={"type": "adaptive", "display": "summarized"}, output_config={"effort": "xhigh"})
    out = am.render_request(am.parse_request(body))
    assert out["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert out["output_config"] == {"effort": "xhigh"}
    out = am.render_request(am.parse_request(base(thinking={"type": "disabled", "display": "omitted"})))
    assert out["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, ir.ToolChoice("auto"), None),
        ({"type": "any", "disable_parallel_tool_use": True}, ir.ToolChoice("any"), False),
        ({"type": "none"}, ir.ToolChoice("none"), None),
        ({"type": "tool", "name": "Bash", "disable_parallel_tool_use": False}, ir.ToolChoice("tool", "Bash"), True),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ir.ToolChoice, parallel: bool | None) -> None:
    req = am.parse_request(base(tool_choice=choice))
    assert (req.tool_choice, req.parallel_tool_calls) == (expected, parallel)


def test_scalars_and_extras() -> None:
    req = am.parse_request(
        base(
            max_tokens=None,
            temperature=0,
            top_p=0.5,
            top_k=3,
            stop_sequences=["END"],
            stream=False,
            metadata={"user_id": "u"},
            system="",
            container="c1",
            mcp_servers=[{"type": "url", "url": "https://x"}],
            context_management=None,
        )
    )
    assert (req.max_tokens, req.temperature, req.top_p, req.top_k, req.stop, req.stream) == (None, 0.0, 0.5, 3, ("END",), False)
    assert req.system == () and dict(req.metadata) == {"user_id": "u"}
    assert dict(req.extra) == {"container": "c1", "mcp_servers": [{"type": "url", "url": "https://x"}], "context_management": None}


def test_content_shapes() -> None:
    req = am.parse_request(
        base(
            messages=[
                {"role": "user", "content": ""},
                {"role": "user", "content": [
                    {"type": "document", "source": {"type": "content", "content": [
                        {"type": "text", "text": "t"},
                        {"type": "image", "source": {"type": "url", "url": "u"}},
                    ]}},
                    {"type": "document", "source": {"type": "content", "content": "plain"}},
                    {"type": "search_result", "source": "s", "title": "t", "content": []},
                    {"type": "container_upload", "file_id": "f"},
                    {"type": "tool_result", "tool_use_id": "x"},
                    {"type": "thinking", "thinking": "t", "signature": ""},
                ]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "i", "name": "n"}]},
            ]
        )
    )  # fmt: skip
    assert req.messages == (
        ir.Message("user", ()),
        ir.Message(
            "user",
            (
                ir.TextPart("t"),
                ir.ImagePart(url="u"),
                ir.TextPart("plain"),
                ir.ToolResultPart("x"),
                ir.ThinkingPart("t"),
            ),
        ),
        ir.Message("assistant", (ir.ToolCallPart("i", "n", "{}"),)),
    )


# --------------------------------------------------------------------------- malformed input


def msgs(*content: Any) -> dict[str, Any]:
    return base(messages=[{"role": "user", "content": list(content)}])


BAD: list[tuple[Any, str | None]] = [
    ([], None),
    ("text", None),
    (None, None),
    ({"messages": []}, "model"),
    (base(model=""), "model"),
    (base(model=5), "model"),
    (base(messages=None), "messages"),
    (base(messages={"role": "user"}), "messages"),
    (base(messages=["hi"]), "messages[0]"),
    (base(messages=[{"content": "x"}]), "messages[0].role"),
    (base(messages=[{"role": "tool", "content": "x"}]), "messages[0].role"),
    (base(messages=[{"role": "developer", "content": "x"}]), "messages[0].role"),
    (base(messages=[{"role": "user"}]), "messages[0].content"),
    (base(messages=[{"role": "user", "content": None}]), "messages[0].content"),
    (base(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    (base(messages=[{"role": "user", "content": "ok"}, {"role": "user", "content": {"type": "text"}}]), "messages[1].content"),
    (base(messages=[{"role": "system", "content": [{"type": "image", "source": {}}]}]), "messages[0].content[0].type"),
    (msgs("hi"), "messages[0].content[0]"),
    (msgs({"text": "no type"}), "messages[0].content[0].type"),
    (msgs({"type": "banana"}), "messages[0].content[0].type"),
    (msgs({"type": 7}), "messages[0].content[0].type"),
    (msgs({"type": "text"}), "messages[0].content[0].text"),
    (msgs({"type": "text", "text": ["a"]}), "messages[0].content[0].text"),
    (msgs({"type": "image"}), "messages[0].content[0].source"),
    (msgs({"type": "image", "source": {"type": "file", "file_id": "f"}}), "messages[0].content[0].source.type"),
    (msgs({"type": "image", "source": {"type": "base64", "data": "x"}}), "messages[0].content[0].source.media_type"),
    (msgs({"type": "image", "source": {"type": "base64", "media_type": "image/png"}}), "messages[0].content[0].source.data"),
    (msgs({"type": "image", "source": {"type": "url"}}), "messages[0].content[0].source.url"),
    (msgs({"type": "document", "source": {"type": "zip"}}), "messages[0].content[0].source.type"),
    (msgs({"type": "document", "source": {"type": "text"}}), "messages[0].content[0].source.data"),
    (msgs({"type": "document", "source": {"type": "content", "content": [{"type": "tool_use"}]}}), "messages[0].content[0].source.content[0].type"),
    (msgs({"type": "tool_use", "name": "n", "input": {}}), "messages[0].content[0].id"),
    (msgs({"type": "tool_use", "id": "i", "input": {}}), "messages[0].content[0].name"),
    (msgs({"type": "tool_use", "id": "i", "name": "n", "input": "{}"}), "messages[0].content[0].input"),
    (msgs({"type": "tool_result"}), "messages[0].content[0].tool_use_id"),
    (msgs({"type": "tool_result", "tool_use_id": "x", "content": 5}), "messages[0].content[0].content"),
    (msgs({"type": "tool_result", "tool_use_id": "x", "content": [{"type": "tool_use", "id": "i", "name": "n"}]}), "messages[0].content[0].content[0].type"),
    (msgs({"type": "tool_result", "tool_use_id": "x", "content": [{"type": "what"}]}), "messages[0].content[0].content[0].type"),
    (msgs({"type": "tool_result", "tool_use_id": "x", "is_error": "yes"}), "messages[0].content[0].is_error"),
    (msgs({"type": "thinking"}), "messages[0].content[0].thinking"),
    (msgs({"type": "thinking", "thinking": "t", "signature": 1}), "messages[0].content[0].signature"),
    (msgs({"type": "redacted_thinking"}), "messages[0].content[0].data"),
    (base(system=5), "system"),
    (base(system=["x"]), "system[0]"),
    (base(system=[{"type": "image"}]), "system[0].type"),
    (base(system=[{"type": "text", "text": None}]), "system[0].text"),
    (base(tools={}), "tools"),
    (base(tools=["Bash"]), "tools[0]"),
    (base(tools=[{"input_schema": {}}]), "tools[0].name"),
    (base(tools=[{"name": ""}]), "tools[0].name"),
    (base(tools=[{"name": "x", "input_schema": "schema"}]), "tools[0].input_schema"),
    (base(tools=[{"name": "x", "description": 1}]), "tools[0].description"),
    (base(tools=[{"name": "x", "strict": "yes"}]), "tools[0].strict"),
    (base(tools=[{"name": "x", "type": 3}]), "tools[0].type"),
    (base(tool_choice="auto"), "tool_choice"),
    (base(tool_choice={"type": "required"}), "tool_choice.type"),
    (base(tool_choice={"type": "tool"}), "tool_choice.name"),
    (base(tool_choice={"type": "auto", "disable_parallel_tool_use": 1}), "tool_choice.disable_parallel_tool_use"),
    (base(thinking=True), "thinking"),
    (base(thinking={}), "thinking.type"),
    (base(thinking={"type": "enabled", "budget_tokens": "lots"}), "thinking.budget_tokens"),
    (base(output_config="high"), "output_config"),
    (base(output_config={"effort": 3}), "output_config.effort"),
    (base(max_tokens="100"), "max_tokens"),
    (base(max_tokens=True), "max_tokens"),
    (base(max_tokens=1.5), "max_tokens"),
    (base(max_tokens=0), "max_tokens"),
    (base(temperature="hot"), "temperature"),
    (base(top_p=[1]), "top_p"),
    (base(top_k=0.5), "top_k"),
    (base(stop_sequences="END"), "stop_sequences"),
    (base(stop_sequences=["a", 1]), "stop_sequences[1]"),
    (base(stream="yes"), "stream"),
    (base(metadata="u"), "metadata"),
]


@pytest.mark.parametrize(("body", "param"), BAD, ids=[str(p) + f"#{i}" for i, (_, p) in enumerate(BAD)])
def test_malformed_requests_name_the_field(body: Any, param: str | None) -> None:
    with pytest.raises(errors.InvalidRequest) as info:
        am.parse_request(body)
    assert info.value.param == param
    assert info.value.status == 400
    if param:
        assert info.value.message.startswith(param.split("[")[0])


def test_lenient_where_anthropic_would_be_strict() -> None:
    req = am.parse_request(
        base(
            max_tokens=4096.0,
            tools=[{"name": "x"}, {"type": "web_search_20250305", "name": "web_search"}, {"type": "text_editor_20250728", "name": "e"}],
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}, "citations": None}]},
                {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}]},
            ],
        )
    )  # fmt: skip
    assert req.max_tokens == 4096
    assert req.tools == (ir.Tool("x"),)
    assert req.messages[1] == ir.Message("assistant", ())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    ["model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "max_tokens",
     "temperature", "top_k", "stop_sequences", "stream", "metadata", "role", "content", "type", "text",
     "source", "input", "tool_use_id", "is_error", "signature", "data", "name", "input_schema",
     "budget_tokens", "effort", "media_type", "url", "disable_parallel_tool_use"]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_random_json_only_raises_invalid_request(value: Any) -> None:
    try:
        am.parse_request(value)
    except errors.InvalidRequest:
        pass


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """Replace the subtree reached by following ``path`` (indexes into children) and return
    the new root."""
    if not path or not isinstance(value, (dict, list)) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    k = keys[path[0] % len(keys)]
    value[k] = _mutate(value[k], path[1:], replacement)
    return value


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CASES), st.lists(st.integers(0, 50), max_size=7), JSON | st.dictionaries(KEYS, JSON, max_size=3))
def test_mutated_real_requests_only_raise_invalid_request(case: str, path: list[int], replacement: Any) -> None:
    body = _mutate(load(case), path, replacement)
    try:
        req = am.parse_request(body)
    except errors.InvalidRequest:
        return
    am.render_request(req)  # whatever parses must render


# --------------------------------------------------------------------------- cross-dialect render


def chat_req(*messages: ir.Message, **kw: Any) -> ir.Request:
    return ir.Request(model="claude-x", messages=messages, dialect="openai_chat", **kw)


U = ir.Message
T = ir.TextPart


def test_conversation_normalisation() -> None:
    req = chat_req(
        U("assistant", (T("Hello, how can I help?"),)),
        U("user", (T("first"),)),
        U("user", (T("second"),)),
        U("system", (T("Be terse."),)),
        U("assistant", (ir.ThinkingPart("foreign reasoning"), T(" "), ir.ToolCallPart("c1", "Bash", '{"command":"ls"}'))),
        U("user", (T("here you go"), ir.ToolResultPart("c1", (T("a.py"), ir.ImagePart(url="data:image/png;base64,AAAA"))))),
        U("system", (T("Tool results may be stale."),)),
        U("assistant", (ir.ThinkingPart("", encrypted="enc", redacted=True), ir.ThinkingPart("t", signature="sig"), T("done"))),
        system=(T("sys one"), T("sys two")),
    )
    out = am.render_request(req)
    assert out["system"] == [{"type": "text", "text": "sys one"}, {"type": "text", "text": "sys two"}]
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "(continue)"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hello, how can I help?"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "first"},
            {"type": "text", "text": "second"},
            {"type": "text", "text": "<system-reminder>\nBe terse.\n</system-reminder>"},
        ]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": [
                {"type": "text", "text": "a.py"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
            ]},
            {"type": "text", "text": "here you go"},
            {"type": "text", "text": "<system-reminder>\nTool results may be stale.\n</system-reminder>"},
        ]},
        {"role": "assistant", "content": [
            {"type": "redacted_thinking", "data": "enc"},
            {"type": "thinking", "thinking": "t", "signature": "sig"},
            {"type": "text", "text": "done"},
        ]},
    ]  # fmt: skip
    assert out["max_tokens"] == 8192 and "metadata" not in out and "stream" not in out
    # Whatever we send upstream, our own (strict) parser accepts.
    am.parse_request(out)


def test_first_user_turn_needs_no_placeholder_and_system_first_is_user() -> None:
    out = am.render_request(chat_req(U("system", (T("note"),)), U("user", (T("hi"),))))
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>\nnote\n</system-reminder>"}, {"type": "text", "text": "hi"}]}
    ]
    assert am.render_request(chat_req(U("user", (T("hi"),))))["messages"][0]["content"] == [{"type": "text", "text": "hi"}]


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking", "effort"),
    [
        (ir.Reasoning(True, effort="low"), None, {"type": "enabled", "budget_tokens": 2048}, "low"),
        (ir.Reasoning(True, effort="medium"), None, {"type": "enabled", "budget_tokens": 8191}, "medium"),
        (ir.Reasoning(True, effort="high"), 64000, {"type": "enabled", "budget_tokens": 16384}, "high"),
        (ir.Reasoning(True, effort="max"), 64000, {"type": "enabled", "budget_tokens": 31999}, "max"),
        (ir.Reasoning(True, effort="minimal"), 4000, {"type": "enabled", "budget_tokens": 1024}, "low"),
        (ir.Reasoning(True, effort="max"), 20000, {"type": "enabled", "budget_tokens": 19999}, "max"),
        (ir.Reasoning(True, budget_tokens=5000), 10000, {"type": "enabled", "budget_tokens": 5000}, None),
        (ir.Reasoning(True), 10000, {"type": "enabled", "budget_tokens": 8192}, None),
        (ir.Reasoning(True, effort="high"), 1000, None, "high"),
        (ir.Reasoning(False), None, {"type": "disabled"}, None),
        (ir.Reasoning(False, effort="low"), None, {"type": "disabled"}, "low"),
        (None, None, None, None),
    ],
)
def test_reasoning_render(reasoning: ir.Reasoning | None, max_tokens: int | None, thinking: Any, effort: str | None) -> None:
    out = am.render_request(chat_req(U("user", (T("hi"),)), reasoning=reasoning, max_tokens=max_tokens, temperature=0.2, top_k=5, top_p=0.5))
    assert out.get("thinking") == thinking
    assert out.get("output_config", {}).get("effort") == effort
    on = thinking is not None and thinking["type"] == "enabled"
    assert ("temperature" in out, "top_k" in out, "top_p" in out) == (not on, not on, not on)


def test_thinking_off_when_the_tool_loop_has_no_signed_thinking() -> None:
    convo = (
        U("user", (T("go"),)),
        U("assistant", (ir.ThinkingPart("foreign"), ir.ToolCallPart("c", "Bash", "{}"))),
        U("user", (ir.ToolResultPart("c", (T("ok"),)),)),
    )
    assert "thinking" not in am.render_request(chat_req(*convo, reasoning=ir.Reasoning(True, effort="high")))
    signed = (convo[0], U("assistant", (ir.ThinkingPart("x", signature="s"), ir.ToolCallPart("c", "Bash", "{}"))), convo[2])
    assert am.render_request(chat_req(*signed, reasoning=ir.Reasoning(True, effort="high")))["thinking"]["type"] == "enabled"


def test_tools_tool_choice_and_metadata() -> None:
    tools = (
        ir.Tool("Bash", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}}}),
        ir.Tool("apply_patch", "Patch files", kind="custom", format={"type": "grammar", "syntax": "lark", "definition": "start: x"}),
    )
    out = am.render_request(
        chat_req(U("user", (T("hi"),)), tools=tools, parallel_tool_calls=False, metadata={"user_id": "u1", "trace": "t"}, stop=("X",), stream=True)
    )
    assert out["tools"] == [
        {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
        {
            "name": "apply_patch",
            "description": "Patch files\n\nThe input must follow this grammar:\nstart: x",
            "input_schema": {"type": "object", "properties": {"input": {"type": "string", "description": "The raw tool input."}}, "required": ["input"]},
        },
    ]
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert out["metadata"] == {"user_id": "u1"} and out["stop_sequences"] == ["X"] and out["stream"] is True
    none = am.render_request(chat_req(U("user", (T("hi"),)), tools=tools, tool_choice=ir.ToolChoice("none"), parallel_tool_calls=False))
    assert none["tool_choice"] == {"type": "none"}
    no_tools = am.render_request(chat_req(U("user", (T("hi"),)), tool_choice=ir.ToolChoice("any"), parallel_tool_calls=False))
    assert "tool_choice" not in no_tools and "tools" not in no_tools


def test_response_format_becomes_output_format() -> None:
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    out = am.render_request(chat_req(U("user", (T("hi"),)), response_format=rf, reasoning=ir.Reasoning(True, effort="low")))
    assert out["output_config"] == {"effort": "low", "format": {"type": "json_schema", "schema": {"type": "object"}}}


def test_images_and_empty_parts() -> None:
    out = am.render_request(
        chat_req(
            U("user", (ir.ImagePart("image/webp", data="UklG"), ir.ImagePart(url="https://x/y.png"), ir.ImagePart(url="data:text/plain,hi"), ir.ImagePart(), T(""))),
            U("assistant", (ir.ThinkingPart("", redacted=True),)),
            U("user", (ir.ToolResultPart("c", (T(""),), is_error=True),)),
        )
    )  # fmt: skip
    assert out["messages"] == [
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c", "is_error": True},
            {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklG"}},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        ]},
    ]  # fmt: skip
