"""``lingma-proxy requests``, ``stats`` and ``feedback-bundle``: the recording from the terminal.

They read the SQLite file the server writes (``--data-dir``, else the default data directory),
so they work whether or not the proxy is running.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import click

from .options import settings_or_exit

F = Any


def data_options(f: F) -> F:
    """``--data-dir`` and ``--config``: all these commands need (``--model`` means a filter here)."""
    f = click.option("--data-dir", "data_dir", default=None, metavar="DIR",
                     help="where the recording is (default: ~/.local/share/lingma-proxy)")(f)
    return click.option("--config", "config", default=None, metavar="FILE", help="JSON config file")(f)


def _settings(kwargs: dict[str, Any]) -> Any:
    return settings_or_exit({"config": kwargs.pop("config", None), "data_dir": kwargs.pop("data_dir", None)})


def _open(settings: Any) -> sqlite3.Connection:
    from ..storage import db

    path = db.db_path(settings.data_dir)
    if not path.exists():
        raise click.ClickException(f"nothing recorded yet: {path} does not exist "
                                   "(requests are recorded while `lingma-proxy serve` runs with recording on)")
    try:
        return db.connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f} ms" if v < 1000 else f"{v / 1000:.2f} s"


@click.command("requests")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 1000), help="how many")
@click.option("--model", "-m", default=None, help="only this model (asked or used)")
@click.option("--status", default=None, metavar="2xx|4xx|5xx|error|CODE", help="only these statuses")
@click.option("--json", "as_json", is_flag=True, help="print JSON lines instead of a table")
@data_options
def requests_command(limit: int, model: str | None, status: str | None, as_json: bool, **kwargs: Any) -> None:
    """List recorded requests, newest first."""
    from ..storage import queries

    settings = _settings(kwargs)
    conn = _open(settings)
    try:
        rows = queries.list_requests(conn, limit=limit, model=model, status=status)
    finally:
        conn.close()
    if as_json:
        import orjson

        for r in rows:
            click.echo(orjson.dumps(r).decode())
        return
    if not rows:
        click.echo("no recorded requests match")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    for col, just in (("time", "left"), ("id", "left"), ("api", "left"), ("model", "left"), ("status", "right"),
                      ("latency", "right"), ("ttfb", "right"), ("tokens in/out", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        status_text = str(r["status"])
        style = "red" if r["status"] >= 500 else "yellow" if r["status"] >= 400 else "green"
        used = r["model"] if r["model"] and r["model"] != r["client_model"] else ""
        table.add_row(time.strftime("%m-%d %H:%M:%S", time.localtime(r["ts"])), r["id"],
                      r["dialect"].replace("openai_", "").replace("anthropic_", "") + (" ~" if r["stream"] else ""),
                      (r["client_model"] or "-") + (f" → {used}" if used else ""),
                      f"[{style}]{status_text}[/{style}]", _ms(r["latency_ms"]),
                      _ms(r["ttfb_ms"]) if r["stream"] else "-", f"{r['input_tokens']}/{r['output_tokens']}")
    Console().print(table)


@click.command("stats")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 3650), help="days of usage")
@data_options
def stats_command(days: int, **kwargs: Any) -> None:
    """Token usage per model per day, and latency percentiles."""
    from rich.console import Console
    from rich.table import Table

    from ..storage import queries

    settings = _settings(kwargs)
    conn = _open(settings)
    try:
        usage = queries.usage(conn, days=days)
        over = queries.overview(conn)
        counts = queries.counts(conn)
    finally:
        conn.close()
    console = Console()
    lat, ttfb = over["latency_ms"], over["ttfb_ms"]
    since = f" since {time.strftime('%Y-%m-%d %H:%M', time.localtime(counts['oldest']))}" if counts["oldest"] else ""
    console.print(f"[bold]{counts['requests']}[/bold] requests recorded" + since)
    if lat:
        console.print(f"latency   p50 {_ms(lat['p50'])}  p95 {_ms(lat['p95'])}  p99 {_ms(lat['p99'])}"
                      f"  max {_ms(lat['max'])}  (last {over['sample']} requests)")
    if ttfb:
        console.print(f"first byte p50 {_ms(ttfb['p50'])}  p95 {_ms(ttfb['p95'])}")
    if not usage:
        console.print(f"no token usage in the last {days} days")
        return
    table = Table(title=f"token usage, last {days} days", box=None, header_style="bold", title_justify="left")
    for col in ("day", "model", "requests", "errors", "input", "output", "cache read"):
        table.add_column(col, justify="left" if col in ("day", "model") else "right")
    total = [0, 0, 0, 0, 0]
    for u in usage:
        table.add_row(u["day"], u["model"], str(u["requests"]), str(u["errors"] or ""), f"{u['input_tokens']:,}",
                      f"{u['output_tokens']:,}", f"{u['cache_read_tokens']:,}" if u["cache_read_tokens"] else "")
        for i, k in enumerate(("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens")):
            total[i] += u[k] or 0
    table.add_row("[bold]total[/bold]", "", *[f"[bold]{v:,}[/bold]" for v in total])
    console.print(table)


@click.command("feedback-bundle")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="how far back requests and logs go")
@click.option("--note", default="", help="a description of the problem, included as user-note.txt")
@data_options
def feedback_bundle_command(path: Path, hours: float, note: str, **kwargs: Any) -> None:
    """Write a ZIP for a bug report: config (secrets masked), recent sanitized requests and logs,
    versions. Never credentials."""
    from ..storage import bundle, queries

    settings = _settings(kwargs)
    if path.suffix.lower() != ".zip":
        path = path.with_name(path.name + ".zip")
    requests: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    from ..storage import db

    recording: dict[str, Any] = {"path": str(db.db_path(settings.data_dir))}
    if db.db_path(settings.data_dir).exists():
        conn = _open(settings)
        try:
            since = time.time() - hours * 3600
            requests = [r for r in queries.list_requests(conn, limit=200, bodies=True) if r["ts"] >= since]
            logs = queries.logs(conn, limit=2000, since=since)[::-1]
            usage = queries.usage(conn, days=30)
            recording["requests"] = queries.counts(conn)["requests"]
        finally:
            conn.close()
    data = bundle.build(settings, requests=requests, logs=logs, usage=usage, recording=recording, note=note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    click.echo(f"wrote {path} ({len(data) / 1024:.1f} KB: {len(requests)} requests, {len(logs)} log lines; "
               "secrets masked, no credentials)")
