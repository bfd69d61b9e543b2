"""Tool calls written as text, found and checked: the parser of tool emulation.

Accepted syntaxes (each with either ``{"tool", "parameters"}`` or ``{"name", "arguments"}``,
also ``input``/``args`` for the arguments, also a list of calls):

* ```` ```json action ```` fences (the contract's format) and the fences models drift into:
  ```` ```json ````, ```` ```tool_call ````, a bare ```` ``` ```` at a line start;
* Hermes ``<tool_call>{json}</tool_call>``;
* Qwen3-Coder ``<function=name><parameter=k>v</parameter></function>`` (bare or in
  ``<tool_call>``), and Claude-style ``<invoke name="x"><parameter name="k">v</parameter>``;
* Mistral ``[TOOL_CALLS][{...}]`` and ``[TOOL_CALLS]name[ARGS]{...}``;
* a bare JSON object on its own line starting with ``{"tool": ...`` or ``{"name": ...``.

A block becomes calls only if every call in it names a client tool (aliases resolved) and its
arguments fit the tool's schema; otherwise the block stays in the text verbatim. Duplicate
calls and calls over the limit are dropped (their blocks are still removed from the text).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from .. import ir
from .block_scanner import Block, BlockScanner
from .tool_aliases import resolve_tool_name
from .tool_args import FAIL, check_arguments, dumps, loads_lenient

MAX_CALLS = 8

_NAME_KEYS = ("tool", "tool_name", "name", "function", "recipient_name")
_ARG_KEYS = ("parameters", "arguments", "input", "args", "params", "tool_input")
_QWEN_FN = re.compile(r"<function=([^>\s]+)\s*>(.*?)(?:</function>|(?=<function=)|\Z)", re.S)
_QWEN_PARAM = re.compile(r"<parameter=([^>\s]+)\s*>(.*?)(?:</parameter>|(?=<parameter=)|\Z)", re.S)
_INVOKE = re.compile(r"<invoke\s+name=\"([^\"]+)\"\s*>(.*?)(?:</invoke>|\Z)", re.S)
_INVOKE_PARAM = re.compile(r"<parameter\s+name=\"([^\"]+)\"[^>]*>(.*?)</parameter>", re.S)
_MISTRAL_NAMED = re.compile(r"\s*([\w.\-]+)\[ARGS\](.*)", re.S)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


# --------------------------------------------------------------------------- block -> calls

RawCall = tuple[str, Any]  # (name as the model wrote it, arguments as written)


def _from_value(value: Any) -> list[RawCall] | None:
    if isinstance(value, list):
        calls: list[RawCall] = []
        for item in value:
            got = _from_value(item)
            if got is None:
                return None
            calls += got
        return calls or None
    if not isinstance(value, dict):
        return None
    fn = value.get("function")
    if isinstance(fn, dict):  # OpenAI shape {"type": "function", "function": {...}}
        return _from_value(fn)
    name_key = next((k for k in _NAME_KEYS if isinstance(value.get(k), str)), None)
    if name_key is None:
        return None
    arg_key = next((k for k in _ARG_KEYS if k in value), None)
    if arg_key is not None:
        return [(value[name_key], value[arg_key])]
    rest = {k: v for k, v in value.items() if k not in _NAME_KEYS and k not in ("type", "id")}
    if name_key == "name" and rest:
        return None  # {"name": "my-package", "version": ...} is data, not a call
    return [(value[name_key], rest)]


def _unwrap_xml(text: str) -> str:
    """Parameter text as written between tags: one leading/trailing newline is layout."""
    if text.startswith("\n"):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    return text


def _xml_value(text: str) -> Any:
    """A parameter value: JSON when it is JSON (numbers, lists, objects), else the text."""
    v = _unwrap_xml(text)
    s = v.strip()
    if s[:1] in ("{", "[") or s in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?", s):
        parsed = loads_lenient(s)
        if parsed is not FAIL:
            return parsed
    return v


def _from_xml(body: str) -> list[RawCall] | None:
    calls: list[RawCall] = []
    if "<function=" in body:
        for m in _QWEN_FN.finditer(body):
            calls.append((m.group(1), {p.group(1): _xml_value(p.group(2))
                                       for p in _QWEN_PARAM.finditer(m.group(2))}))
    elif "<invoke" in body:
        for m in _INVOKE.finditer(body):
            calls.append((m.group(1), {p.group(1): _xml_value(p.group(2))
                                       for p in _INVOKE_PARAM.finditer(m.group(2))}))
    return calls or None


def raw_calls(block: Block) -> list[RawCall] | None:
    """What a block says to call, before any check against the client's tools."""
    body = block.body
    if block.kind == "tag":
        if block.opener in ("<function=", "<invoke "):
            return _from_xml(block.raw)
        if "<function=" in body or "<invoke" in body:
            return _from_xml(body)
    elif block.kind == "mistral":
        m = _MISTRAL_NAMED.match(body)
        if m is not None:
            args = loads_lenient(m.group(2))
            return None if args is FAIL else [(m.group(1), args)]
    elif block.kind == "json":
        body = block.raw
    value = loads_lenient(body)
    return None if value is FAIL else _from_value(value)


