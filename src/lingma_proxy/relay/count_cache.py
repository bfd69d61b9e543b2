"""A short-lived cache of local token counts, keyed by a hash of the request body.

Claude Code's VS Code extension sends 40-50 identical ``count_tokens`` calls within its first
second; each one would otherwise parse and estimate the same 100-400 KB body again.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable


class CountCache:
    """Answers by body hash for ``ttl`` seconds, at most ``size`` of them (oldest evicted)."""

    def __init__(self, ttl: float = 30.0, size: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._items: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self.hits = 0

    @staticmethod
    def key(dialect: str, raw: bytes) -> bytes:
        return hashlib.blake2b(raw, digest_size=16, person=dialect.encode()[:16]).digest()

    def get(self, key: bytes) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, body = item
        if expires <= self.clock():
            del self._items[key]
            return None
        self.hits += 1
        return body

    def put(self, key: bytes, body: bytes) -> None:
        self._items[key] = (self.clock() + self.ttl, body)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
