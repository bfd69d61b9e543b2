"""The action-block parser: a table of replies and exactly what they become."""

from __future__ import annotations

import json
from typing import Any

import pytest

from features.tool_sets import CLAUDE, CODEX, ids, tool
from lingma_proxy import ir
from lingma_proxy.features.action_blocks import parse_action_parts, parse_actions
from lingma_proxy.features.tool_args import FAIL, check_arguments, coerce, loads_lenient

F = "```"
HERMES = (tool("terminal", {"command": {"type": "string"}}, ["command"]),
          tool("read_file", {"path": {"type": "string"}}, ["path"]))


def act(name: str, params: Any, info: str = "json action") -> str:
    return f"{F}{info}\n" + json.dumps({"tool": name, "parameters": params}) + f"\n{F}"


def simple(parts: list[ir.TextPart | ir.ToolCallPart]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for p in parts:
        if isinstance(p, ir.TextPart):
            out.append(("text", p.text))
        else:
            out.append(("call", p.name, json.loads(p.arguments)))
    return out


CASES: list[tuple[str, str, tuple[ir.Tool, ...], list[tuple[Any, ...]]]] = [
    ("plain_text", "Hello, no tools here.", CLAUDE, [("text", "Hello, no tools here.")]),
    ("one_call", act("Read", {"file_path": "/a.py"}), CLAUDE,
     [("call", "Read", {"file_path": "/a.py"})]),
    ("text_before_and_after",
     "I'll read both files.\n\n" + act("Read", {"file_path": "/a.py"}) + "\n"
     + act("Read", {"file_path": "/b.py"}) + "\n\nThen I'll summarise.",
     CLAUDE,
     [("text", "I'll read both files."), ("call", "Read", {"file_path": "/a.py"}),
      ("call", "Read", {"file_path": "/b.py"}), ("text", "Then I'll summarise.")]),
    ("several_tools",
     act("Grep", {"pattern": "TODO", "path": "src"}) + act("Bash", {"command": "git status"})
     + act("Glob", {"pattern": "**/*.py"}),
     CLAUDE,
     [("call", "Grep", {"pattern": "TODO", "path": "src"}), ("call", "Bash", {"command": "git status"}),
      ("call", "Glob", {"pattern": "**/*.py"})]),
    ("no_newline_before_fence", "Reading:" + act("Read", {"file_path": "/a"}), CLAUDE,
     [("text", "Reading:"), ("call", "Read", {"file_path": "/a"})]),
    ("pretty_printed",
     F + "json action\n{\n  \"tool\": \"Bash\",\n  \"parameters\": {\n    \"command\": \"ls -la\"\n  }\n}\n" + F,
     CLAUDE, [("call", "Bash", {"command": "ls -la"})]),
    ("plain_json_fence_with_tool_key", act("Bash", {"command": "pwd"}, info="json"), CLAUDE,
     [("call", "Bash", {"command": "pwd"})]),
    ("bare_fence_at_line_start", "Sure.\n" + act("Bash", {"command": "pwd"}, info=""), CLAUDE,
     [("text", "Sure."), ("call", "Bash", {"command": "pwd"})]),
    ("name_arguments_shape",
     F + "json\n{\"name\": \"Read\", \"arguments\": {\"file_path\": \"/x\"}}\n" + F, CLAUDE,
     [("call", "Read", {"file_path": "/x"})]),
    ("openai_function_shape",
     F + "json\n{\"type\": \"function\", \"function\": {\"name\": \"Bash\", \"arguments\": \"{\\\"command\\\": \\\"ls\\\"}\"}}\n" + F,
     CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("list_of_calls",
     F + "json action\n[{\"tool\": \"Read\", \"parameters\": {\"file_path\": \"/a\"}}, "
     "{\"tool\": \"Read\", \"parameters\": {\"file_path\": \"/b\"}}]\n" + F,
     CLAUDE, [("call", "Read", {"file_path": "/a"}), ("call", "Read", {"file_path": "/b"})]),
    ("tool_key_without_parameters", F + "json action\n{\"tool\": \"Bash\", \"command\": \"ls\"}\n" + F,
     CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("hermes_tag", "<tool_call>\n{\"name\": \"Bash\", \"arguments\": {\"command\": \"ls\"}}\n</tool_call>",
     CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("bare_json_line", "Checking.\n{\"tool\": \"Bash\", \"parameters\": {\"command\": \"ls\"}}\nDone.",
     CLAUDE, [("text", "Checking."), ("call", "Bash", {"command": "ls"}), ("text", "Done.")]),
    # drifted JSON the parser repairs
    ("raw_newlines_in_string",
     F + "json action\n{\"tool\": \"Write\", \"parameters\": {\"file_path\": \"/a.md\", \"content\": \"# T\n\n```py\nx = 1\n```\n\"}}\n" + F,
     CLAUDE, [("call", "Write", {"file_path": "/a.md", "content": "# T\n\n```py\nx = 1\n```\n"})]),
    ("escaped_fence_in_string",
     act("Write", {"file_path": "/a.md", "content": "```py\nx = 1\n```\n"}), CLAUDE,
     [("call", "Write", {"file_path": "/a.md", "content": "```py\nx = 1\n```\n"})]),
    ("trailing_comma", F + "json action\n{\"tool\": \"Bash\", \"parameters\": {\"command\": \"ls\",},}\n" + F,
     CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("curly_quotes", F + "json action\n{\u201ctool\u201d: \u201cBash\u201d, \u201cparameters\u201d: {\u201ccommand\u201d: \u201cls\u201d}}\n" + F,
     CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("unclosed_but_complete_at_end", "Go.\n" + F + "json action\n{\"tool\": \"Bash\", \"parameters\": {\"command\": \"ls\"}}\n",
     CLAUDE, [("text", "Go."), ("call", "Bash", {"command": "ls"})]),
    # left as text, verbatim
    ("malformed_json", "Try:\n" + F + "json action\n{\"tool\": \"Bash\", \"parameters\": {\"command\": }\n" + F,
     CLAUDE, [("text", "Try:\n" + F + "json action\n{\"tool\": \"Bash\", \"parameters\": {\"command\": }\n" + F)]),
    ("partial_block_at_end", "Try:\n" + F + "json action\n{\"tool\": \"Bash\", \"param",
     CLAUDE, [("text", "Try:\n" + F + "json action\n{\"tool\": \"Bash\", \"param")]),
    ("unknown_tool", act("launch_rocket", {"x": 1}), CLAUDE, [("text", act("launch_rocket", {"x": 1}))]),
    ("missing_required", act("Edit", {"file_path": "/a"}), CLAUDE, [("text", act("Edit", {"file_path": "/a"}))]),
    ("json_data_fence", "Config:\n" + F + "json\n{\"name\": \"pkg\", \"version\": \"1.0\"}\n" + F, CLAUDE,
     [("text", "Config:\n" + F + "json\n{\"name\": \"pkg\", \"version\": \"1.0\"}\n" + F)]),
    ("python_fence_untouched", "Example:\n" + F + "python\nprint('" + F + "json action')\n" + F + "\nok",
     CLAUDE, [("text", "Example:\n" + F + "python\nprint('" + F + "json action')\n" + F + "\nok")]),
    ("action_inside_markdown_fence",
     F + "markdown\n" + act("Bash", {"command": "ls"}) + "\n" + F, CLAUDE,
     [("text", F + "markdown\n" + F + "json action\n{\"tool\": \"Bash\", \"parameters\": {\"command\": \"ls\"}}\n" + F + "\n" + F)]),
    ("inline_code", "Use `ls` or ``x`` and a < b [link](u) {not json}.", CLAUDE,
     [("text", "Use `ls` or ``x`` and a < b [link](u) {not json}.")]),
    # aliases, both directions
    ("alias_terminal_to_Bash", act("terminal", {"command": "ls"}), CLAUDE, [("call", "Bash", {"command": "ls"})]),
    ("alias_Read_to_read_file", act("Read", {"path": "/x"}), HERMES, [("call", "read_file", {"path": "/x"})]),
    ("alias_Bash_to_terminal_extra_dropped", act("Bash", {"command": "ls", "extra": 1}), HERMES,
     [("call", "terminal", {"command": "ls"})]),
    ("param_alias_path_to_file_path", act("Read", {"path": "/x"}), CLAUDE, [("call", "Read", {"file_path": "/x"})]),
    ("codex_command_to_cmd", act("bash", {"command": "ls"}), CODEX, [("call", "exec_command", {"cmd": "ls"})]),
    ("codex_unknown_tool", act("write_file", {"path": "/a", "content": "x"}), CODEX,
     [("text", act("write_file", {"path": "/a", "content": "x"}))]),
    # schema coercion
    ("coerce_integer", act("Read", {"file_path": "/a", "offset": "5", "limit": 10.0}), CLAUDE,
     [("call", "Read", {"file_path": "/a", "offset": 5, "limit": 10})]),
    ("coerce_bool_enum_null", act("Grep", {"pattern": "x", "-i": "true", "output_mode": "Content", "path": None}),
     CLAUDE, [("call", "Grep", {"pattern": "x", "-i": True, "output_mode": "content"})]),
    ("coerce_array_from_string", act("TodoWrite", {"todos": "[{\"content\": \"a\", \"status\": \"pending\", \"activeForm\": \"A\"}]"}),
     CLAUDE, [("call", "TodoWrite", {"todos": [{"content": "a", "status": "pending", "activeForm": "A"}]})]),
    ("string_parameters_single_param", F + "json action\n{\"tool\": \"Bash\", \"parameters\": \"ls -la\"}\n" + F,
     CLAUDE, [("call", "Bash", {"command": "ls -la"})]),
    # Codex custom tool
    ("custom_tool_input", act("apply_patch", {"input": "*** Begin Patch\n*** End Patch\n"}), CODEX,
     [("call", "apply_patch", {"input": "*** Begin Patch\n*** End Patch\n"})]),
    ("custom_tool_patch_key", act("apply_patch", {"patch": "*** Begin Patch\n*** End Patch\n"}), CODEX,
     [("call", "apply_patch", {"input": "*** Begin Patch\n*** End Patch\n"})]),
    ("custom_tool_string", F + "json action\n{\"tool\": \"apply_patch\", \"parameters\": \"*** Begin Patch\\n*** End Patch\"}\n" + F,
     CODEX, [("call", "apply_patch", {"input": "*** Begin Patch\n*** End Patch"})]),
    # dedupe
    ("dedupe", act("Bash", {"command": "pwd"}) + "\n" + act("Bash", {"command": "pwd"}) + "\nok", CLAUDE,
     [("call", "Bash", {"command": "pwd"}), ("text", "ok")]),
]


@pytest.mark.parametrize("name, text, tools, expected", CASES, ids=[c[0] for c in CASES])
def test_parse(name: str, text: str, tools: tuple[ir.Tool, ...], expected: list[tuple[Any, ...]]) -> None:
    parts = parse_action_parts(text, tools, new_id=ids())
    assert simple(parts) == expected
    calls = [p for p in parts if isinstance(p, ir.ToolCallPart)]
    assert [c.id for c in calls] == [f"call_{i:04x}" for i in range(1, len(calls) + 1)]


def test_limit_keeps_first_calls_and_removes_all_blocks() -> None:
    text = "".join(act("Bash", {"command": "pwd"}) for _ in range(6))
    text += "".join(act("Bash", {"command": f"ls {i}"}) for i in range(6))
    rest, calls = parse_actions(text, CLAUDE, max_calls=3)
    assert rest == ""
    assert [json.loads(c.arguments)["command"] for c in calls] == ["pwd", "ls 0", "ls 1"]


def test_ids_are_unique_call_hex() -> None:
    text = "".join(act("Bash", {"command": f"echo {i}"}) for i in range(8))
    _, calls = parse_actions(text, CLAUDE)
    assert len({c.id for c in calls}) == 8
    assert all(c.id.startswith("call_") and int(c.id[5:], 16) >= 0 for c in calls)


def test_id_collisions_are_resolved() -> None:
    text = act("Bash", {"command": "a"}) + act("Bash", {"command": "b"})
    _, calls = parse_actions(text, CLAUDE, new_id=lambda: "call_same")
    assert len({c.id for c in calls}) == 2


def test_custom_tool_call_kind() -> None:
    _, calls = parse_actions(act("apply_patch", {"input": "x"}), CODEX)
    assert calls[0].kind == "custom"


def test_parse_actions_joins_text() -> None:
    rest, calls = parse_actions("A" + act("Bash", {"command": "ls"}) + "B", CLAUDE)
    assert rest == "A\n\nB" and len(calls) == 1


def test_block_with_one_bad_call_is_left_whole() -> None:
    text = (F + "json action\n[{\"tool\": \"Read\", \"parameters\": {\"file_path\": \"/a\"}}, "
            "{\"tool\": \"Nope\", \"parameters\": {}}]\n" + F)
    assert parse_actions(text, CLAUDE) == (text, [])


@pytest.mark.parametrize("value, schema, expected", [
    ("5", {"type": "integer"}, 5), (" -3 ", {"type": "integer"}, -3), ("5.5", {"type": "integer"}, "5.5"),
    (2.0, {"type": "integer"}, 2), ("2.5", {"type": "number"}, 2.5), ("nan", {"type": "number"}, "nan"),
    ("FALSE", {"type": "boolean"}, False), ("yes", {"type": "boolean"}, "yes"), (5, {"type": "string"}, "5"),
    (True, {"type": "string"}, True), ({"a": 1}, {"type": "string"}, '{\n  "a": 1\n}'),
    ("{\"a\": 1}", {"type": "object"}, {"a": 1}), ("[1]", {"type": ["array", "null"]}, [1]),
    ("x", {"enum": ["X", "y"]}, "X"), ("z", {"enum": ["X"]}, "z"), ("5", {"anyOf": [{"type": "integer"}]}, "5"),
])
def test_coerce(value: Any, schema: dict[str, Any], expected: Any) -> None:
    assert coerce(value, schema) == expected


def test_check_arguments_edge_shapes() -> None:
    bash = CLAUDE[1]
    assert check_arguments(bash, None) is None  # required command missing
    assert check_arguments(bash, [1, 2]) is None
    assert check_arguments(bash, {"command": None}) is None
    assert check_arguments(tool("t"), None) == {}
    open_tool = ir.Tool("x", parameters={"type": "object", "additionalProperties": True})
    assert check_arguments(open_tool, {"anything": [1]}) == {"anything": [1]}


@pytest.mark.parametrize("text, expected", [
    ('{"a": 1}', {"a": 1}), ('{"a": 1} trailing', {"a": 1}), ('{"a": [1,],}', {"a": [1]}),
    ("", FAIL), ("nope", FAIL), ("[" * 5000, FAIL),
])
def test_loads_lenient(text: str, expected: Any) -> None:
    assert loads_lenient(text) == expected if expected is not FAIL else loads_lenient(text) is FAIL


# --------------------------------------------------------------------------- hypothesis

from hypothesis import given, settings, strategies as st  # noqa: E402

from lingma_proxy.features.tool_contract import build_contract  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises_and_keeps_text(text: str) -> None:
    rest, calls = parse_actions(text, CLAUDE)
    if not calls:
        assert rest == text


@settings(max_examples=200, deadline=None)
@given(JSON, JSON, st.text(max_size=10))
def test_odd_schemas_and_arguments_never_raise(schema: Any, args: Any, name: str) -> None:
    weird = ir.Tool(name or "t", parameters=schema if isinstance(schema, dict) else {"properties": schema})
    build_contract([weird, *CLAUDE[:2]], ir.ToolChoice("tool", name), False)
    check_arguments(weird, args)
    block = F + "json action\n" + json.dumps({"tool": weird.name, "parameters": args}) + "\n" + F
    parse_actions(block, [weird])
