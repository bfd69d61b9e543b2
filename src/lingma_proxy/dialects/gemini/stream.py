"""Gemini streaming, both ways: IR events -> stream chunks, upstream chunks -> IR events.

Every chunk is a whole ``GenerateContentResponse`` holding the parts that are new. Two framings
(``StreamRenderer(req, sse=...)``): with ``?alt=sse`` (what the google-genai SDK and Gemini CLI
ask for) each chunk is an SSE ``data:`` frame; without it the stream is one JSON array written
incrementally, ``[{...},\\r\\n{...}]``.

Gemini streams function calls whole, never argument fragments, so the renderer holds a call
until its block stops and sends the calls of a turn together with the closing chunk (the one
with ``finishReason`` and ``usageMetadata``), as Gemini does. A keep-alive is a bare newline: an
SSE comment line would break the google-genai SDK, which reads every non-``data:`` line as raw
JSON; a blank line is ignored by it and is JSON whitespace inside the array.
"""

from __future__ import annotations

from typing import Any

import orjson

from ... import errors, ir, sse
from ._wire import finish_in, finish_out, get, usage_in, usage_out
from .parts import function_call, new_call_id, sig_in, sig_out
from .response import error_from_body, render_error, response_id, shows_thoughts

PING = b"\n"


def error_body(kind: str, status: int, message: str) -> dict[str, Any]:
    err = errors.ProxyError(message, status=status)
    err.kind = kind
    return render_error(err)


class StreamRenderer:
    """IR events -> Gemini stream chunks: ``feed(event) -> list[bytes]``, ``finish()``."""

    __slots__ = (
        "_req", "_sse", "_thoughts", "_id", "_model", "_usage", "_chunks", "_done", "_stopped",
        "_calls", "_tool", "_thinking_text", "_sig", "_block_sig",
    )

    def __init__(self, req: ir.Request, *, sse: bool = True) -> None:
        self._req = req
        self._sse = sse
        self._thoughts = shows_thoughts(req)
        self._id = response_id("")
        self._model = req.model
        self._usage = ir.Usage()
        self._chunks = 0  # written so far (the array framing puts commas between them)
        self._done = False
        self._stopped = False
        self._calls: list[dict[str, Any]] = []  # finished function call parts, not yet sent
        self._tool: tuple[int, str, str, list[str]] | None = None  # open call: index, id, name, args
        self._thinking_text = False  # the open thinking block has sent text
        self._sig: str | None = None  # a signature waiting for the next part
        self._block_sig = ""  # the open thinking block's signature, sent when the block ends

    def feed(self, ev: ir.Event) -> list[bytes]:
        if self._done:
            return []
        if isinstance(ev, ir.TextDelta):
            return self._parts([{"text": ev.text}]) if ev.text else []
        if isinstance(ev, ir.ThinkingDelta):
            if not ev.text:
                return []
            self._thinking_text = True
            return self._parts([{"text": ev.text, "thought": True}]) if self._thoughts else []
        if isinstance(ev, ir.ToolArgsDelta):
            if self._tool is not None and self._tool[0] == ev.index:
                self._tool[3].append(ev.fragment)
            return []
        if isinstance(ev, ir.SignatureDelta):
            self._block_sig += ev.signature  # whole at the block's end: one part, one signature
            return []
        if isinstance(ev, ir.BlockStart):
            out = self._signature()
            self._tool = None
            self._thinking_text = False
            if ev.kind == "tool_call":
                self._tool = (ev.index, ev.id or new_call_id(), ev.name, [])
            return out
        if isinstance(ev, ir.BlockStop):
            if self._tool is not None and self._tool[0] == ev.index:
                _, cid, name, args = self._tool
                self._tool = None
                part = {"functionCall": function_call(ir.ToolCallPart(cid, name, "".join(args) or "{}"))}
                self._calls.append(self._signed(part))
            return self._signature()
        if isinstance(ev, ir.MessageStart):
            self._id, self._model = response_id(ev.id), ev.model or self._model
            self._usage = self._usage.merged(ev.usage)
            return []
        if isinstance(ev, ir.MessageDelta):
            self._usage = self._usage.merged(ev.usage)
            return self._signature() + self._close(ev.stop_reason)
        if isinstance(ev, ir.MessageStop):
            return self._end()
        if isinstance(ev, ir.Ping):
            return [PING]
        if isinstance(ev, ir.StreamError):
            self._done = True
            body = orjson.dumps(error_body(ev.kind, ev.status, ev.message))
            return [self._frame(body, last=True)]
        return []

    def finish(self) -> list[bytes]:
        """Close a stream that ended without MessageStop so the client never hangs."""
        return [] if self._done else self._end()

    # ------------------------------------------------------------------ internals

    def _signature(self) -> list[bytes]:
        sig, self._block_sig = self._block_sig, ""
        if not sig:
            return []
        if not self._thinking_text:
            self._sig = sig_out(sig)  # a signature-only block: it rides on the next part (see parts.py)
            return []
        if not self._thoughts:
            return []  # its thinking text was not shown, so neither is its signature
        return self._parts([{"text": "", "thought": True, "thoughtSignature": sig_out(sig)}])

    def _signed(self, part: dict[str, Any]) -> dict[str, Any]:
        if self._sig is not None:
            part["thoughtSignature"] = self._sig
            self._sig = None
        return part

    def _parts(self, parts: list[dict[str, Any]]) -> list[bytes]:
        """Calls held back are sent first, so the order of parts is kept."""
        out = self._calls + [self._signed(p) for p in parts]
        self._calls = []
        return [self._chunk(out)]

    def _close(self, reason: ir.StopReason) -> list[bytes]:
        if self._stopped:
            return []
        self._stopped = True
        parts = self._calls or [self._signed({"text": ""})]
        self._calls = []
        return [self._chunk(parts, finish_out(reason))]

    def _end(self) -> list[bytes]:
        out = self._signature() + self._close("end_turn")
        self._done = True
        if not self._sse:
            out.append(b"]" if self._chunks else b"[]")
        return out

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [candidate]}
        if finish is not None:
            candidate["finishReason"] = finish
            chunk["usageMetadata"] = usage_out(self._usage)
        chunk["modelVersion"] = self._model
        chunk["responseId"] = self._id
        return self._frame(orjson.dumps(chunk))

    def _frame(self, body: bytes, *, last: bool = False) -> bytes:
        if self._sse:
            return b"data: " + body + b"\r\n\r\n"
        head = b",\r\n" if self._chunks else b"["
        self._chunks += 1
        return head + body + (b"]" if last else b"")


