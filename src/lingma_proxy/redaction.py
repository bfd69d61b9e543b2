"""The one registry of every secret this process holds, and the scrubbing built on it.

Everything that writes or answers text the proxy did not author (records, traces, logs, the
console and debug answers, the feedback bundle, upstream error messages passed back to clients)
runs it through one ``SecretRegistry``. The composition root fills it from the settings
(``settings_secrets``); backends add what they learn later (Lingma login credentials re-read
from disk) through ``backends.base.UsesSecrets``.

A secret is erased in the forms it travels in: as is, JSON-escaped, URL-encoded, and base64
(the three alignments a value can take inside a longer base64 run, standard and URL-safe
alphabets). Values shorter than ``MIN_LENGTH`` are not registered: erasing ``"secret"``
everywhere would destroy ordinary text, and a key that short is no protection anyway.

Thread safety: ``add`` builds a new immutable matcher and swaps it in one assignment, so the
recorder and trace threads scrub with a consistent snapshot while the event loop adds. Pure:
no I/O (``logging`` only for the log filter).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

import orjson

from .errors import ProxyError

__all__ = ["MIN_LENGTH", "REDACTED", "SECRET_NAME", "LogScrubber", "SecretRegistry", "forms", "settings_secrets"]

REDACTED = "[REDACTED]"
MIN_LENGTH = 8
# Below this many characters a regex search beats a containment test per form; above it, C
# substring search (`form in text`) over every form is several times faster than one
# alternation regex, and the regex then runs only on text that holds a secret.
_SHORT = 96
# a name (config option, query parameter) whose value is a credential: "api_key", "x-api-key",
# "access_token", "client_secret", "password"; not "max_tokens" or "tokenizer"
SECRET_NAME = re.compile(r"(?i)(?:^|[_.-])(?:api[_-]?key|key|token|secret|password|passwd|credentials?|cookie|auth"
                         r"|authorization|bearer)(?:$|[_.-])")


def forms(secret: str) -> set[str]:
    """The spellings of ``secret`` worth erasing (see the module docstring)."""
    out = {secret}
    escaped = orjson.dumps(secret).decode()[1:-1]
    out.add(escaped)
    out.add(json.dumps(secret)[1:-1])  # the stdlib's ASCII-only escaping of non-ASCII keys
    out.add(quote(secret, safe=""))
    out.add(quote_plus(secret, safe=""))
    raw = secret.encode()
    for pad in range(3):  # the secret starting at byte 0, 1 or 2 of a base64 group
        encoded = base64.b64encode(b"\0" * pad + raw).decode().rstrip("=")
        # only the characters made of the secret's bits alone: neighbours change the rest
        first, last = -(-8 * pad // 6), (8 * (pad + len(raw))) // 6
        core = encoded[first:last]
        if len(core) >= MIN_LENGTH + 4:
            out.add(core)
            out.add(core.replace("+", "-").replace("/", "_"))
    return {f for f in out if len(f) >= MIN_LENGTH}


@dataclass(frozen=True, slots=True)
class _Matcher:
    values: tuple[str, ...]
    needles: tuple[str, ...]
    needles_b: tuple[bytes, ...]
    text: re.Pattern[str] | None
    data: re.Pattern[bytes] | None


_EMPTY = _Matcher((), (), (), None, None)


class SecretRegistry:
    """Every configured or learned secret; ``scrub_text`` / ``scrub_bytes`` erase them all."""

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._m = _EMPTY
        self.version = 0  # bumped by every ``add`` that registered something new
        self.add(*values)

    # ------------------------------------------------------------------ filling

    def add(self, *values: str | None) -> bool:
        """Register ``values`` (``None``, empty and short ones are ignored); True when one was new."""
        fresh = [v for v in {v.strip() for v in values if isinstance(v, str)} if len(v) >= MIN_LENGTH]
        with self._lock:
            known = set(self._m.values)
            fresh = [v for v in fresh if v not in known]
            if not fresh:
                return False
            vals = tuple(sorted(known | set(fresh)))
            needles = sorted({f for v in vals for f in forms(v)}, key=lambda s: (-len(s), s))
            needles_b = [n.encode() for n in needles]
            self._m = _Matcher(
                vals, tuple(needles), tuple(needles_b),
                re.compile("|".join(map(re.escape, needles))),
                re.compile(b"|".join(map(re.escape, needles_b))),
            )
            self.version += 1
            return True

    def values(self) -> tuple[str, ...]:
        return self._m.values

    def __iter__(self) -> Iterator[str]:
        return iter(self._m.values)

    def __len__(self) -> int:
        return len(self._m.values)

    def __bool__(self) -> bool:  # an empty registry is still a registry, not "no registry"
        return True

    # ------------------------------------------------------------------ scrubbing

    def contains(self, text: str) -> bool:
        """Whether ``text`` holds any registered secret, in any of its forms."""
        m = self._m
        if m.text is None:
            return False
        if len(text) < _SHORT:
            return m.text.search(text) is not None
        return any(n in text for n in m.needles)

    def scrub_text(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``[REDACTED]``."""
        m = self._m
        if m.text is None or not text:
            return text
        if len(text) < _SHORT:
            return m.text.sub(REDACTED, text)
        if not any(n in text for n in m.needles):
            return text
        return m.text.sub(REDACTED, text)

    def scrub_bytes(self, data: bytes) -> bytes:
        m = self._m
        if m.data is None or not data:
            return data
        if len(data) >= _SHORT and not any(n in data for n in m.needles_b):
            return data
        return m.data.sub(REDACTED.encode(), data)

    def scrub_error(self, exc: ProxyError) -> ProxyError:
        """``exc`` with its message scrubbed, in place (the same object goes on to observers)."""
        message = self.scrub_text(exc.message)
        if message != exc.message:
            exc.message = message
            exc.args = (message,)
        return exc

    def scrub_value(self, value: Any) -> Any:
        """Every string inside JSON-like ``value`` (dict keys included) scrubbed; a copy."""
        if self._m.text is None:
            return value
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, dict):
            return {self.scrub_text(k) if isinstance(k, str) else k: self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_value(v) for v in value]
        return value


