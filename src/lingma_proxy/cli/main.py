"""The ``lingma-proxy`` command group and the console-script entry point.

Commands are registered by name in ``COMMANDS`` ("module:attribute") and imported only when
used, so one command's heavy or broken imports never break the others. A bare
``lingma-proxy [flags]`` runs ``serve``, and the Go reference's single-dash long flags
(``-port 8095``) are accepted as their ``--`` forms.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__

COMMANDS: dict[str, str] = {
    "serve": "lingma_proxy.cli.serve:serve",
    "config": "lingma_proxy.cli.show_config:config_command",
    "version": "lingma_proxy.cli.version:version",
    "export-auth": "lingma_proxy.cli.export:export_auth",
    "export-bundle": "lingma_proxy.cli.export:export_bundle",
    "requests": "lingma_proxy.cli.records:requests_command",
    "stats": "lingma_proxy.cli.records:stats_command",
    "feedback-bundle": "lingma_proxy.cli.records:feedback_bundle_command",
    "doctor": "lingma_proxy.cli.doctor:doctor",
    "trace": "lingma_proxy.cli.trace:trace",
    "claude": "lingma_proxy.cli.claude:claude",
}
DEFAULT_COMMAND = "serve"
_GROUP_OPTIONS = frozenset({"-h", "--help", "--version"})


class LingmaGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from .export import rewrite_reference_flags  # --export-remote-auth PATH -> export-auth PATH

        args = rewrite_reference_flags(list(args))
        if not args or (args[0].startswith("-") and args[0] not in _GROUP_OPTIONS):
            args = [DEFAULT_COMMAND, *args]
        command = self.get_command(ctx, args[0]) if args[0] in COMMANDS else None
        if command is not None:
            args = [args[0], *_go_style(command, args[1:])]
        return super().parse_args(ctx, args)


def _go_style(command: click.Command, args: list[str]) -> list[str]:
    """``-name`` / ``-name=value`` -> ``--name...`` for the command's own long options."""
    known = {"--help"}
    for param in command.params:
        known.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    out: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            return out + args[i:]
        if len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and "-" + arg.partition("=")[0] in known:
            arg = "-" + arg
        out.append(arg)
    return out


@click.group(cls=LingmaGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lingma-proxy")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A local gateway that lets coding agents speak their own API to any model backend.

    Without a command, runs `serve` with the given flags.
    """
    if ctx.invoked_subcommand is None:  # unreachable via parse_args, kept for direct invocation
        ctx.invoke(cli.get_command(ctx, DEFAULT_COMMAND))  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    return cli.main(args=argv, prog_name="lingma-proxy")
