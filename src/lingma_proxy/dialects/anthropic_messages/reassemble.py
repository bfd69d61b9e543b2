"""A streamed Anthropic answer, as the client saw it (trace files): the events folded into one message."""

from __future__ import annotations

from typing import Any

import orjson


def reassemble(datas: list[dict[str, Any]]) -> dict[str, Any] | None:
    return _anthropic(datas)


def _anthropic(datas: list[dict[str, Any]]) -> dict[str, Any] | None:
    msg: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for d in datas:
        t = d.get("type")
        if t == "message_start" and isinstance(d.get("message"), dict):
            msg = dict(d["message"])
        elif t == "content_block_start" and isinstance(d.get("content_block"), dict):
            blocks[_idx(d)] = dict(d["content_block"])
        elif t == "content_block_delta" and isinstance(d.get("delta"), dict):
            _anthropic_delta(blocks.setdefault(_idx(d), {}), partial, _idx(d), d["delta"])
        elif t == "content_block_stop" and _idx(d) in partial:
            try:
                blocks.setdefault(_idx(d), {})["input"] = orjson.loads(partial.pop(_idx(d)))
            except orjson.JSONDecodeError:
                pass
        elif t == "message_delta":
            msg = msg if msg is not None else {}
            if isinstance(d.get("delta"), dict):
                msg.update(d["delta"])
            if isinstance(d.get("usage"), dict):
                usage = msg.get("usage")
                msg["usage"] = {**(usage if isinstance(usage, dict) else {}), **d["usage"]}
        elif t == "error":
            msg = msg if msg is not None else {}
            msg["error"] = d.get("error")
    if msg is None:
        return None
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg


def _anthropic_delta(block: dict[str, Any], partial: dict[int, str], i: int, delta: dict[str, Any]) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] = str(block.get("text", "")) + str(delta.get("text", ""))
    elif kind == "thinking_delta":
        block["thinking"] = str(block.get("thinking", "")) + str(delta.get("thinking", ""))
    elif kind == "signature_delta":
        block["signature"] = str(block.get("signature", "")) + str(delta.get("signature", ""))
    elif kind == "input_json_delta":
        partial[i] = partial.get(i, "") + str(delta.get("partial_json", ""))
    elif kind == "citations_delta":
        block.setdefault("citations", []).append(delta.get("citation"))


def _idx(d: dict[str, Any]) -> int:
    i = d.get("index")
    return i if isinstance(i, int) else -1
