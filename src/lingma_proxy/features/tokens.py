"""Offline token estimation for a whole request: system, tools, messages, tool results, images.

No tokenizer files are downloaded (and none is needed): text is estimated from its character
classes, the way a BPE pre-tokenizer splits it. A letter costs about 0.11 token (common words
are one token with their leading space), a space 0.5, a digit or punctuation mark 0.8, a JSON
double quote 0.3 (it merges with its neighbours: ``":"``, ``","``), a 2-byte UTF-8 character
(Cyrillic, Greek, Arabic, accented Latin) 0.35, a 3-byte one (CJK, kana, Hangul) 0.8 and a
4-byte one (emoji) 2. The weights were fitted against o200k_base encodings (the GPT-4o/gpt-oss
vocabulary; Qwen, Llama 3 and Gemma vocabularies behave alike within ~15%): see
docs/context-window.md for the calibration. The counting is a UTF-8 encode, one
``bytes.translate`` and a few ``bytes.count`` calls (C speed): about 0.5 ms for 250 KB.

Images follow Anthropic's published rule (width x height / 750, capped at 1,600 for a downscaled
image) using the dimensions read from the image header when the data is inline.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Callable, Iterable

import orjson

from .. import ir

ASCII_CHARS_PER_TOKEN = 3.7  # average over prose, code and JSON; used for output text
MESSAGE_OVERHEAD = 4  # role markers and separators per message
TOOL_OVERHEAD = 8  # per tool definition, beyond its JSON text
IMAGE_TOKENS_DEFAULT = 1_600  # an image we cannot measure: the cap of a downscaled image
IMAGE_TOKENS_MAX = 1_600

# Per-byte classes after ``translate``: ASCII letters and UTF-8 continuation bytes are deleted
# (their count is the length difference); every other byte maps to one class marker.
_LETTERS = bytes([*range(0x41, 0x5B), *range(0x61, 0x7B), *range(0x80, 0xC0)])


def _classes() -> bytes:
    table = bytearray(b"." * 256)  # digits, punctuation, newlines, control characters
    table[0x20], table[0x22] = 0x20, 0x22  # space, double quote
    table[0xC0:0xE0] = b"2" * 0x20  # lead byte of a 2-byte character
    table[0xE0:0xF0] = b"3" * 0x10
    table[0xF0:0x100] = b"4" * 0x10
    return bytes(table)


_CLASSES = _classes()
W_LETTER, W_PUNCT, W_SPACE, W_QUOTE = 0.11, 0.8, 0.5, 0.3
W_CHAR2, W_CHAR3, W_CHAR4 = 0.35, 0.8, 2.0
W_SPACE_PAIR = 0.5  # two spaces of a run (indentation): runs merge into few tokens
# Letters are cheap in words; in long unbroken runs (base64, hex, minified code) a token holds
# about 3 characters. Text with fewer spaces and quotes than 1 byte in 10 pays up to this more.
W_LETTER_DENSE = 0.2


def estimate_text(text: str) -> int:
    """Tokens of ``text``; 0 for empty text."""
    if not text:
        return 0
    raw = text.encode("utf-8", "surrogatepass")
    rest = raw.translate(_CLASSES, _LETTERS)
    letters = len(raw) - len(rest)
    spaces = rest.count(b" ")
    quotes = rest.count(b'"')
    pairs = raw.count(b"  ") if spaces > 1 else 0
    c2 = c3 = c4 = 0
    if len(raw) != len(text):
        c2, c3, c4 = rest.count(b"2"), rest.count(b"3"), rest.count(b"4")
        letters -= c2 + 2 * c3 + 3 * c4  # their continuation bytes were counted as letters
    punct = len(rest) - spaces - quotes - c2 - c3 - c4
    density = (spaces + quotes) * 10 / len(raw)
    w_letter = W_LETTER if density >= 1 else W_LETTER + W_LETTER_DENSE * (1 - density)
    total = (
        w_letter * letters + W_PUNCT * punct + W_SPACE * (spaces - 2 * pairs) + W_SPACE_PAIR * pairs
        + W_QUOTE * quotes + W_CHAR2 * c2 + W_CHAR3 * c3 + W_CHAR4 * c4
    )
    return max(1, int(total + 0.5))


def image_size(data_b64: str) -> tuple[int, int] | None:
    """Width and height from a base64 PNG, GIF, JPEG or WebP header, without decoding it all."""
    try:
        head = base64.b64decode(data_b64[:65536] + "=" * (-min(len(data_b64), 65536) % 4))
    except (binascii.Error, ValueError):
        return None
    return _dimensions(head)


def _dimensions(b: bytes) -> tuple[int, int] | None:
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24:
        w, h = struct.unpack(">II", b[16:24])
        return int(w), int(h)
    if b[:6] in (b"GIF87a", b"GIF89a") and len(b) >= 10:
        w, h = struct.unpack("<HH", b[6:10])
        return int(w), int(h)
    if b[:4] == b"RIFF" and b[8:12] == b"WEBP" and len(b) >= 30:
        if b[12:16] == b"VP8X":
            w = int.from_bytes(b[24:27], "little") + 1
            h = int.from_bytes(b[27:30], "little") + 1
            return w, h
        if b[12:16] == b"VP8 " and len(b) >= 30:
            w, h = struct.unpack("<HH", b[26:30])
            return int(w) & 0x3FFF, int(h) & 0x3FFF
        return None
    if b[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(b):
            if b[i] != 0xFF:
                i += 1
                continue
            marker = b[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                h, w = struct.unpack(">HH", b[i + 5 : i + 9])
                return int(w), int(h)
            seg_len = int.from_bytes(b[i + 2 : i + 4], "big")
            i += 2 + seg_len
    return None


def estimate_image(part: ir.ImagePart) -> int:
    if part.data:
        size = image_size(part.data)
        if size is not None:
            w, h = size
            # Anthropic downscales so the long edge is at most 1568 px before counting.
            scale = min(1.0, 1568 / max(w, h, 1))
            return max(1, min(IMAGE_TOKENS_MAX, int((w * scale) * (h * scale) / 750)))
    return IMAGE_TOKENS_DEFAULT


TextEstimator = Callable[[str], int]


class EstimateCache:
    """Remembers the estimates of long texts.

    An agent loop resends the same system prompt, tool schemas and history on every turn
    (200 KB for Claude Code); looking a text up costs one hash and one compare, a fraction of
    estimating it again. Bounded by the characters it holds, oldest entries dropped first.
    """

    __slots__ = ("_memo", "_chars", "max_chars", "min_chars")

    def __init__(self, max_chars: int = 8_000_000, min_chars: int = 512) -> None:
        self._memo: dict[str, int] = {}
        self._chars = 0
        self.max_chars = max_chars
        self.min_chars = min_chars

    def text(self, text: str) -> int:
        if len(text) < self.min_chars:
            return estimate_text(text)
        memo = self._memo
        value = memo.get(text)
        if value is None:
            value = estimate_text(text)
            while memo and self._chars + len(text) > self.max_chars:
                oldest = next(iter(memo))
                del memo[oldest]
                self._chars -= len(oldest)
            if len(text) <= self.max_chars:
                memo[text] = value
                self._chars += len(text)
        return value


def estimate_part(part: ir.Part, est: TextEstimator = estimate_text) -> int:
    if isinstance(part, ir.TextPart):
        return est(part.text)
    if isinstance(part, ir.ImagePart):
        return estimate_image(part)
    if isinstance(part, ir.ThinkingPart):
        return est(part.text)
    if isinstance(part, ir.ToolCallPart):
        return est(part.name) + est(part.arguments) + 4
    return 4 + sum(estimate_part(p, est) for p in part.content)


def estimate_tools(tools: Iterable[ir.Tool], est: TextEstimator = estimate_text) -> int:
    total = 0
    for t in tools:
        schema = orjson.dumps(t.parameters).decode() if t.parameters else ""
        total += TOOL_OVERHEAD + est(t.name) + est(t.description)
        total += est(schema)
    return total


def estimate_message(msg: ir.Message, est: TextEstimator = estimate_text) -> int:
    return MESSAGE_OVERHEAD + sum(estimate_part(p, est) for p in msg.content)


def estimate_request(req: ir.Request, cache: EstimateCache | None = None) -> int:
    """Input tokens of the whole request as an upstream would count them."""
    est = cache.text if cache is not None else estimate_text
    total = sum(est(p.text) for p in req.system)
    if req.system:
        total += MESSAGE_OVERHEAD
    total += estimate_tools(req.tools, est)
    total += sum(estimate_message(m, est) for m in req.messages)
    return total + 3  # reply priming


def estimate_breakdown(req: ir.Request) -> dict[str, int]:
    """Token counts per section (system, tools, messages, tool_results, images)."""
    tool_results = images = 0
    for m in req.messages:
        for p in m.content:
            if isinstance(p, ir.ToolResultPart):
                tool_results += estimate_part(p)
            elif isinstance(p, ir.ImagePart):
                images += estimate_image(p)
    return {
        "system": sum(estimate_text(p.text) for p in req.system),
        "tools": estimate_tools(req.tools),
        "messages": sum(estimate_message(m) for m in req.messages),
        "tool_results": tool_results,
        "images": images,
        "total": estimate_request(req),
    }
