"""Recording under load: records written to SQLite vs requests the clients sent.

    python bench/recording.py                       # c=16 and c=64, 25 s each
    python bench/recording.py --concurrency 64 --seconds 20
    python bench/recording.py --compare /tmp/e-before/src    # A/B: that source tree's proxy and
                                                             # this one, alternated per level

Starts the benchmark upstream and ``lingma-proxy serve`` with its default configuration
(recording on, scratch ``HOME``), then ``c`` closed-loop clients send a mix of streaming
(Chat, Messages, Responses) and non-streaming (Chat) requests for a bounded time. Afterwards it
waits until the database stops growing (at most ``--drain`` s), stops the proxy gracefully
(SIGINT: the recorder flushes what is queued) and counts the rows. ``lost`` = answered
requests that have no row. That figure does not depend on how busy the machine is; the
request rate does. Everything listens on and targets 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sqlite3
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
import procs  # noqa: E402

# three streams for every non-streaming request: the saturating mix the issue describes
MIX = ("chat_stream", "messages_stream", "responses_stream", "chat")


def targets() -> list[load.Target]:
    by_name = {t.name: t for t in load.scenario_targets()}
    return [by_name[n] for n in MIX]


async def drive(url: str, concurrency: int, seconds: float) -> dict[str, int]:
    """``concurrency`` workers, each cycling through the mix until the time is up."""
    sent = answered = failed = 0
    deadline = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=60),
                                     auto_decompress=False) as session:

        async def worker(k: int) -> None:
            nonlocal sent, answered, failed
            cycle = itertools.cycle(targets()[k % len(MIX):] + targets()[:k % len(MIX)])
            while time.perf_counter() < deadline:
                t = next(cycle)
                sent += 1
                try:
                    async with session.post(url + t.path, data=t.body, headers=t.headers) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                if ok:
                    answered += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return {"sent": sent, "answered": answered, "failed": failed}


def rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def health(url: str) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + "/health", timeout=5) as resp:
            return dict(orjson.loads(resp.read()))
    except Exception as exc:  # noqa: BLE001 - an older proxy answers 503 without the field
        body = getattr(exc, "read", None)
        try:
            return dict(orjson.loads(body())) if body else {}
        except Exception:  # noqa: BLE001
            return {}


def one_level(concurrency: int, seconds: float, drain: float, logdir: Path,
              pythonpath: str | None = None) -> dict[str, Any]:
    up, up_url = procs.start_upstream(logdir)
    proxy = None
    saved = os.environ.get("PYTHONPATH")
    try:
        if pythonpath is not None:  # the proxy process imports lingma_proxy from there
            os.environ["PYTHONPATH"] = pythonpath
        try:
            proxy, url = procs.start_proxy(up_url, logdir)
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
        procs.wait_http(proxy, url + "/health")
        db = logdir / "home" / ".local" / "share" / "lingma-proxy" / "proxy.db"
        before = rows(db)
        busy0, total0 = procs.machine_cpu()
        cpu0 = procs.cpu_seconds(proxy.pid)
        t0 = time.perf_counter()
        counts = asyncio.run(drive(url, concurrency, seconds))
        wall = time.perf_counter() - t0
        cpu1 = procs.cpu_seconds(proxy.pid)
        busy1, total1 = procs.machine_cpu()
        at_end = rows(db) - before
        # the writer catches up after the load: wait until the file stops growing
        last, still, t_drain = at_end, 0.0, time.perf_counter()
        while time.perf_counter() - t_drain < drain and still < 1.5:
            time.sleep(0.25)
            now = rows(db) - before
            still = still + 0.25 if now == last else 0.0
            last = now
        rec = health(url).get("recording", {})
        proxy.stop()
        proxy = None
        written = rows(db) - before
        return {
            "concurrency": concurrency, "seconds": round(wall, 1), **counts,
            "req_per_s": round(counts["sent"] / wall), "written_at_end_of_load": at_end,
            # the proxy's CPU (all threads: the writer's share included) per request during the load
            "proxy_cpu_us_per_req": round((cpu1 - cpu0) / max(1, counts["sent"]) * 1e6),
            "written": written, "lost": counts["sent"] - written,
            "health_dropped": rec.get("dropped"), "peak_queued": rec.get("peak_queued"),
            "machine_busy": round((busy1 - busy0) / (total1 - total0), 2),
        }
    finally:
        if proxy is not None:
            proxy.stop()
        up.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="records written vs requests sent (see bench/README.md)")
    ap.add_argument("--concurrency", default="16,64", help="comma-separated levels")
    ap.add_argument("--seconds", type=float, default=25.0, help="load time per level")
    ap.add_argument("--drain", type=float, default=60.0, help="max seconds to wait for the writer afterwards")
    ap.add_argument("--compare", default=None, metavar="SRC",
                    help="also run the proxy of another source tree (its src/ folder), alternated per level")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="first wait (up to SECONDS) for the machine to be under 25%% busy")
    ap.add_argument("--out", default=None, help="results JSON (default: print only)")
    args = ap.parse_args(argv)
    deadline = time.monotonic() + args.wait_quiet
    while True:
        busy = procs.busy_share(1.0)
        if busy <= 0.25 or time.monotonic() >= deadline:
            break
    print(f"machine {busy:.0%} busy before the run", flush=True)
    variants: list[tuple[str, str | None]] = [("this", None)]
    if args.compare:
        variants.insert(0, ("compare", str(Path(args.compare).resolve())))
    results = []
    for c in (int(x) for x in args.concurrency.split(",")):
        for label, src in variants:
            with tempfile.TemporaryDirectory(prefix="lingma-rec-bench-") as tmp:
                res = {"proxy": label if src is None else f"{label} ({src})",
                       **one_level(c, args.seconds, args.drain, Path(tmp), src)}
            results.append(res)
            print(orjson.dumps(res).decode(), flush=True)
    if args.out:
        Path(args.out).write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
