"""Thin asyncio adapters around ``RpcCore``: the transports and one shared connection.

A ``Connection`` owns a transport, a reader task and the core. Many turns share it: calls wait
on futures keyed by request id, notifications are put on the subscribing turn's unbounded
queue (the reader never waits for a slow consumer, so one slow client never holds up the
others), and the runtime's own requests are answered at once with ``result: null``. When the
transport ends, every pending call fails with ``ConnectionLost`` and every turn's queue gets
``CLOSED``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Protocol

import aiohttp

from .framing import FramingError
from .rpc import Call, Notice, Reply, RpcCore

log = logging.getLogger("lingma_proxy.ipc")

CLOSED = object()  # put on every turn queue when the connection ends
_READ = 256 * 1024


class ConnectionLost(Exception):
    pass


class RpcFailed(Exception):
    """The runtime answered a request with a JSON-RPC error."""

    def __init__(self, method: str, reply: Reply) -> None:
        super().__init__(f"Lingma IPC {method} failed: {reply.error_message()}")
        self.method = method
        self.reply = reply


class Transport(Protocol):
    message_based: bool

    async def send(self, frame: bytes) -> None: ...

    async def recv(self) -> bytes | None: ...  # None = closed

    async def close(self) -> None: ...


class WebSocketTransport:
    """Each outgoing frame is one text message; incoming text and binary messages are bytes."""

    message_based = True

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session, self._ws = session, ws

    @classmethod
    async def connect(cls, url: str, max_frame: int) -> WebSocketTransport:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                                          autoping=True, max_msg_size=max_frame + 64)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def send(self, frame: bytes) -> None:
        await self._ws.send_str(frame.decode("utf-8"))

    async def recv(self) -> bytes | None:
        msg = await self._ws.receive()
        if msg.type == aiohttp.WSMsgType.TEXT:
            return str(msg.data).encode("utf-8")
        if msg.type == aiohttp.WSMsgType.BINARY:
            return bytes(msg.data)
        return None

    async def close(self) -> None:
        try:
            await self._ws.close()
        finally:
            await self._session.close()


class StreamTransport:
    """A byte stream: a Unix socket, or a Windows named pipe through the Proactor loop."""

    message_based = False

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def unix(cls, path: str) -> StreamTransport:
        reader, writer = await asyncio.open_unix_connection(path, limit=_READ)
        return cls(reader, writer)

    @classmethod
    async def named_pipe(cls, path: str) -> StreamTransport:  # pragma: no cover - Windows only
        if sys.platform != "win32":
            raise OSError(f"named pipes need Windows; on this system pass a Unix socket path ({path})")
        loop = asyncio.get_running_loop()
        create = getattr(loop, "create_pipe_connection", None)
        if create is None:
            raise OSError("this event loop cannot open named pipes (the Proactor loop is needed)")
        reader = asyncio.StreamReader(limit=_READ)
        transport, protocol = await create(lambda: asyncio.StreamReaderProtocol(reader), path)
        return cls(reader, asyncio.StreamWriter(transport, protocol, reader, loop))

    async def send(self, frame: bytes) -> None:
        self._writer.write(frame)
        await self._writer.drain()

    async def recv(self) -> bytes | None:
        data = await self._reader.read(_READ)
        return data or None

    async def close(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass


class Connection:
    def __init__(self, transport: Transport, endpoint: str = "", max_frame: int = 64 * 1024 * 1024) -> None:
        self.transport = transport
        self.endpoint = endpoint
        self.core = RpcCore(max_frame)
        self.closed = False
        self.close_reason = ""
        self.server_requests = 0
        self._futures: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._turns: dict[str, asyncio.Queue[Any]] = {}
        self._sessions: dict[str, str] = {}  # session id -> request id, for updates without one
        self._write = asyncio.Lock()
        self._reader = asyncio.ensure_future(self._read_loop())

    # ------------------------------------------------------------------ requests

    async def _send(self, frame: bytes) -> None:
        if self.closed:
            raise ConnectionLost(self.close_reason or "connection closed")
        try:
            async with self._write:
                await self.transport.send(frame)
        except (OSError, ConnectionError, aiohttp.ClientError, RuntimeError) as e:
            self._lost(f"write failed: {type(e).__name__}")
            raise ConnectionLost(self.close_reason) from None

    async def start(self, method: str, params: dict[str, Any] | None = None) -> asyncio.Future[Any]:
        """Send a request; the returned future gets its result (or RpcFailed/ConnectionLost)."""
        rid, frame = self.core.request(method, params)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._futures[rid] = (method, fut)
        try:
            await self._send(frame)
        except BaseException:
            self._futures.pop(rid, None)
            self.core.forget(rid)
            raise
        return fut

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        fut = await self.start(method, params)
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(fut)
        finally:
            if not fut.done():
                fut.cancel()

    # ------------------------------------------------------------------ turns

    def subscribe(self, request_id: str) -> asyncio.Queue[Any]:
        q: asyncio.Queue[Any] = asyncio.Queue()
        if self.closed:
            q.put_nowait(CLOSED)
        self._turns[request_id] = q
        return q

    def bind_session(self, session_id: str, request_id: str) -> None:
        self._sessions[session_id] = request_id

    def unsubscribe(self, request_id: str, session_id: str = "") -> None:
        self._turns.pop(request_id, None)
        if session_id and self._sessions.get(session_id) == request_id:
            del self._sessions[session_id]

    @property
    def active_turns(self) -> int:
        return len(self._turns)

    # ------------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        message = self.transport.message_based
        reason = "the runtime closed the connection"
        try:
            while True:
                data = await self.transport.recv()
                if data is None:
                    break
                for msg in self.core.feed(data, message=message):
                    await self._dispatch(msg)
        except FramingError as e:
            reason = f"the runtime sent a broken frame ({e})"
            log.warning("IPC %s: %s", self.endpoint, reason)
        except asyncio.CancelledError:
            reason = "connection closed"
        except (OSError, ConnectionError, aiohttp.ClientError) as e:
            reason = f"connection lost ({type(e).__name__})"
        finally:
            self._lost(reason)

    async def _dispatch(self, msg: Reply | Notice | Call) -> None:
        if isinstance(msg, Reply):
            entry = self._futures.pop(msg.id, None)
            if entry is not None and not entry[1].done():
                method, fut = entry
                if msg.error is not None:
                    fut.set_exception(RpcFailed(method, msg))
                else:
                    fut.set_result(msg.result)
            return
        if isinstance(msg, Call):
            self.server_requests += 1
            try:
                await self._send(msg.answer)
            except ConnectionLost:
                pass
            return
        if msg.method != "session/update":
            return  # chat/process_step_callback and friends: chat_finish is the end signal
        rid = msg.route or (self._sessions.get(msg.session_id) if msg.session_id else None)
        q = self._turns.get(rid) if rid else None
        if q is not None:
            q.put_nowait(msg.params)

    def _lost(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        for method, fut in self._futures.values():
            if not fut.done():
                fut.set_exception(ConnectionLost(f"{reason} (while waiting for {method})"))
                fut.exception()  # a caller that gave up must not leave an unretrieved exception
        self._futures.clear()
        for q in self._turns.values():
            q.put_nowait(CLOSED)

    async def close(self) -> None:
        self._lost("connection closed")
        self._reader.cancel()
        try:
            await self.transport.close()
        except (OSError, ConnectionError, aiohttp.ClientError, RuntimeError) as e:  # already dead
            log.debug("closing IPC transport to %s: %s", self.endpoint, type(e).__name__)
