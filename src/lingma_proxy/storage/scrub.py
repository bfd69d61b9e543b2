"""What the recorder stores, in a few regex passes over a body's bytes instead of a walk of its tree.

The recorder's writer thread shares the GIL with the event loop, so every microsecond it spends
is taken from the streams. The tree walk (``sanitize.Sanitizer.value``: one Python call per
string, regexes per string) cost about 190 µs per streamed exchange and could not keep up at
saturation. Here a body is parsed and re-serialized once by orjson (C; this also normalizes
escapes such as ``\\u0073k-``, so a secret cannot hide behind them), then a handful of C regex
passes run over the whole serialized text:

1. ``data:`` URL strings -> ``"[image/png data URL, 2.9 KB]"``;
2. a ``"media_type": ..., "data": ...`` pair (Anthropic's base64 blocks) -> ``[image/png base64, ..]``;
3. any run of ``BASE64_MIN`` or more base64 characters (``\\n`` line breaks included), anywhere
   in a string -> ``[base64 data, 12.3 KB]`` (the tree walk replaced only whole strings);
4. the value of a credential key (``api_key``, ``*_token``, ``authorization`` ...) -> ``"[REDACTED]"``;
5. key-like text (``sk-...``, ``Bearer ...``) and ``api_key=...`` pairs inside strings;
6. every configured secret, last, so no marker built from the body can bring one back.

Passes 1-4 replace whole JSON tokens or text inside one string, so the output stays valid JSON
by construction; pass 5 is checked (one more C parse) when it fired, and anything that does not
parse falls back to the tree walk. Bodies over the byte limit get their long strings cut one by
one first (a small walk without regexes), then the text is capped as before (the cap is honest
text, not JSON, and the row is flagged ``truncated``). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from .sanitize import BASE64_MIN, SECRET_KEYS, Sanitizer, cap, human_size, stored_body

REDACTED_B = b"[REDACTED]"
_B64 = rb"A-Za-z0-9+/_\-"
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
# a whole JSON string that is a data: URL (no escapes inside: base64 and URL-encoded text have none)
_DATA_URL = re.compile(rb'"data:([\w.+/-]{0,100})(?:;[^,"\\]{0,200})?,([^"\\]*+)"')
_MEDIA_DATA = re.compile(rb'"media_type":"([^"\\]{1,100})","data":"([^"\\]*+)"')
_DATA_MEDIA = re.compile(rb'"data":"([^"\\]*+)","media_type":"([^"\\]{1,100})"')
# a run of base64 characters, MIME line breaks (the JSON escapes \r\n) allowed between pieces;
# the 64-character floor keeps the callback off ordinary words, the callback checks the length.
# It starts where no base64 character precedes, or right after an escape (\n, \\, \u0001), never
# on the second character of an escape (the n of \n, the u of \u00e9): that would break the JSON.
# After a backslash and u it starts four characters on, hex or not: a lookbehind cannot count
# backslashes, and whether that was the escape \u00e9 or an escaped backslash before the text
# "uABE...", both have ended there (a blob after "\\u" keeps at most 5 characters).
_RUN = re.compile(rb"(?:(?<![" + _B64 + rb"\\])|(?<=\\[/bfnrt])|(?<=\\u[" + _B64 + rb"]{4})|(?<=\\)(?![/bfnrtu]))"
                  rb"[" + _B64 + rb"]{64,}+(?:(?:\\r)?\\n[" + _B64 + rb"]++)*+={0,2}")


def _key_alternatives() -> bytes:
    exact = [rb'(?<="' + k.encode().replace(b"_", b"[_-]") + rb")" for k in sorted(SECRET_KEYS)]
    suffix = [rb"(?<=[_-]" + s + rb")" for s in (rb"token", rb"secret", rb"cookie", rb"password", rb"apikey")]
    suffix += [rb"(?<=[_-]api[_-]key)"]
    return b"|".join(exact + suffix)


# "<credential key>":<non-empty string | number | true | false>. Keys sit after { or , in
# orjson's compact output; the lookbehinds test the key's ending, case-insensitively.
_SECRET_VALUE = re.compile(
    rb'(?i)((?<=[{,])"[^"\\]*+(?:\\.[^"\\]*+)*+(?:' + _key_alternatives() + rb')":)'
    rb'(?:"(?!")[^"\\]*+(?:\\.[^"\\]*+)*+"|-?\d[\d.eE+\-]*+|true|false)'
)
_KEYLIKE = re.compile(
    rb"(?:\bsk-(?:ant-|proj-|live-)?[A-Za-z0-9_\-]{16,})"
    rb"|(?:\b(?:xox[abpr]|ghp|gho|github_pat|glpat|AKIA)[-_A-Za-z0-9]{12,})"
    rb"|(?:(?<=[Bb]earer )[A-Za-z0-9._~+/=\-]{8,})"
)
# key=value text inside a string; in JSON text a quote is \" and a newline \n, and the value
# stops before anything that could close the string or a JSON structure
_PAIR = re.compile(
    rb"(?i)\b((?:api[_-]?key|access[_-]?token|refresh[_-]?token|secret|password|authorization|x-api-key)"
    rb"(?:\\?[\"'])?(?:\s|\\[nrt])*[:=](?:\s|\\[nrt])*(?:\\?[\"'])?(?>(?:[Bb]earer\s+)?))"
    rb"([^\s\"',;&\\{}\[\]]{6,})"
)


# cheap C tests that say whether a pass can match (see Scrubber.json_bytes)
_B64_MAP = bytes(65 if chr(b) in _B64_CHARS else 32 for b in range(256))
_RUN_PROBE = b"A" * 64
# (on the lowered bytes: every key of SECRET_KEYS and every suffix ends in one of these)
_SECRET_KEY_PROBES = (b'token":', b'secret":', b'cookie":', b'passw', b'key":', b'auth')
_KEYLIKE_PROBES = (b"sk-", b"bearer ", b"xox", b"ghp", b"gho", b"github_pat", b"glpat", b"akia")
_PAIR_PROBES = (b"api", b"access", b"refresh", b"secret", b"passw", b"auth")


def _data_url(m: re.Match[bytes]) -> bytes:
    media = m.group(1).decode() or "data"
    return f'"[{media} data URL, {human_size(len(m.group(2)))}]"'.encode()


def _media_marker(media: bytes, data: bytes) -> bytes | None:
    if media.startswith(b"image/") or len(data) >= BASE64_MIN:
        return f"[{media.decode(errors='replace')} base64, {human_size(len(data))}]".encode()
    return None


def _media_data(m: re.Match[bytes]) -> bytes:
    marker = _media_marker(m.group(1), m.group(2))
    return m.group(0) if marker is None else b'"media_type":"' + m.group(1) + b'","data":"' + marker + b'"'


def _data_media(m: re.Match[bytes]) -> bytes:
    marker = _media_marker(m.group(2), m.group(1))
    return m.group(0) if marker is None else b'"data":"' + marker + b'","media_type":"' + m.group(2) + b'"'


def _run(m: re.Match[bytes]) -> bytes:
    n = m.end() - m.start()
    return m.group(0) if n < BASE64_MIN else f"[base64 data, {human_size(n)}]".encode()


def _data_value(data: bytes) -> bytes:
    """An SSE data field that is not a JSON object, as JSON (``[DONE]`` becomes a string)."""
    if data[:1] == b"[" and data != b"[DONE]":
        return data  # an array: checked with the whole list
    try:
        return orjson.dumps(orjson.loads(data)) if data else b'""'
    except orjson.JSONDecodeError:
        return orjson.dumps(data.decode("utf-8", "replace"))


# "[event: NAME\n]data: DATA\n\n", the only frames the dialects render; anything else (comments,
# multi-line data, ids, odd event names) takes the general path
_FRAME = rb"(?:event: ?([\w.\-]*+) *\n)?data: ?([^\n]*+)\n\n"
_SSE_FRAME = re.compile(_FRAME)
_COMMENT = re.compile(rb"(?m)^:[^\n]*\n\n?")
_SSE_ALL = re.compile(rb"(?:" + _FRAME.replace(b"(", b"(?:").replace(b"(?:?:", b"(?:") + rb")*+")


class Scrubber:
    """The recorder's fast path; ``sanitizer`` supplies the secrets and the tree walk fallback."""

    def __init__(self, sanitizer: Sanitizer) -> None:
        self.sanitizer = sanitizer
        self.fallbacks = 0  # bodies that needed the tree walk (tests and status)
        # the process's one secret registry (redaction.py), in every form it knows a secret in
        self._erase: Callable[[bytes], bytes] = sanitizer.registry.scrub_bytes

    # ------------------------------------------------------------------ the passes

    def json_bytes(self, data: bytes) -> tuple[bytes, bool]:
        """Compact JSON (orjson's output) with the passes applied; True when it must be re-checked.

        Python's regex engine is slow where a pattern has no literal start (20-50 ns a byte), so
        each pass runs only when C substring tests on the bytes say it can match at all: most
        bodies have no data URL, no base64 run, no credential key and no key-like text, and
        cost a few microseconds."""
        if b'"data:' in data:
            data = _DATA_URL.sub(_data_url, data)
        if b'"media_type":"' in data:
            data = _DATA_MEDIA.sub(_data_media, _MEDIA_DATA.sub(_media_data, data))
        if len(data) >= BASE64_MIN and _RUN_PROBE in data.translate(_B64_MAP):
            data = _RUN.sub(_run, data)
        lowered = data.lower()
        if any(k in lowered for k in _SECRET_KEY_PROBES):
            data = _SECRET_VALUE.sub(rb'\1"[REDACTED]"', data)
        if any(k in lowered for k in _KEYLIKE_PROBES):
            data = _KEYLIKE.sub(REDACTED_B, data)
        pairs = 0
        if any(k in lowered for k in _PAIR_PROBES):
            data, pairs = _PAIR.subn(rb"\1[REDACTED]", data)
        erased = self._erase(data)
        return erased, bool(pairs) or erased != data

    def plain(self, text: str) -> str:
        """Non-JSON text: base64 runs marked, then the sanitizer's text redaction."""
        if len(text) >= BASE64_MIN:
            text = _RUN.sub(_run, text.encode()).decode("utf-8", "replace")
        return self.sanitizer.text(text)

    # ------------------------------------------------------------------ what the recorder stores

    def body(self, raw: bytes | None, limit: int) -> tuple[str | None, bool]:
        """A body as stored text (JSON re-serialized when it parses) and whether it was cut."""
        return stored_body(raw, limit, self.plain, self.value)

    def value(self, value: Any, limit: int) -> tuple[str, bool]:
        """Any JSON-able value as stored text and whether it was cut."""
        try:
            data = orjson.dumps(value)
        except TypeError:  # not serializable as is (an int beyond 64 bits): the walk copes
            return self._walk(value, limit)
        if len(data) > limit:
            data = orjson.dumps(_cut_strings(value, self.sanitizer.string_max))
        out, check = self.json_bytes(data)
        if check:
            try:
                orjson.loads(out)
            except orjson.JSONDecodeError:
                return self._walk(value, limit)
        return cap(out.decode("utf-8", "replace"), limit)

    def events(self, chunks: list[bytes], limit: int) -> tuple[str | None, bool]:
        """A captured SSE stream as a JSON list of ``{"event", "data"}``, each data sanitized."""
        if not chunks:
            return None, False
        blob = b"".join(chunks)
        if b"\r" in blob:
            blob = blob.replace(b"\r\n", b"\n")
        if blob[:1] == b":" or b"\n:" in blob:  # keep-alive comments: not events
            blob = _COMMENT.sub(b"", blob)
        if _SSE_ALL.fullmatch(blob) is None:  # ids, multi-line data, odd event names: the general path
            return self._walk_events(chunks, limit)
        # one list comprehension, no call per frame in the common case (data is a JSON object)
        frames = [(b'{"event":"' + ev + b'","data":' if ev else b'{"data":')
                  + (data if data[:1] == b"{" else _data_value(data)) + b"}"
                  for ev, data in _SSE_FRAME.findall(blob)]
        try:
            value = orjson.loads(b"[" + b",".join(frames) + b"]")
        except orjson.JSONDecodeError:
            return self._walk_events(chunks, limit)
        out, check = self.json_bytes(orjson.dumps(value))
        if len(out) <= limit and not check:
            return out.decode("utf-8", "replace"), False
        try:
            kept = orjson.loads(out)
        except orjson.JSONDecodeError:
            return self._walk_events(chunks, limit)
        if len(out) <= limit:
            return out.decode("utf-8", "replace"), False
        return _keep_events(kept, limit), True

    def _walk(self, value: Any, limit: int) -> tuple[str, bool]:
        self.fallbacks += 1
        text, cut = self.sanitizer.json(value, limit)
        return self._after_walk(text), cut

    def _walk_events(self, chunks: list[bytes], limit: int) -> tuple[str | None, bool]:
        self.fallbacks += 1
        text, cut = self.sanitizer.events(chunks, limit)
        return (None if text is None else self._after_walk(text)), cut

    def _after_walk(self, text: str) -> str:
        """What the walk does not do: base64 runs inside longer strings, secrets in keys."""
        data = text.encode()
        if len(data) >= BASE64_MIN and _RUN_PROBE in data.translate(_B64_MAP):
            data = _RUN.sub(_run, data)
        return self._erase(data).decode("utf-8", "replace")


def _keep_events(items: list[Any], limit: int) -> str:
    """Whole events from the start, then one saying how many were left out."""
    kept: list[Any] = []
    size = 2
    for item in items:
        n = len(orjson.dumps(item)) + 1
        if size + n > limit - 80:
            break
        kept.append(item)
        size += n
    kept.append({"event": "lingma-proxy.truncated", "data": f"{len(items) - len(kept)} more events not recorded"})
    return orjson.dumps(kept).decode()


def _cut_strings(v: Any, most: int) -> Any:
    """``v`` with every string longer than ``most`` cut (bodies over the limit only)."""
    if isinstance(v, str):
        return v if len(v) <= most else v[:most] + f"… [truncated {len(v) - most} chars]"
    if isinstance(v, dict):
        return {k: _cut_strings(x, most) for k, x in v.items()}
    if isinstance(v, list):
        return [_cut_strings(x, most) for x in v]
    return v
