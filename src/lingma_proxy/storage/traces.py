"""Traces: one JSON file per request under ``<data_dir>/traces/<backend>/``.

An observer (``Relay.observers``): the relay hands it each finished ``Exchange`` and it
returns at once; a daemon thread builds the record (``trace_format``) and writes it, so the
event loop never waits on the disk. Folders are 0700 and files 0600 (written to a temporary
name, then renamed: a reader never sees half a file). After each write the backend's folder
is trimmed to ``max_files`` files and ``max_bytes`` bytes, oldest first.

``--trace`` unset means: trace the ``anthropic`` backend only (its traffic is what one studies
to tune a local setup); ``--trace`` traces every backend, ``--no-trace`` none.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..exchange import Exchange
from ..redaction import SecretRegistry
from . import trace_format

log = logging.getLogger("lingma_proxy.traces")

__all__ = ["TraceWriter", "data_root", "install", "traces_root"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def data_root(settings: Any = None) -> Path:
    """``data_dir`` when set, else ``~/.lingma-proxy``."""
    configured = getattr(settings, "data_dir", "") if settings is not None else ""
    return Path(configured).expanduser() if configured else Path.home() / ".lingma-proxy"


def traces_root(settings: Any = None) -> Path:
    return data_root(settings) / "traces"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # also when it already existed with a wider mode


class TraceWriter:
    """The trace observer (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        wants: Callable[[str], bool] | None = None,
        max_files: int = 1000,
        max_bytes: int = 500 * 1024 * 1024,
        secrets: Iterable[str] = (),
    ) -> None:
        self.root = Path(root)
        self.wants = wants or (lambda backend: True)
        self.max_files = max(1, max_files)
        self.max_bytes = max(1, max_bytes)
        # the process's registry is kept as it is (it grows as backends learn credentials)
        self.secrets = secrets if isinstance(secrets, SecretRegistry) else SecretRegistry(secrets)
        self._queue: queue.SimpleQueue[Exchange | threading.Event | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ observer side

    def __call__(self, ex: Exchange) -> None:
        if not self.wants(ex.backend):
            return
        self._ensure_thread()
        self._queue.put(ex)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="lingma-traces", daemon=True)
                    self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every trace queued so far is on disk."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self.write(item)
            except Exception:  # a trace must never take the proxy down
                log.exception("writing the trace of request %s failed", item.id)

    def write(self, ex: Exchange) -> Path:
        """Write ``ex`` now (synchronously) and apply retention; the file's path."""
        folder = self.root / (_SAFE.sub("_", ex.backend) or "unrouted")
        _private_dir(self.root)
        _private_dir(folder)
        stamp = trace_format.timestamp(ex).replace(":", "").replace("-", "")
        path = folder / f"{stamp}-{ex.id}.json"
        data = trace_format.build(ex, self.secrets)
        tmp = folder / f".{path.name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._retain(folder)
        return path

    def _retain(self, folder: Path) -> None:
        files = sorted((e for e in os.scandir(folder) if e.name.endswith(".json") and e.is_file()),
                       key=lambda e: e.name)
        sizes = [e.stat().st_size for e in files]
        total = sum(sizes)
        count = len(files)
        for entry, size in zip(files[:-1], sizes[:-1], strict=True):  # the newest always stays
            if count <= self.max_files and total <= self.max_bytes:
                break
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                pass
            count -= 1
            total -= size


def install(relay: Any, settings: Any, backends: Mapping[str, Any],
            secrets: Iterable[str] | None = None) -> TraceWriter | None:
    """Add a trace writer to ``relay.observers`` as ``settings.trace`` asks; the writer."""
    if settings.trace is False:
        return None
    if settings.trace is True:
        wanted: set[str] | None = None
    else:
        wanted = {name for name, b in backends.items() if b.capabilities.traced_by_default}
        if not wanted:
            return None
    if secrets is None:  # no registry handed in (a caller outside the app): the settings' own
        secrets = SecretRegistry(settings.secrets())
    writer = TraceWriter(
        traces_root(settings),
        wants=(lambda name: True) if wanted is None else wanted.__contains__,
        max_files=settings.trace_max_files,
        max_bytes=settings.trace_max_mb * 1024 * 1024,
        secrets=secrets,
    )
    relay.observers.append(writer)
    log.info("tracing requests to %s", writer.root)
    return writer
