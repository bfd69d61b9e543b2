"""An incremental scanner that splits model text into plain text and candidate tool-call blocks.

The scanner knows only syntax: where a block that *may* be a tool call opens and closes.
Whether it is one is decided by the caller once the block is whole; an unusable block is
released verbatim as text, so nothing is ever lost.

Openers it recognises:

* a code fence whose info string is ``json action``, ``json``, ``action``, ``tool_call``,
  ``tool`` (or empty, at a line start), closed by the first triple backtick outside a JSON
  string;
* ``<tool_call>``, ``<function_calls>``, ``<function=`` and ``<invoke``, closed by their
  closing tag (or implicitly by the next opening one);
* ``[TOOL_CALLS]`` followed by a JSON value or ``name[ARGS]{...}``;
* a bare JSON object at a line start whose first key is ``tool``, ``name`` or ``function``.

Streaming discipline: text is released as soon as it cannot be the start of an opener, so the
hold-back outside blocks is bounded by the longest opener prefix (a fence's info line is
capped). Other code fences are passed through without looking for openers inside them. The
segments produced depend only on the text, never on how it was split into deltas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

BlockKind: TypeAlias = Literal["fence", "tag", "json", "mistral"]

ACTION_INFOS = frozenset(
    {"json action", "action", "json", "jsonc", "json5", "tool_call", "tool_use", "tool",
     "function_call", "tool_code", "action json"}
)
_MAX_INFO = 40
_MAX_BLOCK = 1 << 21  # a block larger than this is given up on and released as text
# Tag openers -> their closing tag; the opener of the same family also closes implicitly.
_TAGS: dict[str, str] = {
    "<tool_call>": "</tool_call>",
    "<function_calls>": "</function_calls>",
    "<function=": "</function>",
    "<invoke ": "</invoke>",
}
_MISTRAL = "[TOOL_CALLS]"
_TRIGGER = re.compile(r"[`<\[{]")
_BARE_KEYS = ('tool"', 'name"', 'function"')
_FENCE_LINE_CLOSE = re.compile(r"\n[ \t]*```")


@dataclass(frozen=True, slots=True)
class Block:
    """A candidate block. ``raw`` is the exact text; ``body`` what is inside the markers."""

    kind: BlockKind
    raw: str
    body: str
    opener: str  # fence info string (lower case) or the tag/marker that opened it
    closed: bool = True


Segment: TypeAlias = str | Block

_TEXT, _FOREIGN, _BLOCK = 0, 1, 2
_NO, _PARTIAL, _MATCH = 0, 1, 2


def _prefix_status(b: str, lit: str) -> int:
    """Compare the text at ``b`` against literal ``lit``: match, partial (b ends first) or no."""
    n = min(len(b), len(lit))
    if b[:n] != lit[:n]:
        return _NO
    return _MATCH if len(b) >= len(lit) else _PARTIAL


def _merged(segments: list[Segment]) -> list[Segment]:
    if len(segments) < 2:
        return segments
    out: list[Segment] = []
    run: list[str] = []
    for seg in segments:
        if isinstance(seg, str):
            run.append(seg)
            continue
        if run:
            out.append("".join(run))
            run = []
        out.append(seg)
    if run:
        out.append("".join(run))
    return out


class BlockScanner:
    """Feed text, get ``str`` segments (plain text) and ``Block`` segments, in order."""

    __slots__ = ("_buf", "_mode", "_line_blank", "_kind", "_opener", "_head", "_done", "_size",
                 "_checked", "_pos", "_in_str", "_esc", "_depth", "_close", "_phase")

    def __init__(self) -> None:
        self._buf = ""
        self._mode = _TEXT
        self._line_blank = True  # nothing but spaces/tabs since the last newline
        self._reset_block()

    def _reset_block(self) -> None:
        self._kind: BlockKind = "fence"
        self._opener = ""
        # In a block: ``_head`` is the opener's text, ``_done`` the scanned part of the body
        # (kept as chunks so a long block costs O(delta) per feed), ``_buf`` the rest of it.
        self._head = ""
        self._done: list[str] = []
        self._size = 0
        self._checked = False
        self._pos = 0  # scan position inside ``_buf``
        self._in_str = False
        self._esc = False
        self._depth = 0
        self._close = ""
        self._phase = 0  # mistral: 0 before the value, 1 reading a name, 2 in JSON

    # ------------------------------------------------------------------ public

    def feed(self, text: str) -> list[Segment]:
        out: list[Segment] = []
        if text:
            self._buf += text
            self._run(out)
        return _merged(out)

    def finish(self) -> list[Segment]:
        """End of the text: release what is held; an unclosed block is offered as such."""
        out: list[Segment] = []
        while True:
            buf, mode = self._buf, self._mode
            self._buf, self._mode = "", _TEXT
            if mode != _BLOCK:
                if buf:
                    self._emit(out, buf)
                break
            body = "".join(self._done) + buf
            if self._kind == "fence":
                m = _FENCE_LINE_CLOSE.search(body)
                if m is not None:  # unbalanced quotes hid the closing fence: take its line
                    out.append(self._block(self._head + body[: m.end()], body[: m.start() + 1], True))
                    self._reset_block()
                    self._buf = body[m.end():]
                    self._run(out)
                    continue
            out.append(self._block(self._head + body, body, False))
            break
        self._line_blank = True
        self._reset_block()
        return _merged(out)

    # ------------------------------------------------------------------ internals

    def _emit(self, out: list[Segment], s: str) -> None:
        if not s:
            return
        out.append(s)  # adjacent strings are joined once, in _merged
        i = s.rfind("\n")
        if i >= 0:
            self._line_blank = not s[i + 1:].strip(" \t")
        elif self._line_blank:
            self._line_blank = not s.strip(" \t")

    def _block(self, raw: str, body: str, closed: bool) -> Block:
        self._line_blank = False
        return Block(self._kind, raw, body, self._opener, closed)

    def _run(self, out: list[Segment]) -> None:
        while self._buf:
            if self._mode == _TEXT:
                if not self._scan_text(out):
                    return
            elif self._mode == _FOREIGN:
                if not self._scan_foreign(out):
                    return
            elif not self._scan_block(out):
                return

    def _scan_text(self, out: list[Segment]) -> bool:
        """Emit text up to the next opener; True when the mode changed and work remains."""
        b = self._buf
        pos = 0
        while True:
            m = _TRIGGER.search(b, pos)
            if m is None:
                self._emit(out, b[pos:])
                self._buf = ""
                return False
            p = m.start()
            self._emit(out, b[pos:p])
            status, end, kind, opener = self._match_opener(b, p)
            if status == _PARTIAL:
                self._buf = b[p:]
                return False
            if status == _NO:
                # skip a whole run of backticks so ```` is not re-read as a fence at p+1
                q = p + 1
                while b[p] == "`" and q < len(b) and b[q] == "`":
                    q += 1
                if b[p] == "`" and q == len(b):  # the run may go on in the next delta
                    self._buf = b[p:]
                    return False
                self._emit(out, b[p:q])
                pos = q
                continue
            if kind is None:  # another language's code fence: pass it through untouched
                self._emit(out, b[p:end])
                self._buf = b[end:]
                self._mode = _FOREIGN
                return True
            self._reset_block()
            self._kind, self._opener = kind, opener
            if kind == "json":
                end = p  # the body is the whole object
            self._head, self._buf = b[p:end], b[end:]
            if kind == "tag":
                self._close = _TAGS[opener]
            self._mode = _BLOCK
            return True

    def _match_opener(self, b: str, p: int) -> tuple[int, int, BlockKind | None, str]:
        c = b[p]
        if c == "`":
            return self._match_fence(b, p)
        if c == "<":
            rest = b[p:p + 20]
            partial = False
            for lit in _TAGS:
                st = _prefix_status(rest, lit)
                if st == _MATCH:
                    return _MATCH, p + len(lit), "tag", lit
                partial = partial or st == _PARTIAL
            return (_PARTIAL if partial else _NO), 0, None, ""
        if c == "[":
            st = _prefix_status(b[p:p + len(_MISTRAL)], _MISTRAL)
            return st, p + len(_MISTRAL), "mistral", _MISTRAL
        # "{": a bare JSON action at a line start
        if not self._line_blank:
            return _NO, 0, None, ""
        i, n = p + 1, len(b)
        while i < n and i - p <= 16 and b[i] in " \t\r\n":
            i += 1
        if i >= n:
            return _PARTIAL, 0, None, ""
        if b[i] != '"':
            return _NO, 0, None, ""
        rest = b[i + 1:i + 10]
        for k in _BARE_KEYS:
            st = _prefix_status(rest, k)
            if st == _PARTIAL:
                return _PARTIAL, 0, None, ""
            if st == _MATCH:
                j = i + 1 + len(k)
                while j < n and j - i < 8 and b[j] in " \t":
                    j += 1
                if j >= n:
                    return _PARTIAL, 0, None, ""
                if b[j] == ":":
                    return _MATCH, p + 1, "json", "{"
                return _NO, 0, None, ""
        return _NO, 0, None, ""

    def _match_fence(self, b: str, p: int) -> tuple[int, int, BlockKind | None, str]:
        st = _prefix_status(b[p:p + 3], "```")
        if st != _MATCH:
            return st, 0, None, ""
        nl = b.find("\n", p + 3, p + 3 + _MAX_INFO + 2)
        if nl < 0:
            tail = b[p + 3:p + 3 + _MAX_INFO + 2]
            if "`" in tail or len(tail) > _MAX_INFO + 1:
                return _NO, 0, None, ""
            return _PARTIAL, 0, None, ""
        info = b[p + 3:nl].strip().lower()
        if "`" in info:
            return _NO, 0, None, ""
        if info in ACTION_INFOS or (not info and self._line_blank):
            return _MATCH, nl + 1, "fence", info
        if self._line_blank:
            return _MATCH, nl + 1, None, info
        return _NO, 0, None, ""

    def _scan_foreign(self, out: list[Segment]) -> bool:
        """Inside a non-action code fence: pass text through until its closing fence."""
        b = self._buf
        pos = 0
        while True:
            p = b.find("`", pos)
            if p < 0:
                self._emit(out, b[pos:])
                self._buf = ""
                return False
            self._emit(out, b[pos:p])
            if len(b) - p < 3 and self._line_blank and b[p:] == "`" * (len(b) - p):
                self._buf = b[p:]
                return False
            if b.startswith("```", p) and self._line_blank:
                # a closing fence has nothing after it on its line (```json opens, not closes)
                nl = b.find("\n", p + 3, p + 3 + _MAX_INFO)
                rest = b[p + 3:nl] if nl >= 0 else b[p + 3:p + 3 + _MAX_INFO]
                if rest.strip() == "" and "`" not in rest:
                    if nl < 0 and len(rest) < _MAX_INFO:
                        self._buf = b[p:]
                        return False
                    self._emit(out, b[p:p + 3])
                    self._buf = b[p + 3:]
                    self._mode = _TEXT
                    return True
            q = p + 1
            while q < len(b) and b[q] == "`":
                q += 1
            self._emit(out, b[p:q])
            pos = q

    def _scan_block(self, out: list[Segment]) -> bool:
        b = self._buf
        end = self._find_end(b)
        if end is None:
            cut = self._pos - 32  # keep a little for closers split across deltas
            if cut > 256:
                self._done.append(b[:cut])
                self._size += cut
                self._buf = b[cut:]
                self._pos -= cut
            if self._size + len(self._buf) > _MAX_BLOCK:  # give up: release as text
                text = self._head + "".join(self._done) + self._buf
                self._mode = _FOREIGN if self._kind == "fence" else _TEXT
                self._reset_block()
                self._buf = ""
                self._emit(out, text)
            return False
        if end < 0:  # not a block after all: release the opener as text, rescan the rest
            self._mode = _FOREIGN if self._kind == "fence" else _TEXT
            self._emit(out, self._head)
            self._reset_block()
            return True
        body_end = end
        if self._kind == "fence":
            body_end = end - 3
        elif self._kind == "tag" and b.startswith(self._close, end - len(self._close)):
            body_end = end - len(self._close)
        done = "".join(self._done)
        out.append(self._block(self._head + done + b[:end], done + b[:body_end], True))
        self._buf = b[end:]
        self._mode = _TEXT
        self._reset_block()
        return True

    def _find_end(self, b: str) -> int | None:
        """End offset of the block in ``b`` (the unscanned body); None if not yet seen; -1
        if this is not a block after all."""
        kind = self._kind
        if kind == "tag":
            close, opener = self._close, self._opener
            i = b.find(close, max(0, self._pos - len(close) + 1))
            j = b.find(opener, max(0, self._pos - len(opener) + 1))
            self._pos = len(b)
            if j >= 0 and (i < 0 or j < i):
                return j  # closed implicitly by the next opener of its kind
            return i + len(close) if i >= 0 else None
        if kind == "fence":
            return self._scan_fence(b)
        if kind == "mistral":
            return self._scan_mistral(b)
        return self._scan_json(b, self._pos)

    def _scan_fence(self, b: str) -> int | None:
        i, n = self._pos, len(b)
        if not self._checked:  # the body must look like JSON, else it is ordinary code
            j = i
            while j < n and b[j] in " \t\r\n":
                j += 1
            if j >= n:
                return None
            if b[j] not in "{[":
                return -1
            self._checked = True
        in_str, esc = self._in_str, self._esc
        while i < n:
            c = b[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "`":
                if i + 3 > n:
                    break
                if b.startswith("```", i):
                    self._in_str, self._esc = in_str, esc
                    return i + 3
            i += 1
        self._pos, self._in_str, self._esc = i, in_str, esc
        return None

    def _scan_json(self, b: str, i: int) -> int | None:
        """Balanced scan of one JSON value starting at or after ``i`` (string-aware)."""
        n = len(b)
        in_str, esc, depth = self._in_str, self._esc, self._depth
        while i < n:
            c = b[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{" or c == "[":
                depth += 1
            elif c == "}" or c == "]":
                depth -= 1
                if depth <= 0:
                    return i + 1
            i += 1
        self._pos, self._in_str, self._esc, self._depth = i, in_str, esc, depth
        return None

    def _scan_mistral(self, b: str) -> int | None:
        n = len(b)
        if self._phase == 0:
            i = self._pos
            while i < n and b[i] in " \t\r\n":
                i += 1
            if i >= n:
                self._pos = i
                return None
            self._pos = i
            self._phase = 2 if b[i] in "[{" else 1
        if self._phase == 1:
            k = b.find("[ARGS]", self._pos)
            if k < 0:
                name = b[self._pos:]
                if len(name) > 80 or not re.fullmatch(r"[\w.\-]*\[?A?R?G?S?", name):
                    return -1
                return None
            if not re.fullmatch(r"[\w.\-]+", b[self._pos:k]):
                return -1
            self._pos = k + len("[ARGS]")
            self._phase = 2
        return self._scan_json(b, self._pos)
