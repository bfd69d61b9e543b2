"""A Claude Code-sized Anthropic Messages request (about 200 KB), built deterministically.

Shaped after what Claude Code 2.1 sends (see shared/reference/real-clients.md): three system
blocks (the per-request billing header first, then two with ``cache_control``), about 50 KB of
system prompt, 13 tools with realistic JSON schemas (one ``defer_loading``), a ``role: system``
environment turn inside ``messages``, then a long agent history: thinking with signatures,
text, ``tool_use`` and ``tool_result`` turns carrying file contents and command output.
"""

from __future__ import annotations

import random
from typing import Any

_WORDS = ["the", "a", "to", "of", "and", "in", "is", "for", "that", "you", "with", "as", "on", "be", "use", "it", "this", "when", "are", "not", "file", "tool", "command", "user", "code", "should", "or", "if", "can", "only", "do", "any", "by", "from", "will", "must", "run", "test", "path", "output", "always", "never", "read", "edit", "write", "search", "task", "agent", "result", "error", "directory", "function", "return", "value", "change", "make", "sure", "before", "after", "instead", "prefer", "avoid", "important", "example", "follow", "repository", "branch", "commit", "message", "line", "number", "content", "pattern", "match", "default"]

_CODE = [
    "def parse_range(spec: str) -> tuple[int, int]:",
    "    lo, _, hi = spec.partition('-')",
    "    return int(lo), int(hi or lo)",
    "class RangeError(ValueError):",
    "    \"\"\"Raised when a range spec cannot be parsed.\"\"\"",
    "for i, line in enumerate(lines, start=1):",
    "    if pattern.search(line):",
    "        hits.append((path, i, line.rstrip()))",
    "import os, re, sys",
    "from pathlib import Path",
    "    assert parse_range('3-7') == (3, 7)",
    "    with open(path, encoding='utf-8') as fh:",
    "        data = json.load(fh)",
    "logger.info('processed %d files in %.2fs', n, elapsed)",
]

_TOOL_NAMES = (
    "Agent", "Bash", "Glob", "Grep", "ExitPlanMode", "Read", "Edit", "Write", "NotebookEdit",
    "WebFetch", "TodoWrite", "WebSearch", "Skill",
)


def _prose(rng: random.Random, n_chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < n_chars:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 22)))
        sentence = sentence[0].upper() + sentence[1:] + ". "
        if rng.random() < 0.12:
            sentence += "\n\n- "
        out.append(sentence)
        size += len(sentence)
    return "".join(out)[:n_chars]


def _code(rng: random.Random, n_lines: int) -> str:
    return "\n".join(f"{i:>5}\t{rng.choice(_CODE)}" for i in range(1, n_lines + 1))


