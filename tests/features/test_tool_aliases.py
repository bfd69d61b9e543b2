from __future__ import annotations

import pytest

from features.tool_sets import CLAUDE, CODEX, tool
from lingma_proxy.features.tool_aliases import rename_params, resolve_tool_name, tool_for_intent

HERMES = [tool(n) for n in ("terminal", "read_file", "search_files", "patch", "write_file",
                           "web_search", "web_extract", "todo")]


@pytest.mark.parametrize(
    "said, tools, expected",
    [
        # the model's name -> Claude Code's
        ("Bash", CLAUDE, "Bash"),
        ("bash", CLAUDE, "Bash"),
        ("terminal", CLAUDE, "Bash"),
        ("run_shell_command", CLAUDE, "Bash"),
        ("exec_command", CLAUDE, "Bash"),
        ("read_file", CLAUDE, "Read"),
        ("cat", CLAUDE, "Read"),
        ("search_files", CLAUDE, "Grep"),
        ("grep", CLAUDE, "Grep"),
        ("list_dir", CLAUDE, "Glob"),
        ("apply_patch", CLAUDE, "Edit"),
        ("str_replace", CLAUDE, "Edit"),
        ("write_file", CLAUDE, "Write"),
        ("web_search", CLAUDE, "WebSearch"),
        ("fetch", CLAUDE, "WebFetch"),
        ("todo_write", CLAUDE, "TodoWrite"),
        ("Task", CLAUDE, "Agent"),
        ("functions.Read", CLAUDE, "Read"),
        ("mcp__fs__read_file", CLAUDE, "Read"),
        ("run_bash_script", CLAUDE, "Bash"),
        # ... and the other way round: Claude Code names -> a Hermes-style client
        ("Read", HERMES, "read_file"),
        ("Bash", HERMES, "terminal"),
        ("Grep", HERMES, "search_files"),
        ("Edit", HERMES, "patch"),
        ("Write", HERMES, "write_file"),
        ("WebSearch", HERMES, "web_search"),
        ("WebFetch", HERMES, "web_extract"),
        ("TodoWrite", HERMES, "todo"),
        # Codex
        ("bash", CODEX, "exec_command"),
        ("shell", CODEX, "exec_command"),
        ("Edit", CODEX, "apply_patch"),
        ("update_plan", CODEX, "update_plan"),
        ("TodoWrite", CODEX, "update_plan"),
        ("ViewImage", CODEX, "view_image"),
        # no match
        ("Write", CODEX, None),
        ("launch_rocket", CLAUDE, None),
        ("", CLAUDE, None),
        ("Read", [], None),
    ],
)
def test_resolve_tool_name(said: str, tools: object, expected: str | None) -> None:
    assert resolve_tool_name(said, tools) == expected  # type: ignore[arg-type]


def test_exact_name_wins_over_alias() -> None:
    tools = [tool("bash"), tool("terminal")]
    assert resolve_tool_name("terminal", tools) == "terminal"
    assert resolve_tool_name("shell", tools) == "bash"  # group order: bash ranks first


def test_mcp_tail_match() -> None:
    tools = [tool("mcp__github__create_issue"), tool("Read")]
    assert resolve_tool_name("create_issue", tools) == "mcp__github__create_issue"


def test_tool_for_intent() -> None:
    assert tool_for_intent("shell", CODEX) == "exec_command"
    assert tool_for_intent("read", CODEX) is None
    assert tool_for_intent("grep", CLAUDE) == "Grep"
    assert tool_for_intent("nonsense", CLAUDE) is None


@pytest.mark.parametrize(
    "args, props, expected",
    [
        ({"path": "/a"}, {"file_path": {}}, {"file_path": "/a"}),
        ({"command": "ls"}, {"cmd": {}}, {"cmd": "ls"}),
        ({"regex": "x", "path": "src"}, {"pattern": {}, "path": {}}, {"path": "src", "pattern": "x"}),
        ({"old_str": "a", "new_str": "b", "file": "f"},
         {"file_path": {}, "old_string": {}, "new_string": {}},
         {"old_string": "a", "new_string": "b", "file_path": "f"}),
        ({"file_path": "/a", "path": "/b"}, {"file_path": {}}, {"file_path": "/a", "path": "/b"}),
        ({"weird": 1}, {"file_path": {}}, {"weird": 1}),
    ],
)
def test_rename_params(args: dict, props: dict, expected: dict) -> None:
    assert rename_params(args, props) == expected
