"""Streaming-safe extraction of ``<think>...</think>`` from the start of content.

Reasoning models served by llama.cpp, Ollama or mlx-lm often put their reasoning inline,
wrapped in think tags, and a tag can be split across chunks at any byte. Only a tag at the
start of the content (after whitespace) opens reasoning: a model that later *talks about*
``<think>`` tags must not have its answer swallowed. The one held-back piece of text is a
possible partial tag (or leading whitespace that may precede one), so output is never
delayed by more than a few characters.

Not handled: templates that put ``<think>`` in the prompt so the output starts with bare
reasoning and only ``</think>`` appears (telling that apart from text needs the whole output).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

Kind: TypeAlias = Literal["text", "thinking"]

_OPEN, _CLOSE = "<think>", "</think>"


def _partial_suffix(buf: str, tag: str) -> int:
    """Length of the longest end of ``buf`` that is a proper prefix of ``tag``."""
    for k in range(min(len(tag) - 1, len(buf)), 0, -1):
        if buf.endswith(tag[:k]):
            return k
    return 0


class ThinkSplitter:
    """``feed(content) -> [(kind, text)]``; ``flush()`` at the end of the stream."""

    __slots__ = ("_held", "_mode")

    def __init__(self) -> None:
        # start: nothing visible yet; think: inside the tag; after: just closed (drop the
        # whitespace that follows "</think>"); text: plain text from here on.
        self._mode = "start"
        self._held = ""

    def feed(self, content: str) -> list[tuple[Kind, str]]:
        if self._mode == "text":
            return [("text", content)] if content else []
        buf = self._held + content
        self._held = ""
        out: list[tuple[Kind, str]] = []
        while buf:
            if self._mode == "start":
                stripped = buf.lstrip()
                if stripped.startswith(_OPEN):
                    buf, self._mode = stripped[len(_OPEN) :], "think"
                    continue
                if not stripped or _OPEN.startswith(stripped):
                    self._held = buf
                    break
                self._mode = "text"
                out.append(("text", buf))
                break
            if self._mode == "think":
                i = buf.find(_CLOSE)
                if i >= 0:
                    if i:
                        out.append(("thinking", buf[:i]))
                    buf, self._mode = buf[i + len(_CLOSE) :], "after"
                    continue
                k = _partial_suffix(buf, _CLOSE)
                if len(buf) > k:
                    out.append(("thinking", buf[: len(buf) - k]))
                self._held = buf[len(buf) - k :]
                break
            if self._mode == "after":
                buf = buf.lstrip()
                if buf:
                    self._mode = "text"
                    out.append(("text", buf))
                break
            out.append(("text", buf))  # pragma: no cover - text mode returns early
            break
        return out

    def flush(self) -> list[tuple[Kind, str]]:
        held, self._held = self._held, ""
        if self._mode == "think" and held:
            return [("thinking", held)]
        if self._mode == "start" and held.strip():
            return [("text", held)]  # a lone "<thi" was text after all
        return []  # leading whitespace alone is noise (often sent next to tool calls)
