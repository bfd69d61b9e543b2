"""The numeric request fields of the Responses API and their ranges (dialects/limits.py)."""

from __future__ import annotations

from typing import Any

from .. import limits

# Numeric fields in type and range (OpenAI's documented ranges); the byte passthrough checks them too.
NUMBERS = {
    "max_output_tokens": limits.token_count(),
    "temperature": limits.Num(False, 0, 2),
    "top_p": limits.Num(False, 0, 1),
    "top_logprobs": limits.Num(True, 0, 20),
    "max_tool_calls": limits.token_count(),
}


def check_numbers(body: dict[str, Any]) -> None:
    """Raise ``InvalidRequest`` when a numeric field is of the wrong type or out of range."""
    limits.check_numbers(body, NUMBERS, "openai")
