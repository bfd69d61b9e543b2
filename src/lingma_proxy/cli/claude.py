"""``lingma-proxy claude [proxy flags] [--] [claude args...]``: Claude Code through the proxy.

Starts the proxy on a free loopback port (or, when no proxy flag is given, uses a lingma-proxy
already answering at ``host:port``), runs ``claude`` with ``ANTHROPIC_BASE_URL`` pointing at
it, stops the proxy when claude exits and exits with claude's code.

Arguments: the proxy's own flags come first; the first argument that is not one of them (or
everything after ``--``) goes to claude unchanged, so ``lingma-proxy claude --backend
anthropic -p "hi" --model claude-haiku-4-5`` gives claude ``-p "hi" --model ...``.

The proxy's log goes to ``<data_dir>/logs/claude-launcher.log``, not the terminal, which
belongs to Claude Code's interface.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import click
import orjson

from .options import pop_settings_flags, settings_options, settings_or_exit

INSTALL_HINT = ("install it with `npm install -g @anthropic-ai/claude-code` (or point LINGMA_PROXY_CLAUDE_BIN at "
                "it), or run `lingma-proxy serve` and set ANTHROPIC_BASE_URL yourself")
DUMMY_KEY = "lingma-proxy"


class ClaudeMissing(click.ClickException):
    exit_code = 127  # the shell's "command not found"


def find_running(host: str, port: int, timeout: float = 0.5) -> dict[str, Any] | None:
    """The /health answer of a lingma-proxy at host:port, or None."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: running, but a backend is down
        try:
            body = orjson.loads(exc.read())
        except orjson.JSONDecodeError:
            return None
    except (OSError, ValueError):
        return None
    if isinstance(body, dict) and body.get("service") == "lingma-proxy":
        body["url"] = url.removesuffix("/health")
        return body
    return None


class ProxyThread:
    """The proxy served from a daemon thread on an already bound loopback socket."""

    def __init__(self, settings: Any) -> None:
        import uvicorn

        from ..server.app import create_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, log_level="error", log_config=None, access_log=False,
                                timeout_keep_alive=75, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="lingma-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise click.ClickException("the proxy did not start (see the log for why)")
            time.sleep(0.02)

    def default_backend_kind(self) -> str:
        relay = getattr(self.app.state, "relay", None)
        backend = relay.backends.get(relay.options.default_backend or "") if relay is not None else None
        return str(getattr(backend, "kind", ""))

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(15)
        self.sock.close()


def claude_env(base: Mapping[str, str], url: str, settings: Any, backend_kind: str) -> dict[str, str]:
    """Claude Code's environment: the proxy's URL, and a key it can send.

    The proxy's own key when it requires one; none added for the Anthropic backend without a
    configured key (Claude Code's own key or login is what goes upstream); else a placeholder
    so Claude Code does not ask to log in.
    """
    env = dict(base)
    env["ANTHROPIC_BASE_URL"] = url
    if settings.api_key:
        env["ANTHROPIC_API_KEY"] = settings.api_key
    elif backend_kind == "anthropic" and not settings.anthropic_api_key:
        pass
    elif not env.get("ANTHROPIC_API_KEY") and not env.get("ANTHROPIC_AUTH_TOKEN"):
        env["ANTHROPIC_API_KEY"] = DUMMY_KEY
    return env


def run_child(argv: list[str], env: Mapping[str, str]) -> int:
    """Run claude in the foreground; Ctrl-C is claude's to handle, not ours."""
    previous = signal.getsignal(signal.SIGINT)
    # A Python handler (not SIG_IGN, which the child would inherit) keeps us waiting.
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        proc = subprocess.Popen(argv, env=dict(env))
        code = proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code


def _log_to_file(settings: Any) -> logging.Handler:
    from ..storage.traces import data_root

    folder = data_root(settings) / "logs"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "claude-launcher.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@settings_options
@click.option("--reuse/--no-reuse", default=True, show_default=True,
              help="use a lingma-proxy already running at --host/--port when no proxy flag is given")
@click.option("--claude-bin", envvar="LINGMA_PROXY_CLAUDE_BIN", default="claude", show_default=True,
              help="the Claude Code executable")
@click.argument("claude_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def claude(ctx: click.Context, /, claude_args: tuple[str, ...], reuse: bool, claude_bin: str, **kwargs: Any) -> None:
    """Run Claude Code through the proxy (proxy flags first, then claude's own arguments)."""
    flags = pop_settings_flags(kwargs)
    settings = settings_or_exit(flags)
    exe = shutil.which(claude_bin)
    if exe is None:
        raise ClaudeMissing(f"Claude Code ({claude_bin!r}) is not installed or not on PATH: {INSTALL_HINT}")
    given = any(v is not None for k, v in flags.items() if k != "config")
    running = find_running(settings.host, settings.port) if reuse and not given else None
    proxy: ProxyThread | None = None
    logger = logging.getLogger("lingma_proxy")
    handler: logging.Handler | None = None
    level = logger.level
    if running is not None:
        url = str(running["url"])
        states = {b.get("name"): b.get("kind") for b in running.get("backends", []) if isinstance(b, dict)}
        kind = str(states.get(running.get("default_backend"), ""))
        click.echo(f"lingma-proxy: using the proxy running at {url}", err=True)
    else:
        handler = _log_to_file(settings)
        logger.addHandler(handler)
        logger.setLevel(settings.log_level.upper())
        proxy = ProxyThread(settings)
        proxy.start(timeout=settings.warmup_timeout + 15)
        url, kind = proxy.url, proxy.default_backend_kind()
        click.echo(f"lingma-proxy: serving Claude Code at {url} (backend {kind or 'none'})", err=True)
    try:
        code = run_child([exe, *claude_args], claude_env(os.environ, url, settings, kind))
    finally:
        if proxy is not None:
            proxy.stop()
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(level)
            handler.close()
    ctx.exit(code)
