"""What every aiohttp-based fake upstream shares: async context-manager use in the test's loop,
and serving from a private loop in a daemon thread for synchronous SDK tests."""

from __future__ import annotations

import asyncio
import threading
from typing import TypeVar

from aiohttp import web

F = TypeVar("F", bound="AioFake")


class AioFake:
    """Subclasses implement ``async start()`` (setting ``self._runner``)."""

    thread_name = "fake-upstream"
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _thread_loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self: F) -> F:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_thread(self: F) -> F:
        """Serve from a private event loop in a daemon thread (for sync callers)."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        loop, thread = self._thread_loop, self._thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._thread = self._thread_loop = None
