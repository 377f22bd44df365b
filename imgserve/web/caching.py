"""ETags, and the byte-bounded in-memory result cache keyed by them.

The ETag is a digest of what determines the output (the original's identity, modification time and
size, the normalised options and the imgserve version), so it is known before any pixel work and a
conditional request can be answered with a 304 for the price of an fstat.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

from cachetools import LRUCache

from ..errors import Problem
from .admission import CLIENT_GONE

T = TypeVar("T")
ENTRY_OVERHEAD = 256  # bytes of bookkeeping counted per entry, so tiny results cannot overrun the budget


def etag(*parts: str) -> str:
    """A strong ETag from the parts that determine a response's bytes."""
    return '"' + hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest() + '"'


class ResultCache(Generic[T]):
    """Least-recently-used results up to `max_bytes`; `size(value)` says what a value weighs.

    Concurrent requests for the same key while it is being made wait for that one result instead of
    each decoding the same original (a cold CDN edge sends exactly that burst).
    """

    def __init__(self, max_bytes: int, size: Callable[[T], int]) -> None:
        self.max_bytes = max_bytes
        self._size = lambda value: size(value) + ENTRY_OVERHEAD
        self._entries: LRUCache = LRUCache(maxsize=max(max_bytes, 1), getsizeof=self._size)
        self._pending: dict[Hashable, Future] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> T | None:
        """The cached value, counted as a hit, or None (not counted: the caller goes on to fetch)."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self.hits += 1
            return value

    def fetch(self, key: Hashable, make: Callable[[], T]) -> tuple[T, bool]:
        """(value, True) from the cache, else (make(), False), storing the value when it fits."""
        if not self.max_bytes:
            return make(), False
        while True:
            with self._lock:
                value = self._entries.get(key)
                if value is not None:
                    self.hits += 1
                    return value, True
                self.misses += 1
                pending = self._pending.get(key)
                owner = pending is None
                if owner:
                    pending = self._pending[key] = Future()
            if owner:
                break
            try:
                return pending.result(), False
            except Problem as problem:
                if problem.status != CLIENT_GONE:
                    raise
                # the owner's client hung up before its render began: this request makes it itself
        try:
            value = make()
        except BaseException as error:
            with self._lock:
                del self._pending[key]
            pending.set_exception(error)
            raise
        with self._lock:
            if self._size(value) <= self.max_bytes:
                self._entries[key] = value
            del self._pending[key]
        pending.set_result(value)
        return value, False
