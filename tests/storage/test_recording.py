"""The recorder and its database: sanitizing, migrations, retention, usage, and never blocking."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from lingma_proxy import ir
from lingma_proxy.exchange import Exchange
from lingma_proxy.storage import db, migrations, queries
from lingma_proxy.storage.recorder import Recorder, response_json
from lingma_proxy.storage.sanitize import REDACTED, Sanitizer

KEY = "sk-proj-Zx81kLmQ0987aaBBccDDeeFF"
ADMIN = "admin-key-7f3a9c1e"
IMAGE = "iVBORw0KGgo" + "A" * 40_000


# ----------------------------------------------------------------------------- sanitizing


@pytest.mark.parametrize("value,expected", [
    ({"api_key": "abc123456", "x-api-key": "k", "Authorization": "Bearer abcdefghijkl"},
     {"api_key": REDACTED, "x-api-key": REDACTED, "Authorization": REDACTED}),
    ({"refresh_token": "r", "client_secret": "s", "max_tokens": 100, "input_tokens": 5},
     {"refresh_token": REDACTED, "client_secret": REDACTED, "max_tokens": 100, "input_tokens": 5}),
    ({"content": f"my key is {KEY} ok"}, {"content": f"my key is {REDACTED} ok"}),
    ({"content": "curl -H 'Authorization: Bearer abcdef123456789'"},
     {"content": f"curl -H 'Authorization: Bearer {REDACTED}'"}),
    ({"content": "export API_KEY=hunter2hunter2"}, {"content": f"export API_KEY={REDACTED}"}),
    ({"content": f"the admin key is {ADMIN}"}, {"content": f"the admin key is {REDACTED}"}),
    ({"url": "data:image/png;base64," + "A" * 3000}, {"url": "[image/png data URL, 2.9 KB]"}),
    ({"type": "base64", "media_type": "image/jpeg", "data": "/9j/" + "B" * 5000},
     {"type": "base64", "media_type": "image/jpeg", "data": "[image/jpeg base64, 4.9 KB]"}),
    ({"type": "base64", "media_type": "image/png", "data": "iVBOR"},
     {"type": "base64", "media_type": "image/png", "data": "[image/png base64, 5 B]"}),
    ({"blob": "QUJD" * 600}, {"blob": "[base64 data, 2.3 KB]"}),
    ({"text": "plain words " * 10}, {"text": "plain words " * 10}),
])
def test_sanitize_values(value: Any, expected: Any) -> None:
    assert Sanitizer([ADMIN]).value(value) == expected


def test_bodies_are_capped_and_non_json_is_redacted_text() -> None:
    s = Sanitizer()
    text, cut = s.body(orjson.dumps({"content": "word " * 1000}), 1024)
    assert cut and len(text) < 1100 and text.endswith("in total]")
    text, cut = s.body(f"not json {KEY}".encode(), 1024)
    assert (text, cut) == (f"not json {REDACTED}", False)
    assert s.body(None, 10) == (None, False)


def test_stream_events_are_split_and_sanitized() -> None:
    chunks = [b'event: message_start\ndata: {"type":"message_start","api_key":"zzz"}\n\n',
              b"data: " + orjson.dumps({"delta": f"leak {KEY}"}) + b"\n\ndata: [DONE]\n\n"]
    text, cut = Sanitizer().events(chunks, 10_000)
    assert not cut
    assert orjson.loads(text) == [
        {"event": "message_start", "data": {"type": "message_start", "api_key": REDACTED}},
        {"data": {"delta": f"leak {REDACTED}"}},
        {"data": "[DONE]"},
    ]


# ----------------------------------------------------------------------------- migrations


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_migrations_applied_twice_are_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "proxy.db"
    conn = db.connect(path)
    assert migrations.version(conn) == migrations.LATEST
    before = [tuple(r) for r in _schema(conn)]
    db.write_batch(conn, [row("a", time.time())])
    assert migrations.migrate(conn) == []  # a second pass applies nothing
    conn.close()
    conn = db.connect(path)  # and a second open neither
    assert [tuple(r) for r in _schema(conn)] == before
    assert migrations.version(conn) == migrations.LATEST
    assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_resumes_from_a_partial_database(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    conn.execute("BEGIN")  # a database that stopped after step 1
    for stmt in migrations._statements(migrations.MIGRATIONS[0][2]):
        conn.execute(stmt)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    assert migrations.migrate(conn) == [n for n, _, _ in migrations.MIGRATIONS[1:]]
    assert migrations.migrate(conn) == []


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.db", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    with pytest.raises(RuntimeError, match="newer than this"):
        migrations.migrate(conn)


# ----------------------------------------------------------------------------- writes, usage, retention


def row(rid: str, ts: float, *, model: str = "m1", status: int = 200, body: str = "{}",
        tokens: tuple[int, int] = (10, 5)) -> dict[str, Any]:
    return {"id": rid, "ts": ts, "dialect": "openai_chat", "path": "/v1/chat/completions", "backend": "b",
            "client_model": "gpt", "model": model, "attempts": "[]", "stream": 0, "status": status,
            "latency_ms": 12.0, "ttfb_ms": None, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "cache_read_tokens": 0, "cache_write_tokens": 0, "client_gone": 0, "request_bytes": 2,
            "response_bytes": 2, "truncated": 0, "request": body, "response": None, "message": None,
            "events": None}


def test_usage_per_model_per_day_and_queries(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "proxy.db")
    now = time.time()
    db.write_batch(conn, [row("a", now, tokens=(100, 10)), row("b", now, tokens=(50, 5)),
                          row("c", now, model="m2", status=502, tokens=(0, 0)),
                          row("d", now - 86400, tokens=(7, 1))])
    usage = queries.usage(conn, days=2, now=now)
    today, yesterday = db.local_day(now), db.local_day(now - 86400)
    assert [(u["day"], u["model"], u["requests"], u["errors"], u["input_tokens"], u["output_tokens"]) for u in usage] == [
        (today, "m1", 2, 0, 150, 15), (today, "m2", 1, 1, 0, 0), (yesterday, "m1", 1, 0, 7, 1)]
    assert {r["id"] for r in queries.list_requests(conn, limit=3)} == {"a", "b", "c"}  # newest first
    assert [r["id"] for r in queries.list_requests(conn, status="5xx")] == ["c"]
    assert [r["id"] for r in queries.list_requests(conn, model="m2")] == ["c"]
    assert [r["id"] for r in queries.list_requests(conn, before=now - 1)] == ["d"]
    over = queries.overview(conn, now=now)
    assert over["today"]["requests"] == 3 and over["today"]["input_tokens"] == 150
    assert sum(p["requests"] for p in over["per_minute"]) == 3
    assert over["latency_ms"]["p50"] == 12.0


def test_retention_by_age_keeps_daily_usage(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "proxy.db")
    now = time.time()
    db.write_batch(conn, [row("old", now - 20 * 86400), row("new", now)],
                   [(now - 20 * 86400, "info", "x", "old line"), (now, "info", "x", "new line")])
    deleted = db.prune(conn, now=now, max_age_days=14, max_bytes=0)
    assert deleted == {"age": 1, "size": 0, "logs": 1}
    assert [r["id"] for r in queries.list_requests(conn)] == ["new"]
    assert [x["message"] for x in queries.logs(conn)] == ["new line"]
    assert conn.execute("SELECT sum(requests) FROM usage_daily").fetchone()[0] == 2
    assert db.prune(conn, now=now, max_age_days=0, max_bytes=0) == {"age": 0, "size": 0, "logs": 0}


def test_retention_by_size_deletes_the_oldest_first(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "proxy.db")
    now = time.time()
    body = orjson.dumps({"content": "x" * 20_000}).decode()
    db.write_batch(conn, [row(f"r{i:03d}", now - 1000 + i, body=body) for i in range(100)])
    assert db.used_bytes(conn) > 1_500_000
    deleted = db.prune(conn, now=now, max_age_days=0, max_bytes=500_000)
    assert deleted["size"] > 0 and db.used_bytes(conn) <= 500_000
    left = [r["id"] for r in queries.list_requests(conn, limit=1000)]
    assert left and left == [f"r{i:03d}" for i in range(99, 99 - len(left), -1)]  # the newest stayed
    size_before_vacuum = (tmp_path / "proxy.db").stat().st_size
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert (tmp_path / "proxy.db").stat().st_size <= size_before_vacuum


# ----------------------------------------------------------------------------- the recorder


def exchange(rid: str, **kw: Any) -> Exchange:
    ex = Exchange(id=rid, started=time.time(), dialect="openai_chat", path="/v1/chat/completions",
                  client_model="gpt-5.5", backend="b", upstream_model="m1", status=200, latency_ms=3.0,
                  request_body=orjson.dumps({"model": "gpt-5.5", "api_key": KEY,
                                             "messages": [{"role": "user", "content": f"key {KEY}"}]}))
    for k, v in kw.items():
        setattr(ex, k, v)
    return ex


def test_recorder_writes_sanitized_rows_with_the_folded_message(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "proxy.db", secrets=[ADMIN])
    resp = ir.Response("r1", "m1", (ir.ThinkingPart("hmm"), ir.TextPart(f"the key {ADMIN}"),
                                     ir.ToolCallPart("c1", "Read", '{"p":1}')), "tool_use", None, ir.Usage(9, 4))
    rec(exchange("x1", response=resp, usage=resp.usage, stream=True,
                 stream_chunks=[b'data: {"choices":[]}\n\n', b"data: [DONE]\n\n"], captured_bytes=40))
    rec.close()
    conn = db.connect(tmp_path / "proxy.db", readonly=True)
    r = queries.get_request(conn, "x1")
    assert r is not None and r["input_tokens"] == 9 and r["output_tokens"] == 4 and r["stream"] is True
    assert orjson.loads(r["request"])["api_key"] == REDACTED
    message = orjson.loads(r["message"])
    assert [p["type"] for p in message["content"]] == ["thinking", "text", "tool_call"]
    assert message["content"][1]["text"] == f"the key {REDACTED}"
    assert orjson.loads(r["events"]) == [{"data": {"choices": []}}, {"data": "[DONE]"}]
    assert response_json(resp)["content"][2] == {"type": "tool_call", "id": "c1", "name": "Read",
                                                 "arguments": '{"p":1}', "kind": "function"}
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert KEY.encode() not in raw and ADMIN.encode() not in raw


class StalledWriter:
    """A write function that blocks until released: the disk hangs."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.batches: list[int] = []

    def __call__(self, conn: Any, rows: Any, logs: Any) -> None:
        self.entered.set()
        self.release.wait(30)
        rows = list(rows)
        self.batches.append(len(rows))
        db.write_batch(conn, rows, logs)


def test_a_stalled_writer_never_blocks_the_observer_and_drops_are_counted(tmp_path: Path) -> None:
    writer = StalledWriter()
    rec = Recorder(tmp_path / "proxy.db", queue_size=8, write=writer)
    rec(exchange("first"))
    assert writer.entered.wait(5)  # the writer holds "first" and is stuck
    t0 = time.perf_counter()
    for i in range(200):
        rec(exchange(f"r{i}"))
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5, f"200 observer calls took {elapsed:.3f}s with the writer stalled"
    assert rec.dropped == 200 - 8 and rec.status()["queued"] == 8
    writer.release.set()
    rec.close()
    conn = db.connect(tmp_path / "proxy.db", readonly=True)
    assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 9
