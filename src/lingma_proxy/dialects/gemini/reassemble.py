"""A streamed Gemini answer, as the client saw it (trace files): the chunks folded into one response."""

from __future__ import annotations

from typing import Any


def reassemble(datas: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Every chunk holds only its new parts: the parts of ``candidates[0]`` concatenated, the last
    ``finishReason`` and ``usageMetadata``; an error chunk ends it."""
    if not datas:
        return None
    parts: list[Any] = []
    out: dict[str, Any] = {}
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    for d in datas:
        if "error" in d:
            out["error"] = d["error"]
            continue
        for key in ("responseId", "modelVersion", "usageMetadata"):
            if key in d:
                out[key] = d[key]
        cands = d.get("candidates")
        first = cands[0] if isinstance(cands, list) and cands and isinstance(cands[0], dict) else {}
        content = first.get("content")
        if isinstance(content, dict) and isinstance(content.get("parts"), list):
            parts.extend(content["parts"])
        if first.get("finishReason"):
            candidate["finishReason"] = first["finishReason"]
    return {"candidates": [candidate], **out}
