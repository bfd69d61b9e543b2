"""In-memory rings: the process log (``/debug/logs``, the console's live tail) and the access log.

Both work with recording off. Appends are O(1) and never block; readers copy under a lock.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..exchange import Exchange

LOG_RING = 2000
ACCESS_RING = 200
MESSAGE_MAX = 8000
LOGGERS = ("lingma_proxy", "uvicorn.error")


class LogRing(logging.Handler):
    """A logging handler keeping the last ``size`` records; ``sink`` also gets each line
    (the recorder persists them), except the storage's own lines, which could loop."""

    def __init__(self, size: int = LOG_RING, level: int = logging.INFO,
                 redact: Callable[[str], str] | None = None) -> None:
        super().__init__(level)
        self.ring: deque[dict[str, Any]] = deque(maxlen=size)
        self.seq = itertools.count(1)
        self.guard = threading.Lock()
        self.redact = redact
        self.sink: Callable[[tuple[float, str, str, str]], None] | None = None
        self.setFormatter(logging.Formatter("%(message)s"))
        self._attached: list[logging.Logger] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:  # a bad %-format in someone's log call must not break logging
            message = str(record.msg)
        if self.redact is not None:
            message = self.redact(message)
        if len(message) > MESSAGE_MAX:
            message = message[:MESSAGE_MAX] + " …"
        level = record.levelname.lower()
        entry = {"seq": next(self.seq), "ts": record.created, "level": level, "logger": record.name,
                 "message": message}
        with self.guard:
            self.ring.append(entry)
        sink = self.sink
        if sink is not None and not record.name.startswith("lingma_proxy.storage"):
            sink((record.created, level, record.name, message))

    def entries(self, *, after: int = 0, limit: int = 200, level: str | None = None,
                q: str | None = None) -> list[dict[str, Any]]:
        """Oldest first, only those with ``seq > after``, at most the last ``limit``."""
        with self.guard:
            items = [e for e in self.ring if e["seq"] > after]
        if level:
            wanted = _LEVELS.get(level, 0)
            items = [e for e in items if _LEVELS.get(e["level"], 0) >= wanted]
        if q:
            ql = q.lower()
            items = [e for e in items if ql in e["message"].lower() or ql in e["logger"].lower()]
        return items[-max(1, limit):]

    def attach(self) -> LogRing:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            self._attached.append(logger)
        return self

    def detach(self) -> None:
        for logger in self._attached:
            logger.removeHandler(self)
        self._attached.clear()


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}


class AccessLog:
    """An observer keeping the last requests' summary lines (the reference's access log)."""

    def __init__(self, size: int = ACCESS_RING, redact: Callable[[str], str] | None = None) -> None:
        self.ring: deque[dict[str, Any]] = deque(maxlen=size)
        self.guard = threading.Lock()
        self.redact = redact

    def __call__(self, ex: Exchange) -> None:
        # a small summary, not the exchange: holding 200 exchanges would hold their bodies
        s = summary(ex)
        if s["error"] and self.redact is not None:  # an upstream's error text may quote a key
            s["error"] = self.redact(s["error"])
        with self.guard:
            self.ring.append(s)

    def summaries(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        with self.guard:
            items = list(self.ring)[-max(1, limit):]
        return items[::-1]

    def lines(self, limit: int = 50) -> list[dict[str, Any]]:
        return [line(s) for s in self.summaries(limit)]


def summary(ex: Exchange) -> dict[str, Any]:
    u = ex.usage
    return {"id": ex.id, "ts": ex.started, "method": "POST", "path": ex.path, "dialect": ex.dialect,
            "backend": ex.backend, "client_model": ex.client_model, "model": ex.upstream_model,
            "stream": ex.stream, "status": ex.status, "latency_ms": round(ex.latency_ms, 1),
            "ttfb_ms": None if ex.ttfb_ms is None else round(ex.ttfb_ms, 1),
            "input_tokens": u.input_tokens if u else 0, "output_tokens": u.output_tokens if u else 0,
            "error": ex.error, "client_gone": ex.client_gone}


def line(s: dict[str, Any]) -> dict[str, Any]:
    status = s["status"]
    level = "error" if status >= 500 else "warn" if status >= 400 else "info"
    when = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(s["ts"] + s["latency_ms"] / 1000))
    msg = f"{s.get('method', 'POST')} {s['path']} -> {status} ({s['latency_ms']:.0f}ms)"
    if s.get("model"):
        msg += f" {s['model']}"
    return {"time": when, "level": level, "message": msg, "id": s["id"]}
