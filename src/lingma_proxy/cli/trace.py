"""``lingma-proxy trace``: list, analyze and compare trace files; replay them (trace_replay.py).

Traces live in ``<data_dir>/traces/<backend>/`` (``~/.lingma-proxy`` unless ``--data-dir`` /
``LINGMA_PROXY_DATA_DIR`` says otherwise); see docs/claude-code.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from . import trace_analysis as ta
from .trace_replay import replay

_DATA_DIR = click.option("--data-dir", "data_dir", envvar="LINGMA_PROXY_DATA_DIR", default=None, metavar="DIR",
                         help="data directory (default: ~/.lingma-proxy)")


def console() -> Console:
    # Wide enough for the tables when output is not a terminal (pipes, tests).
    return Console(width=None if os.isatty(1) else 120, highlight=False)


def traces_dir(data_dir: str | None) -> Path:
    from ..storage.traces import data_root

    return (Path(data_dir).expanduser() if data_dir else data_root()) / "traces"


def trace_files(paths: tuple[str, ...] | list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.rglob("*.json")) if p.is_dir() else [p]
    return out


def _load_or_exit(path: str | Path) -> dict[str, Any]:
    try:
        return ta.load(path)
    except ta.TraceError as exc:
        raise click.ClickException(str(exc)) from None


def _ms(v: Any) -> str:
    return f"{v / 1000:.2f} s" if isinstance(v, (int, float)) else "-"


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else "-"


@click.group()
def trace() -> None:
    """Inspect request traces: list, analyze, compare, replay."""


trace.add_command(replay)


@trace.command("list")
@click.option("--backend", "backend", default=None, help="only this backend's traces")
@click.option("-n", "limit", default=20, show_default=True, help="how many, newest first")
@_DATA_DIR
def list_traces(backend: str | None, limit: int, data_dir: str | None) -> None:
    """The newest traces, one line each."""
    root = traces_dir(data_dir)
    folders = [root / backend] if backend else sorted(p for p in root.glob("*") if p.is_dir())
    files = sorted((f for d in folders for f in d.glob("*.json")), key=lambda f: f.name, reverse=True)
    if not files:
        click.echo(f"no traces in {root}" + (f"/{backend}" if backend else ""))
        return
    table = Table(title=f"traces in {root}")
    for col in ("file", "backend", "model", "status", "in", "out", "latency"):
        table.add_column(col, justify="right" if col in ("in", "out", "latency", "status") else "left")
    for f in files[:limit]:
        try:
            t = ta.load(f)
        except ta.TraceError:
            table.add_row(f.name, f.parent.name, "(unreadable)", "", "", "", "")
            continue
        model = (t.get("model") or {}).get("client", "")
        table.add_row(f.name, str(t.get("backend", "")), str(model), str((t.get("response") or {}).get("status", "")),
                      _n(ta.actual_input(t)), _n(ta.output_tokens(t)), _ms((t.get("timing") or {}).get("latency_ms")))
    console().print(table)


@trace.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-v", "--verbose", is_flag=True, help="every tool and message, and the system prompt's start")
def analyze(file: str, verbose: bool) -> None:
    """Token breakdown of a traced request: system prompt, tools (per tool), messages."""
    t = _load_or_exit(file)
    try:
        req = ta.parse(t)
    except ta.TraceError as exc:
        raise click.ClickException(str(exc)) from None
    b = ta.breakdown(req)
    out = console()
    timing = t.get("timing") or {}
    when = t.get("timestamp", "")
    out.print(f"[bold]{Path(file).name}[/]  {when}  backend {t.get('backend', '?')}  "
              f"model {req.model}  {'stream' if req.stream else 'non-stream'}  "
              f"status {(t.get('response') or {}).get('status', '?')}  "
              f"{'tool call' if ta.made_tool_call(t) else 'text'} answer  "
              f"latency {_ms(timing.get('latency_ms'))}, first byte {_ms(timing.get('ttfb_ms'))}")

    table = Table(title="Token breakdown (estimated offline)")
    table.add_column("section")
    table.add_column("tokens", justify="right")
    table.add_column("share", justify="right")
    table.add_row("System prompt", _n(b.system), f"{b.share(b.system):.1f}%")
    table.add_row(f"Tool definitions ({len(b.per_tool)})", _n(b.tools), f"{b.share(b.tools):.1f}%")
    table.add_row(f"Messages ({len(b.per_message)})", _n(b.messages), f"{b.share(b.messages):.1f}%")
    for kind, n in sorted(b.by_kind.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {kind}", _n(n), f"{b.share(n):.1f}%")
    table.add_row("[bold]Total[/]", f"[bold]{b.total:,}[/]", "100.0%")
    actual = ta.actual_input(t)
    if actual:
        table.add_row("Upstream reported input", _n(actual), f"estimate {100.0 * b.total / actual:.0f}% of it")
    out_n = ta.output_tokens(t)
    if out_n:
        table.add_row("Upstream reported output", _n(out_n), "")
    out.print(table)

    if b.per_tool:
        shown = b.per_tool if verbose else b.per_tool[:10]
        cut = "" if verbose or len(b.per_tool) <= 10 else f" (10 largest of {len(b.per_tool)}; -v for all)"
        tools = Table(title="Tools" + cut)
        tools.add_column("tool")
        tools.add_column("tokens", justify="right")
        tools.add_column("of tools", justify="right")
        for name, n in shown:
            tools.add_row(name, _n(n), f"{100.0 * n / b.tools:.1f}%" if b.tools else "-")
        out.print(tools)
    if verbose:
        msgs = Table(title="Messages")
        for col in ("#", "role", "content", "tokens"):
            msgs.add_column(col, justify="right" if col in ("#", "tokens") else "left")
        for i, role, summary, n in b.per_message:
            msgs.add_row(str(i), role, summary, _n(n))
        out.print(msgs)
        system = req.system_text()
        if system:
            out.print("[bold]System prompt (first 500 characters)[/]")
            out.print(system[:500], markup=False)


@trace.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def compare(paths: tuple[str, ...]) -> None:
    """One row per trace (files, or every trace under a folder): where the tokens go."""
    table = Table(title="Trace comparison (tokens estimated offline; in/out as reported)")
    for col in ("trace", "model", "type", "system", "tools", "messages", "total", "in", "out", "first byte",
                "latency"):
        table.add_column(col, justify="left" if col in ("trace", "model", "type") else "right")
    totals: list[int] = []
    skipped = 0
    for f in trace_files(paths):
        try:
            t = ta.load(f)
            b = ta.breakdown(ta.parse(t))
        except ta.TraceError as exc:
            click.echo(f"skipping {f}: {exc}", err=True)
            skipped += 1
            continue
        totals.append(b.total)
        timing = t.get("timing") or {}
        table.add_row(f.name[:32], str((t.get("model") or {}).get("client", "")),
                      "tool call" if ta.made_tool_call(t) else "text",
                      f"{b.share(b.system):.0f}%", f"{b.share(b.tools):.0f}%", f"{b.share(b.messages):.0f}%",
                      _n(b.total), _n(ta.actual_input(t)), _n(ta.output_tokens(t)),
                      _ms(timing.get("ttfb_ms")), _ms(timing.get("latency_ms")))
    if not totals:
        raise click.ClickException("no readable traces")
    table.add_section()
    table.add_row(f"{len(totals)} traces", "", "", "", "", "", f"avg {sum(totals) // len(totals):,}", "", "", "", "")
    console().print(table)
