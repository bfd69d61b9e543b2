"""The tool contract and the request a tool-less backend receives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from features.tool_sets import CLAUDE, CODEX, DIR, tool
from lingma_proxy import ir
from lingma_proxy.features.action_blocks import parse_actions
from lingma_proxy.features.tool_contract import (
    build_contract,
    effective_tools,
    inject_contract,
    needs_emulation,
    render_action,
)

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name, tools", [("claude_code", CLAUDE), ("codex", CODEX)])
def test_contract_golden(name: str, tools: tuple[ir.Tool, ...]) -> None:
    path: Path = DIR / f"contract_{name}.md"
    text = build_contract(tools, None, None)
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text()
    assert build_contract(tools, None, None) == text  # deterministic: prefix caches stay warm


def test_claude_code_contract_uses_its_own_names() -> None:
    text = build_contract(CLAUDE)
    for name in ("Bash", "Read", "Edit", "Write", "Grep", "Glob", "Agent", "TodoWrite", "WebSearch", "WebFetch"):
        assert f"### {name}\n" in text
    for line in (
        "- Read a file: Read\n", "- Search file contents: Grep\n",
        "- Find files by name or list a directory: Glob\n", "- Edit part of an existing file: Edit\n",
        "- Create or overwrite a file: Write\n",
        "- Run a shell command (build, test, git, inspect processes/ports/memory): Bash\n",
        "- Search the web for current information: WebSearch\n", "- Fetch a web page or URL: WebFetch\n",
        "- Track the steps of a multi-step task: TodoWrite\n", "- Delegate a self-contained sub-task: Agent",
    ):
        assert line in text
    assert '{"tool":"Read","parameters":{"file_path":"/home/user/project/src/app.py"}}' in text
    assert '{"tool":"Grep","parameters":{"pattern":"TODO"}}' in text
    assert '{"tool":"Bash","parameters":{"command":"ls -la"}}' in text
    assert '{"tool":"WebSearch","parameters":{"query":"latest stable Python release"}}' in text
    for foreign in ("read_file", "terminal", "exec_command", "search_files"):
        assert foreign not in text
    assert "- todos (array of object {content: string, status: \"pending\" | \"in_progress\" | \"completed\"" in text
    assert "- file_path (string, required): The absolute path to the file to read" in text


def test_codex_contract() -> None:
    text = build_contract(CODEX)
    assert "- Run a shell command (build, test, git, inspect processes/ports/memory): exec_command\n" in text
    assert "- Read a file: exec_command (run `sed -n '1,200p' src/app.py`)" in text
    assert "- Edit part of an existing file: apply_patch\n" in text
    assert "- Send input to a running command: write_stdin\n" in text
    assert '{"tool":"exec_command","parameters":{"cmd":"ls -la"}}' in text
    assert '{"tool":"apply_patch","parameters":{"input":"*** Begin Patch\\n*** Update File: src/app.py' in text
    assert "this replaces any instruction not to wrap it in JSON" in text
    assert "`input` must follow this lark grammar:\nstart: begin_patch hunk+ end_patch" in text


def test_examples_in_contract_parse_back() -> None:
    for tools in (CLAUDE, CODEX):
        text = build_contract(tools)
        examples = text.split("## Examples", 1)[1].split("## Rules", 1)[0]
        _, calls = parse_actions(examples, tools)
        assert len(calls) == examples.count("```json action")


def test_only_exec_command_edits_with_shell() -> None:
    text = build_contract([tool("exec_command", {"cmd": {"type": "string"}}, ["cmd"])])
    assert "- Edit part of an existing file: exec_command (run `a targeted command (sed -i, a heredoc)`)" in text
    assert "apply_patch" not in text and "write_file" not in text


@pytest.mark.parametrize("choice, parallel, present, absent", [
    (None, None, ["tool_choice is auto", "write several blocks in the same reply (at most 8)"], ["MUST"]),
    (ir.ToolChoice("any"), None, ["you MUST call at least one tool"], ["tool_choice is auto"]),
    (ir.ToolChoice("tool", "Grep"), None, ['you MUST call the tool "Grep"'], ["at least one tool"]),
    (ir.ToolChoice("auto"), False, ["Call one tool per reply, then wait for its result"], ["several blocks"]),
    (ir.ToolChoice("none"), None, ["disabled for this reply", "Bash"], ["## Available tools", "MUST"]),
])
def test_choice_wording(choice: ir.ToolChoice | None, parallel: bool | None, present: list[str], absent: list[str]) -> None:
    text = build_contract(CLAUDE, choice, parallel)
    for s in present:
        assert s in text
    for s in absent:
        assert s not in text


def test_tool_without_known_intent_still_gets_an_example() -> None:
    t = tool("create_issue", {"title": {"type": "string"}, "count": {"type": "integer"}}, ["title", "count"])
    text = build_contract([t])
    assert '{"tool":"create_issue","parameters":{"title":"value","count":1}}' in text
    assert "## Which tool to use" not in text


def test_render_action_roundtrip() -> None:
    block = render_action("Bash", '{"command": "echo \\"hi\\"\\n```"}')
    assert parse_actions(block, CLAUDE)[1][0].arguments == '{"command":"echo \\"hi\\"\\n```"}'
    assert render_action("Bash", "not json") == '```json action\n{"tool":"Bash","parameters":"not json"}\n```'


# --------------------------------------------------------------------------- the request

IMG = ir.ImagePart("image/png", "aGVsbG8=")
HISTORY = (
    ir.Message("user", (ir.TextPart("What is in a.py? And take a screenshot."),)),
    ir.Message("assistant", (
        ir.ThinkingPart("plan", signature="s"),
        ir.TextPart("Reading it."),
        ir.ToolCallPart("call_1", "Read", '{"file_path":"/a.py"}'),
        ir.ToolCallPart("call_2", "Bash", '{"command":"screenshot"}'),
    )),
    ir.Message("user", (
        ir.ToolResultPart("call_1", (ir.TextPart("print(1)"),)),
        ir.ToolResultPart("call_2", (ir.TextPart("saved"), IMG), is_error=False),
        ir.ToolResultPart("call_9", (), is_error=True),
        ir.TextPart("<system-reminder>be brief</system-reminder>"),
    )),
)


def test_inject_contract() -> None:
    req = ir.Request("m", HISTORY, system=(ir.TextPart("You are Claude Code."),), tools=CLAUDE,
                     tool_choice=ir.ToolChoice("auto"), parallel_tool_calls=True)
    out = inject_contract(req)
    assert out.tools == () and out.tool_choice is None and out.parallel_tool_calls is None
    assert out.system[0] == ir.TextPart("You are Claude Code.")
    assert out.system[1].text == build_contract(CLAUDE, ir.ToolChoice("auto"), True)
    assert out.messages[0] is HISTORY[0]  # untouched messages are not copied
    assert out.messages[1].content == (
        ir.ThinkingPart("plan", signature="s"),
        ir.TextPart('Reading it.\n\n```json action\n{"tool":"Read","parameters":{"file_path":"/a.py"}}\n```'
                    '\n\n```json action\n{"tool":"Bash","parameters":{"command":"screenshot"}}\n```'),
    )
    assert out.messages[2].content == (
        ir.TextPart('<tool_result call_id="call_1" tool="Read">\nprint(1)\n</tool_result>\n\n'
                    '<tool_result call_id="call_2" tool="Bash">\nsaved'),
        IMG,
        ir.TextPart('</tool_result>\n\n<tool_result call_id="call_9" status="error">\n(no output)\n</tool_result>'
                    "\n\n<system-reminder>be brief</system-reminder>"),
    )
    assert out.model == req.model and out.stream == req.stream


def test_past_calls_render_as_parseable_action_blocks() -> None:
    out = inject_contract(ir.Request("m", HISTORY, tools=CLAUDE))
    _, calls = parse_actions(out.messages[1].text(), CLAUDE)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("Read", {"file_path": "/a.py"}), ("Bash", {"command": "screenshot"})]


def test_later_turn_without_tools_keeps_tool_mode() -> None:
    req = ir.Request("m", HISTORY)
    assert needs_emulation(req)
    assert [t.name for t in effective_tools(req)] == ["Read", "Bash"]
    out = inject_contract(req)
    contract = out.system[-1].text
    assert "### Read\n" in contract and "### Bash\n" in contract
    assert "Parameters: as in your earlier calls of this tool." in contract
    assert "<tool_result" in out.messages[2].text()


@pytest.mark.parametrize("req, expected", [
    (ir.Request("m", (ir.Message("user", (ir.TextPart("hi"),)),)), False),
    (ir.Request("m", (), tools=CLAUDE), True),
    (ir.Request("m", HISTORY), True),
    (ir.Request("m", (ir.Message("user", (ir.ToolResultPart("x"),)),)), True),
])
def test_needs_emulation(req: ir.Request, expected: bool) -> None:
    assert needs_emulation(req) is expected


def test_no_tools_no_history_is_unchanged_but_stripped() -> None:
    req = ir.Request("m", (ir.Message("user", (ir.TextPart("hi"),)),), system=(ir.TextPart("s"),))
    out = inject_contract(req)
    assert out.system == req.system and out.messages is req.messages
