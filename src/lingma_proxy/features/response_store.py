"""An in-process store of finished Responses conversations, for ``previous_response_id``.

Synchronous on purpose: the relay stores a response before it sends the completion event, so
a client may continue it at once (a store fed from asynchronous logs makes continuations fail
for seconds). Bounded by item count and by an estimate of the text held, least recently used
first out.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from .. import errors, ir

_ASSISTANT_PARTS = (ir.TextPart, ir.ThinkingPart, ir.ToolCallPart)


def _size(messages: tuple[ir.Message, ...], system: tuple[ir.TextPart, ...]) -> int:
    """Roughly the bytes a conversation holds (its text, images and arguments). Chained
    entries share their message objects, so this overcounts: the bound is conservative."""
    n = sum(len(p.text) for p in system)
    for m in messages:
        for p in m.content:
            if isinstance(p, (ir.TextPart, ir.ThinkingPart)):
                n += len(p.text) + len(getattr(p, "encrypted", None) or "")
            elif isinstance(p, ir.ToolCallPart):
                n += len(p.arguments) + len(p.name)
            elif isinstance(p, ir.ToolResultPart):
                n += sum(len(c.text) if isinstance(c, ir.TextPart) else len(c.data or "")
                         for c in p.content)
            elif isinstance(p, ir.ImagePart):
                n += len(p.data or p.url or "")
    return n + 64 * len(messages)


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    request: ir.Request  # system + the whole conversation up to this response
    response: ir.Response
    size: int


class ResponseStore:
    """``put`` after a response finished; ``expand`` a request naming
    ``previous_response_id`` into the full conversation; ``get`` for GET /v1/responses/{id}."""

    __slots__ = ("max_items", "max_bytes", "_entries", "_bytes")

    def __init__(self, max_items: int = 1000, max_bytes: int = 256 * 1024 * 1024) -> None:
        if max_items < 1 or max_bytes < 1:
            raise ValueError("ResponseStore limits must be positive")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, response_id: object) -> bool:
        return response_id in self._entries

    def put(self, response_id: str, request: ir.Request, response: ir.Response) -> None:
        """Keep the conversation ``request`` + ``response`` unless the client said
        ``store: false``. ``request`` should be the expanded one, so chains keep working."""
        if request.extra.get("store") is False:
            return
        reply = tuple(p for p in response.content if isinstance(p, _ASSISTANT_PARTS))
        messages = request.messages
        if reply:
            messages += (ir.Message("assistant", reply),)
        stored = dataclasses.replace(request, messages=messages)
        entry = _Entry(stored, response, _size(messages, request.system))
        old = self._entries.pop(response_id, None)
        if old is not None:
            self._bytes -= old.size
        self._entries[response_id] = entry
        self._bytes += entry.size
        self._evict()

    def get(self, response_id: str) -> tuple[ir.Request, ir.Response] | None:
        entry = self._entries.get(response_id)
        if entry is None:
            return None
        self._entries.move_to_end(response_id)
        return entry.request, entry.response

    def expand(self, request: ir.Request) -> ir.Request:
        """The request with the stored conversation before its own messages; unchanged when
        it names no ``previous_response_id``. Raises ``NotFound`` for an unknown id."""
        prev = request.extra.get("previous_response_id")
        if not prev:
            return request
        entry = self._entries.get(prev) if isinstance(prev, str) else None
        if entry is None:
            raise errors.NotFound(
                f"previous response {prev!r} is not stored here (unknown, expired, or made "
                "with store: false); send the whole conversation instead",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        self._entries.move_to_end(prev)
        # The id is consumed here: an upstream must not see an id only this proxy knows.
        extra = {k: v for k, v in request.extra.items() if k != "previous_response_id"}
        return dataclasses.replace(
            request,
            system=request.system or entry.request.system,
            messages=entry.request.messages + request.messages,
            extra=extra,
        )

    def _evict(self) -> None:
        entries = self._entries
        # The newest entry stays even when alone it exceeds max_bytes: its continuation is the
        # likeliest next request.
        while len(entries) > self.max_items or (len(entries) > 1 and self._bytes > self.max_bytes):
            _, old = entries.popitem(last=False)
            self._bytes -= old.size
