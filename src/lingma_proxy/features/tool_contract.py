"""The tool contract: what a backend without native tools is told, and the request it gets.

``inject_contract`` turns a client's request into one without tools: its system prompt ends
with the contract (the client's real tool names and schemas, a routing table from intents to
those tools, examples written with them, the action-block format, the tool_choice and
parallel rules) and its history carries past calls as action blocks and results as
``<tool_result>`` blocks, so multi-step agent loops keep working. The contract text depends
only on the tools and the choice, so it is the same on every turn (prefix caches stay warm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from .. import ir
from .action_blocks import MAX_CALLS
from .tool_aliases import key, tool_for_intent

DESCRIPTION_CHARS = 1200
PARAM_DESCRIPTION_CHARS = 240
FORMAT_CHARS = 4000

# (label, intent, fallback intents tried in order when the client has no tool for it)
ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Read a file", "read", ("shell",)),
    ("Search file contents", "grep", ("shell",)),
    ("Find files by name or list a directory", "glob", ("shell",)),
    ("Edit part of an existing file", "edit", ("write", "shell")),
    ("Create or overwrite a file", "write", ("edit", "shell")),
    ("Run a shell command (build, test, git, inspect processes/ports/memory)", "shell", ()),
    ("Send input to a running command", "stdin", ()),
    ("Search the web for current information", "web_search", ()),
    ("Fetch a web page or URL", "web_fetch", ()),
    ("Look at an image or screenshot", "view_image", ()),
    ("Track the steps of a multi-step task", "todo", ()),
    ("Delegate a self-contained sub-task", "agent", ()),
)
# What a shell tool runs when it stands in for another intent.
_SHELL_FOR = {
    "read": "sed -n '1,200p' src/app.py",
    "grep": "rg -n 'TODO' src",
    "glob": "rg --files | head -n 200",
    "edit": "a targeted command (sed -i, a heredoc)",
    "write": "cat > path <<'EOF' ... EOF",
    "shell": "ls -la",
}
_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Read a file", "read"),
    ("Search the code", "grep"),
    ("Run a command", "shell"),
    ("Search the web", "web_search"),
    ("Edit a file", "edit"),
)
_PATCH_EXAMPLE = (
    "*** Begin Patch\n*** Update File: src/app.py\n@@ def main():\n-    print(\"hello\")\n"
    "+    print(\"hello, world\")\n*** End Patch\n"
)


# --------------------------------------------------------------------------- when

def history_has_tools(req: ir.Request) -> bool:
    return any(
        isinstance(p, (ir.ToolCallPart, ir.ToolResultPart)) for m in req.messages for p in m.content
    )


def needs_emulation(req: ir.Request) -> bool:
    """True when a tool-less backend must be given the contract: tools are offered, or the
    history has tool calls (a later turn that omits ``tools`` stays in tool mode)."""
    return bool(req.tools) or history_has_tools(req)


def effective_tools(req: ir.Request) -> tuple[ir.Tool, ...]:
    """The request's tools; when it sends none, the tools its history has called (with an
    open schema), so tool mode holds across turns."""
    if req.tools:
        return req.tools
    seen: dict[str, ir.Tool] = {}
    for m in req.messages:
        for p in m.content:
            if isinstance(p, ir.ToolCallPart) and p.name not in seen:
                seen[p.name] = ir.Tool(p.name, kind=p.kind, parameters=(
                    {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
                    if p.kind == "custom" else {"type": "object", "additionalProperties": True}
                ))
    return tuple(seen.values())


# --------------------------------------------------------------------------- rendering

def render_action(name: str, arguments: str | Mapping[str, Any]) -> str:
    """An action block as the model is asked to write it."""
    params: Any = ir.loads_object(arguments) if isinstance(arguments, str) else dict(arguments)
    if isinstance(arguments, str) and not params and arguments.strip() not in ("", "{}"):
        params = arguments  # unparsable arguments are shown as they were
    body = orjson.dumps({"tool": name, "parameters": params}).decode()
    return f"```json action\n{body}\n```"


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _type_summary(schema: Any, depth: int = 0) -> str:
    if not isinstance(schema, Mapping):
        return "any"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        shown = " | ".join(orjson.dumps(e).decode() for e in enum[:10])
        return shown + (" | ..." if len(enum) > 10 else "")
    for combo in ("anyOf", "oneOf"):
        alts = schema.get(combo)
        if isinstance(alts, list) and alts:
            return " or ".join(_type_summary(a, depth) for a in alts[:4])
    t = schema.get("type")
    if isinstance(t, list):
        return " or ".join(str(x) for x in t)
    if t == "array":
        return "array of " + _type_summary(schema.get("items"), depth + 1)
    props = schema.get("properties")
    if (t == "object" or t is None) and isinstance(props, Mapping) and props and depth < 2:
        req = schema.get("required")
        required = set(req) if isinstance(req, list) else set()
        inner = ", ".join(
            f"{k}{'' if k in required else '?'}: {_type_summary(v, depth + 1)}"
            for k, v in list(props.items())[:12]
        )
        return "object {" + inner + "}"
    return t if isinstance(t, str) else "any"


def _render_tool(tool: ir.Tool) -> str:
    lines = [f"### {tool.name}"]
    if tool.description:
        lines.append(_clip(tool.description, DESCRIPTION_CHARS))
    if tool.kind == "custom":
        lines.append(
            "Parameters:\n- input (string, required): the tool's whole free-form text. This is a"
            " free-form tool: put its text, JSON-escaped, in `input` inside the action block"
            " (this replaces any instruction not to wrap it in JSON)."
        )
        fmt = tool.format or {}
        definition = fmt.get("definition")
        if isinstance(definition, str) and definition.strip():
            syntax = fmt.get("syntax")
            label = f"{syntax} grammar" if isinstance(syntax, str) and syntax else "format"
            lines.append(f"`input` must follow this {label}:\n{_clip(definition, FORMAT_CHARS)}")
        return "\n".join(lines)
    schema = tool.parameters if isinstance(tool.parameters, Mapping) else {}
    props = schema.get("properties")
    req = schema.get("required")
    required = [r for r in req if isinstance(r, str)] if isinstance(req, list) else []
    if isinstance(props, Mapping) and props:
        lines.append("Parameters:")
        for name, prop in props.items():
            flag = ", required" if name in required else ""
            line = f"- {name} ({_type_summary(prop)}{flag})"
            desc = prop.get("description") if isinstance(prop, Mapping) else None
            if isinstance(desc, str) and desc.strip():
                line += ": " + _clip(" ".join(desc.split()), PARAM_DESCRIPTION_CHARS)
            lines.append(line)
    elif schema.get("additionalProperties"):
        lines.append("Parameters: as in your earlier calls of this tool.")
    else:
        lines.append("Parameters: none.")
    return "\n".join(lines)


def _route(intent: str, fallbacks: Sequence[str], tools: Sequence[ir.Tool]) -> tuple[str, str] | None:
    """(tool name, how) for an intent; ``how`` is set when a fallback tool stands in."""
    name = tool_for_intent(intent, tools)
    if name is not None:
        return name, ""
    for fb in fallbacks:
        name = tool_for_intent(fb, tools)
        if name is not None:
            return name, (f"run `{_SHELL_FOR[intent]}`" if fb == "shell" else "")
    return None


def _example_value(k: str, prop: Any, intent: str, tool: ir.Tool) -> Any:
    p = prop if isinstance(prop, Mapping) else {}
    kk = key(k)
    desc = str(p.get("description", "")).lower()
    if "command" in kk or kk == "cmd":
        return _SHELL_FOR.get(intent, "ls -la")
    if "path" in kk or "file" in kk or kk in ("dir", "directory"):
        if intent in ("grep", "glob"):
            return "src"
        return "/home/user/project/src/app.py" if "absolute" in desc else "src/app.py"
    if kk in ("pattern", "regex", "glob"):
        return "**/*.py" if intent == "glob" else "TODO"
    if "query" in kk or kk in ("q", "search"):
        return "latest stable Python release"
    if "url" in kk:
        return "https://example.com/docs"
    if kk == "description":
        return "Short description of this step"
    if kk.startswith("old"):
        return "    print(\"hello\")"
    if kk.startswith("new"):
        return "    print(\"hello, world\")"
    enum = p.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    t = p.get("type")
    t = t[0] if isinstance(t, list) and t else t
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(
        t if isinstance(t, str) else "", "value"
    )


def example_arguments(tool: ir.Tool, intent: str = "") -> dict[str, Any]:
    """Plausible arguments for an example call of ``tool`` (its required parameters)."""
    if tool.kind == "custom":
        return {"input": _PATCH_EXAMPLE if "patch" in key(tool.name) else "<the free-form text>"}
    schema = tool.parameters if isinstance(tool.parameters, Mapping) else {}
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    req = schema.get("required")
    keys = [r for r in req if isinstance(r, str)] if isinstance(req, list) else []
    if intent == "shell" or tool_for_intent("shell", [tool]):
        keys += [k for k in props if ("command" in key(k) or key(k) == "cmd") and k not in keys][:1]
    if not keys and props:
        keys = [next(iter(props))]
    return {k: _example_value(k, props.get(k), intent, tool) for k in keys}


def build_contract(
    tools: Sequence[ir.Tool],
    tool_choice: ir.ToolChoice | None = None,
    parallel: bool | None = None,
    *,
    max_calls: int = MAX_CALLS,
) -> str:
    """The instructions that teach a tool-less model to call the client's tools."""
    choice = tool_choice.type if tool_choice else "auto"
    if choice == "none":
        names = ", ".join(t.name for t in tools)
        return (
            "# Tools\n\nTools were used earlier in this conversation"
            + (f" ({names})" if names else "")
            + ", but they are disabled for this reply: answer in plain text and do not write"
            " action blocks. Earlier calls appear as ```json action blocks and their results as"
            " <tool_result> blocks."
        )
    by_name = {t.name: t for t in tools}
    examples: list[str] = []
    used: set[tuple[str, str]] = set()
    for label, intent in _EXAMPLES:
        got = _route(intent, ("shell",) if intent in ("read", "grep") else (), tools)
        if got is None or (got[0], intent) in used:
            continue
        used.add((got[0], intent))
        args = example_arguments(by_name[got[0]], intent)
        examples.append(f"{label}:\n{render_action(got[0], args)}")
    if not examples and tools:
        examples.append(render_action(tools[0].name, example_arguments(tools[0])))
    syntax = examples[0].split(":\n", 1)[-1] if examples else ""
    s: list[str] = [
        "# Tools",
        "You are connected to the user's machine through the tools below. They are real: the"
        " client runs every call you write and sends you the result. This tool access is"
        " authoritative, whatever any other message says about tools being unavailable.",
        "## How to call a tool",
        "Write an action block: a fenced code block whose info string is `json action`, holding"
        ' one JSON object with two keys, "tool" (the tool\'s exact name) and "parameters" (an'
        " object of its parameters). For example:",
        syntax,
        "- The JSON must be valid: double quotes, newlines inside strings written as \\n, only"
        " the parameter names listed for the tool, every required parameter present.\n"
        "- One call per block. "
        + (
            "Call one tool per reply, then wait for its result before the next call."
            if parallel is False
            else f"When several calls do not depend on each other, write several blocks in the"
            f" same reply (at most {max_calls})."
        )
        + "\n- After your action block(s), stop: the results come back in the next message."
        " Never invent a result.\n"
        "- Every action block you write is executed. Never put one inside another code block or"
        " show one as an illustration.",
        "## Tool results",
        "Each result comes back to you in the next user message as\n"
        '<tool_result call_id="..." tool="NAME">\n...output...\n</tool_result>\n'
        '(with status="error" when the call failed). Continue from the result: answer when you'
        " have what you need; call a tool again only for something still missing, never repeat"
        " a call whose result you already have.",
        "## Available tools",
        "\n\n".join(_render_tool(t) for t in tools),
    ]
    routes: list[str] = []
    for label, intent, fallbacks in ROUTES:
        got = _route(intent, fallbacks, tools)
        if got is not None:
            routes.append(f"- {label}: {got[0]}" + (f" ({got[1]})" if got[1] else ""))
    if routes:
        s += ["## Which tool to use", "\n".join(routes)]
    if examples:
        s += ["## Examples (syntax only: do not run them unless the task needs it)", "\n\n".join(examples)]
    rules = [
        "- Use a tool whenever the task needs the user's files, a command, the current state of"
        " the machine or current web information. Answer conceptual questions, explanations,"
        " translations and summaries directly, without tools.",
        "- Never say that you cannot access files, run commands or use tools, and never ask the"
        " user to run a command or paste a file: call the tool yourself.",
        "- Never announce a tool call (\"let me read the file\") without writing its action block"
        " in the same reply.",
    ]
    if any(_route(i, (), tools) for i in ("read", "edit", "write", "shell")):
        rules.append(
            "- Read code before changing it; make the smallest change that does the job, in the"
            " file's own style; check the result (run the tests or the command) when you can."
        )
    if choice == "any":
        rules.append("- For this reply you MUST call at least one tool: write at least one action block.")
    elif choice == "tool" and tool_choice and tool_choice.name:
        rules.append(f'- For this reply you MUST call the tool "{tool_choice.name}": write its action block.')
    else:
        rules.append("- tool_choice is auto: decide for yourself whether this reply needs a tool.")
    s += ["## Rules", "\n".join(rules)]
    return "\n\n".join(s)


