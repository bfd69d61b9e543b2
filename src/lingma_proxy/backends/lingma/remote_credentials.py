"""Lingma login credentials, sans I/O: the portable file, the decrypted cache, machine ids.

A credential is four strings (``cosy_key``, ``encrypt_user_info``, ``user_id``,
``machine_id``) and an optional expiry. ``token_expire_time`` is read leniently because every
producer writes it differently: epoch milliseconds as a string (the reference), seconds (the
QoderCN CLI cache), or an ISO-8601 date (lingma2api's example); unknown means 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ... import errors

REQUIRED = ("cosy_key", "encrypt_user_info", "user_id", "machine_id")
_MARKERS = ("using machine id from file:", "machine id:", "machine_id:", "machineid:", "machine-id:",
            "generated uuid:")
_MACHINE_RE = re.compile(r"""(?i)machine[_-]?id["']?\s*[:=]\s*["']?([A-Za-z0-9._:-]{16,})""")
_CUT = re.compile(r"[\s,;]")


class CredentialError(errors.UpstreamUnavailable):
    """No usable Lingma login (missing, unreadable, undecryptable or incomplete)."""


@dataclass(frozen=True, slots=True)
class Credential:
    cosy_key: str = field(repr=False)
    encrypt_user_info: str = field(repr=False)
    user_id: str = field(repr=False)
    machine_id: str = field(repr=False)
    token_expire_ms: int = 0  # 0 = unknown
    source: str = ""
    access_token: str = field(default="", repr=False)

    def expired(self, now_ms: int, margin_ms: int = 0) -> bool:
        return self.token_expire_ms > 0 and now_ms + margin_ms > self.token_expire_ms

    def account(self) -> str:
        """Masked ``user / machine`` for messages and logs."""
        return f"{mask(self.user_id)} / {mask(self.machine_id)}"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.cosy_key, self.encrypt_user_info, self.access_token) if s)


def mask(value: str) -> str:
    """First and last three characters when longer than 8, else all stars (the reference's)."""
    if len(value) > 8:
        return value[:3] + "*" * (len(value) - 6) + value[-3:]
    return "*" * len(value)


def expire_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_expire(value: Any) -> int:
    """Epoch milliseconds from whatever a producer wrote; 0 when unknown."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        try:
            value = float(text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                return 0
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return int(dt.timestamp() * 1000)
    if not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        return 0
    # Seconds until the year 5138 are below 1e11; milliseconds since 1973 are above it.
    return int(value * 1000) if value < 1e11 else int(value)


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _check(values: dict[str, str], where: str) -> None:
    missing = [k for k in REQUIRED if not values.get(k)]
    if missing:
        raise CredentialError(f"{where} lacks {', '.join(missing)} (all of {', '.join(REQUIRED)} are needed)")


def parse_credentials_file(data: bytes, path: str) -> Credential:
    """A ``credentials.json`` of the reference (``{source, token_expire_time, auth: {...}}``),
    of lingma2api (a superset), or flat; raises ``CredentialError``."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise CredentialError(f"credentials file {path} is not valid JSON (line {e.lineno})") from None
    if not isinstance(doc, dict):
        raise CredentialError(f"credentials file {path} must hold a JSON object")
    nested = doc.get("auth")
    auth: dict[str, Any] = nested if isinstance(nested, dict) else doc
    values = {
        "cosy_key": _str(auth.get("cosy_key") or auth.get("key")),
        "encrypt_user_info": _str(auth.get("encrypt_user_info")),
        "user_id": _str(auth.get("user_id") if auth.get("user_id") is not None else auth.get("uid")),
        "machine_id": _str(auth.get("machine_id")),
    }
    _check(values, f"credentials file {path}")
    expire = parse_expire(doc.get("token_expire_time", auth.get("token_expire_time")))
    source = doc.get("source")
    return Credential(
        token_expire_ms=expire, source=source if isinstance(source, str) and source else path,
        access_token=_str(auth.get("access_token")), **values,
    )  # fmt: skip


def parse_cache_plaintext(plain: bytes, machine_id: str, source: str) -> Credential:
    """The decrypted ``cache/user`` JSON (Lingma's CosyUserInfo) plus the machine id."""
    try:
        doc = orjson.loads(plain)
    except orjson.JSONDecodeError:
        raise CredentialError(f"{source} decrypted to something that is not JSON (wrong machine id?)") from None
    if not isinstance(doc, dict):
        raise CredentialError(f"{source} decrypted to JSON that is not an object")
    values = {
        "cosy_key": _str(doc.get("key")),
        "encrypt_user_info": _str(doc.get("encrypt_user_info")),
        "user_id": _str(doc.get("uid")),
        "machine_id": machine_id.strip(),
    }
    _check(values, f"login cache {source}")
    return Credential(token_expire_ms=parse_expire(doc.get("expire_time")), source=source,
                      access_token=_str(doc.get("access_token")), **values)


def dump_credentials_file(cred: Credential) -> bytes:
    """The reference's portable format, 2-space indented, newline-terminated."""
    auth = {"cosy_key": cred.cosy_key, "encrypt_user_info": cred.encrypt_user_info,
            "user_id": cred.user_id, "machine_id": cred.machine_id}
    if cred.access_token:
        auth["access_token"] = cred.access_token
    doc: dict[str, Any] = {"source": cred.source}
    if cred.token_expire_ms:
        doc["token_expire_time"] = str(cred.token_expire_ms)
    doc["auth"] = auth
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def pkcs7_unpad(data: bytes, block: int = 16) -> bytes:
    if not data or len(data) % block:
        raise ValueError("invalid padding")
    n = data[-1]
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        raise ValueError("invalid padding")
    return data[:-n]


def cache_key(machine_id: str) -> bytes:
    """AES-128 key (and IV): the first 16 characters of the machine id, as ASCII."""
    key = machine_id.strip().encode("ascii", "replace")[:16]
    if len(key) < 16:
        raise ValueError("machine id shorter than 16 characters")
    return key


def machine_id_from_text(text: str) -> str | None:
    """The machine id a Lingma log line reveals (the last occurrence of the first marker that
    yields one), or None."""
    low = text.lower()
    for marker in _MARKERS:
        at = low.rfind(marker)
        if at < 0:
            continue
        rest = text[at + len(marker):].split("\n", 1)[0].strip().strip("\"'[]{}(),")
        value = _CUT.split(rest, 1)[0].strip("\"'[]{}(),")
        if len(value) >= 16:
            return value
    found = _MACHINE_RE.findall(text)
    return found[-1] if found else None
