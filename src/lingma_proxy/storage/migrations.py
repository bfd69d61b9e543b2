"""The database schema as an ordered list of numbered steps; ``PRAGMA user_version`` says how far.

Append a step to change the schema, never edit one that shipped: databases in the field have
already run it. Each step runs in its own transaction with the version bump, so a crash leaves
the database at a step boundary and ``migrate`` simply continues.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "requests", """
        CREATE TABLE requests (
            id TEXT PRIMARY KEY,
            ts REAL NOT NULL,              -- unix time the request arrived
            dialect TEXT NOT NULL,
            path TEXT NOT NULL DEFAULT '',
            backend TEXT NOT NULL DEFAULT '',
            client_model TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',  -- the upstream model used
            attempts TEXT NOT NULL DEFAULT '[]',
            stream INTEGER NOT NULL DEFAULT 0,
            status INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            ttfb_ms REAL,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            stop_reason TEXT,
            error TEXT,
            error_kind TEXT,
            client_gone INTEGER NOT NULL DEFAULT 0,
            request_bytes INTEGER NOT NULL DEFAULT 0,
            response_bytes INTEGER NOT NULL DEFAULT 0,
            truncated INTEGER NOT NULL DEFAULT 0,
            -- bodies last: list queries never touch their overflow pages
            request TEXT,
            response TEXT,     -- the JSON answer (non-streaming or error)
            message TEXT,      -- the folded answer (ir.Response as JSON), streams included
            events TEXT        -- a stream as the client received it: [{"event","data"}]
        );
        CREATE INDEX requests_ts ON requests (ts);
        CREATE INDEX requests_model_ts ON requests (model, ts);
    """),
    (2, "usage per model per day", """
        CREATE TABLE usage_daily (
            day TEXT NOT NULL,            -- local date, YYYY-MM-DD
            model TEXT NOT NULL,
            backend TEXT NOT NULL DEFAULT '',
            requests INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, model, backend)
        );
    """),
    (3, "logs", """
        CREATE TABLE logs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            level TEXT NOT NULL,
            logger TEXT NOT NULL,
            message TEXT NOT NULL
        );
        CREATE INDEX logs_ts ON logs (ts);
    """),
)

LATEST = MIGRATIONS[-1][0]


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply the steps this database has not run yet; returns their numbers (empty: a no-op)."""
    applied: list[int] = []
    current = version(conn)
    if current > LATEST:
        raise RuntimeError(f"the recording database is at schema {current}, newer than this "
                           f"lingma-proxy knows ({LATEST}): upgrade lingma-proxy or use another --data-dir")
    for number, _name, sql in MIGRATIONS:
        if number <= current:
            continue
        # executescript would commit on its own; run the statements inside one explicit transaction
        conn.execute("BEGIN IMMEDIATE")
        if version(conn) >= number:  # another process (the CLI, a second server) got here first
            conn.execute("ROLLBACK")
            continue
        try:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


def _statements(sql: str) -> list[str]:
    out: list[str] = []
    for part in sql.split(";"):
        lines = [line.split("--", 1)[0] for line in part.splitlines()]
        text = "\n".join(lines).strip()
        if text:
            out.append(text)
    return out
