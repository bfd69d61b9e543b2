"""Fit a request into a model's context window: measure, warn, truncate or refuse.

``fit`` is pure. The budget for the prompt is the context window minus the room kept for the
answer. Over the budget, ``mode="error"`` refuses with ``errors.ContextLengthExceeded``; with
``mode="truncate"`` the oldest turns go first, and these always stay:

* the system prompt and the tool definitions (the agent cannot work without them);
* the most recent turn, whole;
* the first user message (the task) when it is a plain user turn and still fits.

The conversation is cut only between *units*: a message together with the user message that
answers its tool calls, so a tool call is never separated from its result and no tool result
is left without its call. When the kept part would start with an assistant (or system)
message, a user message carrying a short note that turns were omitted (after the task, when
kept) goes first, so the conversation never starts with the assistant and never is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from .. import errors, ir
from . import tokens

Mode = Literal["error", "truncate"]
WARN_LEVELS = (90, 75)  # percent of the context window the prompt fills
PRIMING = 3  # tokens an upstream adds to prime the reply (as in tokens.estimate_request)


@dataclass(frozen=True, slots=True)
class FitResult:
    """The request to send, its estimated size and what was done to it.

    ``warning_level`` is 0, 75 or 90: the highest threshold (percent of ``limit``) the
    *original* prompt reached, or 100 when it did not fit and turns were dropped.
    """

    request: ir.Request
    estimated_tokens: int
    dropped_messages: int = 0
    warning_level: int = 0
    original_tokens: int = 0
    limit: int = 0
    budget: int = 0

    def warning(self) -> str | None:
        """A one-line description for the log and the trace, or None when all is well."""
        if self.dropped_messages:
            return (f"context window: dropped the {self.dropped_messages} oldest messages to fit "
                    f"{self.original_tokens} estimated tokens into {self.budget} "
                    f"(window {self.limit}, now {self.estimated_tokens})")
        if self.warning_level:
            pct = self.original_tokens * 100 // max(self.limit, 1)
            return (f"context window: the prompt fills {pct}% of the {self.limit}-token window "
                    f"({self.original_tokens} estimated tokens)")
        return None


def note_text(dropped: int) -> str:
    return (f"[lingma-proxy: {dropped} earlier messages of this conversation were omitted "
            "to fit the model's context window.]")


def fit(req: ir.Request, limit: int, reserve_output: int, mode: Mode | str) -> FitResult:
    """Fit ``req`` into ``limit`` tokens keeping ``reserve_output`` for the answer.

    Raises ``errors.ContextLengthExceeded`` in error mode when the prompt does not fit, and in
    truncate mode when even the system prompt, tools and the last turn do not fit.
    """
    reserve = max(0, min(reserve_output, limit - 1))
    budget = limit - reserve
    fixed = _fixed_tokens(req)
    sizes = [tokens.estimate_message(m) for m in req.messages]
    total = fixed + sum(sizes)
    level = next((lv for lv in WARN_LEVELS if total * 100 >= lv * limit), 0)
    if total <= budget:
        return FitResult(req, total, 0, level, total, limit, budget)
    if mode != "truncate" or not req.messages:
        raise _too_long(req, total, budget, limit, reserve, truncating=False)

    units = _units(req.messages)
    # Walk back from the newest unit while the kept part fits, reserving room for the note.
    note_cost = tokens.estimate_text(note_text(len(req.messages))) + tokens.MESSAGE_OVERHEAD
    start = len(units)
    used = fixed
    while start > 0:
        lo, hi = units[start - 1]
        cost = sum(sizes[lo:hi])
        extra = note_cost if lo > 0 else 0
        if used + cost + extra > budget:
            break
        used += cost
        start -= 1
    if start == len(units):
        lo, hi = units[-1]
        need = fixed + sum(sizes[lo:hi]) + (note_cost if lo > 0 else 0)
        raise _too_long(req, need, budget, limit, reserve, truncating=True)
    first = units[start][0]
    messages, dropped = _assemble(req.messages, first, sizes[0] <= budget - used - note_cost)
    estimated = fixed + sum(tokens.estimate_message(m) for m in messages)
    out = replace(req, messages=messages)
    return FitResult(out, estimated, dropped, 100, total, limit, budget)


# ---------------------------------------------------------------------------- helpers


def _fixed_tokens(req: ir.Request) -> int:
    total = sum(tokens.estimate_text(p.text) for p in req.system)
    if req.system:
        total += tokens.MESSAGE_OVERHEAD
    return total + tokens.estimate_tools(req.tools) + PRIMING


def _has_results(msg: ir.Message) -> bool:
    return any(isinstance(p, ir.ToolResultPart) for p in msg.content)


def _units(messages: tuple[ir.Message, ...]) -> list[tuple[int, int]]:
    """Index ranges that must be kept or dropped together.

    A message carrying tool results joins the unit holding their calls, with everything in
    between (results that arrive late or split over several messages included); a result
    whose call is nowhere to be seen joins the unit before it.
    """
    units: list[tuple[int, int]] = []
    call_unit: dict[str, int] = {}
    for i, msg in enumerate(messages):
        ids = [p.tool_call_id for p in msg.content if isinstance(p, ir.ToolResultPart)]
        if ids and units:
            owner = min((call_unit[c] for c in ids if c in call_unit), default=len(units) - 1)
            units[owner:] = [(units[owner][0], i + 1)]
            for c, u in call_unit.items():
                if u > owner:
                    call_unit[c] = owner
            current = owner
        else:
            units.append((i, i + 1))
            current = len(units) - 1
        for p in msg.content:
            if isinstance(p, ir.ToolCallPart):
                call_unit[p.id] = current
    return units


def _pinned_head(messages: tuple[ir.Message, ...]) -> bool:
    """Whether the first message is the task: a plain user turn worth keeping."""
    return bool(messages) and messages[0].role == "user" and not _has_results(messages[0])


def _assemble(messages: tuple[ir.Message, ...], first: int,
              head_fits: bool) -> tuple[tuple[ir.Message, ...], int]:
    """The kept tail ``messages[first:]``, preceded by the task and a note when needed, and the
    number of original messages left out."""
    tail = messages[first:]
    if first == 0:
        return tail, 0
    keep_head = head_fits and _pinned_head(messages)
    dropped = first - keep_head
    lead: tuple[ir.Part, ...] = (*(messages[0].content if keep_head else ()),
                                 ir.TextPart(note_text(dropped)))
    if tail[0].role == "user":
        # A user turn opens the tail: fold the task and the note into it so roles alternate.
        return (replace(tail[0], content=(*lead, *tail[0].content)), *tail[1:]), dropped
    opener = replace(messages[0], content=lead) if keep_head else ir.Message("user", lead)
    return (opener, *tail), dropped


def _too_long(req: ir.Request, need: int, budget: int, limit: int, reserve: int,
              truncating: bool) -> errors.ContextLengthExceeded:
    what = ("even the system prompt, the tool definitions and the last turn need"
            if truncating else "the request needs")
    advice = ("raise the model's context length (LM Studio: Context Length when loading the "
              "model; Ollama: num_ctx or OLLAMA_CONTEXT_LENGTH; llama.cpp: -c), or use a model "
              "with a larger window")
    if not truncating:
        advice += ", or set context_overflow=truncate to drop the oldest turns"
    return errors.ContextLengthExceeded(
        f"prompt is too long: {need} tokens > {budget} maximum ({what} about {need} tokens, "
        f"estimated by lingma-proxy; model {req.model} has a {limit}-token context window and "
        f"{reserve} tokens are kept for the answer). To fix: {advice}; if the detected window "
        "is wrong, set context_window.",
        param="messages",
    )
