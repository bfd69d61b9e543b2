"""What a trace file holds, built from an ``Exchange`` (no file access here).

* Redaction: headers whose name looks like a credential (authorization, x-api-key, cookie,
  anything with key/token/secret/auth/password in it) and body fields with credential names
  (api_key, access_token, password, ...) whose value is a string or number become
  ``[REDACTED]``; a tool schema property *named* ``api_key`` (an object) is left alone. The
  values found, and every secret of the process's ``redaction.SecretRegistry`` (in each form it
  knows: as is, JSON-escaped, URL-encoded, base64), are then scrubbed from the whole file, wherever they
  appear (a key pasted into a prompt, echoed in an error); key-like text (``sk-...``,
  ``Bearer ...``) in any string is redacted too (``sanitize.Sanitizer.text``).
* Large base64 payloads (images, documents, data URLs) become a marker with their size and a
  hash prefix; thinking signatures and encrypted reasoning are kept (replay needs them).
* Streams are kept as the raw event list and reassembled into the final message of the
  client's dialect (Anthropic message, chat.completion, Responses response).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson

from .. import ir
from ..dialects.registry import by_name
from ..exchange import MAX_CAPTURE, Exchange
from ..redaction import SECRET_NAME, SecretRegistry
from ..sse import SSEDecoder
from .sanitize import Sanitizer

VERSION = 1
REDACTED = "[REDACTED]"
BASE64_MIN = 1024
_B64 = re.compile(r"[A-Za-z0-9+/=_-]+\Z")
_SECRET_EXACT = frozenset({
    "authorization", "proxy_authorization", "cookie", "set_cookie", "api_key", "apikey", "x_api_key",
    "password", "passwd", "secret", "client_secret", "token", "access_token", "refresh_token", "id_token",
    "auth_token", "session_token", "bearer", "private_key", "credential", "credentials",
})
_SECRET_SUFFIXES = ("_api_key", "_apikey", "_secret", "_password", "_token", "_private_key", "_credentials")
_HEADER_WORDS = ("auth", "token", "secret", "cookie", "key", "password", "credential")
_KEEP_BLOBS = frozenset({"signature", "encrypted_content"})
_TEXT = Sanitizer()  # key-like text (sk-..., Bearer ..., api_key=...) inside any string


def secret_name(name: str) -> bool:
    n = name.lower().replace("-", "_")
    return n in _SECRET_EXACT or n.endswith(_SECRET_SUFFIXES)


def redact_headers(headers: Mapping[str, str], found: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in headers.items():
        lk = k.lower()
        if secret_name(lk) or any(w in lk for w in _HEADER_WORDS):
            found.add(v)
            if v[:7].lower() == "bearer ":
                found.add(v[7:].strip())
            out[lk] = REDACTED
        else:
            out[lk] = v
    return out


def redact_query(query: str, found: set[str]) -> str:
    """A query string with the values of credential-named parameters (Gemini's ``?key=``) redacted."""
    if not query:
        return query
    out = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if value and (secret_name(unquote_plus(name)) or SECRET_NAME.search(unquote_plus(name))):
            found.update({value, unquote_plus(value)})
            value = REDACTED
        out.append(name + eq + value)
    return "&".join(out)


def scrub(value: Any, found: set[str], key: str = "") -> Any:
    """A JSON value with credential fields redacted and big base64 payloads replaced."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool) and secret_name(str(k)):
                if isinstance(v, str) and v:
                    found.add(v)
                out[k] = REDACTED
            else:
                out[k] = scrub(v, found, str(k))
        return out
    if isinstance(value, list):
        return [scrub(v, found, key) for v in value]
    if isinstance(value, str) and key not in _KEEP_BLOBS:
        if len(value) >= BASE64_MIN and (marker := base64_marker(value)) is not None:
            return marker
        return _TEXT.text(value)
    return value


def base64_marker(text: str) -> str | None:
    payload = text
    if text.startswith("data:"):
        head, sep, payload = text.partition(",")
        if not sep or ";base64" not in head:
            return None
    if not _B64.match(payload[:4096]) or not _B64.match(payload[-4096:]):
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"[base64 omitted: {len(text)} chars, sha256 {digest}]"


def is_marker(value: object) -> bool:
    return isinstance(value, str) and value.startswith("[base64 omitted: ")


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """Raw SSE bytes -> [{"event": name or None, "data": JSON value or text}]."""
    decoder = SSEDecoder()
    events = decoder.feed(raw) + decoder.finish()
    out: list[dict[str, Any]] = []
    for ev in events:
        if ev.comment is not None or not ev.data:
            continue
        try:
            data: Any = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            data = ev.data
        out.append({"event": ev.event, "data": data})
    return out


# ---------------------------------------------------------------------------- reassembly


def reassemble(dialect: str, events: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The final message a client would have built from ``events`` (its own dialect's
    ``Dialect.reassemble``)."""
    found = by_name(dialect)
    if found is None:
        return None
    return found.reassemble([e["data"] for e in events if isinstance(e.get("data"), dict)])


# ---------------------------------------------------------------------------- the record


def _json_or_text(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _usage(u: ir.Usage | None) -> dict[str, int] | None:
    if u is None:
        return None
    return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens, "reasoning_tokens": u.reasoning_tokens}


def timestamp(ex: Exchange) -> str:
    return datetime.fromtimestamp(ex.started, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build(ex: Exchange, secrets: Iterable[str] = ()) -> bytes:
    """The trace file's bytes for ``ex`` (pretty JSON, redacted). ``secrets``: the process's
    ``SecretRegistry`` (or plain values); every form of each is erased from the whole file."""
    registry = secrets if isinstance(secrets, SecretRegistry) else SecretRegistry(secrets)
    found: set[str] = set()  # this request's own credentials (header values, credential fields)
    response: dict[str, Any] = {"status": ex.status, "headers": redact_headers(ex.response_headers, found)}
    if ex.stream_chunks:
        raw = b"".join(ex.stream_chunks)
        events = parse_sse(raw)
        response["body"] = scrub(reassemble(ex.dialect, events), found)
        response["events"] = scrub(events, found)
        response["truncated"] = ex.captured_bytes >= MAX_CAPTURE
    else:
        response["body"] = scrub(_json_or_text(ex.response_body), found)
    record = {
        "version": VERSION,
        "id": ex.id,
        "timestamp": timestamp(ex),
        "backend": ex.backend,
        "dialect": ex.dialect,
        "passthrough": ex.passthrough,
        "model": {"client": ex.client_model, "upstream": ex.upstream_model},
        "stream": ex.stream,
        "timing": {"latency_ms": round(ex.latency_ms, 2),
                   "ttfb_ms": None if ex.ttfb_ms is None else round(ex.ttfb_ms, 2)},
        "usage": _usage(ex.usage),
        "stop_reason": ex.stop_reason,
        "error": {"kind": ex.error_kind, "message": ex.error} if ex.error else None,
        "client_gone": ex.client_gone,
        "request": {
            "method": "POST",
            "path": ex.path,
            "query": redact_query(ex.query, found),
            "headers": redact_headers(ex.request_headers, found),
            "body": scrub(_json_or_text(ex.request_body), found),
        },
        "response": response,
    }
    data = registry.scrub_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
    if found:
        data = SecretRegistry(found).scrub_bytes(data)
    return data
