"""What may be written down: bodies with secrets redacted, images replaced by markers, sizes capped.

Runs on the recorder's writer thread, never on the request path. Pure: no I/O.

* JSON keys that hold credentials (``api_key``, ``authorization``, ``x-api-key``, ``*_token``,
  ``*_secret``, ``password`` ...) lose their whole value.
* Strings are scanned for key-like text (``sk-...``, ``Bearer ...``, ``api_key=...``) and for the
  secrets of the process's ``redaction.SecretRegistry``, wherever they appear (a prompt may
  quote a key), in every form the registry knows (JSON-escaped, URL-encoded, base64).
* ``data:`` URLs and long base64 runs become ``[image/png base64, 12.3 KB]``-style markers.
* Long strings are cut, then the whole serialized body is cut to the configured limit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ..redaction import (
    REDACTED as REDACTED,  # re-exported: callers import it from here
    SecretRegistry,
)

SECRET_KEYS = frozenset({
    "authorization", "proxy_authorization", "cookie", "set_cookie", "x_api_key", "api_key", "apikey",
    "access_token", "refresh_token", "id_token", "token", "password", "passwd", "secret",
    "client_secret", "private_key", "admin_key", "openai_api_key", "anthropic_api_key",
    "x_admin_key", "session_token", "auth",
})
SECRET_SUFFIXES = ("_token", "_secret", "_cookie", "_api_key", "_password", "_apikey")
BASE64_MIN = 1024  # shorter runs are not worth a marker (and may be ordinary text)
STRING_MAX = 32 * 1024
SHORTEST_MATCH = 13  # no key-like token or key=value pair below this length ("secret:abcdef")

_KEYLIKE = re.compile(
    r"(?:\bsk-(?:ant-|proj-|live-)?[A-Za-z0-9_\-]{16,})"  # OpenAI / Anthropic style keys
    r"|(?:\b(?:xox[abpr]|ghp|gho|github_pat|glpat|AKIA)[-_A-Za-z0-9]{12,})"
    r"|(?:(?<=[Bb]earer )[A-Za-z0-9._~+/=\-]{8,})"
)
_PAIR = re.compile(
    r"(?i)\b((?:api[_-]?key|access[_-]?token|refresh[_-]?token|secret|password|authorization|x-api-key)"
    r"[\"']?\s*[:=]\s*[\"']?(?:[Bb]earer\s+)?)([^\s\"',;&]{6,})"
)
_DATA_URL = re.compile(r"^data:([\w.+/-]*)(?:;[^,]*)?,")
_B64 = re.compile(r"^[A-Za-z0-9+/_\-\r\n]+={0,2}$")


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


@functools.lru_cache(maxsize=4096)  # JSON keys repeat endlessly ("id", "delta", "content")
def is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k in SECRET_KEYS or k.endswith(SECRET_SUFFIXES)


class Sanitizer:
    """Redacts and shrinks values; ``secrets`` are exact strings (configured keys) to erase."""

    def __init__(self, secrets: Iterable[str | None] = (), *, string_max: int = STRING_MAX) -> None:
        # The process's one registry when given (it grows as backends learn credentials, and
        # this sanitizer sees each addition); a plain list makes a private one.
        self.registry = secrets if isinstance(secrets, SecretRegistry) else SecretRegistry(secrets)
        self.string_max = string_max

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.registry.values()

    # ------------------------------------------------------------------ values

    def value(self, v: Any, key: str = "", parent: dict[str, Any] | None = None) -> Any:
        if isinstance(v, str):
            return self.string(v, key, parent)
        if v is None or isinstance(v, (int, float, bool)):
            return v
        if isinstance(v, dict):
            return {k: (REDACTED if is_secret_key(k) and v2 not in (None, "") and not isinstance(v2, (dict, list))
                        else self.value(v2, k, v)) for k, v2 in v.items()}
        if isinstance(v, list):
            return [self.value(x, key) for x in v]
        return v

    def string(self, s: str, key: str = "", parent: dict[str, Any] | None = None) -> str:
        if s.startswith("data:"):
            m = _DATA_URL.match(s)
            if m is not None:
                return f"[{m.group(1) or 'data'} data URL, {human_size(len(s) - m.end())}]"
        if len(s) >= BASE64_MIN and _B64.match(s[:4096]) and _B64.match(s):
            media = parent.get("media_type") if parent is not None else None
            if isinstance(media, str) and media:
                return f"[{media} base64, {human_size(len(s))}]"
            return f"[base64 data, {human_size(len(s))}]"
        if key == "data" and parent is not None and str(parent.get("media_type", "")).startswith("image/"):
            return f"[{parent['media_type']} base64, {human_size(len(s))}]"
        s = self.text(s)
        if len(s) > self.string_max:
            s = s[: self.string_max] + f"… [truncated {len(s) - self.string_max} chars]"
        return s

    def text(self, s: str) -> str:
        """Plain-text redaction: configured secrets, key-like tokens, ``key=value`` pairs."""
        s = self.registry.scrub_text(s)
        if len(s) < SHORTEST_MATCH:  # most stream strings are a token or two: no regex needed
            return s
        s = _KEYLIKE.sub(REDACTED, s)
        s = _PAIR.sub(lambda m: m.group(1) + REDACTED, s)
        return s

    # ------------------------------------------------------------------ bodies

    def body(self, raw: bytes | None, limit: int) -> tuple[str | None, bool]:
        """A body as stored text (JSON re-serialized when it parses) and whether it was cut."""
        return stored_body(raw, limit, self.text, self.json)

    def json(self, value: Any, limit: int) -> tuple[str, bool]:
        return cap(orjson.dumps(self.value(value)).decode(), limit)

    def events(self, chunks: list[bytes], limit: int) -> tuple[str | None, bool]:
        """A captured SSE stream as a JSON list of ``{"event", "data"}``, each data sanitized."""
        if not chunks:
            return None, False
        out: list[dict[str, Any]] = []
        for event, data in split_sse(b"".join(chunks)):
            try:
                parsed: Any = self.value(orjson.loads(data)) if data else ""
            except orjson.JSONDecodeError:
                parsed = self.text(data)
            item: dict[str, Any] = {"data": parsed}
            if event:
                item = {"event": event, **item}
            out.append(item)
        text = orjson.dumps(out).decode()
        if len(text) <= limit:
            return text, False
        # keep whole events from the start, then say how many were left out
        kept: list[dict[str, Any]] = []
        size = 2
        for item in out:
            n = len(orjson.dumps(item)) + 1
            if size + n > limit - 80:
                break
            kept.append(item)
            size += n
        kept.append({"event": "lingma-proxy.truncated", "data": f"{len(out) - len(kept)} more events not recorded"})
        return orjson.dumps(kept).decode(), True


def stored_body(raw: bytes | None, limit: int, text: Callable[[str], str],
                json: Callable[[Any, int], tuple[str, bool]]) -> tuple[str | None, bool]:
    """A body as stored text and whether it was cut: ``json`` for a body that parses, ``text`` for
    one that does not or that is deeper than orjson writes (a body refused at the door)."""
    if raw is None:
        return None, False
    if not raw:
        return "", False
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return cap(text(raw.decode("utf-8", "replace")), limit)
    try:
        return json(value, limit)
    except TypeError:
        return cap(text(raw.decode("utf-8", "replace")), limit)


def cap(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit] + f"\n… [truncated: {human_size(len(text))} in total]", True


def split_sse(data: bytes) -> list[tuple[str, str]]:
    """``(event, data)`` pairs of a complete SSE byte stream (comments and ids dropped)."""
    out: list[tuple[str, str]] = []
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        event = ""
        lines: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].removeprefix(" "))
        if lines or event:
            out.append((event, "\n".join(lines)))
    return out
