"""The remote model catalogue, sans I/O: display names <-> keys, the model list, fallback order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ... import ir

DEFAULT_MODEL = "kmodel"
# Display name -> key, as the reference's normalizeModelForBackend maps them (case-insensitive).
DISPLAY_TO_KEY = {
    "Kimi-K2.6": "kmodel",
    "MiniMax-M2.7": "mmodel",
    "Qwen3-Coder": "dashscope_qwen3_coder",
    "Qwen3.6-Plus": "dashscope_qmodel",
    "Qwen3-Max": "dashscope_qwen_max_latest",
    "Qwen3-Thinking": "dashscope_qwen_plus_20250428_thinking",
    "Auto": "org_auto",
}
KEY_TO_DISPLAY = {v: k for k, v in DISPLAY_TO_KEY.items()}
_ALIASES = {k.lower(): v for k, v in DISPLAY_TO_KEY.items()}
# lingma2api's short names, harmless extras
_ALIASES.update({
    "qwen-max": "dashscope_qwen_max_latest",
    "qwen-plus-thinking": "dashscope_qwen_plus_20250428_thinking",
    "qwen3-coder-default": "dashscope_qwen3_coder_default",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class RemoteModel:
    key: str
    display_name: str = ""
    enabled: bool = True
    kind: str = "chat"  # "chat" or "inline" (completion models)
    is_vl: bool = False
    is_reasoning: bool = False
    max_input_tokens: int | None = None


def normalize(model: str, known: Iterable[RemoteModel] = ()) -> str:
    """The key for a client's model name: a display name (the account's own list first, then
    the reference's table, case-insensitively) becomes its key; anything else passes."""
    m = model.strip()
    if not m:
        return m
    low = m.lower()
    for rm in known:
        if rm.key == m:
            return m
        if rm.display_name and rm.display_name.lower() == low:
            return rm.key
    return _ALIASES.get(low, m)


def parse_model_list(body: Any) -> list[RemoteModel]:
    """``{"chat": [...], "inline": [...]}`` -> models, de-duplicated by key, chat first.

    Raises ValueError when the body is not that shape (a wrong host answering something else).
    """
    if not isinstance(body, dict) or not any(isinstance(body.get(k), list) for k in ("chat", "inline")):
        raise ValueError("expected an object with 'chat' and 'inline' model lists")
    out: dict[str, RemoteModel] = {}
    for kind in ("chat", "inline"):
        items = body.get(kind)
        for item in items if isinstance(items, list) else ():
            if not isinstance(item, dict):
                continue
            key = item.get("key")
            if not isinstance(key, str) or not key or key in out:
                continue
            name = item.get("display_name")
            mit = item.get("max_input_tokens")
            out[key] = RemoteModel(
                key=key,
                display_name=name if isinstance(name, str) else "",
                enabled=item.get("enable") is not False,
                kind=kind,
                is_vl=item.get("is_vl") is True,
                is_reasoning=item.get("is_reasoning") is True or "thinking" in key,
                max_input_tokens=mit if isinstance(mit, int) and not isinstance(mit, bool) and mit > 0 else None,
            )
    return list(out.values())


def model_infos(models: Sequence[RemoteModel], backend: str) -> list[ir.ModelInfo]:
    """What ``/v1/models`` shows: id = key, name = display name (or the key)."""
    infos = []
    for m in models:
        caps = ["tools"] if m.kind == "chat" else []
        if m.is_vl:
            caps.append("vision")
        if m.is_reasoning:
            caps.append("reasoning")
        infos.append(ir.ModelInfo(
            id=m.key, backend=backend, upstream_id=m.key,
            display_name=m.display_name or KEY_TO_DISPLAY.get(m.key, m.key), owned_by="lingma",
            context_window=m.max_input_tokens, capabilities=tuple(caps),
        ))  # fmt: skip
    return infos


def attempt_models(primary: str, fallback: Sequence[str], available: Iterable[str] | None) -> list[str]:
    """The primary, then the fallback models listed *after* it (the whole list when it is not
    in it), skipping duplicates and models the account does not list. ``available`` None (the
    list is unknown) means no fallback, as in the reference: guessing would only add failures."""
    out = [primary]
    if available is None:
        return out
    have = set(available)
    order = [normalize(m) for m in fallback]
    start = order.index(primary) + 1 if primary in order else 0
    for m in order[start:]:
        if m and m not in out and m in have:
            out.append(m)
    return out
