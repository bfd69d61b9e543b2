"""``lingma-proxy trace replay FILE``: send a traced request to the current backend again and
measure it; ``trace replay compare``: the kept results side by side.

Replays run in-process: the backend the usual settings describe (flags, environment, config
file) is built and asked directly, after the relay's own routing and request preparation, so
the numbers are the backend's (no HTTP hop through a proxy) and no proxy needs to be running.
Measured on the IR events: time to first token (the first text, thinking or tool-call
output), generation time (first token to the end), total, output tokens as the upstream
reported them (estimated from characters only when it reports none, and marked so) and
output tokens per second over the generation time. Results are kept as JSON in
``<data_dir>/replays/``, one file per run, so runs against other backends, models or
settings compare later.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from .. import errors, ir
from ..features import tokens
from . import trace_analysis as ta
from .options import pop_settings_flags, settings_options, settings_or_exit

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_OUTPUT = (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)


class _DefaultRun(click.Group):
    """``replay FILE`` means ``replay run FILE``; ``replay compare`` is the other command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultRun)
def replay() -> None:
    """Replay a trace against the current backend (`replay FILE`), or compare runs (`replay compare`)."""


def _replays_dir(settings_data_dir: str) -> Path:
    from ..storage.traces import data_root

    return (Path(settings_data_dir).expanduser() if settings_data_dir else data_root()) / "replays"


async def measure(settings: Any, trace: dict[str, Any], max_tokens: int | None = None) -> dict[str, Any]:
    """Send the traced request through the configured backend once; the measurements."""
    from ..backends import registry
    from ..relay import Relay
    from ..relay.transforms import plan_transforms
    from ..server.core import relay_options

    req = replace(ta.parse(trace), stream=True)
    if max_tokens:
        req = replace(req, max_tokens=max_tokens)
    built = registry.build(settings)
    if not built.backends and settings.backend == "auto":
        built = await registry.detect_auto(settings)
    relay = Relay(built.backends, relay_options(settings, built))
    result: dict[str, Any] = {"backend": "", "model": req.model, "ok": False, "error": None}
    t0 = time.perf_counter()
    first: float | None = None
    usage: ir.Usage | None = None
    out_chars = 0
    acc = ir.Accumulator()
    try:
        backend, upstream_model = await relay.route(req.model)
        ureq = relay.prepare(req, backend, upstream_model)
        _, ureq = plan_transforms(req, ureq, backend, relay.options.tool_mode)
        result["backend"], result["model"] = backend.name, ureq.model
        t0 = time.perf_counter()
        async for ev in backend.stream(ureq):
            if first is None and (isinstance(ev, _OUTPUT)
                                  or (isinstance(ev, ir.BlockStart) and ev.kind == "tool_call")):
                first = time.perf_counter()
            if isinstance(ev, (ir.TextDelta, ir.ThinkingDelta)):
                out_chars += len(ev.text)
            elif isinstance(ev, ir.ToolArgsDelta):
                out_chars += len(ev.fragment)
            elif isinstance(ev, ir.MessageDelta):
                usage = ev.usage
            acc.feed(ev)
        result["ok"] = True
    except errors.ProxyError as exc:
        result["error"] = exc.message
    finally:
        for b in built.backends.values():
            await b.aclose()
    end = time.perf_counter()
    resp = acc.response()
    out_tokens = usage.output_tokens if usage is not None else 0
    result["output_source"] = "usage" if out_tokens else "estimate"
    if not out_tokens and out_chars:
        out_tokens = max(1, round(out_chars / tokens.ASCII_CHARS_PER_TOKEN))
    gen = (end - first) if first is not None else 0.0
    result.update({
        "ttft_ms": round((first - t0) * 1000, 1) if first is not None else None,
        "generation_ms": round(gen * 1000, 1),
        "total_ms": round((end - t0) * 1000, 1),
        "input_tokens": usage.total_input_tokens if usage is not None else None,
        "estimated_input_tokens": tokens.estimate_request(req),
        "output_tokens": out_tokens,
        "tokens_per_s": round(out_tokens / gen, 2) if gen > 0 and out_tokens else None,
        "stop_reason": resp.stop_reason if result["ok"] else None,
        "text": resp.text()[:500],
        "tool_calls": [c.name for c in resp.tool_calls()],
    })
    return result


def _fmt_ms(v: Any) -> str:
    return f"{v / 1000:.2f} s" if isinstance(v, (int, float)) else "-"


def _console() -> Console:
    return Console(width=None if os.isatty(1) else 120, highlight=False)


