"""``lingma-proxy serve``: run the gateway (also what a bare ``lingma-proxy [flags]`` does)."""

from __future__ import annotations

from typing import Any

import click

from .options import pop_settings_flags, settings_options, settings_or_exit


@click.command()
@settings_options
def serve(**kwargs: Any) -> None:
    """Run the proxy server."""
    settings = settings_or_exit(pop_settings_flags(kwargs))
    try:
        from ..server.app import (
            run,  # lazily: `config` and friends work without the server
        )
    except ModuleNotFoundError as e:
        if e.name not in ("lingma_proxy.server.app", "lingma_proxy.server"):
            raise
        raise click.ClickException("the server module is missing from this installation") from None
    run(settings)
