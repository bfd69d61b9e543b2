"""Read-only queries over the recording, shared by the console, the debug endpoints and the CLI."""

from __future__ import annotations

import math
import sqlite3
import time
from typing import Any

import orjson

from .db import local_day

SUMMARY_COLUMNS = (
    "id", "ts", "dialect", "path", "backend", "client_model", "model", "attempts", "stream", "status",
    "latency_ms", "ttfb_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
    "stop_reason", "error", "error_kind", "client_gone", "request_bytes", "response_bytes", "truncated",
)
_SUMMARY = ", ".join(SUMMARY_COLUMNS)
STATUS_CLASSES = {"2xx": (200, 299), "3xx": (300, 399), "4xx": (400, 499), "5xx": (500, 599), "error": (400, 999)}


def _row(r: sqlite3.Row) -> dict[str, Any]:
    out = dict(r)
    if "attempts" in out:
        try:
            out["attempts"] = orjson.loads(out["attempts"] or "[]")
        except orjson.JSONDecodeError:
            out["attempts"] = []
    for flag in ("stream", "client_gone", "truncated"):
        if flag in out:
            out[flag] = bool(out[flag])
    return out


def list_requests(conn: sqlite3.Connection, *, limit: int = 50, before: float | None = None,
                  model: str | None = None, status: str | None = None, backend: str | None = None,
                  dialect: str | None = None, q: str | None = None,
                  bodies: bool = False) -> list[dict[str, Any]]:
    """Summaries (``bodies``: with request, response and message), newest first. ``before``
    pages on the arrival time."""
    where: list[str] = []
    args: list[Any] = []
    if before is not None:
        where.append("ts < ?")
        args.append(before)
    if model:
        where.append("(model = ? OR client_model = ?)")
        args += [model, model]
    if status:
        lo, hi = STATUS_CLASSES.get(status, (0, 0)) if not status.isdigit() else (int(status), int(status))
        where.append("status BETWEEN ? AND ?")
        args += [lo, hi]
    if backend:
        where.append("backend = ?")
        args.append(backend)
    if dialect:
        where.append("dialect = ?")
        args.append(dialect)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(id LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\' OR model LIKE ? ESCAPE '\\' "
                     "OR client_model LIKE ? ESCAPE '\\' OR coalesce(error, '') LIKE ? ESCAPE '\\')")
        args += [like] * 5
    sql = f"SELECT {_SUMMARY}{', request, response, message' if bodies else ''} FROM requests"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY ts DESC LIMIT ?"
    args.append(max(1, min(int(limit), 1000)))
    return [_row(r) for r in conn.execute(sql, args)]


def get_request(conn: sqlite3.Connection, request_id: str) -> dict[str, Any] | None:
    r = conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
    return None if r is None else _row(r)


def percentiles(values: list[float], points: tuple[int, ...] = (50, 90, 95, 99)) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)
    out = {f"p{p}": s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))] for p in points}
    out["avg"] = sum(s) / len(s)
    out["max"] = s[-1]
    out["min"] = s[0]
    return {k: round(v, 1) for k, v in out.items()}


def overview(conn: sqlite3.Connection, *, now: float | None = None, minutes: int = 60,
             sample: int = 200) -> dict[str, Any]:
    """What the dashboard shows: traffic per minute, latency and TTFB percentiles, today's usage."""
    now = time.time() if now is None else now
    start_minute = int(now // 60) - minutes + 1
    buckets = {start_minute + i: [0, 0] for i in range(minutes)}
    for minute, n, errs in conn.execute(
            "SELECT CAST(ts / 60 AS INTEGER) AS m, count(*), sum(status >= 400) FROM requests "
            "WHERE ts >= ? GROUP BY m", (start_minute * 60,)):
        if minute in buckets:
            buckets[minute] = [n, errs or 0]
    recent = conn.execute("SELECT latency_ms, ttfb_ms, status, ts, id, model FROM requests "
                          "ORDER BY ts DESC LIMIT ?", (sample,)).fetchall()
    ok = [r for r in recent if 200 <= r["status"] < 400]
    today = local_day(now)
    day = conn.execute(
        "SELECT coalesce(sum(requests), 0) AS requests, coalesce(sum(errors), 0) AS errors, "
        "coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens, "
        "coalesce(sum(cache_read_tokens), 0) AS cache_read_tokens FROM usage_daily WHERE day = ?",
        (today,)).fetchone()
    total = conn.execute(
        "SELECT coalesce(sum(requests), 0) AS requests, coalesce(sum(errors), 0) AS errors, "
        "coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens "
        "FROM usage_daily").fetchone()
    return {
        "per_minute": [{"t": m * 60, "requests": v[0], "errors": v[1]} for m, v in sorted(buckets.items())],
        "latency_ms": percentiles([r["latency_ms"] for r in ok]),
        "ttfb_ms": percentiles([r["ttfb_ms"] for r in ok if r["ttfb_ms"] is not None]),
        "sample": len(recent),
        "recent_latency": [{"id": r["id"], "ts": r["ts"], "latency_ms": round(r["latency_ms"], 1),
                            "status": r["status"], "model": r["model"]} for r in reversed(recent[:40])],
        "today": dict(day),
        "all_time": dict(total),
        "usage_by_model": usage(conn, days=7, now=now),
    }


def usage(conn: sqlite3.Connection, *, days: int = 30, now: float | None = None,
          model: str | None = None) -> list[dict[str, Any]]:
    """Token usage per model per day, newest day first."""
    now = time.time() if now is None else now
    since = local_day(now - max(0, days - 1) * 86400)
    sql = ("SELECT day, model, sum(requests) AS requests, sum(errors) AS errors, "
           "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, "
           "sum(cache_read_tokens) AS cache_read_tokens, sum(cache_write_tokens) AS cache_write_tokens "
           "FROM usage_daily WHERE day >= ?")
    args: list[Any] = [since]
    if model:
        sql += " AND model = ?"
        args.append(model)
    sql += " GROUP BY day, model ORDER BY day DESC, input_tokens + output_tokens DESC"
    return [dict(r) for r in conn.execute(sql, args)]


def logs(conn: sqlite3.Connection, *, limit: int = 200, since: float | None = None) -> list[dict[str, Any]]:
    sql = "SELECT seq, ts, level, logger, message FROM logs"
    args: list[Any] = []
    if since is not None:
        sql += " WHERE ts >= ?"
        args.append(since)
    sql += " ORDER BY seq DESC LIMIT ?"
    args.append(max(1, int(limit)))
    return [dict(r) for r in conn.execute(sql, args)]


def counts(conn: sqlite3.Connection) -> dict[str, Any]:
    r = conn.execute("SELECT count(*) AS requests, min(ts) AS oldest, max(ts) AS newest FROM requests").fetchone()
    return dict(r)
