"""``lingma-proxy config``: the effective configuration, where each value came from, secrets masked."""

from __future__ import annotations

from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config import Settings
from .options import pop_settings_flags, settings_options, settings_or_exit


@click.command("config")
@settings_options
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def config_command(as_json: bool, **kwargs: Any) -> None:
    """Show the effective configuration and the origin of each value."""
    settings = settings_or_exit(pop_settings_flags(kwargs))
    if as_json:
        doc = {"config_file": settings.config_file or None, "settings": settings.masked(),
               "origins": dict(settings.origins)}
        click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: no reason to fold paths at 80 columns
        console = Console(highlight=False, width=200)
    console.print(render_table(settings))


def render_table(settings: Settings) -> Table:
    file = settings.config_file or "none found"
    table = Table(title="lingma-proxy configuration", caption=f"config file: {file}", title_justify="left")
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("origin", no_wrap=True)
    shown = settings.masked()
    shown = {k: v for k, v in shown.items() if k != "extra"} | shown.get("extra", {})  # a plugin's keys too
    for key, value in shown.items():
        if key == "config_file":
            continue
        origin = settings.origins.get(key, "default")
        table.add_row(key, Text(_show(key, value)), Text(origin, style="dim" if origin == "default" else "cyan"))
    return table


def _show(key: str, value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if key == "backends":
        return "\n".join(
            f"{b['name']}: {b['type']} {b['base_url']}".rstrip()
            + (f" model={b['model']}" if b["model"] else "")
            + (f" api_key={b['api_key']}" if b["api_key"] else "")
            for b in value
        ) or "(none)"
    if key == "routes":
        return "\n".join(
            f"{r['pattern']} -> {r['backend']}" + (f" ({r['model']})" if r["model"] else "") for r in value
        ) or "(none)"
    if isinstance(value, list):
        return ", ".join(value)
    return "\"\"" if value == "" else str(value)
