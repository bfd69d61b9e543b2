"""The SQLite file: where it lives, how it is opened, the writes, and retention.

One writer (the recorder's thread) and any number of readers (console, CLI) share the file
through WAL. Connections are opened in autocommit mode; writes group themselves in explicit
transactions so a batch of records costs one fsync.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .migrations import migrate

DB_NAME = "proxy.db"

REQUEST_COLUMNS = (
    "id", "ts", "dialect", "path", "backend", "client_model", "model", "attempts", "stream", "status",
    "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "stop_reason", "error", "error_kind", "client_gone", "request_bytes", "response_bytes", "truncated",
    "request", "response", "message", "events",
)
_ROW = f"({', '.join('?' * len(REQUEST_COLUMNS))})"
# Rows go in as multi-row INSERTs of these sizes (largest first, each statement cached): one
# sqlite3_step per statement instead of one per row. Every step releases and re-takes the GIL,
# and on a saturated event loop taking it back can cost the writer a whole switch interval.
_CHUNKS = (128, 32, 8, 1)
_INSERTS = {n: f"INSERT OR REPLACE INTO requests ({', '.join(REQUEST_COLUMNS)}) VALUES {', '.join([_ROW] * n)}"
            for n in _CHUNKS}
_UPSERT_USAGE = """
    INSERT INTO usage_daily (day, model, backend, requests, errors, input_tokens, output_tokens,
                             cache_read_tokens, cache_write_tokens)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (day, model, backend) DO UPDATE SET
        requests = requests + excluded.requests, errors = errors + excluded.errors,
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens
"""


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/lingma-proxy``, else ``~/.local/share/lingma-proxy``."""
    base = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".local" / "share") / "lingma-proxy"


def db_path(data_dir: str | os.PathLike[str] | None) -> Path:
    return (Path(data_dir).expanduser() if data_dir else default_data_dir()) / DB_NAME


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection with the house pragmas; a writable one also brings the schema up to date."""
    if readonly:
        # "rw" without create: a reader of a WAL database may need to create its -shm file
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None,
                                   check_same_thread=False, timeout=5)
        except sqlite3.OperationalError:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=False, timeout=5)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 5000")
    if not readonly:
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # only takes effect before the first table
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes of the process
        migrate(conn)
        try:
            os.chmod(path, 0o600)  # prompts are private even when sanitized
        except OSError:
            pass
    return conn


def local_day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def write_batch(conn: sqlite3.Connection, requests: Iterable[Mapping[str, Any]],
                logs: Iterable[tuple[float, str, str, str]] = ()) -> None:
    """Insert records, their usage (summed per day, model and backend first) and log lines, in
    one transaction."""
    values: list[Any] = []
    usage: dict[tuple[str, str, str], list[int]] = {}
    days: dict[int, str] = {}
    n = 0
    for r in requests:
        values += [r.get(c) for c in REQUEST_COLUMNS]
        n += 1
        minute = int(r["ts"] // 60)  # local days change on minute boundaries (even half-hour zones)
        day = days.get(minute)
        if day is None:
            day = days[minute] = local_day(r["ts"])
        key = (day, r.get("model") or r.get("client_model") or "-", r.get("backend") or "")
        u = usage.get(key)
        if u is None:
            u = usage[key] = [0, 0, 0, 0, 0, 0]
        u[0] += 1
        u[1] += 1 if r["status"] >= 400 else 0
        u[2] += r["input_tokens"]
        u[3] += r["output_tokens"]
        u[4] += r["cache_read_tokens"]
        u[5] += r["cache_write_tokens"]
    width = len(REQUEST_COLUMNS)
    conn.execute("BEGIN")
    try:
        done = 0
        for size in _CHUNKS:
            while n - done >= size:
                conn.execute(_INSERTS[size], values[done * width:(done + size) * width])
                done += size
        conn.executemany(_UPSERT_USAGE, [(*k, *u) for k, u in usage.items()])
        conn.executemany("INSERT INTO logs (ts, level, logger, message) VALUES (?, ?, ?, ?)", logs)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of live pages: what retention by size measures (free pages are reused)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def prune(conn: sqlite3.Connection, *, now: float, max_age_days: float, max_bytes: int) -> dict[str, int]:
    """Delete what is older than ``max_age_days`` (0 = no limit), then the oldest requests until
    the live data is under ``max_bytes`` (0 = no limit). Daily usage is kept: it is small."""
    deleted = {"age": 0, "size": 0, "logs": 0}
    if max_age_days > 0:
        cutoff = now - max_age_days * 86400
        deleted["age"] = conn.execute("DELETE FROM requests WHERE ts < ?", (cutoff,)).rowcount
        deleted["logs"] = conn.execute("DELETE FROM logs WHERE ts < ?", (cutoff,)).rowcount
    if max_bytes > 0:
        while used_bytes(conn) > max_bytes:
            total = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
            if not total:
                # only logs left: drop the oldest half of them
                n = conn.execute("DELETE FROM logs WHERE seq <= (SELECT (min(seq) + max(seq)) / 2 FROM logs)"
                                 ).rowcount
                deleted["logs"] += n
                if not n:
                    break
                continue
            # a tenth at a time: one pass is cheap and overshoots by little
            n = conn.execute("DELETE FROM requests WHERE id IN (SELECT id FROM requests ORDER BY ts LIMIT ?)",
                             (max(1, total // 10),)).rowcount
            deleted["size"] += n
    if any(deleted.values()):
        conn.execute("PRAGMA incremental_vacuum")
    return deleted
