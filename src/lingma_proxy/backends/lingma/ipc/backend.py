"""The Lingma IPC backend: chat through the running Lingma / QoderCN IDE runtime.

One connection (discovered, opened lazily, re-discovered on reconnect: a restarted runtime
listens on a new port) carries every turn. A turn is ``session/new`` -> ``session/set_model``
-> ``session/prompt`` -> ``session/update``... until ``chat_finish`` -> ``chat/deleteSessionById``
(fresh sessions; ``reuse`` keeps one sticky session and sends only the last user text).

Failures and what the client sees (the reference passed a truncated answer off as success and
never cleaned up; this does not):
  * runtime not found / refused: 503 with what to start or pass;
  * connection lost before any output: reconnect, re-initialize, retry once; lost after some
    output: an error (mid-stream error event), never a truncated success;
  * ``chat_finish`` without text: an error; ``--timeout`` passed: a timeout error;
  * a JSON-RPC error on ``session/new``: the VS Code-only runtime, said so;
  * the client leaving, an error, a timeout: the session is deleted and temp images removed.
The runtime has no native tool protocol: ``native_tools=False`` makes the relay emulate tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

from .... import errors, ir
from ...base import BackendState, Capabilities
from . import images as img
from .connection import (
    CLOSED,
    Connection,
    ConnectionLost,
    RpcFailed,
    StreamTransport,
    WebSocketTransport,
)
from .discovery import Discovery, Endpoint, Options, discover
from .models import DEFAULT_MODEL, ModelMap, parse_models
from .prompt import build_prompt, wants_reasoning
from .turn import TurnState

log = logging.getLogger("lingma_proxy.ipc")

SETUP_TIMEOUT = 15.0
INIT_TIMEOUT = 10.0
DELETE_TIMEOUT = 10.0
MODELS_TTL = 300.0
NO_REPLY = "Lingma IPC did not produce an assistant reply"
VSCODE_ONLY = ("this runtime cannot open chat sessions over IPC (session/new failed: {msg}). The VS Code "
               "Lingma extension on its own lists models but cannot chat; open QoderCN, the Lingma "
               "desktop app or the JetBrains plugin, or point --ws-url at one of them")


class _Retry(Exception):
    def __init__(self, error: errors.ProxyError) -> None:
        self.error = error


def request_id(prefix: str = "serve") -> str:
    return f"{prefix}-{int(time.time() * 1000)}-{secrets.token_hex(4)}"


def _ms() -> int:
    return int(time.time() * 1000)


class IPCBackend:
    kind = "ipc"
    capabilities = Capabilities(native_tools=False, images=True, reasoning=True, count_tokens=False)

    def __init__(
        self,
        name: str = "ipc",
        *,
        options: Options | None = None,
        cwd: str = "",
        current_file_path: str = "",
        mode: str = "agent",
        shell_type: str = "zsh",
        session_mode: str = "auto",
        timeout: float = 0,
        max_concurrent: int = 4,
        default_model: str = DEFAULT_MODEL,
        discover_fn: Callable[[Options], Discovery] | None = None,
    ) -> None:
        self.name = name
        self.options = options or Options()
        self.cwd = cwd
        self.current_file_path = current_file_path
        self.mode = mode
        self.shell_type = shell_type
        self.session_mode = session_mode
        self.timeout = timeout
        self.max_concurrent = max(1, min(16, max_concurrent))
        self.models = ModelMap(default=default_model)
        self.endpoint: Endpoint | None = None
        self._discover = discover_fn or discover
        self._pool = asyncio.Semaphore(self.max_concurrent)
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._models_at = 0.0
        self._sticky: tuple[Connection, str, str] | None = None  # (conn, session id, model key)
        self._sticky_lock = asyncio.Lock()
        self._bg: set[asyncio.Task[Any]] = set()
        self.turns = 0  # completed turns (tests, /health)

    def __repr__(self) -> str:
        return f"IPCBackend({self.name!r}, {self.endpoint.address if self.endpoint else 'auto'!r})"

    @property
    def reuse(self) -> bool:
        # auto: a fresh session per request, as the reference does since v1.5: clients send the
        # whole history every turn, and parallel requests must never share a session.
        return self.session_mode == "reuse"

    # ------------------------------------------------------------------ connection

    async def _connect(self) -> Connection:
        disc = await asyncio.to_thread(self._discover, self.options)
        ep = disc.endpoint
        if ep is None:
            raise errors.UpstreamUnavailable(disc.problem or "no Lingma / QoderCN runtime found")
        try:
            async with asyncio.timeout(5.0):
                if ep.transport == "websocket":
                    transport: Any = await WebSocketTransport.connect(ep.address, 64 * 1024 * 1024)
                elif ep.transport == "pipe":
                    transport = await StreamTransport.named_pipe(ep.address)
                else:
                    transport = await StreamTransport.unix(ep.address)
        except (OSError, aiohttp.ClientError, TimeoutError) as e:
            why = "timed out" if isinstance(e, TimeoutError) else (
                getattr(e, "strerror", None) or str(e) or type(e).__name__)
            stale = ""
            if disc.info is not None and any("NOT running" in o for _, o in disc.tried):
                stale = f"; {disc.info.path} is left over from a runtime that is no longer running"
            raise errors.UpstreamUnavailable(
                f"cannot connect to the {ep.runtime} runtime at {ep.address} ({why}; found via {ep.source}"
                f"{stale}): start QoderCN or the Lingma IDE plugin/desktop app, or pass --ws-url / --pipe",
                retryable=True) from None
        conn = Connection(transport, ep.address)
        try:
            await conn.call("initialize", {"protocolVersion": 1, "clientCapabilities": {}, "timestamp": _ms()},
                            INIT_TIMEOUT)
        except BaseException as e:
            await conn.close()
            if isinstance(e, (RpcFailed, ConnectionLost, TimeoutError)):
                raise errors.UpstreamUnavailable(
                    f"the {ep.runtime} runtime at {ep.address} did not initialize the IPC session "
                    f"({e or 'timed out'}); reopen the IDE or app and try again", retryable=True) from None
            raise
        self.endpoint = ep
        log.info("IPC connected to %s at %s (%s, via %s)", ep.runtime, ep.address, ep.transport, ep.source)
        return conn

    async def _ensure(self) -> Connection:
        async with self._lock:
            conn = self._conn
            if conn is None or conn.closed:
                if conn is not None:
                    log.info("IPC connection to %s lost (%s): reconnecting", conn.endpoint, conn.close_reason)
                    await conn.close()
                self._sticky = None
                self._conn = conn = await self._connect()
            if not self.models.loaded or time.monotonic() > self._models_at:
                await self._load_models(conn)
            return conn

    async def _load_models(self, conn: Connection) -> None:
        try:
            result = await conn.call("config/queryModels", {}, SETUP_TIMEOUT)
        except (RpcFailed, ConnectionLost, TimeoutError) as e:
            log.warning("IPC config/queryModels failed: %s", e or "timed out")
            self._models_at = time.monotonic() + 5.0
            return
        windows = self.models.windows
        self.models = ModelMap(parse_models(result), self.models.default)
        self.models.windows.update(windows)
        self._models_at = time.monotonic() + MODELS_TTL

    async def _drop(self, conn: Connection | None) -> None:
        async with self._lock:
            if conn is not None and self._conn is conn:
                self._conn = None
                self._sticky = None
                await conn.close()

    # ------------------------------------------------------------------ sessions

    def _meta(self, rid: str, key: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"ai-coding/request-id": rid, "ai-coding/shell-type": self.shell_type,
                                "ai-coding/enabled-mcp-servers": []}
        if self.mode:
            meta["ai-coding/mode"] = self.mode
        if key:
            meta["ai-coding/model"] = key
        if self.current_file_path:
            meta["ai-coding/current-file-path"] = self.current_file_path
        return meta

    async def _setup(self, conn: Connection, method: str, params: dict[str, Any]) -> Any:
        try:
            return await conn.call(method, params, SETUP_TIMEOUT)
        except TimeoutError:
            raise errors.UpstreamTimeout(
                f"Lingma IPC session setup timed out ({method} unanswered after {SETUP_TIMEOUT:g} s): "
                "reopen the Lingma / QoderCN app or IDE plugin", retryable=True) from None
        except ConnectionLost as e:
            raise _Retry(errors.UpstreamError(f"Lingma IPC connection lost during {method}: {e}",
                                              retryable=True)) from None

    async def _new_session(self, conn: Connection, key: str, meta: dict[str, Any]) -> str:
        try:
            result = await self._setup(conn, "session/new", {"cwd": self.cwd, "mcpServers": [], "_meta": {},
                                                              "timestamp": _ms()})
        except RpcFailed as e:
            raise errors.UpstreamUnavailable(VSCODE_ONLY.format(msg=e.reply.error_message())) from None
        sid = None
        if isinstance(result, dict):
            sid = result.get("sessionId") or result.get("id")
        if not isinstance(sid, str) or not sid:
            raise errors.UpstreamError("Lingma IPC did not return a sessionId for session/new")
        if key:
            await self._set_model(conn, sid, key, meta)
        return sid

    async def _set_model(self, conn: Connection, sid: str, key: str, meta: dict[str, Any]) -> None:
        try:
            await self._setup(conn, "session/set_model",
                              {"sessionId": sid, "modelId": key, "timestamp": _ms(), "_meta": meta})
        except RpcFailed as e:
            self._spawn(self._delete(conn, sid))
            known = ", ".join(f"{m.name} ({m.key})" for m in self.models.models) or "none listed"
            raise errors.InvalidRequest(f"the runtime refused model {key!r}: {e.reply.error_message()}; "
                                        f"models it offers: {known}", param="model") from None

    async def _session(self, conn: Connection, key: str, meta: dict[str, Any]) -> str:
        if not self.reuse:
            return await self._new_session(conn, key, meta)
        sticky = self._sticky
        if sticky is not None and sticky[0] is conn:
            if key and key != sticky[2]:
                await self._set_model(conn, sticky[1], key, meta)
                self._sticky = (conn, sticky[1], key)
            return sticky[1]
        sid = await self._new_session(conn, key, meta)
        self._sticky = (conn, sid, key)
        return sid

    async def _delete(self, conn: Connection, sid: str) -> None:
        """``chat/deleteSessionById`` with ``sessionId``, then ``id``; bounded, errors only logged."""
        try:
            async with asyncio.timeout(DELETE_TIMEOUT):
                try:
                    await conn.call("chat/deleteSessionById", {"sessionId": sid})
                except RpcFailed:
                    await conn.call("chat/deleteSessionById", {"id": sid})
        except (RpcFailed, ConnectionLost, TimeoutError) as e:
            log.debug("deleting IPC session %s failed: %s", sid, e or "timed out")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    # ------------------------------------------------------------------ chat

    async def stream(self, request: ir.Request) -> AsyncIterator[ir.Event]:
        prompt = build_prompt(request, reuse=self.reuse)  # a bad request fails before any I/O
        deadline = asyncio.get_running_loop().time() + self.timeout if self.timeout > 0 else None
        async with self._pool, (self._sticky_lock if self.reuse else contextlib.nullcontext()):
            for attempt in (0, 1):
                try:
                    async for ev in self._turn(request, prompt, deadline):
                        yield ev
                    return
                except _Retry as r:
                    if attempt:
                        raise r.error from None
                    log.info("IPC turn failed before any output (%s): reconnecting and retrying once",
                             r.error.message)
                    await self._drop(self._conn if self._conn is not None and self._conn.closed else None)

    async def _turn(self, request: ir.Request, prompt: Any, deadline: float | None) -> AsyncIterator[ir.Event]:
        try:
            conn = await self._ensure()
        except errors.UpstreamUnavailable as e:
            raise _Retry(e) from None
        key = self.models.key_for(request.model)
        rid = request_id()
        meta = self._meta(rid, key)
        sid = await self._session(conn, key, meta)
        state = TurnState(wants_reasoning(request))
        q = conn.subscribe(rid)
        conn.bind_session(sid, rid)
        paths: list[str] = []
        ok = False
        try:
            kind = self.endpoint.kind if self.endpoint else "lingma"
            items, paths, url = await asyncio.to_thread(img.write_images, prompt.images, kind)
            params: dict[str, Any] = {"sessionId": sid, "prompt": [{"type": "text", "text": prompt.text}, *items],
                                      "_meta": meta}
            if url:
                params["extra"] = {"imageUrl": url}
            try:
                fut = await conn.start("session/prompt", params)
            except ConnectionLost as e:
                raise _Retry(errors.UpstreamError(f"Lingma IPC connection lost sending the prompt: {e}",
                                                  retryable=True)) from None
            fut.add_done_callback(lambda f: q.put_nowait(f) if not f.cancelled() and f.exception() else None)
            loop = asyncio.get_running_loop()
            started = False
            while not state.finished:
                left = None if deadline is None else deadline - loop.time()
                if left is not None and left <= 0:
                    raise self._timed_out(state)
                try:
                    item = await asyncio.wait_for(q.get(), left)
                except TimeoutError:
                    raise self._timed_out(state) from None
                if item is CLOSED:
                    why = conn.close_reason or "connection closed"
                    if state.emitted:
                        raise errors.UpstreamError(
                            f"Lingma IPC connection lost mid-answer ({why}): the answer is incomplete "
                            f"(partial reply: {state.partial()!r})", retryable=True)
                    raise _Retry(errors.UpstreamError(f"Lingma IPC notification stream closed ({why})",
                                                      retryable=True))
                if isinstance(item, asyncio.Future):
                    exc = item.exception()
                    msg = exc.reply.error_message() if isinstance(exc, RpcFailed) else str(exc)
                    raise errors.UpstreamError(f"Lingma IPC session/prompt failed: {msg}")
                events = state.feed(item)
                if events:
                    if not started:
                        started = True
                        yield ir.MessageStart(rid, request.model)
                    for ev in events:
                        yield ev
            if not state.has_text:
                reason = state.finish.get("reason")
                detail = f" (chat_finish reason {reason!r})" if isinstance(reason, str) and reason else ""
                raise errors.UpstreamError(NO_REPLY + detail)
            if state.limit_tokens and key:
                self.models.windows[key] = state.limit_tokens
            if not started:
                yield ir.MessageStart(rid, request.model)
            for ev in state.close(state.usage(prompt.text, len(prompt.images))):
                yield ev
            ok = True
            self.turns += 1
        finally:
            conn.unsubscribe(rid, sid)
            if paths:
                img.cleanup(paths)
            if not self.reuse:
                self._spawn(self._delete(conn, sid))
            elif not ok and self._sticky is not None and self._sticky[1] == sid:
                self._sticky = None  # after an error, a timeout or an abandoned turn: start over
                self._spawn(self._delete(conn, sid))

    def _timed_out(self, state: TurnState) -> errors.UpstreamTimeout:
        if state.has_text:
            return errors.UpstreamTimeout(
                f"Lingma IPC response remained incomplete before the {self.timeout:g} s timeout. "
                f"Partial reply: {state.partial()}", retryable=True)
        return errors.UpstreamTimeout(
            f"timed out after {self.timeout:g} s waiting for Lingma IPC to finish responding", retryable=True)

    # ------------------------------------------------------------------ models, state, close

    async def list_models(self) -> list[ir.ModelInfo]:
        await self._ensure()
        return self.models.infos(self.name)

    async def probe_session(self) -> str:
        """Open and delete a chat session (``lingma-proxy doctor --session``); the session id."""
        conn = await self._ensure()
        try:
            sid = await self._new_session(conn, "", {})
        except _Retry as r:
            raise r.error from None
        await self._delete(conn, sid)
        return sid

    async def state(self) -> BackendState:
        extra: dict[str, Any] = {"session_mode": self.session_mode, "max_concurrent": self.max_concurrent}
        try:
            async with asyncio.timeout(5.0):
                conn = await self._ensure()
        except (errors.ProxyError, TimeoutError) as e:
            detail = e.message if isinstance(e, errors.ProxyError) else "timed out connecting"
            return BackendState(self.name, self.kind, False, detail, "", {**extra, "connected": False})
        ep = self.endpoint
        assert ep is not None
        extra.update(transport=ep.transport, runtime=ep.runtime, runtime_kind=ep.kind, source=ep.source,
                     connected=not conn.closed, active_turns=conn.active_turns,
                     models=[m.id for m in self.models.infos(self.name)])
        return BackendState(self.name, self.kind, True, f"{ep.runtime} over {ep.transport}", ep.address, extra)

    async def aclose(self) -> None:
        if self._bg:  # let pending session deletions reach the runtime
            await asyncio.wait(set(self._bg), timeout=2.0)
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
