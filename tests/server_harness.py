"""Runs the real app under uvicorn on a free loopback port, in a thread with its own loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn

from lingma_proxy.server.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    def __init__(self, settings: Any, backends: dict[str, Any] | None = None) -> None:
        # Bind here and hand the socket to uvicorn: picking a "free" port and binding it later
        # races with other test processes on the same machine.
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.app = create_app(settings, backends)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on",
                                proxy_headers=False)  # as app.run: forwarded headers are the app's business
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def make_settings(**overrides: Any) -> Any:
    """Settings for a server over the scripted backend (tests pass the backends themselves)."""
    from lingma_proxy.config import Settings

    base: dict[str, Any] = {"backend": "scripted", "ping_interval": 10.0}
    base.update(overrides)
    return Settings(**base)


def make_settings_fast_ping(**overrides: Any) -> Any:
    return make_settings(**{"ping_interval": 0.1, **overrides})
