"""Tool and parameter names as models say them, mapped onto the client's own names.

A model writes the tool names it was trained on (``terminal``, ``read_file``, ``Bash``) more
readily than the ones in front of it. Names are grouped by intent; a name from a group
resolves to the client's tool of the same group, in both directions: the model says
``terminal`` and Claude Code gets ``Bash``; the model says ``Read`` and a client with
``read_file`` gets ``read_file``. The client always receives one of its own tool names.

Names compare by *key*: lower case with everything but letters and digits removed, so
``read_file``, ``ReadFile`` and ``read-file`` are one name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import ir

# Intent -> names, most specific first. The first member a client has is that client's tool
# for the intent (so ``Grep`` wins over a generic ``search``). A name may sit in two groups
# (``search``); the earlier group wins.
TOOL_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shell", (
        "bash", "terminal", "shell", "exec_command", "run_command", "execute_command",
        "run_terminal_cmd", "run_shell_command", "shell_command", "local_shell",
        "terminal_command", "exec", "execute", "command", "cmd", "powershell", "sh", "run",
    )),
    ("read", (
        "read", "read_file", "open_file", "view_file", "cat", "load_file", "get_file",
        "file_read", "read_text_file", "view",
    )),
    ("edit", (
        "edit", "patch", "apply_patch", "edit_file", "str_replace", "str_replace_editor",
        "replace_in_file", "search_replace", "apply_diff", "modify_file", "patch_file",
        "write_patch", "multi_edit", "file_edit",
    )),
    ("write", (
        "write", "write_file", "create_file", "save_file", "write_to_file", "file_write",
        "new_file",
    )),
    ("grep", (
        "grep", "search_files", "search_file", "grep_search", "search_code", "code_search",
        "ripgrep", "rg", "search_in_files", "find_in_files", "search",
    )),
    ("glob", (
        "glob", "find_files", "file_search", "list_files", "list_dir", "list_directory", "ls",
        "find", "glob_files", "list",
    )),
    ("web_search", (
        "web_search", "search_web", "internet_search", "google_search", "bing_search",
        "online_search", "search_internet", "search",
    )),
    ("web_fetch", (
        "web_fetch", "fetch", "web_extract", "fetch_url", "open_url", "read_url", "url_fetch",
        "get_url", "browse", "http_get",
    )),
    ("todo", (
        "todo_write", "update_plan", "write_todos", "update_todos", "manage_todo_list",
        "todo", "todos", "plan",
    )),
    ("agent", ("agent", "task", "subagent", "dispatch_agent", "spawn_agent", "delegate")),
    ("view_image", (
        "view_image", "vision_analyze", "analyze_image", "read_image", "look_at_image",
        "image_view",
    )),
    ("stdin", ("write_stdin", "send_input", "process", "terminal_input")),
)

# Parameter names that mean the same thing. A key the tool does not know is renamed to the
# tool's missing parameter of the same group (``path`` -> ``file_path``, ``command`` -> ``cmd``).
PARAM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("command", "cmd", "commands", "script", "shell_command", "bash_command"),
    ("file_path", "path", "file", "filepath", "filename", "file_name", "target_file",
     "absolute_path", "notebook_path"),
    ("pattern", "regex", "search_pattern", "glob", "glob_pattern"),
    ("query", "q", "search_query", "search_term", "keywords", "search"),
    ("url", "uri", "link", "href", "address"),
    ("content", "contents", "text", "file_text", "file_content", "data", "body"),
    ("old_string", "old_str", "old_text", "original", "find", "search_string"),
    ("new_string", "new_str", "new_text", "replacement", "replace", "replace_string"),
    ("prompt", "instructions", "task"),
    ("workdir", "cwd", "working_directory", "directory", "dir"),
    ("input", "patch", "diff"),
)

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_PREFIXES = ("functions.", "function.", "default_api.", "tools.", "tool.", "mcp__", "mcp_")


def key(name: str) -> str:
    """The comparison key of a name: lower case, letters and digits only."""
    return _NON_ALNUM.sub("", name.lower())


def _build_index() -> dict[str, tuple[int, ...]]:
    index: dict[str, list[int]] = {}
    for gi, (_, members) in enumerate(TOOL_GROUPS):
        for m in members:
            index.setdefault(key(m), []).append(gi)
    return {k: tuple(v) for k, v in index.items()}


_GROUP_INDEX = _build_index()
_GROUP_RANK: tuple[dict[str, int], ...] = tuple(
    {key(m): r for r, m in enumerate(members)} for _, members in TOOL_GROUPS
)
_PARAM_INDEX: dict[str, tuple[int, ...]] = {}
for _gi, _members in enumerate(PARAM_GROUPS):
    for _m in _members:
        _PARAM_INDEX[key(_m)] = _PARAM_INDEX.get(key(_m), ()) + (_gi,)


def _stripped(name: str) -> str:
    low = name.strip().lower()
    for prefix in _PREFIXES:
        if low.startswith(prefix):
            low = low[len(prefix):]
            break
    return low


def _in_group(gi: int, names: Sequence[str]) -> str | None:
    """The client's tool for group ``gi``: the one whose name ranks first in the group."""
    rank = _GROUP_RANK[gi]
    best: tuple[int, str] | None = None
    for n in names:
        r = rank.get(key(n))
        if r is not None and (best is None or r < best[0]):
            best = (r, n)
    return best[1] if best else None