@replay.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--runs", default=1, show_default=True, help="how many times to send it")
@click.option("--max-tokens", "max_tokens_cap", type=int, default=None, help="cap the answer (default: as traced)")
@settings_options
def run(file: str, runs: int, max_tokens_cap: int | None, **kwargs: Any) -> None:
    """Send FILE's request to the current backend and measure it (use --backend and friends)."""
    settings = settings_or_exit(pop_settings_flags(kwargs))
    try:
        trace = ta.load(file)
        ta.parse(trace)
    except ta.TraceError as exc:
        raise click.ClickException(str(exc)) from None
    out_dir = _replays_dir(settings.data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = _table(f"replay of {Path(file).name}")
    failed = 0
    for _ in range(max(1, runs)):
        result = asyncio.run(measure(settings, trace, max_tokens_cap))
        result = {"version": 1, "trace": str(Path(file).resolve()), "trace_id": trace.get("id"),
                  "timestamp": datetime.now().astimezone().isoformat(timespec="seconds"), **result}
        name = "-".join(_SAFE.sub("_", str(x)) for x in (
            datetime.now().strftime("%Y%m%dT%H%M%S%f"), Path(file).stem, result["backend"], result["model"]))
        path = out_dir / f"{name}.json"
        path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        _row(table, result)
        failed += not result["ok"]
        if not result["ok"]:
            click.echo(f"replay failed: {result['error']}", err=True)
    _console().print(table)
    click.echo(f"results kept in {out_dir} (compare them: lingma-proxy trace replay compare)")
    if failed:
        raise SystemExit(1)


def _table(title: str) -> Table:
    table = Table(title=title)
    for col in ("when", "trace", "backend", "model", "ok", "first token", "generation", "total", "out tokens",
                "tok/s"):
        table.add_column(col, justify="left" if col in ("when", "trace", "backend", "model", "ok") else "right")
    return table


def _row(table: Table, r: dict[str, Any]) -> None:
    out = r.get("output_tokens")
    out_text = "-" if not isinstance(out, int) else f"{out:,}" + ("~" if r.get("output_source") == "estimate" else "")
    tps = r.get("tokens_per_s")
    table.add_row(str(r.get("timestamp", ""))[:19], Path(str(r.get("trace", ""))).stem[:28], str(r.get("backend")),
                  str(r.get("model")), "yes" if r.get("ok") else "NO", _fmt_ms(r.get("ttft_ms")),
                  _fmt_ms(r.get("generation_ms")), _fmt_ms(r.get("total_ms")), out_text,
                  f"{tps:.1f}" if isinstance(tps, (int, float)) else "-")


@replay.command("compare")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--data-dir", "data_dir", envvar="LINGMA_PROXY_DATA_DIR", default=None, metavar="DIR",
              help="data directory (default: ~/.lingma-proxy)")
def compare_runs(paths: tuple[str, ...], data_dir: str | None) -> None:
    """Kept replay results side by side (default: every result in <data_dir>/replays)."""
    files: list[Path] = []
    for p in map(Path, paths or (str(_replays_dir(data_dir or "")),)):
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    results = []
    for f in files:
        try:
            r = orjson.loads(f.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            click.echo(f"skipping {f}: not a replay result", err=True)
            continue
        if isinstance(r, dict) and "total_ms" in r:
            results.append(r)
    if not results:
        raise click.ClickException("no replay results: run `lingma-proxy trace replay FILE` first")
    table = _table("replay results")
    for r in sorted(results, key=lambda r: str(r.get("timestamp", ""))):
        _row(table, r)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        if r.get("ok"):
            groups.setdefault((str(r.get("backend")), str(r.get("model"))), []).append(r)
    if groups:
        table.add_section()
        for (backend, model), rs in sorted(groups.items()):
            table.add_row("average", f"{len(rs)} runs", backend, model, "",
                          _fmt_ms(_avg(rs, "ttft_ms")), _fmt_ms(_avg(rs, "generation_ms")),
                          _fmt_ms(_avg(rs, "total_ms")), f"{_avg(rs, 'output_tokens') or 0:,.0f}",
                          f"{_avg(rs, 'tokens_per_s') or 0:.1f}")
    _console().print(table)
    failures = [r for r in results if not r.get("ok")]
    for r in failures:
        click.echo(f"failed: {Path(str(r.get('trace'))).name} on {r.get('backend')}/{r.get('model')}: {r.get('error')}")


def _avg(rs: list[dict[str, Any]], key: str) -> float | None:
    vals = [v for r in rs if isinstance(v := r.get(key), (int, float))]
    return sum(vals) / len(vals) if vals else None
