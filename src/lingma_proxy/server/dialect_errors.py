"""Which dialect's error shape a path answers in (Anthropic paths vs everything else)."""

from __future__ import annotations

from types import ModuleType

from ..dialects import anthropic_messages, openai_chat


def dialect_for_path(path: str) -> ModuleType:
    return anthropic_messages if path.rstrip("/").startswith("/v1/messages") else openai_chat
