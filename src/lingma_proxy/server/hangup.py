"""Noticing a client that hangs up, from the moment its body is read to the last byte sent.

One task per request waits for ``http.disconnect`` and cancels the request's own task when it
comes. Whatever the relay is awaiting at that moment (a concurrency slot, the upstream's
headers, the commit window, the next event, a token count) is cancelled at once, and with it
the upstream request: aiohttp closes a connection whose request was cancelled, so the upstream
stops generating. The relay records the exchange as 499 / ``client_gone`` on its way out (each
path does so on ``CancelledError``). The same watcher is handed to ``SSEResponse`` for the
streaming phase, so one task covers the whole request, and none is left behind.

Racing the relay call against the disconnect at this one place, rather than inside each path,
is what makes every path (translated or passthrough, streaming or not, counting) notice it.
"""

from __future__ import annotations

import asyncio

from starlette.types import Receive


class Hangup:
    """Cancels the current task when the client disconnects; ``stop()`` ends the watch."""

    __slots__ = ("_task", "_watcher", "gone")

    def __init__(self, receive: Receive) -> None:
        self.gone = False
        self._task = asyncio.current_task()
        self._watcher = asyncio.ensure_future(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.gone = True
                if self._task is not None:
                    self._task.cancel()
                return

    def stop(self) -> None:
        """No cancellation after this (synchronous: the watcher cannot run again)."""
        self._watcher.cancel()

    def absorb(self) -> bool:
        """On ``CancelledError``: whether the client leaving caused it; if so the cancellation
        is absorbed (the task goes on to answer nobody, cleanly) instead of propagating."""
        self.stop()
        if not self.gone:
            return False
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return True
