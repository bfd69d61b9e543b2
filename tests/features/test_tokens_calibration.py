"""The offline estimator against real tokenizer output (o200k_base counts; see
docs/context-window.md for the calibration), and its behaviour on hard cases."""

from __future__ import annotations

import base64

import pytest

from lingma_proxy.features import tokens

# (text, tokens in o200k_base)
REFERENCE = [
    ("This is a longer text without any special characters or emojis. It includes spaces, "
     "punctuation, and multiple sentences. Let's see how the tokenizer handles it!", 30),
    ("function factorial(n) { return n === 1 ? 1 : n * factorial(n - 1) }", 23),
    ("SELECT * FROM users WHERE age > 18 AND city = 'New York';", 16),
    ("public class Employee { private String name; private int age; public Employee(String name, "
     "int age) { this.name = name; this.age = age; } }", 33),
    ("This     is     a     sentence     with     extra     spaces.", 14),
    ("你最喜欢的汉字是什么？请用汉字回答。", 14),
    ("Quelle est votre chanson préférée en français avec des accents sur les lettres ?", 15),
    ("Hello world!", 3),
]


@pytest.mark.parametrize(("text", "real"), REFERENCE)
def test_each_reference_text_within_25_percent(text: str, real: int) -> None:
    assert abs(tokens.estimate_text(text) - real) <= max(1, real // 4)


def test_reference_total_within_5_percent() -> None:
    est = sum(tokens.estimate_text(t) for t, _ in REFERENCE)
    real = sum(n for _, n in REFERENCE)
    assert abs(est - real) <= real * 0.05, (est, real)


def test_dense_runs_cost_more_than_words() -> None:
    blob = base64.b64encode(bytes(range(256)) * 12).decode()  # 4096 characters
    words = ("lorem ipsum dolor sit amet " * 200)[:4096]
    assert tokens.estimate_text(blob) > 2 * tokens.estimate_text(words)
    assert 1200 <= tokens.estimate_text(blob) <= 2000  # real BPE: about 3 characters a token


def test_odd_text_never_fails() -> None:
    assert tokens.estimate_text("\ud800 lone surrogate") > 0
    assert tokens.estimate_text("\x00\x01\t\r\n") == 4
    assert tokens.estimate_text("🙂") == 2