def resolve_tool_name(name_from_model: str, client_tools: Iterable[ir.Tool | str]) -> str | None:
    """The client's tool name that ``name_from_model`` means, or None if it means none."""
    names = [t if isinstance(t, str) else t.name for t in client_tools]
    if not names or not name_from_model:
        return None
    if name_from_model in names:
        return name_from_model
    stripped = _stripped(name_from_model)
    k = key(stripped)
    if not k:
        return None
    by_key = {key(n): n for n in names}
    if k in by_key:
        return by_key[k]
    # MCP tools: the model often drops the ``mcp__server__`` part of the client's name.
    tails = [n for n in names if key(n.rsplit("__", 1)[-1]) == k and "__" in n]
    if len(tails) == 1:
        return tails[0]
    if "__" in stripped:
        tail = key(stripped.rsplit("__", 1)[-1])
        if tail in by_key:
            return by_key[tail]
    for gi in _GROUP_INDEX.get(k, ()):
        found = _in_group(gi, names)
        if found is not None:
            return found
    # Last resort: a word of a compound name (``run_bash_command`` -> shell).
    for word in re.split(r"[^0-9a-z]+", stripped):
        for gi in _GROUP_INDEX.get(word, ()):
            found = _in_group(gi, names)
            if found is not None:
                return found
    return None


def tool_for_intent(intent: str, client_tools: Iterable[ir.Tool | str]) -> str | None:
    """The client's tool for an intent of ``TOOL_GROUPS`` (``"shell"``, ``"read"``, ...)."""
    names = [t if isinstance(t, str) else t.name for t in client_tools]
    for gi, (name, _) in enumerate(TOOL_GROUPS):
        if name == intent:
            return _in_group(gi, names)
    return None


def rename_params(args: dict[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """``args`` with keys the schema does not know renamed to a missing synonym it does."""
    unknown = [k for k in args if k not in properties]
    if not unknown:
        return args
    missing = {key(p): p for p in properties if p not in args}
    if not missing:
        return args
    out = dict(args)
    for k in unknown:
        kk = key(k)
        target = missing.get(kk)
        if target is None:
            for gi in _PARAM_INDEX.get(kk, ()):
                for syn in PARAM_GROUPS[gi]:
                    target = missing.get(key(syn))
                    if target is not None:
                        break
                if target is not None:
                    break
        if target is not None:
            out[target] = out.pop(k)
            del missing[key(target)]
    return out
