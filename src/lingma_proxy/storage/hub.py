"""Everything observability needs for one server, in one object the app keeps on ``app.state.obs``.

* ``logs``: the in-memory log ring (always on);
* ``access``: the last requests' summaries (always on, also with recording off);
* ``recorder``: the SQLite recorder when ``settings.record`` is on (``None`` otherwise, or when
  the data directory cannot be used: the proxy still serves, the reason is in ``record_error``);
* ``read(fn, ...)``: runs a ``queries`` function on a read connection off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..redaction import SecretRegistry
from . import db
from .memory import AccessLog, LogRing
from .recorder import Recorder
from .sanitize import Sanitizer

log = logging.getLogger("lingma_proxy.storage")
T = TypeVar("T")


def secrets_of(settings: Any) -> list[str]:
    """Every credential the settings hold (``Settings.secrets``)."""
    return list(settings.secrets())


class Observability:
    def __init__(self, settings: Any, secrets: SecretRegistry | None = None) -> None:
        self.started = time.time()
        # The process's one registry (the composition root's), shared with the recorder: a
        # credential a backend learns later is erased from what is recorded from then on.
        self.secrets = secrets if secrets is not None else SecretRegistry(secrets_of(settings))
        self.sanitizer = Sanitizer(self.secrets)
        self.logs = LogRing(redact=self._redact).attach()
        self.access = AccessLog(redact=self._redact)
        self.recorder: Recorder | None = None
        self.record_error = ""
        self.path = db.db_path(settings.data_dir)
        self._key: tuple[Any, ...] = ()
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self.configure(settings)

    def _redact(self, text: str) -> str:
        return self.sanitizer.text(text)

    # ------------------------------------------------------------------ configuration

    def configure(self, settings: Any) -> None:
        """(Re)start the recorder when the recording settings changed (the console's apply)."""
        self.secrets.add(*secrets_of(settings))  # keys added by a console apply; old ones stay secret
        key = (settings.record, db.db_path(settings.data_dir), settings.record_body_limit,
               settings.retention_days, settings.retention_mb)
        if key == self._key:
            return
        self._key = key
        old, self.recorder = self.recorder, None
        self.logs.sink = None
        if old is not None:
            old.close()
        self.path = db.db_path(settings.data_dir)
        self._close_reader()
        self.record_error = ""
        if not settings.record:
            return
        try:
            self.recorder = Recorder(self.path, body_limit=settings.record_body_limit,
                                     retention_days=settings.retention_days,
                                     retention_mb=settings.retention_mb, secrets=self.secrets)
        except (OSError, sqlite3.Error, RuntimeError) as exc:
            self.record_error = f"cannot record to {self.path}: {exc}"
            log.error("%s; requests are served but not recorded", self.record_error)
            return
        self.logs.sink = self.recorder.log

    @property
    def observers(self) -> list[Any]:
        return [self.access] + ([self.recorder] if self.recorder is not None else [])

    def install(self, relay: Any) -> Observability:
        """Put this hub's observers on ``relay`` (replacing any of a previous configuration)."""
        ours = (AccessLog, Recorder)
        relay.observers[:] = [o for o in relay.observers if not isinstance(o, ours)] + self.observers
        return self

    def status(self) -> dict[str, Any]:
        if self.recorder is not None:
            return self.recorder.status()
        return {"enabled": False, "path": str(self.path), "error": self.record_error}

    def close(self) -> None:
        self.logs.detach()
        self.logs.sink = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        self._close_reader()

    # ------------------------------------------------------------------ reading

    def has_db(self) -> bool:
        """Reads go to the database only while recording: with recording off the console shows
        this run's requests (from memory), not an old file's."""
        return self.recorder is not None

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(conn, *args, **kwargs)`` on a worker thread (SQLite reads block)."""
        return await asyncio.to_thread(self.read_sync, fn, *args, **kwargs)

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._reader_lock:
            if self._reader is None:
                self._reader = db.connect(self.path, readonly=True)
            return fn(self._reader, *args, **kwargs)

    def write_sync(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """A one-off write (the console's clear) on its own connection."""
        conn = db.connect(self.path)
        try:
            return conn.execute(sql, args).rowcount
        finally:
            conn.close()

    def _close_reader(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


def data_path(settings: Any) -> Path:
    return db.db_path(settings.data_dir)
