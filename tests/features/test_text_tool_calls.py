"""Tool calls local models write as text, on OpenAI-compatible backends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from features.tool_sets import CLAUDE, CODEX, ids
from lingma_proxy import ir
from lingma_proxy.features.text_tool_calls import TextToolCallStream, extract_text_tool_calls

QWEN = ("I'll check.\n<tool_call>\n<function=Bash>\n<parameter=command>\nls -la\n</parameter>\n"
        "<parameter=timeout>\n5000\n</parameter>\n</function>\n</tool_call>")
CASES: list[tuple[str, str, tuple[ir.Tool, ...], list[tuple[Any, ...]]]] = [
    ("hermes", 'Sure.\n<tool_call>\n{"name": "Read", "arguments": {"file_path": "/a.py"}}\n</tool_call>',
     CLAUDE, [("text", "Sure."), ("call", "Read", {"file_path": "/a.py"})]),
    ("hermes_two_unclosed",
     '<tool_call>{"name": "Read", "arguments": {"file_path": "/a"}}\n<tool_call>{"name": "Read", "arguments": {"file_path": "/b"}}',
     CLAUDE, [("call", "Read", {"file_path": "/a"}), ("call", "Read", {"file_path": "/b"})]),
    ("hermes_string_arguments", '<tool_call>{"name": "Bash", "arguments": "{\\"command\\": \\"ls\\"}"}</tool_call>',
     CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("qwen3_coder", QWEN, CLAUDE, [("text", "I'll check."), ("call", "Bash", {"command": "ls -la", "timeout": 5000})]),
    ("qwen3_coder_bare", "<function=Read>\n<parameter=file_path>\n/a.py\n</parameter>\n</function>\nok",
     CLAUDE, [("call", "Read", {"file_path": "/a.py"}), ("text", "ok")]),
    ("qwen3_coder_json_param",
     "<function=TodoWrite>\n<parameter=todos>\n[{\"content\": \"a\", \"status\": \"pending\", \"activeForm\": \"A\"}]\n</parameter>\n</function>",
     CLAUDE, [("call", "TodoWrite", {"todos": [{"content": "a", "status": "pending", "activeForm": "A"}]})]),
    ("qwen3_coder_codex", "<tool_call>\n<function=exec_command>\n<parameter=cmd>\nrg -n foo\n</parameter>\n</function>\n</tool_call>",
     CODEX, [("call", "exec_command", {"cmd": "rg -n foo"})]),
    ("claude_xml", '<function_calls>\n<invoke name="Bash">\n<parameter name="command">pwd</parameter>\n</invoke>\n</function_calls>',
     CLAUDE, [("call", "Bash", {"command": "pwd"})]),
    ("mistral_list", '[TOOL_CALLS] [{"name": "Bash", "arguments": {"command": "ls"}}, {"name": "Read", "arguments": {"file_path": "/x"}}]',
     CLAUDE, [("call", "Bash", {"command": "ls"}), ("call", "Read", {"file_path": "/x"})]),
    ("mistral_v11", 'Checking.[TOOL_CALLS]Bash[ARGS]{"command": "ls"}[TOOL_CALLS]Read[ARGS]{"file_path": "/x"}',
     CLAUDE, [("text", "Checking."), ("call", "Bash", {"command": "ls"}), ("call", "Read", {"file_path": "/x"})]),
    ("mistral_not_a_call", "[TOOL_CALLS] nothing here", CLAUDE, [("text", "[TOOL_CALLS] nothing here")]),
    ("fenced_name_arguments", 'Run:\n```json\n{"name": "Bash", "arguments": {"command": "make test"}}\n```\nDone.',
     CLAUDE, [("text", "Run:"), ("call", "Bash", {"command": "make test"}), ("text", "Done.")]),
    ("bare_json_line", 'Here:\n{"name": "Bash", "arguments": {"command": "ls"}}', CLAUDE,
     [("text", "Here:"), ("call", "Bash", {"command": "ls"})]),
    ("llama_parameters", '{"name": "Bash", "parameters": {"command": "ls"}}', CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("unknown_function_stays_text", "<tool_call>\n{\"name\": \"fly\", \"arguments\": {}}\n</tool_call>", CLAUDE,
     [("text", "<tool_call>\n{\"name\": \"fly\", \"arguments\": {}}\n</tool_call>")]),
    ("json_example_stays_text", '```json\n{"name": "demo", "version": "1.0.0"}\n```', CLAUDE,
     [("text", '```json\n{"name": "demo", "version": "1.0.0"}\n```')]),
]


def simple(content: tuple[ir.Part, ...]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for p in content:
        if isinstance(p, ir.TextPart):
            out.append(("text", p.text))
        elif isinstance(p, ir.ToolCallPart):
            out.append(("call", p.name, json.loads(p.arguments)))
    return out


def events(text: str, cuts: list[int], native: bool = False) -> list[ir.Event]:
    evs: list[ir.Event] = [ir.MessageStart("c1", "qwen"), ir.BlockStart(0, "text")]
    prev = 0
    for c in cuts + [len(text)]:
        evs.append(ir.TextDelta(0, text[prev:c]))
        prev = c
    evs.append(ir.BlockStop(0))
    if native:
        evs += [ir.BlockStart(1, "tool_call", id="call_n", name="Bash"), ir.ToolArgsDelta(1, '{"command":"x"}'),
                ir.BlockStop(1)]
    evs += [ir.MessageDelta("tool_use" if native else "end_turn"), ir.MessageStop()]
    return evs


def stream(req: ir.Request, evs: list[ir.Event]) -> list[ir.Event]:
    conv = TextToolCallStream(req, new_id=ids())
    out: list[ir.Event] = []
    for ev in evs:
        out += conv.feed(ev)
    return out + conv.finish()


@pytest.mark.parametrize("name, text, tools, expected", CASES, ids=[c[0] for c in CASES])
def test_formats(name: str, text: str, tools: tuple[ir.Tool, ...], expected: list[tuple[Any, ...]]) -> None:
    req = ir.Request("m", (), tools=tools)
    resp = ir.Response("c1", "qwen", (ir.TextPart(text),))
    got = extract_text_tool_calls(resp, req, new_id=ids())
    assert simple(got.content) == expected
    calls = any(e[0] == "call" for e in expected)
    assert got.stop_reason == ("tool_use" if calls else "end_turn")
    # streaming, cut at every position, gives the same content
    for i in range(len(text) + 1):
        assert ir.accumulate(stream(req, events(text, [i]))).content == got.content, i


def test_untouched_without_tools_or_with_choice_none() -> None:
    resp = ir.Response("c1", "m", (ir.TextPart(QWEN),))
    for req in (ir.Request("m", ()), ir.Request("m", (), tools=CLAUDE, tool_choice=ir.ToolChoice("none"))):
        assert extract_text_tool_calls(resp, req) is resp
        evs = events(QWEN, [10])
        assert stream(req, evs) == evs


def test_native_tool_calls_win() -> None:
    req = ir.Request("m", (), tools=CLAUDE)
    resp = ir.Response("c1", "m", (ir.TextPart(QWEN), ir.ToolCallPart("call_n", "Bash", "{}")), stop_reason="tool_use")
    assert extract_text_tool_calls(resp, req) is resp
    # streaming: text before the first native call is still parsed; after it, nothing is
    text = "<tool_call>{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}</tool_call>"
    evs = events("x", [], native=True)
    evs[-2:-2] = [ir.BlockStart(2, "text"), ir.TextDelta(2, text), ir.BlockStop(2)]
    resp2 = ir.accumulate(stream(req, evs))
    assert simple(resp2.content) == [("text", "x"), ("call", "Bash", {"command": "x"}), ("text", text)]


def test_parallel_false_keeps_first_call() -> None:
    req = ir.Request("m", (), tools=CLAUDE, parallel_tool_calls=False)
    text = '[TOOL_CALLS]Bash[ARGS]{"command": "a"}[TOOL_CALLS]Bash[ARGS]{"command": "b"}'
    got = extract_text_tool_calls(ir.Response("c1", "m", (ir.TextPart(text),)), req)
    assert [json.loads(c.arguments) for c in got.tool_calls()] == [{"command": "a"}]
