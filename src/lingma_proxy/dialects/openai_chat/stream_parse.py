"""Upstream Chat Completions SSE -> IR events, eating local-server quirks.

IR blocks are strictly sequential, while Chat tool-call deltas are keyed by ``index`` and may
interleave. The rules that keep every byte without breaking the IR:

* Deltas fold the way the official openai SDK's stream accumulator folds them: keyed by
  ``index``, ``function.name`` and ``function.arguments`` concatenated, the ``id`` taken when it
  arrives (``"get_"`` + ``"weather"`` is one call ``get_weather``). Where plain concatenation
  would be wrong we differ: a name equal to the one so far is a repeated header, a name that
  extends it is a cumulative snapshot, an id seen again is not appended, and a new id (or a new
  name once arguments have begun) on a reused index starts the next call.
* A tool call is *live* (its block open, fragments forwarded as they arrive) once its name is
  whole, i.e. an argument fragment came after (or with) it, its id is the upstream's (or, with
  no id yet, its arguments are complete: the id may come on the last delta) and no earlier call
  is still open. A call that starts while another is live is buffered; the live one is
  closed once its arguments parse as a JSON object (so a server that sends calls one after
  another streams every call live), and the next call is then started with its buffered
  arguments. When calls truly interleave the later ones are
  held until the earlier one completes or the stream ends: nothing is ever dropped.
* Text or reasoning that arrives while a tool call is still incomplete is deferred and
  emitted, in order, right after the call it followed.
* Deltas are matched to calls by ``index``; without one by ``id``; without both a ``name``
  starts a new call unless the last call's name is still growing, and a bare fragment
  continues the last call (or, when a chunk lists several, the call at that position).
  Missing ids become a stable ``call_<24 hex>``; arguments given as an object are dumped;
  a cumulative snapshot (a fragment that repeats everything so far) only adds its new tail.
* ``finish_reason`` and usage are only recorded: arguments and the usage chunk may follow
  the finish chunk, so ``MessageDelta``/``MessageStop`` go out at ``[DONE]`` or ``finish()``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ... import errors, ir
from ...sse import SSEEvent
from ._common import (
    dump_arguments,
    error_from_payload,
    excerpt,
    mint_call_id,
    mint_completion_id,
    parse_usage,
    stop_reason,
)
from .think import Kind, ThinkSplitter


class _Call:
    __slots__ = ("_checked", "_complete", "args", "block", "id", "index", "name", "settled", "size", "upstream_id")

    def __init__(self, index: int | None, cid: str | None) -> None:
        self.index = index
        self.upstream_id = cid
        self.id = cid or mint_call_id()
        self.name = ""
        self.settled = False  # arguments arrived after (or with) the name: the name is whole
        self.args: list[str] = []
        self.size = 0
        self.block = -1
        self._checked = -1
        self._complete = False

    def add_name(self, name: str) -> None:
        """Fold a ``function.name`` delta the way the openai SDK does (strings concatenate),
        except that a repeated header or a cumulative snapshot of the name is not doubled."""
        if not self.name:
            self.name = name
        elif name == self.name or self.block >= 0:
            pass  # a repeated header; a started call keeps the name it was announced with
        elif name.startswith(self.name):
            self.name = name  # a cumulative snapshot of the name
        else:
            self.name += name  # the name split over deltas ("get_" + "weather")

    def ready(self) -> bool:
        """Whether the block can start now: the name is whole (arguments followed it) and the id
        is the upstream's (else wait for it, or for the arguments to complete: the id may come
        on the last delta, and the SDK would have it)."""
        return self.settled and bool(self.name) and (self.upstream_id is not None or self.complete())

    def text(self) -> str:
        if len(self.args) > 1:
            self.args = ["".join(self.args)]
        return self.args[0] if self.args else ""

    def complete(self) -> bool:
        """The arguments so far parse as a JSON object (memoized on their length)."""
        if self._checked != self.size:
            self._checked = self.size
            try:
                self._complete = isinstance(orjson.loads(self.text()), dict)
            except orjson.JSONDecodeError:
                self._complete = False
        return self._complete


class StreamParser:
    """``feed(SSEEvent) -> list[ir.Event]``, ``finish() -> list[ir.Event]``; an upstream error
    event raises the matching ``ProxyError``."""

    def __init__(self) -> None:
        self._out: list[ir.Event] = []
        self._started = False
        self._done = False
        self._next = 0  # next IR block index
        self._open: Kind | None = None  # the open text/thinking block
        self._open_index = -1
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._by_id: dict[str, _Call] = {}
        self._n_started = 0  # calls whose block has been started (in order)
        self._live: _Call | None = None
        self._deferred: list[tuple[int, Kind, str]] = []  # (calls known then, kind, text)
        self._think = ThinkSplitter()
        self._finish: object = None
        self._stop_seq: str | None = None
        self._refusal = False
        self._usage: ir.Usage | None = None

    # ------------------------------------------------------------------ input

    def feed(self, ev: SSEEvent) -> list[ir.Event]:
        if self._done or ev.comment is not None:
            return []
        data = ev.data.strip()
        if not data:
            return []
        if data == "[DONE]":
            return self._finalize()
        try:
            chunk: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            if ev.event == "error":  # a plain-text error event
                raise error_from_payload({"message": data}, None) from None
            raise errors.UpstreamError(
                f"upstream sent malformed stream data (not JSON): {excerpt(data, 80)!r}"
            ) from None
        if not isinstance(chunk, dict):
            raise errors.UpstreamError(f"upstream sent a stream chunk that is not an object: {excerpt(data, 80)!r}")
        if ev.event == "error" or chunk.get("error") is not None:
            raise error_from_payload(chunk, None)
        out: list[ir.Event] = []
        self._out = out
        if not self._started:
            self._started = True
            cid, model = chunk.get("id"), chunk.get("model")
            out.append(ir.MessageStart(
                cid if isinstance(cid, str) and cid else mint_completion_id(),
                model if isinstance(model, str) else "",
            ))  # fmt: skip
        usage = parse_usage(chunk.get("usage"))
        if usage is not None:
            self._usage = usage if self._usage is None else self._usage.merged(usage)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) in (0, None):
                    self._choice(choice)
                    break
        return out

    def finish(self) -> list[ir.Event]:
        """End of the upstream body (with or without ``[DONE]``)."""
        return self._finalize()

    def _choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice.get("message")
            if not isinstance(delta, dict):
                delta = {}
        thought = delta.get("reasoning_content")
        if not (isinstance(thought, str) and thought):
            thought = delta.get("reasoning")  # Ollama, newer vLLM, OpenRouter
        if isinstance(thought, str) and thought:
            self._emit("thinking", thought)
        content = delta.get("content")
        if isinstance(content, str) and content:
            for kind, text in self._think.feed(content):
                self._emit(kind, text)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refusal = True
            self._emit("text", refusal)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for pos, tc in enumerate(calls):
                if isinstance(tc, dict):
                    self._tool_delta(pos, len(calls), tc)
        fc = delta.get("function_call")  # legacy single function call
        if isinstance(fc, dict):
            self._tool_delta(0, 1, {"index": -1, "function": fc})
        fr = choice.get("finish_reason")
        if isinstance(fr, str) and fr:
            self._finish = fr
        matched = choice.get("stop_reason")  # vLLM: the stop string that ended the output
        if isinstance(matched, str) and matched:
            self._stop_seq = matched

    # ------------------------------------------------------------------ text and thinking

    def _emit(self, kind: Kind, text: str, *, now: bool = False) -> None:
        """Text or reasoning into the open block of its kind; deferred while a tool call is
        unfinished, unless ``now`` (replaying deferred text right after its call closed)."""
        if not now and (self._live is not None or self._n_started < len(self._calls)):
            live = self._live
            if live is None or self._n_started < len(self._calls) or not live.complete():
                self._deferred.append((len(self._calls), kind, text))
                return
            self._close_live()
        if self._open != kind:
            self._close_block()
            self._open, self._open_index = kind, self._next
            self._next += 1
            self._out.append(ir.BlockStart(self._open_index, kind))
        if kind == "text":
            self._out.append(ir.TextDelta(self._open_index, text))
        else:
            self._out.append(ir.ThinkingDelta(self._open_index, text))

    def _close_block(self) -> None:
        if self._open is not None:
            self._out.append(ir.BlockStop(self._open_index))
            self._open = None

    def _flush_deferred(self, upto: int) -> None:
        n = 0
        for known, kind, text in self._deferred:
            if known > upto:
                break
            n += 1
            if text.strip():
                self._emit(kind, text, now=True)
        del self._deferred[:n]

    # ------------------------------------------------------------------ tool calls

    def _tool_delta(self, pos: int, count: int, tc: dict[str, Any]) -> None:
        idx = tc.get("index")
        idx = idx if isinstance(idx, int) and not isinstance(idx, bool) else None
        cid = tc.get("id")
        cid = cid if isinstance(cid, str) and cid else None
        fn = tc.get("function")
        fn = fn if isinstance(fn, dict) else {}
        name = fn.get("name")
        name = name if isinstance(name, str) and name else None
        raw = fn.get("arguments")
        frag = raw if isinstance(raw, str) else "" if raw is None else dump_arguments(raw)
        call = self._resolve(pos, count, idx, cid, name, frag)
        if name:
            call.add_name(name)
        if frag:
            self._append(call, frag)
            if call.name:
                call.settled = True
        self._advance()

    def _resolve(self, pos: int, count: int, idx: int | None, cid: str | None, name: str | None, frag: str) -> _Call:
        call: _Call | None
        if idx is not None:
            call = self._by_index.get(idx)
        elif cid is not None:
            call = self._by_id.get(cid)
            if call is not None:
                return call
            if name is None and self._calls:
                return self._calls[-1]  # a fresh id on every fragment (seen in the wild)
            return self._new(None, cid)
        elif name is not None:
            call = self._calls[-1] if self._calls else None
            if call is not None and not call.name:
                return call  # the name arrived after the id
        elif count > 1 and pos < len(self._calls):
            return self._calls[len(self._calls) - count + pos] if len(self._calls) >= count else self._calls[pos]
        else:
            return self._calls[-1] if self._calls else self._new(None, None)
        if call is None or self._conflicts(call, cid, name, frag):
            return self._new(idx, cid)
        if cid is not None and call.upstream_id is None and call.block < 0:
            call.id = call.upstream_id = cid
            self._by_id[cid] = call
        return call

    @staticmethod
    def _conflicts(call: _Call, cid: str | None, name: str | None, frag: str) -> bool:
        """Whether a delta that matched ``call`` is really the start of another call."""
        if cid is not None and call.upstream_id is not None and cid != call.upstream_id:
            return name is not None  # a new call always names its tool
        if name is None or not call.name:
            return False
        if name != call.name:
            # Before its arguments began, a different name continues a split name ("get_" then
            # "weather", the SDK's fold); after, it is the next call reusing the index.
            return call.settled
        # Same name again: a repeat of the header, or a second call to the same tool.
        return bool(frag) and call.complete() and not frag.startswith(call.text())

    def _new(self, idx: int | None, cid: str | None) -> _Call:
        call = _Call(idx, cid)
        self._calls.append(call)
        if idx is not None:
            self._by_index[idx] = call
        if cid is not None:
            self._by_id[cid] = call
        self._close_block()  # text before a tool call ends where the call starts
        return call

    def _append(self, call: _Call, frag: str) -> None:
        if call.size and len(frag) >= call.size and frag[:1] == "{" and frag.startswith(call.text()):
            frag = frag[call.size :]  # a cumulative snapshot: keep only what is new
            if not frag:
                return
        call.args.append(frag)
        call.size += len(frag)
        if call is self._live:
            self._out.append(ir.ToolArgsDelta(call.block, frag))

    def _advance(self) -> None:
        while True:
            live = self._live
            waiting = self._n_started < len(self._calls)
            if live is not None:
                if not (waiting and live.complete()):
                    return
                self._close_live()
            elif waiting and self._calls[self._n_started].ready():
                self._start_call(self._calls[self._n_started])
            else:
                return

    def _start_call(self, call: _Call) -> None:
        self._close_block()
        call.block = self._next
        self._next += 1
        self._n_started += 1
        self._live = call
        self._out.append(ir.BlockStart(call.block, "tool_call", id=call.id, name=call.name))
        if call.size:
            self._out.append(ir.ToolArgsDelta(call.block, call.text()))

    def _close_live(self) -> None:
        assert self._live is not None
        self._out.append(ir.BlockStop(self._live.block))
        self._live = None
        if self._deferred:
            self._flush_deferred(self._n_started)

    # ------------------------------------------------------------------ end

    def _finalize(self) -> list[ir.Event]:
        if self._done:
            return []
        if not self._started:
            raise errors.UpstreamError("upstream stream ended before any completion chunk")
        out: list[ir.Event] = []
        self._out = out
        for kind, text in self._think.flush():
            self._emit(kind, text)
        if self._live is not None:
            self._close_live()
        while self._n_started < len(self._calls):
            call = self._calls[self._n_started]
            if not call.name and not call.size:
                self._n_started += 1  # an empty header with nothing in it: not a call
                continue
            self._start_call(call)
            self._close_live()
        self._flush_deferred(len(self._calls))
        self._close_block()
        emitted = sum(1 for c in self._calls if c.block >= 0)
        reason = stop_reason(self._finish, emitted > 0)
        seq = None
        if reason == "end_turn" and self._stop_seq:
            reason, seq = "stop_sequence", self._stop_seq
        elif reason == "end_turn" and self._refusal:
            reason = "refusal"
        out += [ir.MessageDelta(reason, seq, self._usage), ir.MessageStop()]
        self._done = True
        return out
