"""Offline token estimation for a whole request: system, tools, messages, tool results, images.

No tokenizer files are downloaded: text is estimated from its character mix (ASCII text runs
about 3.7 characters a token in BPE vocabularies of current models; CJK and other non-ASCII
characters about one token each), which is computed at C speed from the UTF-8 length, so a
200 KB Claude Code request costs well under a millisecond. Images follow Anthropic's published
rule (width x height / 750, capped at 1,600 for a downscaled image) using the dimensions read
from the image header when the data is inline.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterable

import orjson

from .. import ir

ASCII_CHARS_PER_TOKEN = 3.7
MESSAGE_OVERHEAD = 4  # role markers and separators per message
TOOL_OVERHEAD = 8  # per tool definition, beyond its JSON text
IMAGE_TOKENS_DEFAULT = 1_600  # an image we cannot measure: the cap of a downscaled image
IMAGE_TOKENS_MAX = 1_600


def estimate_text(text: str) -> int:
    """Tokens of ``text``; 0 for empty text."""
    if not text:
        return 0
    n = len(text)
    extra = len(text.encode("utf-8")) - n  # 1 per 2-byte char, 2 per 3-byte char
    non_ascii = (extra + 1) // 2 if extra else 0
    ascii_chars = max(n - non_ascii, 0)
    return max(1, int(ascii_chars / ASCII_CHARS_PER_TOKEN + 0.5) + non_ascii)


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


def estimate_part(part: ir.Part) -> int:
    if isinstance(part, ir.TextPart):
        return estimate_text(part.text)
    if isinstance(part, ir.ImagePart):
        return estimate_image(part)
    if isinstance(part, ir.ThinkingPart):
        return estimate_text(part.text)
    if isinstance(part, ir.ToolCallPart):
        return estimate_text(part.name) + estimate_text(part.arguments) + 4
    return 4 + sum(estimate_part(p) for p in part.content)


def estimate_tools(tools: Iterable[ir.Tool]) -> int:
    total = 0
    for t in tools:
        schema = orjson.dumps(t.parameters).decode() if t.parameters else ""
        total += TOOL_OVERHEAD + estimate_text(t.name) + estimate_text(t.description)
        total += estimate_text(schema)
    return total


def estimate_message(msg: ir.Message) -> int:
    return MESSAGE_OVERHEAD + sum(estimate_part(p) for p in msg.content)


def estimate_request(req: ir.Request) -> int:
    """Input tokens of the whole request as an upstream would count them."""
    total = sum(estimate_text(p.text) for p in req.system)
    if req.system:
        total += MESSAGE_OVERHEAD
    total += estimate_tools(req.tools)
    total += sum(estimate_message(m) for m in req.messages)
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