# --------------------------------------------------------------------------- request

class _Parts:
    """Builds message content, merging adjacent text."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[ir.Part] = []

    def text(self, s: str, sep: str = "\n\n") -> None:
        last = self.parts[-1] if self.parts else None
        if isinstance(last, ir.TextPart):
            self.parts[-1] = ir.TextPart(last.text + sep + s if last.text else s)
        else:
            self.parts.append(ir.TextPart(s))

    def add(self, p: ir.Part) -> None:
        if isinstance(p, ir.TextPart):
            self.text(p.text)
        else:
            self.parts.append(p)


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


def render_tool_result(part: ir.ToolResultPart, tool_name: str | None, out: _Parts) -> None:
    attrs = f' call_id="{_attr(part.tool_call_id)}"'
    if tool_name:
        attrs += f' tool="{_attr(tool_name)}"'
    if part.is_error:
        attrs += ' status="error"'
    out.text(f"<tool_result{attrs}>")
    empty = True
    for c in part.content:
        if isinstance(c, ir.TextPart):
            if c.text:
                out.text(c.text, "\n")
                empty = False
        else:
            out.add(c)  # images stay images
            empty = False
    if empty:
        out.text("(no output)", "\n")
    out.text("</tool_result>", "\n")


def render_history(messages: Sequence[ir.Message]) -> tuple[ir.Message, ...]:
    """Messages with tool calls as action blocks and tool results as ``<tool_result>`` text."""
    names = {p.id: p.name for m in messages for p in m.content if isinstance(p, ir.ToolCallPart)}
    out: list[ir.Message] = []
    for m in messages:
        if not any(isinstance(p, (ir.ToolCallPart, ir.ToolResultPart)) for p in m.content):
            out.append(m)
            continue
        b = _Parts()
        for p in m.content:
            if isinstance(p, ir.ToolCallPart):
                b.text(render_action(p.name, p.arguments))
            elif isinstance(p, ir.ToolResultPart):
                render_tool_result(p, names.get(p.tool_call_id), b)
            else:
                b.add(p)
        out.append(replace(m, content=tuple(b.parts)))
    return tuple(out)


def inject_contract(req: ir.Request) -> ir.Request:
    """The request a tool-less backend receives: no tools; the contract at the end of the
    system prompt; past calls and results rendered as text."""
    tools = effective_tools(req)
    system = req.system
    if tools:
        contract = build_contract(
            tools, req.tool_choice, req.parallel_tool_calls,
            max_calls=1 if req.parallel_tool_calls is False else MAX_CALLS,
        )
        system = system + (ir.TextPart(contract),)
    messages = render_history(req.messages) if history_has_tools(req) else req.messages
    return replace(
        req, system=system, messages=messages, tools=(), tool_choice=None, parallel_tool_calls=None
    )
