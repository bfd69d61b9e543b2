"""Which feature transforms a request gets, and how events flow through them.

A transform is a stream converter (``feed(event) -> events``, ``finish() -> events``) placed
between the backend and the renderer. Planning is pure: it looks at the request, the backend's
capabilities and the configured tool mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from .. import ir
from ..backends.base import Backend
from ..features.text_tool_calls import TextToolCallStream
from ..features.tool_contract import inject_contract, needs_emulation


class Transform(Protocol):
    def feed(self, ev: ir.Event) -> list[ir.Event]: ...

    def finish(self) -> list[ir.Event]: ...


def plan_transforms(req: ir.Request, ureq: ir.Request, backend: Backend,
                    tool_mode: str) -> tuple[list[Transform], ir.Request]:
    """The transforms for this request and the request the backend should get.

    ``tool_mode``: ``emulate`` always emulates tools by prompt contract; ``native`` never
    touches tool calls; ``auto`` emulates for backends without native tools and, for backends
    with them, turns tool calls a local model wrote as text into real ones (only when the
    request offered tools and the upstream produced no native call).
    """
    if uses_emulation(req, backend, tool_mode):
        # the calls are recovered by relay.emulation.emulated_events (it may retry once)
        return [], inject_contract(ureq)
    if tool_mode == "native" or tool_mode == "emulate" or not backend.capabilities.native_tools:
        return [], ureq
    if req.tools and not (req.tool_choice and req.tool_choice.type == "none"):
        return [TextToolCallStream(req)], ureq
    return [], ureq


def uses_emulation(req: ir.Request, backend: Backend, tool_mode: str) -> bool:
    """Whether tools are emulated by prompt contract for this request."""
    if tool_mode == "native":
        return False
    if tool_mode == "emulate" or not backend.capabilities.native_tools:
        return needs_emulation(req)
    return False


def run_transforms(transforms: list[Transform], ev: ir.Event) -> list[ir.Event]:
    events: Iterable[ir.Event] = (ev,)
    for t in transforms:
        nxt: list[ir.Event] = []
        for e in events:
            nxt += t.feed(e)
        events = nxt
    return list(events)


def run_finish(transforms: list[Transform]) -> list[ir.Event]:
    """Flush every transform in order, feeding each one's tail through the ones after it."""
    out: list[ir.Event] = []
    for i, t in enumerate(transforms):
        tail = t.finish()
        for later in transforms[i + 1:]:
            nxt: list[ir.Event] = []
            for e in tail:
                nxt += later.feed(e)
            tail = nxt
        out += tail
    return out
