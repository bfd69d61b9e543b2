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


class Transform(Protocol):
    def feed(self, ev: ir.Event) -> list[ir.Event]: ...

    def finish(self) -> list[ir.Event]: ...


def plan_transforms(req: ir.Request, ureq: ir.Request, backend: Backend,
                    tool_mode: str) -> tuple[list[Transform], ir.Request]:
    """The transforms for this request and the request the backend should get."""
    return [], ureq


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
