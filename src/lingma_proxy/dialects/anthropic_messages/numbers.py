"""The numeric request fields of Anthropic Messages and their ranges (dialects/limits.py)."""

from __future__ import annotations

from typing import Any

from .. import limits

# Numeric fields in type and range (Anthropic's documented ranges); the byte passthrough checks them too.
NUMBERS = {
    "max_tokens": limits.token_count(),
    "temperature": limits.Num(False, 0, 1),
    "top_p": limits.Num(False, 0, 1),
    "top_k": limits.token_count(0),
    "thinking.budget_tokens": limits.token_count(0),
}


def check_numbers(body: dict[str, Any]) -> None:
    """Raise ``InvalidRequest`` when a numeric field is of the wrong type or out of range."""
    limits.check_numbers(body, NUMBERS, "anthropic", integral_floats=True)
