"""Server-sent events, sans I/O: an encoder and an incremental decoder.

The decoder accepts bytes split at arbitrary boundaries (even inside a UTF-8 sequence or a
CRLF pair) and yields complete events; comments (``: ping``) are surfaced as events with
``comment`` set so keep-alives can be observed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str = ""
    event: str | None = None
    id: str | None = None
    comment: str | None = None


def encode(data: bytes, event: str | None = None) -> bytes:
    """One event; ``data`` must be a single line (JSON from orjson always is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def encode_comment(text: str = "ping") -> bytes:
    return b": " + text.encode() + b"\n\n"


class SSEDecoder:
    """Incremental decoder: ``feed(chunk) -> events``; ``finish()`` flushes a final event
    that was not followed by a blank line (servers that close without one)."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_pending_cr")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        out: list[SSEEvent] = []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._buf
        buf += chunk
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, nl if nl >= 0 else n)
            if cr >= 0:
                end = cr
                if cr + 1 < n:
                    nxt = cr + 2 if buf[cr + 1] == 0x0A else cr + 1
                else:
                    self._pending_cr = True
                    nxt = cr + 1
            elif nl >= 0:
                end, nxt = nl, nl + 1
            else:
                break
            line = bytes(buf[start:end]).decode("utf-8", "replace")
            start = nxt
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        del buf[:start]
        return out

    def finish(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._buf:
            line = bytes(self._buf).decode("utf-8", "replace")
            self._buf.clear()
            ev = self._line(line)
            if ev is not None:
                out.append(ev)
        ev = self._dispatch()
        if ev is not None:
            out.append(ev)
        return out

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return SSEEvent(comment=line[1:].lstrip(" "))
        field, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id":
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data and self._event is None:
            return None
        ev = SSEEvent(data="\n".join(self._data), event=self._event, id=self._id)
        self._data = []
        self._event = None
        return ev
