"""IR events -> Responses SSE (``StreamRenderer``).

Every event carries a ``sequence_number`` (the SDK requires it). A tool call's ``call_id`` is
fixed when its block starts and repeated verbatim in every later event and in the final
response: Codex silently hangs when it changes or is blank. A text block opens its message
item only at its first non-empty delta, so an empty block leaves no empty message behind.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from ... import ir, sse
from ._wire import (
    custom_input,
    failed_error,
    is_custom_call,
    item_id,
    response_id_for,
    wants_encrypted,
)
from .response import (
    call_id_or_minted,
    custom_call_item,
    finish_shell,
    function_call_item,
    message_item,
    reasoning_item,
    response_shell,
)

_PING = sse.encode_comment("ping")


class _Open:
    """The block being streamed."""

    __slots__ = ("kind", "output_index", "item_id", "opened", "chunks", "call_id", "name",
                 "encrypted")

    def __init__(self, kind: str, output_index: int, iid: str) -> None:
        self.kind = kind  # "text", "thinking", "function" or "custom"
        self.output_index = output_index
        self.item_id = iid
        self.opened = False  # text: item added; thinking: summary part added
        self.chunks: list[str] = []
        self.call_id = ""
        self.name = ""
        self.encrypted = ""


class StreamRenderer:
    """``feed(ir.Event) -> list[bytes]`` of whole SSE frames; ``finish()`` closes the stream.

    After the stream ends, ``response`` holds the final response object and ``response_id``
    its id (the relay keys the response store with it)."""

    __slots__ = ("_req", "_created_at", "_given_id", "response_id", "response", "_seq",
                 "_shell", "_output", "_usage", "_stop", "_done", "_encrypted", "_block")

    def __init__(
        self, req: ir.Request, *, created_at: int | None = None, response_id: str | None = None
    ) -> None:
        self._req = req
        self._created_at = created_at
        self._given_id = response_id
        self.response_id = ""
        self.response: dict[str, Any] | None = None
        self._seq = 0
        self._shell: dict[str, Any] | None = None
        self._output: list[dict[str, Any]] = []
        self._usage = ir.Usage()
        self._stop: ir.StopReason = "end_turn"
        self._done = False
        self._encrypted = wants_encrypted(req)
        self._block: _Open | None = None

    # ------------------------------------------------------------------ framing

    def _ev(self, out: list[bytes], data: dict[str, Any]) -> None:
        data["sequence_number"] = self._seq
        self._seq += 1
        out.append(sse.encode(orjson.dumps(data), data["type"]))

    def _start(self, out: list[bytes], ir_id: str, model: str) -> None:
        self.response_id = response_id_for(ir_id, self._given_id)
        when = int(time.time()) if self._created_at is None else self._created_at
        self._shell = shell = response_shell(self._req, self.response_id, when, model)
        self._ev(out, {"type": "response.created", "response": shell})
        self._ev(out, {"type": "response.in_progress", "response": shell})

    # ------------------------------------------------------------------ events

    def feed(self, ev: ir.Event) -> list[bytes]:
        if self._done:
            return []
        out: list[bytes] = []
        if isinstance(ev, ir.Ping):
            return [_PING]
        if self._shell is None:
            mid, model = (ev.id, ev.model) if isinstance(ev, ir.MessageStart) else ("", "")
            self._start(out, mid, model)
        blk = self._block
        if isinstance(ev, ir.TextDelta):
            if blk is not None and blk.kind == "text" and ev.text:
                if not blk.opened:
                    self._begin_text(out, blk)
                blk.chunks.append(ev.text)
                self._ev(out, {
                    "type": "response.output_text.delta",
                    "item_id": blk.item_id,
                    "output_index": blk.output_index,
                    "content_index": 0,
                    "delta": ev.text,
                    "logprobs": [],
                })
        elif isinstance(ev, ir.ToolArgsDelta):
            if blk is not None and ev.fragment:
                blk.chunks.append(ev.fragment)
                if blk.kind == "function":
                    self._ev(out, {
                        "type": "response.function_call_arguments.delta",
                        "item_id": blk.item_id,
                        "output_index": blk.output_index,
                        "delta": ev.fragment,
                    })
        elif isinstance(ev, ir.ThinkingDelta):
            if blk is not None and blk.kind == "thinking" and ev.text:
                if not blk.opened:
                    blk.opened = True
                    self._ev(out, {
                        "type": "response.reasoning_summary_part.added",
                        "item_id": blk.item_id,
                        "output_index": blk.output_index,
                        "summary_index": 0,
                        "part": {"type": "summary_text", "text": ""},
                    })
                blk.chunks.append(ev.text)
                self._ev(out, {
                    "type": "response.reasoning_summary_text.delta",
                    "item_id": blk.item_id,
                    "output_index": blk.output_index,
                    "summary_index": 0,
                    "delta": ev.text,
                })
        elif isinstance(ev, ir.BlockStart):
            if blk is not None:
                self._close(out, blk)
            self._begin(out, ev)
        elif isinstance(ev, ir.BlockStop):
            if blk is not None:
                self._close(out, blk)
        elif isinstance(ev, ir.SignatureDelta):
            if blk is not None and blk.kind == "thinking":
                blk.encrypted += ev.encrypted
        elif isinstance(ev, ir.MessageStart):
            self._usage = self._usage.merged(ev.usage)
        elif isinstance(ev, ir.MessageDelta):
            self._stop = ev.stop_reason
            self._usage = self._usage.merged(ev.usage)
        elif isinstance(ev, ir.MessageStop):
            self._complete(out)
        elif isinstance(ev, ir.StreamError):
            self._fail(out, ev)
        return out

    def finish(self) -> list[bytes]:
        """Complete a stream that ended without MessageStop, so the client never hangs."""
        if self._done:
            return []
        out: list[bytes] = []
        if self._shell is None:
            self._start(out, "", "")
        self._complete(out)
        return out

    # ------------------------------------------------------------------ blocks

    def _begin(self, out: list[bytes], ev: ir.BlockStart) -> None:
        n = len(self._output)
        rid = self.response_id
        if ev.kind == "text":
            self._block = _Open("text", n, item_id(rid, "msg", n))
            return
        if ev.kind == "thinking":
            blk = _Open("thinking", n, item_id(rid, "rs", n))
            blk.encrypted = ev.redacted_data or ""
            self._block = blk
            self._ev(out, {
                "type": "response.output_item.added",
                "output_index": n,
                "item": reasoning_item(blk.item_id, "", None),
            })
            return
        call_id = call_id_or_minted(ev.id, rid, n)
        if is_custom_call(ev.tool_kind, ev.name, self._req):
            blk = _Open("custom", n, item_id(rid, "ctc", n))
            item = custom_call_item(blk.item_id, call_id, ev.name, "")
        else:
            blk = _Open("function", n, item_id(rid, "fc", n))
            item = function_call_item(blk.item_id, call_id, ev.name, "", "in_progress")
        blk.call_id, blk.name = call_id, ev.name
        self._block = blk
        self._ev(out, {"type": "response.output_item.added", "output_index": n, "item": item})

    def _begin_text(self, out: list[bytes], blk: _Open) -> None:
        blk.opened = True
        item = {"id": blk.item_id, "type": "message", "role": "assistant",
                "status": "in_progress", "content": []}
        self._ev(out, {"type": "response.output_item.added",
                       "output_index": blk.output_index, "item": item})
        self._ev(out, {
            "type": "response.content_part.added",
            "item_id": blk.item_id,
            "output_index": blk.output_index,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
        })

    def _close(self, out: list[bytes], blk: _Open) -> None:
        self._block = None
        body = "".join(blk.chunks)
        iid, n = blk.item_id, blk.output_index
        item: dict[str, Any]
        if blk.kind == "text":
            if not blk.opened:
                return
            self._ev(out, {"type": "response.output_text.done", "item_id": iid,
                           "output_index": n, "content_index": 0, "text": body, "logprobs": []})
            item = message_item(iid, body)
            self._ev(out, {"type": "response.content_part.done", "item_id": iid,
                           "output_index": n, "content_index": 0, "part": item["content"][0]})
        elif blk.kind == "thinking":
            if blk.opened:
                self._ev(out, {"type": "response.reasoning_summary_text.done", "item_id": iid,
                               "output_index": n, "summary_index": 0, "text": body})
                self._ev(out, {"type": "response.reasoning_summary_part.done", "item_id": iid,
                               "output_index": n, "summary_index": 0,
                               "part": {"type": "summary_text", "text": body}})
            encrypted = blk.encrypted if self._encrypted and blk.encrypted else None
            item = reasoning_item(iid, body, encrypted)
        elif blk.kind == "function":
            args = body or "{}"
            self._ev(out, {"type": "response.function_call_arguments.done", "item_id": iid,
                           "output_index": n, "arguments": args})
            item = function_call_item(iid, blk.call_id, blk.name, args)
        else:
            # Arguments arrive as JSON fragments of {"input": ...}; the decoded input is only
            # known once they are complete, so it goes out as one delta.
            text = custom_input(body)
            if text:
                self._ev(out, {"type": "response.custom_tool_call_input.delta", "item_id": iid,
                               "output_index": n, "delta": text})
            self._ev(out, {"type": "response.custom_tool_call_input.done", "item_id": iid,
                           "output_index": n, "input": text})
            item = custom_call_item(iid, blk.call_id, blk.name, text)
        self._output.append(item)
        self._ev(out, {"type": "response.output_item.done", "output_index": n, "item": item})

    # ------------------------------------------------------------------ end

    def _complete(self, out: list[bytes]) -> None:
        if self._block is not None:
            self._close(out, self._block)
        assert self._shell is not None
        resp = finish_shell(self._shell, self._output, self._stop, self._usage)
        self._end(out, resp)

    def _fail(self, out: list[bytes], err: ir.StreamError) -> None:
        self._block = None  # an unfinished item is not reported as done
        assert self._shell is not None
        resp = finish_shell(self._shell, self._output, self._stop, self._usage)
        resp["status"] = "failed"
        resp["incomplete_details"] = None
        resp["error"] = error = failed_error(err.kind, err.message)
        # The openai SDK raises only on a top-level "error" object, Codex reads only
        # response.failed: an error event (SDK shape plus the nested object) precedes it.
        self._ev(out, {"type": "error", "code": error["code"], "message": err.message,
                       "param": None, "error": error})
        self._end(out, resp)

    def _end(self, out: list[bytes], resp: dict[str, Any]) -> None:
        self._done = True
        self.response = resp
        kind = {"incomplete": "response.incomplete", "failed": "response.failed"}.get(
            resp["status"], "response.completed"
        )
        self._ev(out, {"type": kind, "response": resp})
