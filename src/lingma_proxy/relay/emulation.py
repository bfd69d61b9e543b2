"""Tool emulation as an event source, with the one missed-tool retry.

The backend receives the request with the tool contract injected (``inject_contract``); its
text is turned back into tool calls by ``EmulatedToolStream``. When tools were offered and the
reply refused, handed the work to the user or announced a call it did not make, the model is
asked once more (``retry_request``: the reply so far plus a firmer instruction) and the retry's
events continue the same client message: block indexes go on where the first pass stopped,
and only the retry's end (stop reason, usage) closes the message. Never more than one retry.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from .. import ir
from ..backends.base import Backend
from ..features.tool_contract import inject_contract
from ..features.tool_retry import retry_request, should_retry
from ..features.tool_stream import EmulatedToolStream

log = logging.getLogger("lingma_proxy.relay")


async def emulated_events(backend: Backend, req: ir.Request,
                          ureq: ir.Request) -> AsyncIterator[ir.Event]:
    """Events of ``backend`` for the tool-less ``ureq`` (contract already injected), with tool
    calls recovered for the client's ``req`` and at most one retry."""
    first = _Pass(req, offset=0)
    async for ev in first.run(backend, ureq):
        yield ev
    if not should_retry(req, first.text, first.conv.calls):
        for ev in first.held:
            yield ev
        return
    log.info("tool emulation: the reply missed its tool call; asking once more")
    retry_ureq = inject_contract(replace(retry_request(req, first.text), model=ureq.model))
    second = _Pass(req, offset=first.next_index)
    async for ev in second.run(backend, retry_ureq):
        yield ev
    for ev in second.held:
        if isinstance(ev, ir.MessageDelta):
            ev = replace(ev, usage=_sum_usage(first.usage, ev.usage))
        yield ev


class _Pass:
    """One generation through the emulation filter; the message's end is held back."""

    def __init__(self, req: ir.Request, offset: int) -> None:
        self.conv = EmulatedToolStream(req)
        self.offset = offset
        self.next_index = offset
        self.text_parts: list[str] = []
        self.held: list[ir.Event] = []
        self.usage: ir.Usage | None = None
        self.skip_start = offset > 0

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    async def run(self, backend: Backend, ureq: ir.Request) -> AsyncIterator[ir.Event]:
        agen = backend.stream(ureq)
        try:
            async for ev in agen:
                if isinstance(ev, ir.TextDelta):
                    self.text_parts.append(ev.text)
                for out in self.conv.feed(ev):
                    mapped = self._map(out)
                    if mapped is not None:
                        yield mapped
        finally:
            await agen.aclose()  # type: ignore[attr-defined]
        for out in self.conv.finish():
            mapped = self._map(out)
            if mapped is not None:
                yield mapped

    def _map(self, ev: ir.Event) -> ir.Event | None:
        if isinstance(ev, (ir.MessageDelta, ir.MessageStop)):
            if isinstance(ev, ir.MessageDelta):
                self.usage = ev.usage
            self.held.append(ev)
            return None
        if isinstance(ev, ir.MessageStart):
            return None if self.skip_start else ev
        index = getattr(ev, "index", None)
        if index is None:
            return ev
        if isinstance(ev, ir.BlockStart):
            self.next_index = max(self.next_index, index + self.offset + 1)
        return replace(ev, index=index + self.offset) if self.offset else ev


def _sum_usage(a: ir.Usage | None, b: ir.Usage | None) -> ir.Usage | None:
    if a is None or b is None:
        return b or a
    return replace(b, output_tokens=a.output_tokens + b.output_tokens)
