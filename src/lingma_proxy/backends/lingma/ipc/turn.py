"""One turn's ``session/update`` notifications -> IR stream events, sans I/O.

``agent_message_chunk`` becomes text; ``agent_thought_chunk`` becomes a thinking block only when
the client asked for reasoning (otherwise it is counted and dropped: never leaked into the
answer); ``notification`` ``context_usage`` keeps the runtime's token numbers and
``chat_finish`` ends the turn. Every other kind (tool_call, plan, user_message_chunk ...) is
the runtime's own business and ignored.
"""

from __future__ import annotations

from typing import Any

from .... import ir
from ....features import tokens


def chunk_text(update: dict[str, Any]) -> str:
    """The text of an update's ``content`` (an object, a list of them, or a bare string)."""
    content = update.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        t = content.get("text")
        return t if isinstance(t, str) else ""
    if isinstance(content, list):
        return "".join(c["text"] for c in content if isinstance(c, dict) and isinstance(c.get("text"), str))
    return ""


class TurnState:
    __slots__ = (
        "finish",
        "finished",
        "index",
        "limit_tokens",
        "open",
        "text",
        "text_chars",
        "thinking",
        "updates",
        "used_tokens",
        "want_thinking",
    )

    def __init__(self, want_thinking: bool) -> None:
        self.want_thinking = want_thinking
        self.index = -1
        self.open: str | None = None  # kind of the open block
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.text_chars = 0
        self.used_tokens = 0
        self.limit_tokens = 0
        self.finish: dict[str, Any] = {}
        self.finished = False
        self.updates = 0

    @property
    def has_text(self) -> bool:
        return self.text_chars > 0

    @property
    def emitted(self) -> bool:
        """Whether any event reached the client (after that, a retry would duplicate output)."""
        return self.index >= 0

    def feed(self, params: dict[str, Any]) -> list[ir.Event]:
        update = params.get("update")
        if not isinstance(update, dict) or self.finished:
            return []
        self.updates += 1
        kind = update.get("sessionUpdate")
        if kind == "agent_message_chunk":
            text = chunk_text(update)
            if not text:
                return []
            self.text.append(text)
            self.text_chars += len(text)
            return self._delta("text", text)
        if kind == "agent_thought_chunk":
            text = chunk_text(update)
            if not text:
                return []
            self.thinking.append(text)
            return self._delta("thinking", text) if self.want_thinking else []
        if kind == "notification":
            data = update.get("data")
            data = data if isinstance(data, dict) else {}
            if update.get("type") == "context_usage":
                self.used_tokens = _int(data.get("usedTokens")) or self.used_tokens
                self.limit_tokens = _int(data.get("limitTokens")) or self.limit_tokens
            elif update.get("type") == "chat_finish":
                self.finish, self.finished = data, True
        return []

    def _delta(self, kind: str, text: str) -> list[ir.Event]:
        out: list[ir.Event] = []
        if self.open != kind:
            if self.open is not None:
                out.append(ir.BlockStop(self.index))
            self.index += 1
            self.open = kind
            out.append(ir.BlockStart(self.index, "text" if kind == "text" else "thinking"))
        out.append(ir.TextDelta(self.index, text) if kind == "text" else ir.ThinkingDelta(self.index, text))
        return out

    def usage(self, prompt_text: str, images: int = 0) -> ir.Usage:
        """The runtime's context fill as input when it reported one, else an estimate of the
        prompt actually sent; output estimated from what was generated (thinking included)."""
        out = tokens.estimate_text("".join(self.text)) + tokens.estimate_text("".join(self.thinking))
        used = self.used_tokens or tokens.estimate_text(prompt_text) + images * tokens.IMAGE_TOKENS_DEFAULT
        return ir.Usage(input_tokens=used, output_tokens=max(out, 1))

    def close(self, usage: ir.Usage) -> list[ir.Event]:
        out: list[ir.Event] = []
        if self.open is not None:
            out.append(ir.BlockStop(self.index))
            self.open = None
        out += [ir.MessageDelta("end_turn", None, usage), ir.MessageStop()]
        return out

    def partial(self, limit: int = 120) -> str:
        return "".join(self.text)[:limit]


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0
