"""A settings key (one row of the settings table) and the checks its values pass.

A leaf module: ``config.schema`` builds the table from the core keys plus the keys each
backend type registers (``backends.registration.BackendType.keys``), so a backend module,
built-in or plugin, describes its settings with these without importing ``config``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import redact_url

Check = Callable[[Any], Any]  # returns the normalised value or raises ValueError(reason)


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    type: str  # str | secret | int | float | bool | tribool | list
    env: tuple[str, ...]
    help: str
    aliases: tuple[str, ...] = ()  # other JSON keys meaning the same (reference names)
    flag: bool = True  # offered as --<name-with-dashes>
    check: Check | None = None
    choices: tuple[str, ...] = ()
    # The value when nothing sets it. The core and built-in keys take theirs from the ``Settings``
    # field of the same name; a key that is no ``Settings`` field (a plugin's) from here.
    default: Any = None
    path: bool = False  # a file or directory: ``~`` is expanded

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


# ------------------------------------------------------------------------------- checks


def between(lo: float, hi: float | None = None) -> Check:
    def check(v: Any) -> Any:
        if v < lo or (hi is not None and v > hi):
            raise ValueError(f"must be between {lo:g} and {hi:g}" if hi is not None else f"must be >= {lo:g}")
        return v

    return check


def _http_url(v: str, schemes: tuple[str, ...] = ("http", "https")) -> str:
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise ValueError(f"is not a valid URL ({str(e).lower()})") from None
    if parts.scheme not in schemes or not parts.hostname:
        prefixes = [s + "://" for s in schemes]
        wanted = ", ".join(prefixes[:-1]) + " or " + prefixes[-1]
        raise ValueError(f"must be a URL starting with {wanted} and naming a host, got {redact_url(v)!r}")
    return v


def base_url(v: str) -> str:
    return _http_url(v).rstrip("/")


def openai_base_url(v: str) -> str:
    """Every OpenAI-compatible local server serves ``/v1``; a bare host means that."""
    v = base_url(v)
    parts = urlsplit(v)
    if parts.path in ("", "/"):
        v = urlunsplit((parts.scheme, parts.netloc, "/v1", parts.query, ""))
    return v


def ws_url(v: str) -> str:
    _http_url(v, ("ws", "wss"))
    parts = urlsplit(v)
    if not parts.path:  # the reference adds the root path
        v = urlunsplit((parts.scheme, parts.netloc, "/", parts.query, ""))
    return v


def proxy_url(v: str) -> str:
    return _http_url(v, ("http", "https", "socks5"))


def host(v: str) -> str:
    if any(c.isspace() for c in v) or "/" in v:
        raise ValueError(f"must be a host name or IP address, got {v!r}")
    return v


def is_loopback(h: str) -> bool:
    h = h.strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


_ORIGIN_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s,]*")


def origins(v: tuple[str, ...]) -> tuple[str, ...]:
    """Web origins (``scheme://host[:port]``, ``*`` globs inside), ``null`` or ``*``; lowercased."""
    out = []
    for item in dedupe(v):
        o = item.lower().rstrip("/")
        if o not in ("*", "null") and not _ORIGIN_RE.fullmatch(o):
            raise ValueError(f"must hold web origins like https://app.example.com (scheme://host[:port], "
                             f"no path), 'null' or '*' ({item!r} is not one)")
        out.append(o)
    return tuple(dict.fromkeys(out))


def host_names(v: tuple[str, ...]) -> tuple[str, ...]:
    """Host names or IP addresses (``*`` globs allowed), any port dropped; lowercased."""
    out = []
    for item in dedupe(v):
        h = item.lower()
        if "/" in h:
            raise ValueError(f"must hold host names or IP addresses, no scheme or path ({item!r} is not one)")
        if h.startswith("["):  # [v6] or [v6]:port
            h = h[1:].partition("]")[0]
        elif h.count(":") == 1:  # name:port
            h = h.partition(":")[0]
        if not h or not re.fullmatch(r"[a-z0-9._*:-]+", h):
            raise ValueError(f"must hold host names or IP addresses ({item!r} is not one)")
        out.append(h)
    return tuple(dict.fromkeys(out))


def networks(v: tuple[str, ...]) -> tuple[str, ...]:
    """IP addresses or CIDR networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``)."""
    out = []
    for item in dedupe(v):
        try:
            out.append(str(ipaddress.ip_network(item.strip("[]"), strict=False)))
        except ValueError:
            raise ValueError(f"must hold IP addresses or networks like 127.0.0.1 or 10.0.0.0/8 "
                             f"({item!r} is not one)") from None
    return tuple(dict.fromkeys(out))


def choice(choices: tuple[str, ...], synonyms: dict[str, str] | None = None) -> Check:
    def check(v: str) -> str:
        v = v.strip().lower()
        v = (synonyms or {}).get(v, v)
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return v

    return check


def dedupe(v: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.strip() for s in v if s.strip()))