def _schema(rng: random.Random, name: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for j in range(rng.randint(2, 6)):
        kind = rng.choice(("string", "string", "integer", "boolean", "array", "enum"))
        desc = _prose(rng, rng.randint(60, 300))
        if kind == "array":
            props[f"{name.lower()}_items_{j}"] = {
                "type": "array", "description": desc,
                "items": {"type": "object", "properties": {
                    "content": {"type": "string", "minLength": 1},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                }, "required": ["content", "status"], "additionalProperties": False},
            }
        elif kind == "enum":
            props[f"mode_{j}"] = {"type": "string", "enum": ["content", "files_with_matches", "count"],
                                  "description": desc}
        else:
            props[f"{kind}_arg_{j}"] = {"type": kind, "description": desc}
    first = next(iter(props))
    return {
        "type": "object", "properties": props, "required": [first], "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }


def _tools(rng: random.Random) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for i, name in enumerate(_TOOL_NAMES):
        # Bash and Agent carry the long descriptions in real Claude Code.
        size = 9000 if name in ("Bash", "Agent") else rng.randint(900, 2600)
        tool: dict[str, Any] = {"name": name, "description": _prose(rng, size), "input_schema": _schema(rng, name)}
        if name == "NotebookEdit":
            tool["defer_loading"] = True
        if i == len(_TOOL_NAMES) - 1:
            tool["cache_control"] = {"type": "ephemeral"}
        tools.append(tool)
    return tools


def _history(rng: random.Random, target_chars: int) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [
        {"role": "system", "content": [{"type": "text", "cache_control": {"type": "ephemeral"},
                                        "text": "<env>\nWorking directory: /repo\nIs directory a git repo: Yes\n"
                                                "Platform: linux\nToday's date: 2026-11-20\n</env>"}]},
        {"role": "user", "content": [{"type": "text", "text": "Run the test suite, find why it fails and fix it."}]},
    ]
    size = 0
    turn = 0
    while size < target_chars:
        turn += 1
        tid = f"toolu_01{turn:04d}bench{rng.randint(10**7, 10**8)}"
        tool, args, result = _tool_round(rng, turn)
        assistant: list[dict[str, Any]] = []
        if turn % 3 == 1:
            assistant.append({"type": "thinking", "thinking": _prose(rng, rng.randint(300, 1200)),
                              "signature": "Eq" + "".join(rng.choice("ABCDEFGHabcdefgh0123456789+/") for _ in range(340))})
        assistant.append({"type": "text", "text": _prose(rng, rng.randint(40, 300))})
        assistant.append({"type": "tool_use", "id": tid, "name": tool, "input": args})
        user_block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tid, "is_error": turn % 7 == 0}
        user_block["content"] = result if turn % 2 else [{"type": "text", "text": result}]
        msgs.append({"role": "assistant", "content": assistant})
        msgs.append({"role": "user", "content": [user_block]})
        size += len(result) + sum(len(str(b)) for b in assistant)
    msgs[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    msgs.append({"role": "user", "content": [{"type": "text", "text": "Now run the whole suite again."}]})
    return msgs


def _tool_round(rng: random.Random, turn: int) -> tuple[str, dict[str, Any], str]:
    kind = turn % 4
    if kind == 0:
        path = f"/repo/src/pkg/module_{turn}.py"
        return "Read", {"file_path": path}, _code(rng, rng.randint(40, 120))
    if kind == 1:
        out = "\n".join(f"tests/test_mod{i}.py::test_case_{j} PASSED" for i in range(4) for j in range(rng.randint(3, 12)))
        return "Bash", {"command": "pytest -x -q 2>&1 | tail -80", "description": "Run tests"}, out
    if kind == 2:
        hits = "\n".join(f"src/pkg/module_{rng.randint(1, 60)}.py:{rng.randint(1, 400)}:{rng.choice(_CODE)}"
                         for _ in range(rng.randint(10, 40)))
        return "Grep", {"pattern": "parse_range", "path": "/repo/src", "output_mode": "content", "-n": True}, hits
    old = rng.choice(_CODE)
    return ("Edit", {"file_path": f"/repo/src/pkg/module_{turn}.py", "old_string": old,
                     "new_string": old.replace("lo", "low"), "replace_all": False},
            f"The file /repo/src/pkg/module_{turn}.py has been updated. Here's a snippet:\n" + _code(rng, 12))


def build(target_bytes: int = 200_000, seed: int = 7) -> dict[str, Any]:
    """The request as a JSON-ready dict, its encoded size close to ``target_bytes``."""
    rng = random.Random(seed)
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.3.a1b; cc_entrypoint=cli; cch=9f2e1;"},
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
         "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": _prose(rng, 50_000), "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]
    tools = _tools(rng)
    fixed = len(str(system)) + len(str(tools))
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 128000,
        "stream": True,
        "metadata": {"user_id": '{"device_id":"d3adb33f","account_uuid":"","session_id":"5f0c"}'},
        "system": system,
        "messages": _history(rng, max(10_000, target_bytes - fixed - 8_000)),
        "tools": tools,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "medium"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    }
    return body
