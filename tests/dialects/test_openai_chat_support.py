"""Helpers shared by the Chat Completions dialect tests (no tests here).

Set ``UPDATE_GOLDENS=1`` to (re)write golden files instead of comparing with them; review the
diff before committing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import goldens
from lingma_proxy import ir, sse
from lingma_proxy.dialects import openai_chat as oc

UPDATE = bool(os.environ.get("UPDATE_GOLDENS"))
CREATED = 1_700_000_000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai_stream"
CALL_ID = re.compile(r"call_[0-9a-f]{24}")
CHATCMPL_ID = re.compile(r"chatcmpl-[0-9a-f]{24}")


def check_bytes(path: Path, data: bytes) -> None:
    """Byte equality with a golden file (or write it when updating)."""
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.exists(), f"missing golden {path}; run with UPDATE_GOLDENS=1"
    assert data == path.read_bytes(), f"{path} differs"


def pretty(value: Any) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def check_json(path: Path, value: Any) -> None:
    if UPDATE:
        check_bytes(path, pretty(value))
        return
    assert path.exists(), f"missing golden {path}; run with UPDATE_GOLDENS=1"
    assert value == json.loads(path.read_text()), f"{path} differs"


def check_ir_stream(events: list[ir.Event]) -> None:
    """The IR stream invariants: MessageStart first, blocks strictly sequential with indexes
    0.. without gaps, deltas only into the open block of their kind, MessageDelta then
    MessageStop last."""
    assert events and isinstance(events[0], ir.MessageStart), events[:1]
    assert isinstance(events[-1], ir.MessageStop) and isinstance(events[-2], ir.MessageDelta), events[-2:]
    open_block: ir.BlockStart | None = None
    expected = 0
    for ev in events[1:-2]:
        if isinstance(ev, ir.BlockStart):
            assert open_block is None, f"block {ev.index} started while {open_block} is open"
            assert ev.index == expected, f"block index {ev.index}, expected {expected}"
            if ev.kind == "tool_call":
                assert ev.id and isinstance(ev.name, str)
            open_block, expected = ev, expected + 1
        elif isinstance(ev, ir.BlockStop):
            assert open_block is not None and ev.index == open_block.index, ev
            open_block = None
        elif isinstance(ev, (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)):
            assert open_block is not None and ev.index == open_block.index, ev
            kind = {ir.TextDelta: "text", ir.ThinkingDelta: "thinking", ir.ToolArgsDelta: "tool_call"}[type(ev)]
            assert open_block.kind == kind, (ev, open_block)
        elif isinstance(ev, ir.SignatureDelta):
            assert open_block is not None and open_block.kind == "thinking"
        else:
            pytest.fail(f"unexpected event inside the message: {ev}")
    assert open_block is None, f"block {open_block} never stopped"


def parse_sse(raw: bytes, split: int | None = None, *, bytewise: bool = False) -> list[ir.Event]:
    """Feed upstream SSE bytes (whole, split in two at ``split``, or one byte at a time)
    through the SSE decoder and the StreamParser."""
    dec = sse.SSEDecoder()
    parser = oc.StreamParser()
    if bytewise:
        pieces = [raw[i : i + 1] for i in range(len(raw))]
    elif split is None:
        pieces = [raw]
    else:
        pieces = [raw[:split], raw[split:]]
    out: list[ir.Event] = []
    for piece in pieces:
        for ev in dec.feed(piece):
            out += parser.feed(ev)
    for ev in dec.finish():
        out += parser.feed(ev)
    out += parser.finish()
    return out


def normalized(resp: ir.Response) -> dict[str, Any]:
    """A Response as JSON with minted ids replaced by placeholders (they are random)."""
    data = goldens.to_json(resp)
    if CHATCMPL_ID.fullmatch(resp.id):
        data["id"] = "<minted>"
    for part in data["content"]:
        if part["type"] == "ToolCallPart" and CALL_ID.fullmatch(part["id"]) and not part["id"].startswith("call_legacy"):
            part["id"] = "<minted>"
    return data


def strip_for_chat(resp: ir.Response) -> ir.Response:
    """What survives a trip through the Chat wire: no ids, signatures or stop sequences."""
    content = tuple(
        ir.ThinkingPart(p.text) if isinstance(p, ir.ThinkingPart) else p for p in resp.content
    )
    reason = "end_turn" if resp.stop_reason == "stop_sequence" else resp.stop_reason
    return dataclasses.replace(resp, id="", content=content, stop_reason=reason, stop_sequence=None)


def load_request(path: Path) -> ir.Request:
    """A golden ``ir.json`` Request. goldens.to_json cannot tag ToolChoice (its own ``type``
    field wins over the class tag), so it comes back as a dict and is rebuilt here."""
    req = goldens.from_json(json.loads(path.read_text()))
    assert isinstance(req, ir.Request)
    if isinstance(req.tool_choice, dict):
        req = dataclasses.replace(req, tool_choice=ir.ToolChoice(**req.tool_choice))
    return req
