"""An emulator of the Lingma / QoderCN IDE runtime's IPC side, over WebSocket and Unix socket.

Built from the reference facts (../shared/reference/lingma-ipc-protocol.md) and checked
against the captures: with nothing scripted it answers exactly, byte for byte, what the fake
peer in ``captures/ipc.jsonl`` answered (Python ``json.dumps`` spacing, the same key order, a
global ``sess-N`` counter, ``session/request_permission`` ids from 9001, the ``IGNORED-FOREIGN``
chunk of another turn, a thought chunk, three text chunks, ``context_usage``, ``chat_finish``,
then the prompt's own reply), and the captured scenarios ``SCENARIO:tool`` / ``noreply`` /
``close`` work too.

Scripting::

    emu.queue(Turn(text=("Hi",), thinking=()))     # the next prompt's answer
    emu.responder = tool_loop("get_weather", {"city": "Paris"}, "Sunny: {result}")
    emu.faults.session_new_error = {"code": -32601, "message": "Method not found"}
    emu.faults.chunking = "split" | "pack"           # frames split across / packed into messages
    emu.faults.string_ids = True                      # server requests with string ids
    emu.faults.odd_messages = True                    # junk frames, list params, updates without _meta
    await emu.drop_connections()                      # a drop between turns

Turn faults: ``Turn(finish=None)`` stalls (no chat_finish), ``Turn(text=())`` finishes empty,
``Turn(close_after=1)`` closes the connection after one text chunk.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import WSMsgType, web

from lingma_proxy.backends.lingma.ipc.framing import FrameDecoder

CAPTURED_MODELS: dict[str, Any] = {
    "assistant": [{"id": "kmodel", "name": "Kimi-K2.6"}, {"id": "dashscope_qwen3_coder", "name": "Qwen3-Coder"}],
    "developer": [{"id": "org_auto", "name": "Auto"}],
}
INIT_RESULT = {"protocolVersion": 1, "agentCapabilities": {"loadSession": False}, "authMethods": []}
TOOL_TEXT = ("I will check.\n", '```json action\n{"tool":"get_weather","parameters":{"city":"Paris"}}\n```')


@dataclass
class Turn:
    text: tuple[str, ...] = ("Hello", " from", " fake IPC.")
    thinking: tuple[str, ...] = ("thinking...",)
    usage: dict[str, Any] | None = field(default_factory=lambda: {"usedTokens": 321, "limitTokens": 128000})
    finish: dict[str, Any] | None = field(default_factory=lambda: {"reason": "stop"})  # None: stall
    finish_request_id: bool = True  # the captured fake put requestId into chat_finish data
    permission: bool = True
    foreign: bool = True
    close_after: int | None = None  # close the connection after this many text chunks (0: before any)
    delay: float = 0.0  # seconds between updates
    prompt_error: dict[str, Any] | None = None  # answer session/prompt with this JSON-RPC error


@dataclass
class Faults:
    session_new_error: dict[str, Any] | None = None
    chunking: str = "frame"  # frame | split | pack
    string_ids: bool = False
    odd_messages: bool = False


def scenario(prompt: str) -> Turn:
    """The captured fake's scenarios, chosen by the prompt text."""
    if "SCENARIO:noreply" in prompt:
        return Turn(text=(), thinking=(), usage=None, permission=False, foreign=False, finish_request_id=False)
    if "SCENARIO:close" in prompt:
        return Turn(text=("partial-before-close ",), thinking=(), usage=None, permission=False, foreign=False,
                    close_after=1)
    if "SCENARIO:tool" in prompt:
        return Turn(text=TOOL_TEXT)
    return Turn()