def resolve_calls(raw: Sequence[RawCall], tools: Sequence[ir.Tool]) -> list[tuple[ir.Tool, dict[str, Any]]] | None:
    """Each raw call matched to a client tool with checked arguments; None if any fails."""
    out: list[tuple[ir.Tool, dict[str, Any]]] = []
    for name, args in raw:
        resolved = resolve_tool_name(name, tools)
        tool = next((t for t in tools if t.name == resolved), None) if resolved else None
        if tool is None:
            return None
        checked = check_arguments(tool, args)
        if checked is None:
            return None
        out.append((tool, checked))
    return out


# --------------------------------------------------------------------------- extractor

Piece = str | ir.ToolCallPart


class CallExtractor:
    """Incremental text -> (text | ToolCallPart) pieces, in order.

    ``flush`` ends one text block (releasing what is held) while keeping the call count,
    the dedupe memory and the ids, so one extractor serves a whole response. Whitespace
    between a call and the text around it is dropped; text is otherwise untouched.
    """

    __slots__ = ("tools", "max_calls", "new_id", "calls", "_scanner", "_seen", "_ids",
                 "_held_ws", "_after_call")

    def __init__(
        self,
        tools: Sequence[ir.Tool],
        *,
        max_calls: int = MAX_CALLS,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.tools = tuple(tools)
        self.max_calls = max_calls
        self.new_id = new_id or new_call_id
        self.calls = 0  # calls produced so far
        self._scanner = BlockScanner()
        self._seen: set[str] = set()
        self._ids: set[str] = set()
        self._held_ws = ""
        self._after_call = False

    def feed(self, text: str) -> list[Piece]:
        return self._pieces(self._scanner.feed(text), end=False)

    def flush(self) -> list[Piece]:
        return self._pieces(self._scanner.finish(), end=True)

    def _pieces(self, segments: Sequence[str | Block], *, end: bool) -> list[Piece]:
        out: list[Piece] = []
        for seg in segments:
            if isinstance(seg, str):
                self._text(out, seg)
                continue
            raw = raw_calls(seg)
            resolved = resolve_calls(raw, self.tools) if raw else None
            if resolved is None:
                self._text(out, seg.raw)
                continue
            self._held_ws, self._after_call = "", True
            for tool, args in resolved:
                self._call(out, tool, args)
        if end:
            if self._held_ws:
                out.append(self._held_ws)
            self._held_ws, self._after_call = "", False
        return out

    def _text(self, out: list[Piece], s: str) -> None:
        if self._after_call:
            s = s.lstrip()
            if not s:
                return
            self._after_call = False
        body = s.rstrip()
        if not body:
            self._held_ws += s
            return
        text = self._held_ws + body
        self._held_ws = s[len(body):]
        last = out[-1] if out else None
        if isinstance(last, str):
            out[-1] = last + text
        else:
            out.append(text)

    def _call(self, out: list[Piece], tool: ir.Tool, args: dict[str, Any]) -> None:
        try:
            sig = tool.name + "\0" + orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError):
            sig = tool.name + "\0" + dumps(args)
        if sig in self._seen or self.calls >= self.max_calls:
            return
        self._seen.add(sig)
        call_id = self.new_id()
        while call_id in self._ids:
            call_id = self.new_id() + f"_{len(self._ids)}"
        self._ids.add(call_id)
        self.calls += 1
        out.append(ir.ToolCallPart(id=call_id, name=tool.name, arguments=dumps(args), kind=tool.kind))


def limit_for(req: ir.Request, default: int = MAX_CALLS) -> int:
    """How many calls one reply may carry: one when the client disabled parallel calls."""
    return 1 if req.parallel_tool_calls is False else default


def parse_action_parts(
    text: str,
    tools: Sequence[ir.Tool],
    *,
    max_calls: int = MAX_CALLS,
    new_id: Callable[[], str] | None = None,
) -> list[ir.TextPart | ir.ToolCallPart]:
    """``text`` split into text and tool calls, in order (the non-streaming parse)."""
    ex = CallExtractor(tools, max_calls=max_calls, new_id=new_id)
    parts: list[ir.TextPart | ir.ToolCallPart] = []
    for piece in ex.feed(text) + ex.flush():
        if isinstance(piece, str):
            last = parts[-1] if parts else None
            if isinstance(last, ir.TextPart):
                parts[-1] = ir.TextPart(last.text + piece)
            else:
                parts.append(ir.TextPart(piece))
        else:
            parts.append(piece)
    return parts


def parse_actions(
    text: str,
    tools: Sequence[ir.Tool],
    *,
    max_calls: int = MAX_CALLS,
    new_id: Callable[[], str] | None = None,
) -> tuple[str, list[ir.ToolCallPart]]:
    """(the text without accepted blocks, the calls) for a whole reply."""
    parts = parse_action_parts(text, tools, max_calls=max_calls, new_id=new_id)
    calls = [p for p in parts if isinstance(p, ir.ToolCallPart)]
    rest = "\n\n".join(p.text for p in parts if isinstance(p, ir.TextPart))
    return rest, calls