class StreamParser:
    """Gemini upstream stream (``?alt=sse``) -> IR events; an ``error`` chunk raises ``ProxyError``.

    Gemini has no end-of-stream event: the chunk with ``finishReason`` is the last, and the
    closing ``MessageDelta``/``MessageStop`` are produced by ``finish()``.
    """

    __slots__ = ("_next", "_open", "_usage", "_started", "_reason", "_calls")

    def __init__(self) -> None:
        self._next = 0  # next IR block index
        self._open: ir.BlockKind | None = None  # kind of the open block (index self._next - 1)
        self._usage = ir.Usage()
        self._started = False
        self._reason: object = None
        self._calls = False

    def feed(self, ev: sse.SSEEvent) -> list[ir.Event]:
        if ev.comment is not None or not ev.data.strip():
            return []
        try:
            data = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            raise errors.UpstreamError("upstream sent a stream chunk that is not JSON") from None
        if not isinstance(data, dict):
            raise errors.UpstreamError("upstream sent a stream chunk that is not a JSON object")
        if isinstance(data.get("error"), dict):
            code = data["error"].get("code")
            raise error_from_body(code if isinstance(code, int) else 500, data)
        out: list[ir.Event] = []
        if not self._started:
            self._started = True
            rid, model = get(data, "responseId"), get(data, "modelVersion")
            out.append(ir.MessageStart(rid if isinstance(rid, str) else "", model if isinstance(model, str) else ""))
        if get(data, "usageMetadata") is not None:
            self._usage = self._usage.merged(usage_in(get(data, "usageMetadata")))
        candidates = data.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else None
        if not isinstance(candidate, dict):
            feedback = get(data, "promptFeedback")
            if isinstance(feedback, dict) and get(feedback, "blockReason"):
                self._reason = "SAFETY"
            return out
        content = candidate.get("content")
        parts = get(content, "parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict):
                out += self._part(part)
        reason = get(candidate, "finishReason")
        if reason is not None:
            self._reason = reason
        return out

    def finish(self) -> list[ir.Event]:
        if self._reason is None:
            what = "before its finishReason" if self._started else "without sending a chunk"
            raise errors.UpstreamError(f"upstream stream ended {what}", retryable=not self._started)
        out = self._close()
        out += [ir.MessageDelta(finish_in(self._reason, self._calls), None, self._usage), ir.MessageStop()]
        return out

    def _part(self, part: dict[str, Any]) -> list[ir.Event]:
        sig = get(part, "thoughtSignature")
        sig = sig_in(sig) if isinstance(sig, str) and sig else None
        text = get(part, "text")
        text = text if isinstance(text, str) else ""
        out: list[ir.Event] = []
        if get(part, "thought") is True:
            out += self._ensure("thinking")
            i = self._next - 1
            if text:
                out.append(ir.ThinkingDelta(i, text))
            if sig:
                out.append(ir.SignatureDelta(i, sig))
            return out
        if sig:  # a signature on an ordinary part: its own text-less thinking block, just before
            out += self._close()
            out += [ir.BlockStart(self._next, "thinking"), ir.SignatureDelta(self._next, sig), ir.BlockStop(self._next)]
            self._next += 1
        call = get(part, "functionCall")
        if isinstance(call, dict):
            cid, name, args = call.get("id"), call.get("name"), call.get("args")
            out += self._close()
            i = self._next
            self._next += 1
            self._calls = True
            arguments = orjson.dumps(args).decode() if isinstance(args, dict) else "{}"
            out += [
                ir.BlockStart(i, "tool_call", id=cid if isinstance(cid, str) and cid else new_call_id(),
                              name=name if isinstance(name, str) else ""),
                ir.ToolArgsDelta(i, arguments),
                ir.BlockStop(i),
            ]
        elif text:
            out += self._ensure("text")
            out.append(ir.TextDelta(self._next - 1, text))
        return out

    def _ensure(self, kind: ir.BlockKind) -> list[ir.Event]:
        if self._open == kind:
            return []
        out = self._close()
        out.append(ir.BlockStart(self._next, kind))
        self._open = kind
        self._next += 1
        return out

    def _close(self) -> list[ir.Event]:
        if self._open is None:
            return []
        self._open = None
        return [ir.BlockStop(self._next - 1)]
