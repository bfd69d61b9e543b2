"""The recorder: a relay observer that hands exchanges to one writer thread through a queue.

On the request path it does one append under a lock: nothing costly happens there, and the
request never waits. The writer takes everything queued at once, sanitizes it (``scrub``: a
few C regex passes over each body's bytes, not a walk of its tree) and writes it in one
transaction. The queue is bounded only as a last resort (a stalled disk must not eat the
memory): ``QUEUE_RECORDS`` records or ``QUEUE_BYTES`` of bodies, far above what saturating
the proxy on loopback queues (bench/README.md, "Recording under load"). What does not fit is
counted in ``dropped``, which /health and the console show.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import orjson

from .. import ir
from ..exchange import Exchange
from . import db
from .sanitize import Sanitizer
from .scrub import Scrubber

log = logging.getLogger("lingma_proxy.storage")

Writer = Callable[[sqlite3.Connection, Iterable[Mapping[str, Any]], Iterable[tuple[float, str, str, str]]], None]
LogLine = tuple[float, str, str, str]  # ts, level, logger, message
QUEUE_RECORDS = 50_000
QUEUE_BYTES = 128 * 1024 * 1024
RECORD_OVERHEAD = 2048  # bytes a queued exchange holds besides its bodies (objects, the folded answer)
# Seconds of sanitizing between two hand-backs of the GIL to the event loop: short while the
# writer keeps up (the streams' tail latency), longer as a backlog builds. Every hand-back can
# cost the writer a whole 5 ms switch interval before it runs again on a saturated loop: with a
# 1 ms slice it wrote 160-380 records/s against a thread that never releases the GIL, with 4 ms
# 1,430 (bench/writer_capacity.py).
SLICE_MIN = 0.001
SLICE_MAX = 0.004
SLICE_PER_QUEUED = 0.00001  # 300 records queued: the longest slice
PRUNE_EVERY = 600.0  # seconds between retention passes


class Recorder:
    """``recorder(exchange)`` is the observer; ``close()`` flushes what is queued and stops."""

    def __init__(self, path: Path, *, body_limit: int = 256 * 1024, retention_days: float = 14,
                 retention_mb: int = 512, secrets: Iterable[str | None] = (), queue_size: int = QUEUE_RECORDS,
                 queue_bytes: int = QUEUE_BYTES, write: Writer = db.write_batch) -> None:
        self.path = path
        self.body_limit = body_limit
        self.retention_days = retention_days
        self.retention_mb = retention_mb
        self.sanitizer = Sanitizer(secrets)
        self.scrubber = Scrubber(self.sanitizer)
        self.capacity = queue_size
        self.capacity_bytes = queue_bytes
        self.write = write
        self.dropped = 0
        self.dropped_logs = 0
        self.written = 0
        self.failures = 0
        self.last_error = ""
        self.peak_queued = 0
        self._items: list[Any] = []
        self._bytes = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._stop = False
        self.conn = db.connect(path)  # opened here: a bad data dir fails at start, not later
        self._last_prune = 0.0
        self._thread = threading.Thread(target=self._run, name="lingma-proxy-recorder", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producer side (any thread)

    def __call__(self, exchange: Exchange) -> None:
        size = (RECORD_OVERHEAD + len(exchange.request_body) + exchange.captured_bytes
                + len(exchange.response_body or b""))
        with self._lock:
            if len(self._items) >= self.capacity or self._bytes + size > self.capacity_bytes or self._stop:
                self.dropped += 1
                return
            self._items.append(exchange)
            self._bytes += size
            if len(self._items) > self.peak_queued:
                self.peak_queued = len(self._items)
            if len(self._items) == 1:
                self._ready.notify()

    def log(self, line: LogLine) -> None:
        with self._lock:
            if len(self._items) >= self.capacity or self._stop:
                self.dropped_logs += 1
                return
            self._items.append(line)
            if len(self._items) == 1:
                self._ready.notify()

    def status(self) -> dict[str, Any]:
        return {"enabled": True, "path": str(self.path), "queued": len(self._items),
                "queued_bytes": self._bytes, "peak_queued": self.peak_queued,
                "capacity": self.capacity, "capacity_bytes": self.capacity_bytes,
                "written": self.written, "dropped": self.dropped,
                "dropped_logs": self.dropped_logs, "failures": self.failures, "last_error": self.last_error,
                "body_limit": self.body_limit, "retention_days": self.retention_days,
                "retention_mb": self.retention_mb}

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (within ``timeout``), then stop the thread and close the file."""
        with self._lock:
            self._stop = True
            self._ready.notify()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.conn.close()

    # ------------------------------------------------------------------ the writer thread

    def _take(self) -> tuple[list[Any], bool]:
        """Everything queued (waiting up to a second for something), and whether to stop after it."""
        with self._lock:
            if not self._items and not self._stop:
                self._ready.wait(1.0)
            batch, self._items, self._bytes = self._items, [], 0
            return batch, self._stop

    def _run(self) -> None:
        self._prune()
        while True:
            batch, stop = self._take()
            if batch:
                self._write(batch)
            if stop:
                with self._lock:
                    rest, self._items = self._items, []
                if rest:
                    self._write(rest)
                return
            self._maybe_prune()

    def _write(self, batch: list[Any]) -> None:
        rows: list[dict[str, Any]] = []
        lines: list[LogLine] = []
        clock = time.perf_counter
        began = clock()
        span = min(SLICE_MAX, SLICE_MIN + len(batch) * SLICE_PER_QUEUED)
        for item in batch:
            if isinstance(item, Exchange):
                try:
                    rows.append(self.row(item))
                except Exception:  # one odd exchange must not lose the batch
                    self.failures += 1
                    log.exception("cannot record request %s", item.id)
                # Hand the GIL back to the event loop now and then: sanitizing holds it, and a
                # thread that keeps it for a whole 5 ms switch interval shows up directly in the
                # streams' tail latency. Per record (as before) starved the writer: see SLICE_MIN.
                if clock() - began > span:
                    time.sleep(0)
                    began = clock()
            else:
                lines.append(item)
        if not rows and not lines:
            return
        try:
            self.write(self.conn, rows, lines)
            self.written += len(rows)
        except Exception as exc:  # a full disk or a locked file: count it, keep serving
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("recording %d requests failed: %s", len(rows), self.last_error)

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune >= PRUNE_EVERY:
            self._prune()

    def _prune(self) -> None:
        self._last_prune = time.monotonic()
        try:
            deleted = db.prune(self.conn, now=time.time(), max_age_days=self.retention_days,
                               max_bytes=self.retention_mb * 1024 * 1024)
        except sqlite3.Error as exc:
            log.warning("retention pass failed: %s", exc)
            return
        if any(deleted.values()):
            log.info("retention removed %d old and %d requests over the size limit, %d log lines",
                     deleted["age"], deleted["size"], deleted["logs"])

    # ------------------------------------------------------------------ exchange -> row

    def row(self, ex: Exchange) -> dict[str, Any]:
        s, limit = self.scrubber, self.body_limit
        request, cut1 = s.body(ex.request_body, limit)
        response, cut2 = s.body(ex.response_body, limit)
        message, cut3 = (s.value(response_json(ex.response), limit) if ex.response is not None else (None, False))
        events, cut4 = s.events(ex.stream_chunks, limit) if ex.stream_chunks else (None, False)
        u = ex.usage or (ex.response.usage if ex.response is not None else None) or ir.Usage()
        return {
            "id": ex.id, "ts": ex.started, "dialect": ex.dialect, "path": ex.path, "backend": ex.backend,
            "client_model": ex.client_model, "model": ex.upstream_model,
            "attempts": orjson.dumps(ex.attempts).decode(), "stream": int(ex.stream), "status": ex.status,
            "latency_ms": round(ex.latency_ms, 2),
            "ttfb_ms": None if ex.ttfb_ms is None else round(ex.ttfb_ms, 2),
            "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_input_tokens, "cache_write_tokens": u.cache_creation_input_tokens,
            "stop_reason": ex.stop_reason, "error": self.sanitizer.text(ex.error) if ex.error else None,
            "error_kind": ex.error_kind, "client_gone": int(ex.client_gone),
            "request_bytes": len(ex.request_body),
            "response_bytes": ex.captured_bytes if ex.stream_chunks else len(ex.response_body or b""),
            "truncated": int(cut1 or cut2 or cut3 or cut4),
            "request": request, "response": response, "message": message, "events": events,
        }


def response_json(resp: ir.Response) -> dict[str, Any]:
    """The folded answer as plain JSON: parts tagged with their kind (``text``, ``tool_call`` ...)."""
    return {"id": resp.id, "model": resp.model, "stop_reason": resp.stop_reason,
            "stop_sequence": resp.stop_sequence, "usage": _plain(resp.usage),
            "content": [_part(p) for p in resp.content]}


def _part(p: Any) -> dict[str, Any]:
    name = type(p).__name__.removesuffix("Part")
    kind = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return {"type": kind, **{k: v for k, v in _plain(p).items() if v not in (None, False)}}


def _plain(v: Any) -> Any:
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in fields(v)}
    if isinstance(v, (list, tuple)):
        return [_part(x) if is_dataclass(x) and type(x).__name__.endswith("Part") else _plain(x) for x in v]
    return v