def tool_loop(tool: str, args: dict[str, Any], final: str = "Done: {result}") -> Callable[[str], Turn]:
    """A model that calls ``tool`` once, then answers with its result (``{result}``)."""
    def respond(prompt: str) -> Turn:
        # a real result, not the contract's own example of the format (call_id="...")
        m = re.search(r'<tool_result call_id="(?!\.\.\.")[^"]*"[^>]*>\n?(.*?)\n?</tool_result>', prompt, re.DOTALL)
        if m:
            return Turn(text=(final.format(result=m.group(1).strip()),), thinking=())
        block = json.dumps({"tool": tool, "parameters": args}, separators=(",", ":"))
        return Turn(text=("I will check.\n", f"```json action\n{block}\n```"), thinking=())
    return respond


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class _Conn:
    def __init__(self, emu: LingmaIPCEmulator, number: int, write: Callable[[bytes], Any],
                 close: Callable[[], Any], message_based: bool) -> None:
        self.emu, self.number = emu, number
        self._write, self._close = write, close
        self.message_based = message_based
        self.decoder = FrameDecoder()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.closed = False

    async def send(self, *objs: Any) -> None:
        if self.closed:
            return
        frames = [frame(o) for o in objs]
        for o in objs:
            self.emu.sent.append((self.number, o))
        chunking = self.emu.faults.chunking
        pieces: list[bytes]
        if chunking == "pack":
            pieces = [b"".join(frames)]
        elif chunking == "split":
            pieces = [p for f in frames for p in (f[:7], f[7:len(f) // 2], f[len(f) // 2:]) if p]
        else:
            pieces = frames
        try:
            for p in pieces:
                await self._write(p)
        except (ConnectionError, RuntimeError, OSError):
            self.closed = True

    async def close(self) -> None:
        self.closed = True
        await self._close()

    async def feed(self, data: bytes) -> None:
        for body in self.decoder.feed(data):
            try:
                msg = json.loads(body)
            except ValueError:
                self.emu.received.append((self.number, {"unparsable": body.decode("utf-8", "replace")}))
                continue
            self.emu.received.append((self.number, msg))
            await self.handle(msg)

    async def handle(self, msg: dict[str, Any]) -> None:
        emu = self.emu
        method, mid, params = msg.get("method"), msg.get("id"), msg.get("params") or {}
        if method is None:
            return  # our answers to permission requests
        if method == "initialize":
            await self.send({"jsonrpc": "2.0", "id": mid, "result": INIT_RESULT})
        elif method == "config/queryModels":
            await self.send({"jsonrpc": "2.0", "id": mid, "result": emu.models})
        elif method == "session/new":
            if emu.faults.session_new_error is not None:
                await self.send({"jsonrpc": "2.0", "id": mid, "error": emu.faults.session_new_error})
                return
            emu.session_counter += 1
            sid = f"sess-{emu.session_counter}"
            emu.sessions[sid] = {"conn": self.number, "model": None, "deleted": False, "prompts": []}
            await self.send({"jsonrpc": "2.0", "id": mid, "result": {"sessionId": sid}})
        elif method == "session/set_model":
            s = emu.sessions.get(params.get("sessionId"))
            if s is not None:
                s["model"] = params.get("modelId")
            await self.send({"jsonrpc": "2.0", "id": mid, "result": None})
        elif method == "session/prompt":
            task = asyncio.ensure_future(self.turn(mid, params))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif method == "chat/deleteSessionById":
            sid = params.get("sessionId") or params.get("id")
            if sid in emu.sessions:
                emu.sessions[sid]["deleted"] = True
            await self.send({"jsonrpc": "2.0", "id": mid, "result": None})
        else:
            await self.send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "Method not found"}})

    async def turn(self, mid: Any, params: dict[str, Any]) -> None:
        emu = self.emu
        sid = params.get("sessionId")
        rid = (params.get("_meta") or {}).get("ai-coding/request-id")
        items = params.get("prompt") or []
        text = "".join(i.get("text", "") for i in items if i.get("type") == "text")
        if sid in emu.sessions:
            emu.sessions[sid]["prompts"].append(text)
        for i in items:
            if i.get("type") == "image":
                uri = i.get("uri", "")
                path = parse_qs(urlsplit(uri).query).get("path", [""])[0]
                emu.images.append({**i, "path": path, "existed": bool(path) and os.path.exists(path)})
        t = emu.script.popleft() if emu.script else emu.responder(text) if emu.responder else scenario(text)
        meta = {"ai-coding/request-id": rid}

        def update(u: dict[str, Any], m: dict[str, Any] | None = None) -> dict[str, Any]:
            return {"jsonrpc": "2.0", "method": "session/update",
                    "params": {"sessionId": sid, "update": u, "_meta": m or meta}}

        if t.prompt_error is not None:
            await self.send({"jsonrpc": "2.0", "id": mid, "error": t.prompt_error})
            return
        out: list[Any] = []
        if t.permission:
            emu.permission_counter += 1
            pid: Any = 9000 + emu.permission_counter
            pid = f"perm-{pid}" if emu.faults.string_ids else pid
            out.append({"jsonrpc": "2.0", "id": pid, "method": "session/request_permission",
                        "params": {"sessionId": sid, "options": [{"optionId": "allow", "kind": "allow_once"}]}})
        if t.foreign:
            out.append(update({"sessionUpdate": "agent_message_chunk",
                               "content": {"type": "text", "text": "IGNORED-FOREIGN"}},
                              {"ai-coding/request-id": "someone-else"}))
        if emu.faults.odd_messages:
            out += [{"jsonrpc": "2.0", "method": "session/update", "params": ["odd"]},
                    {"jsonrpc": "2.0", "method": "chat/process_step_callback",
                     "params": {"requestId": rid, "step": "step_start"}},
                    {"jsonrpc": "2.0", "id": "str-id", "method": "fs/read_text_file", "params": "odd"},
                    {"jsonrpc": "2.0", "method": "session/update",
                     "params": {"sessionId": sid, "update": {"sessionUpdate": "plan", "entries": []}}}]
        if t.close_after == 0:  # gone before any output
            await self._emit(out, t.delay)
            await self.close()
            return
        for th in t.thinking:
            out.append(update({"sessionUpdate": "agent_thought_chunk", "content": {"type": "text", "text": th},
                               "_meta": {"ai-coding/thinking-duration-millis": 1234}}))
        for n, chunk in enumerate(t.text, 1):
            out.append(update({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": chunk}}))
            if t.close_after is not None and n >= t.close_after:
                await self._emit(out, t.delay)
                await self.close()
                return
        if t.usage is not None:
            out.append(update({"sessionUpdate": "notification", "type": "context_usage", "data": t.usage}))
        if t.finish is None:
            await self._emit(out, t.delay)
            return  # stall: no chat_finish, no prompt reply
        data = {**t.finish, "requestId": rid} if t.finish_request_id else dict(t.finish)
        out.append(update({"sessionUpdate": "notification", "type": "chat_finish", "data": data}))
        out.append({"jsonrpc": "2.0", "id": mid, "result": {"stopReason": "end_turn"}})
        await self._emit(out, t.delay)

    async def _emit(self, out: list[Any], delay: float) -> None:
        if self.emu.faults.odd_messages and not self.closed:
            await self._write(b"Content-Length: 9\r\n\r\nnot json!")
        if delay <= 0 and self.emu.faults.chunking == "pack":
            await self.send(*out)
            return
        for o in out:
            await self.send(o)
            if delay > 0:
                await asyncio.sleep(delay)


class LingmaIPCEmulator:
    def __init__(self, models: Any = None) -> None:
        self.models = CAPTURED_MODELS if models is None else models
        self.faults = Faults()
        self.script: deque[Turn] = deque()
        self.responder: Callable[[str], Turn] | None = None
        self.received: list[tuple[int, dict[str, Any]]] = []
        self.sent: list[tuple[int, Any]] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.images: list[dict[str, Any]] = []
        self.session_counter = 0
        self.permission_counter = 0
        self.connections = 0
        self.conns: list[_Conn] = []
        self.handshakes: list[dict[str, str]] = []
        self.port = 0
        self.socket_path = ""
        self._runner: web.AppRunner | None = None
        self._unix: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def queue(self, *turns: Turn) -> None:
        self.script.extend(turns)

    def methods(self) -> list[str]:
        return [m["method"] for _, m in self.received if "method" in m]

    def live_sessions(self) -> list[str]:
        return [s for s, v in self.sessions.items() if not v["deleted"]]

    def reset(self) -> None:
        self.faults = Faults()
        self.script.clear()
        self.responder = None
        self.received.clear()
        self.sent.clear()
        self.images.clear()

    def write_info(self, directory: Path, *, pid: int | None = None, name: str = ".info.json") -> Path:
        """The runtime's shared-client info file, as the IDE writes it."""
        directory.mkdir(parents=True, exist_ok=True)
        p = directory / name
        p.write_text(json.dumps({"websocketPort": self.port, "pid": os.getpid() if pid is None else pid,
                                 "ipcServerPath": self.socket_path, "isDev": False}))
        return p

    # ------------------------------------------------------------------ serving

    def _new_conn(self, write: Callable[[bytes], Any], close: Callable[[], Any], message_based: bool) -> _Conn:
        self.connections += 1
        c = _Conn(self, self.connections, write, close, message_based)
        self.conns.append(c)
        return c

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self.handshakes.append(dict(request.headers))

        async def write(data: bytes) -> None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:  # a split inside a character: the runtime may send binary
                await ws.send_bytes(data)
                return
            await ws.send_str(text)

        conn = self._new_conn(write, ws.close, True)
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                data = msg.data.encode() if isinstance(msg.data, str) else msg.data
                await conn.feed(data)
        conn.closed = True
        for t in list(conn.tasks):
            t.cancel()
        return ws

    async def _unix_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def write(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        async def close() -> None:
            writer.close()

        conn = self._new_conn(write, close, False)
        try:
            while data := await reader.read(65536):
                await conn.feed(data)
        except (ConnectionError, OSError):
            pass
        conn.closed = True
        for t in list(conn.tasks):
            t.cancel()
        writer.close()

    async def start(self, port: int = 0, socket_path: str = "") -> LingmaIPCEmulator:
        app = web.Application()
        app.router.add_get("/", self._ws)
        app.router.add_get("/ws", self._ws)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if socket_path:
            self.socket_path = socket_path
            self._unix = await asyncio.start_unix_server(self._unix_client, socket_path)
        return self

    async def drop_connections(self) -> None:
        """Close every open connection (the runtime restarting between turns)."""
        for c in list(self.conns):
            if not c.closed:
                await c.close()

    async def stop(self) -> None:
        await self.drop_connections()
        if self._unix is not None:
            self._unix.close()
            self._unix = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_thread(self, socket_path: str = "") -> LingmaIPCEmulator:
        """Serve from a private loop in a daemon thread (for synchronous SDK tests)."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start(socket_path=socket_path))
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="lingma-ipc-emulator", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the emulator's thread loop (e.g. ``emu.call(emu.drop_connections())``)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = self._loop = None
