"""The lingma-proxy benchmark: the latency the proxy adds over calling the upstream directly.

    python bench/run.py            # full run (a few minutes), writes bench/results/latest.json
    python bench/run.py --quick    # smoke run (under a minute), writes bench/results/quick.json
    python bench/run.py --profile  # the proxy under cProfile; hot spots in bench/results/profile.txt

Three processes: the zero-latency fake upstream (bench/upstream.py), the proxy
(``lingma-proxy serve --backend openai ...``) and this one (the load generator). Everything
targets 127.0.0.1; every load loop is bounded in count and time. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import os
import platform
import pstats
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load
import procs
import translation
import upstream

console = Console(width=None if sys.stdout.isatty() else 150)

MODES: dict[str, dict[str, Any]] = {
    # levels: concurrency -> (requests per block, warm-up requests per target)
    "full": {"rounds": 7, "levels": {1: (100, 20), 16: (320, 64), 64: (640, 128)},
             "chunk_rounds": 7, "chunk_n": 5, "chunk_warmup": 3,
             "paced_rounds": 5, "paced_n": 32, "block_limit": 60.0, "translation_repeat": 200},
    "quick": {"rounds": 3, "levels": {1: (20, 8), 16: (96, 32), 64: (192, 64)},
              "chunk_rounds": 3, "chunk_n": 3, "chunk_warmup": 2,
              "paced_rounds": 2, "paced_n": 16, "block_limit": 15.0, "translation_repeat": 30},
}
CHUNKS = 1000
CHUNKS_MODEL = upstream.CHUNKS_MODEL  # "...chunks-1000": the upstream streams 1,000 deltas
PACED_MODEL = upstream.PACED_MODEL  # 100 deltas 10 ms apart: streams that overlap like real ones
PACED_CONCURRENCY = 16

# (label, what, limit): p50 targets at concurrency 1 (sequential, what an agent loop feels),
# p99 at 16 concurrent streams.
TARGETS: list[tuple[str, str, float]] = [
    ("Chat -> Chat p50 added (c=1)", "1/chat/added_p50_ms", 1.0),
    ("Chat -> Chat stream p50 added (c=1)", "1/chat_stream/added_p50_ms", 2.0),
    ("Messages -> Chat p50 added (c=1)", "1/messages/added_p50_ms", 2.0),
    ("Messages -> Chat stream p50 added (c=1)", "1/messages_stream/added_p50_ms", 2.0),
    ("Responses -> Chat stream p50 added (c=1)", "1/responses_stream/added_p50_ms", 2.0),
    ("Chat stream p99 added (c=16)", "16/chat_stream/added_p99_ms", 10.0),
    ("Messages stream p99 added (c=16)", "16/messages_stream/added_p99_ms", 10.0),
    ("Responses stream p99 added (c=16)", "16/responses_stream/added_p99_ms", 10.0),
    ("200 KB Claude Code request translated (median)", "translation/total", 2.0),
    ("RSS idle after start (MB)", "rss/idle_mb", 100.0),
]


# ---------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for pkg in ("lingma-proxy", "uvicorn", "starlette", "aiohttp", "orjson", "uvloop", "httptools"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True,
                                text=True, timeout=5, check=False).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent,
                                    capture_output=True, text=True, timeout=5, check=False).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "implementation": platform.python_implementation(), "platform": platform.platform(),
        "packages": versions, "commit": commit + ("+dirty" if dirty else ""),
        "loadavg_start": list(os.getloadavg()),
    }


# ---------------------------------------------------------------------------- the run


def summarize(series: dict[str, load.Series], targets: list[load.Target]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in targets:
        s: dict[str, Any] = dict(series[t.name].summary())
        if t.baseline is not None:
            base = series[t.baseline]
            s["added_p50_ms"] = load.added(series[t.name], base)
            s["added_p99_ms"] = load.added_p99(series[t.name], base)
            if t.stream:
                s["added_ttfb_ms"] = load.added(series[t.name], base, "ttfb")
            s["baseline"] = t.baseline
        out[t.name] = s
    return out


async def drive(urls: dict[str, str], p: dict[str, Any], levels: list[int],
                cpu: Callable[[str], float]) -> dict[str, Any]:
    targets = load.scenario_targets()
    ctargets = load.stream_targets(CHUNKS_MODEL)
    ptargets = load.stream_targets(PACED_MODEL)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        for t in targets:
            await load.validate(s, urls[t.server], t, upstream.REPLY)
        for t in ctargets:
            await load.validate(s, urls[t.server], t, "tok " * CHUNKS)
        for t in ptargets[:2]:
            await load.validate(s, urls[t.server], t, "tok " * 100)
    results: dict[str, Any] = {"scenarios": {}}
    for c in levels:
        n, warm = p["levels"][c]
        t0 = time.monotonic()
        console.print(f"[bold]concurrency {c}[/]: {p['rounds']} rounds x {len(targets)} targets x {n} requests")
        series = await load.run_rounds(urls, targets, c, n, warm, p["rounds"], p["block_limit"], cpu)
        results["scenarios"][str(c)] = summarize(series, targets)
        console.print(f"  done in {time.monotonic() - t0:.1f} s")
    console.print(f"[bold]{CHUNKS}-chunk streams[/]: {p['chunk_rounds']} rounds x {p['chunk_n']} requests")
    series = await load.run_rounds(urls, ctargets, 1, p["chunk_n"], p["chunk_warmup"], p["chunk_rounds"],
                                   p["block_limit"], cpu)
    chunks = summarize(series, ctargets)
    for s in chunks.values():
        if "added_p50_ms" in s:
            s["per_chunk_us"] = round(s["added_p50_ms"] * 1000 / CHUNKS, 3)
            s["cpu_per_chunk_us"] = round(s["server_cpu_us_per_req"] / CHUNKS, 2)
    results["chunks_1000"] = chunks
    console.print(f"[bold]{PACED_CONCURRENCY} concurrent paced streams[/] (100 chunks 10 ms apart): "
                  f"{p['paced_rounds']} rounds x {p['paced_n']} requests")
    series = await load.run_rounds(urls, ptargets, PACED_CONCURRENCY, p["paced_n"], PACED_CONCURRENCY,
                                   p["paced_rounds"], p["block_limit"], cpu)
    results["paced_16"] = summarize(series, ptargets)
    return results


def run_servers(p: dict[str, Any], levels: list[int], logdir: Path,
                profile_to: Path | None = None, command: list[str] | None = None,
                extra: list[str] | None = None) -> dict[str, Any]:
    up, up_url = procs.start_upstream(logdir)
    proxy = None
    try:
        t0 = time.monotonic()
        proxy, proxy_url = procs.start_proxy(up_url, logdir, profile_to, command, extra)
        procs.wait_http(proxy, proxy_url + "/health")
        ready = time.monotonic() - t0
        time.sleep(1.0)
        idle = procs.rss_kb(proxy.pid)
        console.print(f"upstream {up_url} (pid {up.pid}), proxy {proxy_url} (pid {proxy.pid}), "
                      f"ready in {ready:.2f} s, idle RSS {idle['VmRSS'] / 1024:.1f} MB")
        pids = {"upstream": up.pid, "proxy": proxy.pid}

        def cpu(server: str) -> float:
            return procs.cpu_seconds(pids[server])

        ours0 = sum(procs.cpu_seconds(pid) for pid in (up.pid, proxy.pid, os.getpid()))
        busy0, total0 = procs.machine_cpu()
        coro = drive({"upstream": up_url, "proxy": proxy_url}, p, levels, cpu)
        try:
            import uvloop
        except ImportError:
            res = asyncio.run(coro)
        else:
            res = uvloop.run(coro)
        busy1, total1 = procs.machine_cpu()
        ours1 = sum(procs.cpu_seconds(pid) for pid in (up.pid, proxy.pid, os.getpid()))
        # CPU the rest of the machine used while we measured: the noise indicator.
        res["foreign_cpu_share"] = round(max(0.0, (busy1 - busy0) - (ours1 - ours0)) / (total1 - total0), 3)
        time.sleep(1.0)
        after = procs.rss_kb(proxy.pid)
        res["startup"] = {"proxy_ready_s": round(ready, 3)}
        res["rss"] = {
            "idle_mb": round(idle["VmRSS"] / 1024, 1),
            "after_load_mb": round(after["VmRSS"] / 1024, 1),
            "peak_mb": round(after["VmHWM"] / 1024, 1),
            "upstream_mb": round(procs.rss_kb(up.pid)["VmRSS"] / 1024, 1),
        }
        return res
    except Exception:
        for pr in (proxy, up):
            if pr is not None:
                console.print(f"[red]{pr.name} log ({pr.log}):[/]\n{pr.tail()}")
        raise
    finally:
        if proxy is not None:
            proxy.stop()
        up.stop()


# ---------------------------------------------------------------------------- report


def lookup(res: dict[str, Any], path: str) -> float | None:
    parts = path.split("/")
    if parts[0] == "translation":
        return float(res["translation"]["stages"][parts[1]]["median_ms"])
    node: Any = res if parts[0] == "rss" else res["scenarios"]
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node)


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for label, path, limit in TARGETS:
        v = lookup(res, path)
        out.append({"target": label, "limit": limit, "measured": v, "ok": v is not None and v <= limit})
    return out


def f(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def report(res: dict[str, Any]) -> None:
    t = Table(title="Latency added by the proxy (ms; median over rounds of per-round p50 / p99)")
    for col in ("c", "path", "direct p50", "proxy p50", "added p50", "direct p99", "proxy p99",
                "added p99", "added TTFB", "direct req/s", "proxy req/s", "proxy CPU µs/req", "errors"):
        t.add_column(col, justify="right" if col != "path" else "left", no_wrap=col == "path")
    for c, scen in res.get("scenarios", {}).items():
        for name, s in scen.items():
            if name.startswith("direct"):
                continue
            base = scen[s["baseline"]]
            t.add_row(c, name, f(base["p50_ms"], 3), f(s["p50_ms"], 3), f(s["added_p50_ms"], 3),
                      f(base["p99_ms"], 3), f(s["p99_ms"], 3), f(s["added_p99_ms"], 3),
                      f(s.get("added_ttfb_ms"), 3), f(base["rps"], 0), f(s["rps"], 0),
                      f(s["server_cpu_us_per_req"], 0), str(s["errors"] + base["errors"]))
    console.print(t)
    if "chunks_1000" in res:
        t = Table(title=f"{CHUNKS}-chunk stream, sequential (ms)")
        for col in ("path", "direct total", "proxy total", "added", "per chunk (µs)", "proxy CPU per chunk (µs)",
                    "direct TTFB", "proxy TTFB"):
            t.add_column(col, justify="right" if col != "path" else "left", no_wrap=col == "path")
        ch = res["chunks_1000"]
        for name, s in ch.items():
            if name.startswith("direct"):
                continue
            base = ch[s["baseline"]]
            t.add_row(name, f(base["p50_ms"]), f(s["p50_ms"]), f(s["added_p50_ms"]), f(s["per_chunk_us"], 1),
                      f(s["cpu_per_chunk_us"], 1), f(base["ttfb_p50_ms"]), f(s["ttfb_p50_ms"]))
        console.print(t)
    if "paced_16" in res:
        t = Table(title=f"{PACED_CONCURRENCY} concurrent paced streams, 100 chunks 10 ms apart (ms)")
        for col in ("path", "direct p50", "proxy p50", "added p50", "added p99", "added TTFB", "errors"):
            t.add_column(col, justify="right" if col != "path" else "left", no_wrap=col == "path")
        ps = res["paced_16"]
        for name, s in ps.items():
            if name.startswith("direct"):
                continue
            t.add_row(name, f(ps[s["baseline"]]["p50_ms"]), f(s["p50_ms"]), f(s["added_p50_ms"], 3),
                      f(s["added_p99_ms"], 3), f(s["added_ttfb_ms"], 3), str(s["errors"]))
        console.print(t)
    if "translation" in res:
        tr = res["translation"]
        t = Table(title=f"Translating a {tr['request_bytes'] / 1000:.0f} KB Claude Code request "
                        f"(Messages -> Chat, in-process, ms)", min_width=70)
        t.add_column("stage")
        t.add_column("median", justify="right")
        t.add_column("min", justify="right")
        for name, s in tr["stages"].items():
            t.add_row(name, f(s["median_ms"], 3), f(s["min_ms"], 3))
        console.print(t)
    if "rss" in res:
        r = res["rss"]
        console.print(f"proxy RSS: idle {r['idle_mb']} MB, after load {r['after_load_mb']} MB, "
                      f"peak {r['peak_mb']} MB; upstream {r['upstream_mb']} MB; "
                      f"proxy ready in {res['startup']['proxy_ready_s']} s")
        console.print(f"other processes used {res['foreign_cpu_share']:.0%} of the machine's CPU "
                      f"during the load (machine {res['machine']['busy_share_before']:.0%} busy before)")
    t = Table(title="Targets")
    for col in ("target", "limit", "measured", "verdict"):
        t.add_column(col, justify="left" if col == "target" else "right")
    for v in res.get("targets", []):
        t.add_row(v["target"], f(v["limit"], 1), f(v["measured"], 3),
                  "[green]ok[/]" if v["ok"] else "[red]MISSED[/]")
    console.print(t)


def profile_report(prof: Path, out: Path) -> None:
    with open(out, "w") as fh:
        for key in ("tottime", "cumulative"):
            st = pstats.Stats(str(prof), stream=fh)
            st.strip_dirs().sort_stats(key).print_stats(35)
    console.print(f"profile of the proxy written to {out} (raw: {prof})")


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="lingma-proxy benchmark (see bench/README.md)")
    ap.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    ap.add_argument("--profile", action="store_true",
                    help="run the proxy under cProfile (numbers inflated; not saved as results)")
    ap.add_argument("--concurrency", default=None, help="comma-separated subset of 1,16,64")
    ap.add_argument("--out", default=None, help="results JSON (default bench/results/latest.json)")
    ap.add_argument("--proxy-cmd", default=None, metavar="CMD",
                    help="start the proxy with CMD instead of lingma-proxy (A/B experiments); "
                         "`serve --backend openai ...` is appended")
    ap.add_argument("--serve-args", default="", metavar="ARGS",
                    help='extra `serve` flags, e.g. --serve-args=--no-record (default: the default configuration)')
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                    help="wait up to SECONDS for the machine to be under 25%% busy before starting")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    p = MODES[mode]
    levels = sorted(p["levels"]) if args.concurrency is None else [int(x) for x in args.concurrency.split(",")]
    unknown = [c for c in levels if c not in p["levels"]]
    if unknown:
        ap.error(f"--concurrency must be among {sorted(p['levels'])}")
    results_dir = HERE / "results"
    results_dir.mkdir(exist_ok=True)
    logdir = Path(tempfile.mkdtemp(prefix="lingma-bench-"))
    started = time.monotonic()
    res: dict[str, Any] = {"mode": mode, "profiled": args.profile, "machine": machine(),
                           "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                           "params": {**p, "levels": {str(k): v for k, v in p["levels"].items()}},
                           "client": "aiohttp, one process (uvloop), separate from proxy and upstream"}
    deadline = time.monotonic() + args.wait_quiet
    while True:
        busy = procs.busy_share(1.0)
        if busy <= 0.25 or time.monotonic() >= deadline:
            break
        console.print(f"machine {busy:.0%} busy: waiting for a quieter moment")
    res["machine"]["busy_share_before"] = round(busy, 3)
    if busy > 0.25:
        console.print(f"[yellow]warning: other processes keep the machine {busy:.0%} busy; "
                      f"expect noisy numbers[/]")
    if not args.profile:
        console.print("[bold]translation[/] (in-process, before the servers start)")
        res["translation"] = translation.measure(p["translation_repeat"])
    prof = results_dir / "proxy.prof" if args.profile else None
    command = shlex.split(args.proxy_cmd) if args.proxy_cmd else None
    if command and os.path.exists(command[0]):
        command[0] = os.path.abspath(command[0])  # the proxy runs in a scratch directory
    extra = shlex.split(args.serve_args)
    res["proxy_command"] = " ".join(command or procs.proxy_command())
    res["serve_args"] = extra
    res.update(run_servers(p, levels, logdir, prof, command, extra))
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    res["duration_s"] = round(time.monotonic() - started, 1)
    if not args.profile:
        res["targets"] = verdicts(res)
    report(res)
    if prof is not None:
        profile_report(prof, results_dir / "profile.txt")
        return 0
    out = Path(args.out) if args.out else results_dir / ("latest.json" if mode == "full" else "quick.json")
    out.write_bytes(orjson.dumps(res, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    console.print(f"results written to {out} in {res['duration_s']} s (server logs in {logdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
