"""Where originals come from, behind one contract: a source opens an id and yields an `Original`.

The web layer needs three things of any original before it does pixel work: what names it (its
`identity`, which with the options makes the ETag), when it changed (`modified`, for Last-Modified
and If-Modified-Since) and, only on a cache miss, its bytes (`read`, bounded by a byte limit). The
folder (folder.py), remote URLs (remote.py) and request bodies (upload.py) all give exactly that,
so a new kind of store (an object store, say) is one module with an `open(id)`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


class Original(Protocol):
    identity: str            # names these bytes: an ETag is a digest of it, the options and the version
    modified: float | None   # seconds since the epoch, or None when the source cannot say

    def read(self, limit: int) -> bytes:
        """The bytes, or a Problem 413 when they are more than `limit`."""
        ...


class Source(Protocol):
    def open(self, id: str) -> AbstractContextManager[Original]:
        """The original `id` names, held open for the `with` block; a Problem (404, 403, ...) if none."""
        ...


@dataclass(frozen=True)
class Loaded:
    """An original whose bytes are in memory already, or are fetched again by `load` when needed."""
    identity: str
    modified: float | None
    load: Callable[[], bytes]

    def read(self, limit: int) -> bytes:
        return self.load()  # bounded when it was loaded: MAX_BODY_BYTES, MAX_SOURCE_BYTES
