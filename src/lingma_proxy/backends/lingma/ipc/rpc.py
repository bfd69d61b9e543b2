"""The JSON-RPC 2.0 session core of one IPC connection, sans I/O.

``RpcCore`` mints requests (integer ids from 1 per connection, compact JSON with sorted keys,
as the reference sends them), turns incoming bytes into classified messages, and answers the
runtime's own requests. It never raises on what the peer sends, except ``FramingError`` when
the byte stream itself is broken: string ids, non-object params, unknown methods and bad JSON
are tolerated (the Go reference dropped the whole connection on the first of them).

Notifications are routed to turns by ``_meta["ai-coding/request-id"]`` (the key every
``session/update`` of a turn carries), falling back to the ids some runtimes put elsewhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson

from .framing import MAX_FRAME, FrameDecoder, encode

log = logging.getLogger("lingma_proxy.ipc")

REQUEST_ID = "ai-coding/request-id"
_DUMPS_OPTS = orjson.OPT_SORT_KEYS


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one of our requests. ``error`` is the JSON-RPC error object, if any."""

    id: int
    result: Any = None
    error: dict[str, Any] | None = None

    def error_message(self) -> str:
        err = self.error or {}
        msg = err.get("message")
        code = err.get("code")
        text = msg if isinstance(msg, str) and msg else "unknown error"
        return f"{text} (code {code})" if isinstance(code, int) else text


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification; ``route`` is the turn's request id when one could be found."""

    method: str
    params: dict[str, Any]
    route: str | None = None
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """A request from the runtime to us. ``answer`` is the frame to send back (result null)."""

    id: int | str
    method: str
    params: dict[str, Any]
    answer: bytes
    route: str | None = None


Incoming = Reply | Notice | Call


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_DUMPS_OPTS)


def route_of(params: dict[str, Any]) -> str | None:
    """The turn a notification belongs to: ``params._meta`` request id, then ``update._meta``,
    then a ``requestId`` in the data or at top level (``chat/process_step_callback``)."""
    for holder in (params, params.get("update")):
        if isinstance(holder, dict):
            meta = holder.get("_meta")
            if isinstance(meta, dict):
                rid = meta.get(REQUEST_ID)
                if isinstance(rid, str) and rid:
                    return rid
    update = params.get("update")
    data = update.get("data") if isinstance(update, dict) else None
    for holder in (data, params):
        if isinstance(holder, dict):
            rid = holder.get("requestId")
            if isinstance(rid, str) and rid:
                return rid
    return None


def _int_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())  # a peer that stringifies ids still answers our request
    return None


class RpcCore:
    """See the module docstring. One instance per connection."""

    __slots__ = ("_decoder", "_next_id", "pending")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._decoder = FrameDecoder(max_frame)
        self._next_id = 1
        self.pending: dict[int, str] = {}  # id -> method, for requests awaiting a reply

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """A request frame and its id (the id is remembered until its reply arrives)."""
        rid = self._next_id
        self._next_id += 1
        self.pending[rid] = method
        body = dumps({"id": rid, "jsonrpc": "2.0", "method": method, "params": params or {}})
        return rid, encode(body)

    def forget(self, rid: int) -> None:
        self.pending.pop(rid, None)

    def feed(self, data: bytes, *, message: bool = False) -> list[Incoming]:
        """Classify what arrived. ``message=True`` for a WebSocket message (bare JSON tolerated)."""
        bodies = self._decoder.feed_message(data) if message else self._decoder.feed(data)
        out: list[Incoming] = []
        for body in bodies:
            msg = self._classify(body)
            if msg is not None:
                out.append(msg)
        return out

    def _classify(self, body: bytes) -> Incoming | None:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            log.warning("IPC peer sent a frame that is not JSON (%d bytes); ignored", len(body))
            return None
        if not isinstance(obj, dict):
            log.warning("IPC peer sent JSON that is not an object; ignored")
            return None
        method = obj.get("method")
        raw_params = obj.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        if isinstance(method, str):
            route = route_of(params)
            if "id" in obj and obj["id"] is not None:
                mid = obj["id"]
                answer = encode(dumps({"id": mid, "jsonrpc": "2.0", "result": None}))
                return Call(mid, method, params, answer, route)
            sid = params.get("sessionId")
            return Notice(method, params, route, sid if isinstance(sid, str) else None)
        rid = _int_id(obj.get("id"))
        if rid is None or rid not in self.pending:
            return None  # an answer to nothing we asked (or already gave up on)
        del self.pending[rid]
        err = obj.get("error")
        if err is not None:
            return Reply(rid, None, err if isinstance(err, dict) else {"message": str(err)})
        return Reply(rid, obj.get("result"))