# ---------------------------------------------------------------------- what the settings hold


def url_secrets(url: str) -> list[str]:
    """The password (and a token-like user name) in a URL's user info, and secret-named query values."""
    if not url or ("@" not in url and "?" not in url):
        return []
    try:
        parts = urlsplit(url)
        password, user = parts.password, parts.username
    except ValueError:
        return []
    out = [unquote(password)] if password else []
    if user and password is None:  # https://TOKEN@host: the user name is the credential
        out.append(unquote(user))
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if value and SECRET_NAME.search(name):
            out.append(unquote(value))
    return out


def _option_secrets(options: Any) -> list[str]:
    """Values under secret-looking names anywhere inside a backend's ``options``."""
    out: list[str] = []
    if isinstance(options, dict) or hasattr(options, "items"):
        for k, v in options.items():
            if isinstance(v, str) and SECRET_NAME.search(str(k)):
                out.append(v)
            elif isinstance(v, str) and "://" in v:
                out += url_secrets(v)
            else:
                out += _option_secrets(v)
    elif isinstance(options, (list, tuple)):
        for v in options:
            out += _option_secrets(v)
    return out


def settings_secrets(settings: Any, secret_fields: Iterable[str], url_fields: Iterable[str] = ()) -> list[str]:
    """Every credential ``settings`` holds: the ``secret_fields`` (the keys of type ``secret``),
    passwords in ``url_fields``, and each ``backends`` entry's key, URL and secret-named options."""
    found: list[str] = [getattr(settings, name, None) or "" for name in secret_fields]
    for name in url_fields:
        found += url_secrets(getattr(settings, name, "") or "")
    for b in getattr(settings, "backends", ()):
        found.append(getattr(b, "api_key", None) or "")
        found += url_secrets(getattr(b, "base_url", "") or "")
        found += _option_secrets(getattr(b, "options", {}))
    return [s for s in found if s]


# ---------------------------------------------------------------------- logs


class LogScrubber(logging.Handler):
    """Put first on a logger's handlers: it rewrites each record in place (message with its
    arguments merged, exception and stack text) with the registry's secrets erased, so every
    handler after it (the log ring, stderr, pytest's caplog) sees the scrubbed record. It
    writes nothing itself."""

    def __init__(self, registry: SecretRegistry) -> None:
        super().__init__(logging.NOTSET)
        self.registry = registry
        self._loggers: list[logging.Logger] = []
        self._fmt = logging.Formatter()

    def handle(self, record: logging.LogRecord) -> bool:
        self.scrub(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does the work
        pass

    def scrub(self, record: logging.LogRecord) -> None:
        reg = self.registry
        if not len(reg):
            return
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: keep what there is, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = reg.scrub_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._fmt.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = reg.scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = reg.scrub_text(record.stack_info)

    def install(self, names: Iterable[str] = ("", "lingma_proxy", "uvicorn", "uvicorn.error",
                                               "uvicorn.access")) -> LogScrubber:
        for name in names:
            logger = logging.getLogger(name or None)
            if not name and not logger.handlers:
                continue  # a handler on a bare root would silence logging's last-resort stderr output
            logger.handlers.insert(0, self)
            self._loggers.append(logger)
        return self

    def uninstall(self) -> None:
        for logger in self._loggers:
            try:
                logger.removeHandler(self)
            except ValueError:
                pass
        self._loggers.clear()
