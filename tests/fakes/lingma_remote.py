"""An emulator of the Lingma cloud API (the remote backend's upstream), on 127.0.0.1.

It checks every request the way the gateway would: the COSY bearer (payload decoded and
re-encoded byte for byte, ``info`` against the registered account, the MD5 recomputed over
payload/key/date/raw body/path), every fixed header, the date's skew, and the chat body's
shape. Failures answer 401 (bad signature or headers) or 403 (unknown account), like the
real service's ``{"success": false, "errorCode": ...}`` bodies.

It serves ``GET /algo/api/v2/model/list`` and ``POST .../agent_chat_generation`` with the
``{"body": "<chunk json>", "statusCodeValue": 200}`` SSE envelope, and injects faults::

    emu.queue(Reply.http(429))                   # next chat answers 429
    emu.per_model["kmodel"] = Reply.http(500)    # every chat with kmodel answers 500
    emu.queue(Reply.text("Hel", "lo", fault=Fault.drop(after=1)))

With nothing scripted it echoes the reference's fake: "Hello from fake upstream." in three
chunks (the captured scenarios ``SCENARIO:tool`` / ``http500`` / ``ssestatus`` / ``rawdone``
work too). ``oss=True`` makes it a static-file host answering 404 NoSuchKey to everything.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

try:
    from .served import AioFake
except ImportError:  # run by path as a script
    from served import AioFake  # type: ignore[no-redef]

MODEL_LIST = "/algo/api/v2/model/list"
CHAT = "/algo/api/v2/service/pro/sse/agent_chat_generation"
CHAT_QUERY = {"FetchKeys": "llm_model_result", "AgentId": "agent_common"}
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_OS = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*_(linux|darwin|windows)$")
MAIN_KEYS = frozenset({
    "agent_id", "aliyun_user_type", "business", "chat_prompt", "chat_record_id", "code_language", "image_urls",
    "is_reply", "is_retry", "messages", "model_config", "parameters", "request_id", "request_set_id", "session_id",
    "source", "stream", "task_id", "version"})  # fmt: skip
CLI_KEYS = MAIN_KEYS | {"chat_task", "session_type"}
OPTIONAL_KEYS = frozenset({"tools", "tool_choice"})


@dataclass(frozen=True)
class Account:
    cosy_key: str = "EMU_COSY_KEY_BASE64=="
    encrypt_user_info: str = "EMU_ENCRYPT_USER_INFO_BASE64=="
    user_id: str = "1000000000000042"
    machine_id: str = "0123456789abcdef-EMU-MACHINE-ID"


DEFAULT_MODELS: dict[str, Any] = {
    "chat": [
        {"key": "kmodel", "display_name": "Kimi-K2.6", "model": "kmodel", "enable": True, "is_vl": True},
        {"key": "mmodel", "display_name": "MiniMax-M2.7", "model": "mmodel", "enable": True},
        {"key": "dashscope_qwen3_coder", "display_name": "Qwen3-Coder", "model": "dashscope_qwen3_coder",
         "enable": True},
        {"key": "dashscope_qwen_plus_20250428_thinking", "display_name": "Qwen3-Thinking", "model": "",
         "enable": True, "is_reasoning": True},
        {"key": "org_auto", "display_name": "Auto", "model": "org_auto", "enable": True},
    ],
    "inline": [{"key": "inline_small", "display_name": "", "model": "inline_small", "enable": True}],
}


@dataclass(frozen=True)
class Fault:
    """Something going wrong after ``after`` chunks of a stream."""

    kind: str  # sse_status | drop | stall | malformed
    after: int = 0
    status: int = 500
    text: str = ""
    seconds: float = 30.0

    @classmethod
    def sse_status(cls, status: int = 500, after: int = 1, text: str = "") -> Fault:
        return cls("sse_status", after, status, text)

    @classmethod
    def drop(cls, after: int = 1) -> Fault:
        return cls("drop", after)

    @classmethod
    def stall(cls, after: int = 0, seconds: float = 30.0) -> Fault:
        return cls("stall", after, seconds=seconds)

    @classmethod
    def malformed(cls, line: str = "this is not json", after: int = 1) -> Fault:
        return cls("malformed", after, text=line)


@dataclass
class Reply:
    """One scripted answer: ``kind`` is ``stream`` (chunks), ``http`` (an error status before
    the stream), ``redirect`` (302 to a login page), ``html`` (200 login page) or ``raw``."""

    kind: str = "stream"
    text: tuple[str, ...] = ()
    reasoning: tuple[str, ...] = ()
    calls: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (id, name, argument fragments)
    usage: dict[str, Any] | None = None
    finish: str | None = "auto"  # "auto": stop / tool_calls; None: no finish_reason at all
    done: str = "envelope"  # envelope | raw | none
    keepalive: bool = False
    minimal: bool = False  # chunks as bare as the reference's fake sends them
    fault: Fault | None = None
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    lines: tuple[str, ...] = ()
    delay: float = 0.0

    @classmethod
    def of_text(cls, *chunks: str, **kw: Any) -> Reply:
        return cls(text=chunks, **kw)

    @classmethod
    def tools(cls, *calls: tuple[str, str, tuple[str, ...]], text: tuple[str, ...] = (), **kw: Any) -> Reply:
        return cls(text=text, calls=calls, **kw)

    @classmethod
    def http(cls, status: int, body: bytes | str = b"", content_type: str = "application/json") -> Reply:
        raw = body.encode() if isinstance(body, str) else body
        if not raw and status >= 400:
            raw = orjson.dumps({"requestId": "emu", "success": False, "errorCode": str(status),
                                "errorMessage": f"emulated HTTP {status}"})
        return cls("http", status=status, body=raw, content_type=content_type)

    @classmethod
    def redirect(cls) -> Reply:
        return cls("redirect", status=302)

    @classmethod
    def html(cls) -> Reply:
        return cls("html")

    @classmethod
    def raw(cls, *lines: str) -> Reply:
        """SSE text sent verbatim (each item is written as given)."""
        return cls("raw", lines=lines)


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    verified: tuple[bool, str]
    model: str = ""
    reply: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def signed_path(path: str) -> str:
    path = path.split("?", 1)[0]
    return path[len("/algo"):] if path.startswith("/algo/") else path


class LingmaRemoteEmulator(AioFake):
    """See the module docstring."""

    def __init__(self, *, accounts: tuple[Account, ...] = (Account(),), models: dict[str, Any] | None = None,
                 max_skew: float | None = 300.0, oss: bool = False, strict_body: bool = True) -> None:
        self.accounts = {a.user_id: a for a in accounts}
        self.models = models if models is not None else DEFAULT_MODELS
        self.models_reply: Reply | None = None
        self.max_skew = max_skew
        self.oss = oss
        self.strict_body = strict_body
        self.script: deque[Reply] = deque()
        self.per_model: dict[str, Reply] = {}
        self.requests: list[Recorded] = []
        self.host, self.port = "127.0.0.1", 0
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- scripting and views

    def queue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def chats(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == CHAT]

    def model_lists(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == MODEL_LIST]

    # ---------------------------------------------------------------- verification

    def verify(self, method: str, path: str, headers: Any, raw: bytes) -> tuple[int, str]:
        """(0, "") when the request is signed and dressed like the reference's, else (status, why)."""
        h = {k.lower(): v for k, v in headers.items()}
        for name, want in (("appcode", "cosy"), ("login-version", "v2"), ("content-type", "application/json"),
                           ("accept", "text/event-stream"), ("cache-control", "no-cache")):
            if h.get(name) != want:
                return 401, f"header {name} is {h.get(name)!r}, expected {want!r}"
        for name in ("cosy-clientip", "cosy-machinetoken", "cosy-machinetype", "cosy-machineos", "user-agent"):
            if name not in h:
                return 401, f"header {name} is missing"
        ctype = h.get("cosy-clienttype")
        if ctype not in ("2", "5"):
            return 401, f"header cosy-clienttype is {ctype!r}"
        if ctype == "5" and (h.get("cosy-machinetype") != "5" or h.get("cosy-business-product") != "cli"
                             or h.get("cosy-business-type") != "agent" or h.get("cosy-scene") != "assistant"):
            return 401, "cli identity headers are incomplete"
        if ctype == "2" and (h.get("cosy-machinetype") != "" or "cosy-business-product" in h):
            return 401, "plugin identity headers carry cli values"
        if not _OS.match(h.get("cosy-machineos", "")):
            return 401, f"header cosy-machineos {h.get('cosy-machineos')!r} is not <arch>_<os>"
        if h.get("cosy-machinetoken") != "":
            return 401, "cosy-machinetoken must be empty"
        auth = h.get("authorization", "")
        if not auth.startswith("Bearer COSY."):
            return 401, "authorization is not a COSY bearer"
        try:
            payload_b64, sig = auth[len("Bearer COSY."):].split(".", 1)
            payload_raw = base64.b64decode(payload_b64, validate=True)
            payload = orjson.loads(payload_raw)
        except (ValueError, binascii.Error, orjson.JSONDecodeError):
            return 401, "bearer payload is not base64 JSON"
        if not isinstance(payload, dict) or set(payload) != {"cosyVersion", "ideVersion", "info", "requestId",
                                                             "version"}:
            return 401, "bearer payload has the wrong keys"
        if orjson.dumps(payload, option=orjson.OPT_SORT_KEYS) != payload_raw:
            return 401, "bearer payload is not compact key-sorted JSON"
        if payload["version"] != "v1" or payload["ideVersion"] != "":
            return 401, "bearer payload version/ideVersion wrong"
        if not isinstance(payload["requestId"], str) or not _UUID4.match(payload["requestId"]):
            return 401, "bearer requestId is not a UUIDv4"
        if payload["cosyVersion"] != h.get("cosy-version"):
            return 401, "cosyVersion differs from the Cosy-Version header"
        date = h.get("cosy-date", "")
        if not date.isdigit():
            return 401, "cosy-date is not unix seconds"
        if self.max_skew is not None and abs(time.time() - int(date)) > self.max_skew:
            return 401, "cosy-date is outside the accepted clock skew"
        account = self.accounts.get(h.get("cosy-user", ""))
        if account is None or payload["info"] != account.encrypt_user_info or h.get("cosy-key") != account.cosy_key:
            return 403, "User invalid"
        if h.get("cosy-machineid") != account.machine_id:
            return 403, "machine id does not match the account"
        pre = b"\n".join((payload_b64.encode(), account.cosy_key.encode(), date.encode(), raw,
                          signed_path(path).encode()))
        if hashlib.md5(pre).hexdigest() != sig:
            return 401, "signature mismatch"
        if method == "GET" and raw:
            return 401, "GET with a body"
        return 0, ""

    def check_body(self, body: Any, clienttype: str) -> str:
        """Why a chat body is unacceptable ("" when fine)."""
        if not isinstance(body, dict):
            return "body is not a JSON object"
        want = CLI_KEYS if clienttype == "5" else MAIN_KEYS
        missing = want - set(body)
        extra = set(body) - want - OPTIONAL_KEYS
        if missing or (extra and self.strict_body):
            return f"body keys wrong: missing {sorted(missing)}, unexpected {sorted(extra)}"
        if body.get("stream") is not True:
            return "stream must be true"
        mc = body.get("model_config")
        if not isinstance(mc, dict) or not isinstance(mc.get("key"), str):
            return "model_config.key missing"
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "messages must be a non-empty list"
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "tool"):
                return "a message has no valid role"
            if "response_meta" not in m or "reasoning_content_signature" not in m:
                return "a message lacks response_meta/reasoning_content_signature"
        if body.get("chat_record_id") != body.get("request_id"):
            return "chat_record_id differs from request_id"
        return ""

    # ---------------------------------------------------------------- server

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/lingma/login", self._login_page)
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    async def _login_page(self, request: web.Request) -> web.Response:
        return web.Response(text="<!DOCTYPE html><html><head><title>Lingma login</title></head>"
                                 "<body>Please log in</body></html>", content_type="text/html")

    async def _any(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        status, why = self.verify(request.method, request.path_qs, request.headers, raw)
        rec = Recorded(request.method, request.path, request.query_string, dict(request.headers), raw, body,
                       (status == 0, why))
        rec.extra["peer"] = request.transport.get_extra_info("peername") if request.transport else None
        self.requests.append(rec)
        if self.oss:
            rec.reply = "nosuchkey"
            return web.Response(status=404, content_type="application/xml",
                                text='<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
                                     "<Message>The specified key does not exist.</Message></Error>")
        if request.path not in (MODEL_LIST, CHAT):
            return web.json_response({"success": False, "errorCode": "404", "errorMessage": "no such API"},
                                     status=404)
        if status:
            rec.reply = f"reject {status}"
            return web.json_response({"requestId": str(uuid.uuid4()), "success": False, "errorCode": str(status),
                                      "errorMessage": why}, status=status)
        if request.path == MODEL_LIST:
            if request.method != "GET":
                return web.json_response({"success": False, "errorMessage": "method"}, status=405)
            if self.models_reply is not None:
                return self._plain(self.models_reply)
            return web.json_response(self.models)
        if request.method != "POST" or dict(request.query) != CHAT_QUERY:
            return web.json_response({"success": False, "errorMessage": "bad chat request line"}, status=400)
        why = self.check_body(body, request.headers.get("Cosy-Clienttype", ""))
        if why:
            rec.reply = "bad body"
            return web.json_response({"success": False, "errorCode": "400", "errorMessage": why}, status=400)
        rec.model = body["model_config"]["key"]
        reply = self.per_model.get(rec.model) or (self.script.popleft() if self.script else None)
        reply = reply or _scenario(body)
        rec.reply = reply.kind
        if reply.kind != "stream" and reply.kind != "raw":
            return self._plain(reply)
        return await self._stream(request, reply, rec.model)

    def _plain(self, reply: Reply) -> web.Response:
        if reply.kind == "redirect":
            return web.Response(status=302, headers={"Location": "/lingma/login?state=expired&token=SECRET"})
        if reply.kind == "html":
            return web.Response(text="<!DOCTYPE html><html><body>Lingma login</body></html>",
                                content_type="text/html")
        return web.Response(status=reply.status, body=reply.body, content_type=reply.content_type)

    async def _stream(self, request: web.Request, reply: Reply, model: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream;charset=UTF-8"})
        await resp.prepare(request)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.kind == "raw":
            for line in reply.lines:
                await resp.write(line.encode())
            await resp.write_eof()
            return resp
        frames = _frames(reply, model)
        fault = reply.fault
        for i, frame in enumerate(frames):
            if fault is not None and i == fault.after:
                if fault.kind == "sse_status":
                    await resp.write(_envelope(fault.text, fault.status))
                    await resp.write_eof()
                    return resp
                if fault.kind == "drop":
                    assert request.transport is not None
                    request.transport.abort()
                    return resp
                if fault.kind == "stall":
                    await asyncio.sleep(fault.seconds)
                if fault.kind == "malformed":
                    await resp.write(f"data:{fault.text}\n\n".encode())
            await resp.write(frame)
            if reply.keepalive:
                await resp.write(b": keep-alive\n\n")
        if reply.done == "envelope":
            await resp.write(_envelope("[DONE]"))
        elif reply.done == "raw":
            await resp.write(b"data:[DONE]\n\n")
        await resp.write_eof()
        return resp

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                                     handler_cancellation=True, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

def _envelope(body: str, status: int = 200) -> bytes:
    return b"data:" + orjson.dumps({"body": body, "statusCodeValue": status}) + b"\n\n"


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: Any = None,
           minimal: bool = False) -> bytes:
    if minimal:
        doc: dict[str, Any] = {"choices": [{"delta": delta}]}
    else:
        doc = {"id": "chatcmpl-emu", "object": "chat.completion.chunk", "created": 1_777_000_000, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        doc["usage"] = usage
    return _envelope(orjson.dumps(doc).decode())


def _frames(r: Reply, model: str) -> list[bytes]:
    out: list[bytes] = []
    first = True
    for piece in r.reasoning:
        out.append(_chunk(model, {"role": "assistant", "reasoning_content": piece} if first else
                          {"reasoning_content": piece}, minimal=r.minimal))
        first = False
    for piece in r.text:
        out.append(_chunk(model, {"role": "assistant", "content": piece} if first and not r.minimal else
                          {"content": piece}, minimal=r.minimal))
        first = False
    for i, (cid, name, frags) in enumerate(r.calls):
        head = {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}
        out.append(_chunk(model, {"tool_calls": [head]}, minimal=r.minimal))
        for frag in frags:
            out.append(_chunk(model, {"tool_calls": [{"index": i, "function": {"arguments": frag}}]},
                              minimal=r.minimal))
    finish = r.finish
    if finish == "auto":
        finish = "tool_calls" if r.calls else "stop"
    if finish is not None or r.usage is not None:
        out.append(_chunk(model, {}, finish, r.usage, minimal=False))
    return out


def _last_user(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if isinstance(m, dict) and m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def _scenario(body: dict[str, Any]) -> Reply:
    """The reference fake's scenarios, chosen by ``SCENARIO:<name>`` in the last user text."""
    text = _last_user(body)
    if "SCENARIO:tool" in text:
        return Reply(text=("",), calls=(("call_fake_1", "get_weather", ('{"city":', '"Paris"}')),),
                     minimal=True, finish=None)
    if "SCENARIO:http500" in text:
        return Reply.http(500, "upstream boom", "text/plain")
    if "SCENARIO:ssestatus" in text:
        return Reply(text=("partial ",), minimal=True, finish=None, fault=Fault.sse_status(500, after=1))
    if "SCENARIO:rawdone" in text:
        return Reply(text=("Hello", " from", " fake upstream."), minimal=True, finish=None, done="raw")
    return Reply(text=("Hello", " from", " fake upstream."), minimal=True, finish=None)
