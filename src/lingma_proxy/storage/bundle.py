"""The feedback bundle: a ZIP a user can attach to a bug report without leaking anything.

It holds the configuration with secrets masked (and each value's origin), recent sanitized
requests, recent log lines, daily usage and versions. Never credentials: every configured
secret (the settings' and the running server's ``SecretRegistry``, which holds what backends
learned, e.g. a Lingma login) is erased from every entry once more before it is written.
"""

from __future__ import annotations

import io
import platform
import sys
import time
import zipfile
from importlib import metadata
from typing import Any

import orjson

from .. import __version__
from ..redaction import REDACTED, SecretRegistry
from .hub import secrets_of
from .sanitize import Sanitizer

BODY_LIMIT = 16_000
PACKAGES = ("starlette", "uvicorn", "aiohttp", "orjson", "click", "rich", "pillow", "openai", "anthropic")


def versions() -> dict[str, Any]:
    out: dict[str, Any] = {"lingma-proxy": __version__, "python": sys.version.split()[0],
                           "implementation": platform.python_implementation(),
                           "platform": platform.platform(terse=True), "machine": platform.machine()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def build(settings: Any, *, requests: list[dict[str, Any]], logs: list[dict[str, Any]],
          usage: list[dict[str, Any]] | None = None, recording: dict[str, Any] | None = None,
          note: str = "", secrets: SecretRegistry | None = None) -> bytes:
    """The ZIP file's bytes. ``secrets``: the running server's registry (with what its backends
    learned, e.g. a Lingma login); the settings' own secrets are always added."""
    registry = SecretRegistry(secrets_of(settings))
    if secrets is not None:
        registry.add(*secrets.values())
    short = [s for s in secrets_of(settings) if s]
    scrub = Sanitizer(registry)
    trimmed = []
    for r in requests:
        r = dict(r)
        for body in ("request", "response", "message", "events"):
            text = r.get(body)
            if isinstance(text, str) and len(text) > BODY_LIMIT:
                r[body] = text[:BODY_LIMIT] + f"\n… [{len(text) - BODY_LIMIT} more chars left out of the bundle]"
        trimmed.append(r)
    entries: dict[str, Any] = {
        "manifest.json": {"service": "lingma-proxy", "version": __version__,
                          "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "redacted": True,
                          "requests": len(trimmed), "logs": len(logs), "request_body_limit": BODY_LIMIT},
        "config.json": {"values": settings.masked(), "origins": dict(settings.origins)},
        "versions.json": versions(),
        "requests.json": trimmed,
        "logs.json": logs,
        "usage.json": usage or [],
        "recording.json": recording or {},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, value in entries.items():
            text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
            z.writestr(name, _erase(text, short, scrub))
        if note.strip():
            z.writestr("user-note.txt", _erase(note.strip() + "\n", short, scrub))
    return buf.getvalue()


def _erase(text: str, secrets: list[str], scrub: Sanitizer) -> str:
    text = scrub.text(text)
    for s in secrets:  # shorter ones than the sanitizer erases: in a bundle, over-redaction is right
        if len(s) >= 4:
            text = text.replace(s, REDACTED)
    return text
