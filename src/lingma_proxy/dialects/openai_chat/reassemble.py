"""A streamed Chat Completions answer, as the client saw it (trace files): chunks folded into one completion."""

from __future__ import annotations

from typing import Any


def reassemble(datas: list[dict[str, Any]]) -> dict[str, Any] | None:
    return _chat(datas)


def _chat(datas: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not datas:
        return None
    first = datas[0]
    choices: dict[int, dict[str, Any]] = {}
    usage: Any = None
    for d in datas:
        if d.get("usage"):
            usage = d["usage"]
        for ch in d.get("choices") or ():
            if not isinstance(ch, dict):
                continue
            c = choices.setdefault(ch.get("index", 0), {"message": {"role": "assistant", "content": None},
                                                       "finish_reason": None, "calls": {}})
            raw_delta = ch.get("delta")
            delta: dict[str, Any] = raw_delta if isinstance(raw_delta, dict) else {}
            m = c["message"]
            for name in ("content", "reasoning_content", "reasoning", "refusal"):
                if isinstance(delta.get(name), str):
                    m[name] = (m.get(name) or "") + delta[name]
            for tc in delta.get("tool_calls") or ():
                if not isinstance(tc, dict):
                    continue
                call = c["calls"].setdefault(tc.get("index", 0), {"id": None, "type": "function",
                                                                  "function": {"name": "", "arguments": ""}})
                call["id"] = tc.get("id") or call["id"]
                raw_fn = tc.get("function")
                fn: dict[str, Any] = raw_fn if isinstance(raw_fn, dict) else {}
                call["function"]["name"] += str(fn.get("name") or "")
                call["function"]["arguments"] += str(fn.get("arguments") or "")
            if ch.get("finish_reason"):
                c["finish_reason"] = ch["finish_reason"]
    out_choices = []
    for i in sorted(choices):
        c = choices[i]
        if c["calls"]:
            c["message"]["tool_calls"] = [c["calls"][k] for k in sorted(c["calls"])]
        out_choices.append({"index": i, "message": c["message"], "finish_reason": c["finish_reason"]})
    return {"id": first.get("id"), "object": "chat.completion", "created": first.get("created"),
            "model": first.get("model"), "choices": out_choices, "usage": usage}
