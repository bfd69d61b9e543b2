"""``Content-Length`` framing (LSP style), sans I/O.

Both IPC transports carry the same frames: ``Content-Length: N\\r\\n\\r\\n`` then N bytes of
UTF-8 JSON. Over WebSocket a frame may be split across messages or several packed into one,
so WebSocket messages and byte-stream reads go through the same decoder: bytes in, complete
frame bodies out, whatever the chunk boundaries.
"""

from __future__ import annotations

MAX_FRAME = 64 * 1024 * 1024  # the largest body accepted (a runaway length would eat memory)
_MAX_HEADER = 8 * 1024


class FramingError(Exception):
    """The peer sent something that is not a frame; the byte stream cannot be resynchronised."""


def encode(body: bytes) -> bytes:
    """One frame: the header and ``body``."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class FrameDecoder:
    """Cuts frames out of a byte stream fed in arbitrary pieces.

    Header names match case-insensitively and headers other than Content-Length are ignored.
    ``feed_message`` is for WebSocket messages: a message that arrives on a frame boundary and
    is bare JSON (no header) is taken whole, a tolerance some runtimes' scripts rely on.
    """

    __slots__ = ("_buf", "_need", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._need = -1  # body length of the frame whose header was read; -1 = reading a header
        self.max_frame = max_frame

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf)

    def feed_message(self, data: bytes) -> list[bytes]:
        if self._need < 0 and not self._buf:
            head = data.lstrip()
            if head[:1] in (b"{", b"["):
                return [head]
        return self.feed(data)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        while True:
            if self._need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEADER:
                        raise FramingError("frame header too long (no blank line after it)")
                    break
                self._need = self._length(bytes(buf[:end]))
                del buf[: end + 4]
            if len(buf) < self._need:
                break
            out.append(bytes(buf[: self._need]))
            del buf[: self._need]
            self._need = -1
        return out

    def _length(self, header: bytes) -> int:
        length = -1
        for line in header.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if sep and name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError(f"bad Content-Length {value.strip()[:40]!r}") from None
        if length < 0:
            shown = header[:80].decode("utf-8", "replace")
            raise FramingError(f"frame header without Content-Length: {shown!r}")
        if length > self.max_frame:
            raise FramingError(f"frame of {length} bytes exceeds the {self.max_frame} byte limit")
        return length
