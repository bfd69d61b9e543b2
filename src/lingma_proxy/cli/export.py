"""``lingma-proxy export-auth PATH`` and ``export-bundle PATH.zip``: take a Lingma login elsewhere.

The reference's spellings work too: ``lingma-proxy --export-remote-auth PATH`` and
``--export-server-bundle PATH`` (with ``--remote-auth-pick auto|newest|longest``) are rewritten
into these commands by ``rewrite_reference_flags`` before click parses the command line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .. import errors
from .options import pop_settings_flags, settings_options, settings_or_exit

_PICK = click.option(
    "--remote-auth-pick", "pick", type=click.Choice(["auto", "newest", "longest"], case_sensitive=False),
    default="auto", show_default=True,
    help="which local login to export when several exist: the one requests use (auto), the most recently "
         "written cache (newest) or the latest expiry (longest)")
REFERENCE_FLAGS = {"--export-remote-auth": "export-auth", "--export-server-bundle": "export-bundle"}


def rewrite_reference_flags(args: list[str]) -> list[str]:
    """``[... --export-remote-auth PATH ...]`` -> ``["export-auth", PATH, ...]`` (also ``-flag``,
    ``--flag=PATH``); other command lines are returned unchanged."""
    found: list[tuple[str, int, str, int]] = []  # (command, index, path, width)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        name, eq, value = arg.partition("=")
        name = "-" + name if name.startswith("-") and not name.startswith("--") else name
        if name in REFERENCE_FLAGS:
            if eq:
                found.append((REFERENCE_FLAGS[name], i, value, 1))
            elif i + 1 < len(args):
                found.append((REFERENCE_FLAGS[name], i, args[i + 1], 2))
            else:
                raise click.UsageError(f"{name} needs a PATH")
    if not found:
        return args
    if len(found) > 1:
        raise click.UsageError("export one thing at a time: --export-remote-auth or --export-server-bundle")
    command, i, path, width = found[0]
    rest = args[:i] + args[i + width:]
    if rest and rest[0] in ("serve",):
        rest = rest[1:]
    return [command, path, *rest]


def _load(kwargs: dict[str, Any], pick: str) -> tuple[Any, Any]:
    from ..backends.lingma.remote_cache import CredentialStore, pick as pick_login

    settings = settings_or_exit(pop_settings_flags(kwargs))
    store = CredentialStore(settings.remote_auth_file, settings.cache_dir)
    try:
        loaded = pick_login(store, pick)
    except errors.ProxyError as e:
        raise click.ClickException(e.message) from None
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    return settings, loaded.cred


def _resolved_base_url(settings: Any) -> str:
    """The explicit host, else the one detected from this machine's Lingma files (a server has
    none to detect from)."""
    if settings.remote_base_url:
        return str(settings.remote_base_url)
    from ..backends.lingma import remote_baseurl, remote_hosts

    env, home = dict(os.environ), Path.home()
    hints = remote_hosts.scan_hints(env, home)
    best = remote_baseurl.rank([h for h, _ in hints], remote_hosts.read_last_good(env, home))[0]
    return "" if best == remote_baseurl.DEFAULT_BASE_URL else best


@click.command("export-auth")
@click.argument("path")
@_PICK
@settings_options
def export_auth(path: str, pick: str, **kwargs: Any) -> None:
    """Write the Lingma login as a portable credentials.json (mode 0600) for --remote-auth-file."""
    from ..backends.lingma.remote_export import report, write_credentials

    _, cred = _load(kwargs, pick)
    try:
        written = write_credentials(path, cred)
    except OSError as e:
        raise click.ClickException(f"cannot write {path}: {e.strerror or e}") from None
    for line in report(written, cred):
        click.echo(line)


@click.command("export-bundle")
@click.argument("path")
@_PICK
@settings_options
def export_bundle(path: str, pick: str, **kwargs: Any) -> None:
    """Write a server bundle (zip): credentials, config, docker-compose.yml, Dockerfile, README."""
    from ..backends.lingma.remote_export import report, write_bundle

    settings, cred = _load(kwargs, pick)
    try:
        written, _ = write_bundle(
            path, cred, host=settings.host, port=settings.port, api_key=settings.api_key,
            base_url=_resolved_base_url(settings), proxy_url=settings.remote_proxy_url,
            version=settings.remote_version, model=settings.model, fallback=settings.remote_fallback,
            fallback_models=settings.remote_fallback_models, identity=settings.remote_identity)
    except OSError as e:
        raise click.ClickException(f"cannot write {path}: {e.strerror or e}") from None
    for line in report(written, cred, "exported server bundle"):
        click.echo(line)
    where = "the key you gave with --api-key" if settings.api_key else "a generated API key (see README.txt)"
    click.echo(f"on the server: unzip, then `docker compose up -d --build`; clients use "
               f"http://SERVER:{settings.port}/v1 with {where}")
