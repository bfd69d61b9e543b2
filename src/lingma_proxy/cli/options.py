"""The settings flags shared by every command that builds ``Settings`` (serve, config, ...)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from ..config import KEYS, ConfigError, Key, Settings, resolve_settings

F = TypeVar("F", bound=Callable[..., Any])

_METAVAR = {"int": "N", "float": "SECONDS", "list": "A,B,..."}
_NO = "no_"  # click parameter prefix of the --no-<flag> twins of boolean settings


class ConfigProblem(click.ClickException):
    """Invalid configuration: the message alone on stderr, exit code 2 (like a usage error)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"lingma-proxy: configuration error: {self.format_message()}", err=True)


def _options_for(key: Key) -> list[Callable[[F], F]]:
    if key.type in ("bool", "tribool"):
        if key.name == "insecure_no_auth":
            return [click.option(key.option, key.name, is_flag=True, default=None, help=key.help)]
        # --flag, --flag=false (as the Go reference's flags accept) and --no-flag
        return [
            click.option(key.option, key.name, type=click.BOOL, is_flag=False, flag_value=True, default=None,
                         metavar="[=BOOL]", help=key.help),
            click.option("--no-" + key.option[2:], _NO + key.name, is_flag=True, default=None,
                         help=f"the opposite of {key.option}"),
        ]
    metavar = _METAVAR.get(key.type, "URL" if "url" in key.name else "TEXT")
    if key.choices:
        metavar = "[" + "|".join(key.choices) + "]"
    if key.name in ("port", "max_concurrent", "max_body_bytes"):
        metavar = "N"
    return [click.option(key.option, key.name, default=None, metavar=metavar, help=key.help)]


def settings_options(f: F) -> F:
    """Add --config and one option per setting (see config.schema.KEYS) to a command."""
    decorators: list[Callable[[F], F]] = [
        click.option("--config", "config", default=None, metavar="FILE",
                     help="JSON config file (default: ./lingma-proxy.json, ~/.config/lingma-proxy/config.json)"),
    ]
    for key in KEYS:
        decorators.extend(_options_for(key))
    for decorate in reversed(decorators):
        f = decorate(f)
    return f


def pop_settings_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Remove the settings options from a command's kwargs, as a flags mapping for load_settings."""
    flags: dict[str, Any] = {"config": kwargs.pop("config", None)}
    for key in KEYS:
        value = kwargs.pop(key.name, None)
        if kwargs.pop(_NO + key.name, None):
            if value is not None:
                raise click.UsageError(f"{key.option} and --no-{key.option[2:]} contradict each other")
            value = False
        flags[key.name] = value
    return flags


def settings_or_exit(flags: Mapping[str, Any]) -> Settings:
    try:
        return resolve_settings(flags)
    except ConfigError as e:
        raise ConfigProblem(e.message) from None
