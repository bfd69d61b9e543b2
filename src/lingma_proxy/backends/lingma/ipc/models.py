"""The IPC model list: ``config/queryModels`` walked as the reference walks it, sans I/O.

Clients see display names (``Kimi-K2.6``); ``session/set_model`` and ``_meta["ai-coding/model"]``
get the runtime's internal key (``kmodel``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .... import ir
from ..remote_models import DISPLAY_TO_KEY, KEY_TO_DISPLAY

DEFAULT_MODEL = "kmodel"
SCENES = frozenset({"assistant", "chat", "developer", "inline", "quest"})
_ID_KEYS = ("id", "modelId", "key")
_NAME_KEYS = ("name", "label", "displayName", "title", "display_name")
_ID_HINTS = ("qwen", "model", "auto", "coder")
_STATIC = {k.lower(): v for k, v in DISPLAY_TO_KEY.items()}
FALLBACK = "lingma"  # the one model shown when the runtime lists none


@dataclass(frozen=True, slots=True)
class IpcModel:
    key: str
    name: str
    scene: str = ""
    reasoning: bool = False
    default: bool = False


def _str(obj: dict[str, Any], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = obj.get(k)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return ""


def parse_models(result: Any) -> list[IpcModel]:
    """Every object with an id and a name (or a model-ish id), de-duplicated by key, in the
    order found; the scene is the enclosing scene key or the object's own ``scene``."""
    out: dict[str, IpcModel] = {}

    def walk(node: Any, scene: str, depth: int) -> None:
        if depth > 12:
            return
        if isinstance(node, list):
            for item in node:
                walk(item, scene, depth + 1)
            return
        if not isinstance(node, dict):
            return
        key, name = _str(node, _ID_KEYS), _str(node, _NAME_KEYS)
        if key and (name or any(h in key.lower() for h in _ID_HINTS)) and key not in out:
            own = _str(node, ("scene", "sceneId", "category"))
            out[key] = IpcModel(
                key=key, name=name or KEY_TO_DISPLAY.get(key, key), scene=own or scene,
                reasoning=node.get("isReasoning") is True or "thinking" in key.lower(),
                default=node.get("isDefault") is True,
            )
        for k, v in node.items():
            if isinstance(v, (dict, list)):
                walk(v, k if k in SCENES else scene, depth + 1)

    walk(result, "", 0)
    return list(out.values())


class ModelMap:
    """Display names <-> keys for one runtime, plus the context windows it reported."""

    def __init__(self, models: Iterable[IpcModel] = (), default: str = DEFAULT_MODEL) -> None:
        self.models = list(models)
        self.default = default or DEFAULT_MODEL
        self.windows: dict[str, int] = {}
        self._by_key = {m.key: m for m in self.models}
        self._by_name = {m.name.lower(): m.key for m in self.models}

    @property
    def loaded(self) -> bool:
        return bool(self.models)

    def key_for(self, model: str) -> str:
        """The key to send for a client's model name: a known key, a display name (the runtime's
        own list, then the reference's table, case-insensitively), else the name unchanged."""
        m = model.strip()
        if not m:
            m = self.default
        if m in self._by_key:
            return m
        low = m.lower()
        if low == FALLBACK:
            return ""  # the placeholder: let the runtime use its own default
        return self._by_name.get(low) or _STATIC.get(low) or m

    def infos(self, backend: str) -> list[ir.ModelInfo]:
        """What ``/v1/models`` shows: display names as ids, the default model first."""
        if not self.models:
            return [ir.ModelInfo(id=FALLBACK, backend=backend, upstream_id="", display_name="Lingma",
                                 owned_by="lingma")]
        chat = [m for m in self.models if m.scene != "inline"] or self.models
        default_key = self.key_for(self.default)
        chat.sort(key=lambda m: (m.key != default_key, not m.default, m.name.lower()))
        return [
            ir.ModelInfo(
                id=m.name, backend=backend, upstream_id=m.key, display_name=m.name, owned_by="lingma",
                context_window=self.windows.get(m.key),
                capabilities=("tools", "vision", "reasoning") if m.reasoning else ("tools", "vision"),
            )
            for m in chat
        ]
