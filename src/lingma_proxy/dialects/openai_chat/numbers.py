"""The numeric request fields of Chat Completions and their ranges (dialects/limits.py)."""

from __future__ import annotations

from typing import Any

from .. import limits

# Numeric fields in type and range (OpenAI's documented ranges); the byte passthrough checks them too.
NUMBERS = {
    "max_tokens": limits.token_count(),
    "max_completion_tokens": limits.token_count(),
    "temperature": limits.Num(False, 0, 2),
    "top_p": limits.Num(False, 0, 1),
    "n": limits.Num(True, 1, 128),
    "presence_penalty": limits.Num(False, -2, 2),
    "frequency_penalty": limits.Num(False, -2, 2),
    "top_logprobs": limits.Num(True, 0, 20),
}


def check_numbers(body: dict[str, Any]) -> None:
    """Raise ``InvalidRequest`` when a numeric field is of the wrong type or out of range."""
    limits.check_numbers(body, NUMBERS, "openai")
