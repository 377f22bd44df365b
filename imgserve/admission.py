"""Backpressure: a bounded number of renders in flight and a bounded queue; past that, 503 at once.

waitress queues requests without limit behind its worker threads, and a render holds its thread
until it finishes, so with few threads a health check or a 304 waits behind decodes. `imgserve
serve` therefore gives waitress one thread per allowed connection (waitress serves one request per
connection at a time, so its own queue stays empty) and the limit lives here instead: renders take
a slot, at most `limit` run, at most `queue` wait (each for at most `wait` seconds), and everything
past that is refused immediately with `Retry-After`. Requests that need no decoding never wait.
Each render also reserves the memory its image needs (estimated from the header before decoding)
from one budget, so memory is bounded by that budget under any mix of sizes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Problem

MiB = 1024 * 1024


class Admission:
    def __init__(self, limit: int, queue: int, wait: float, memory: int) -> None:
        self.limit = limit
        self.queue = queue
        self.wait = wait
        self.memory = memory      # bytes of pixel memory all renders together may hold
        self.in_flight = 0
        self.waiting = 0
        self.reserved = 0
        self.shed = 0  # requests refused with 503 since start
        self._changed = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._changed:
            if self.in_flight >= self.limit:
                self._wait_or_refuse()
            self.in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold `nbytes` of the memory budget while an image is decoded and processed.

        Slots alone would bound memory only by slots x the largest image; this makes the bound the
        budget itself, whatever mix of sizes arrives. One image over the whole budget is a 422."""
        if nbytes > self.memory:
            raise Problem(422, f"this image needs about {nbytes // MiB} MiB to process and this server allows "
                               f"{self.memory // MiB} MiB; ask for a smaller source or crop")
        with self._changed:
            if not self._changed.wait_for(lambda: self.reserved + nbytes <= self.memory, timeout=self.wait):
                self._refuse(f"{self.reserved // MiB} MiB of image memory are in use")
            self.reserved += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.reserved -= nbytes
                self._changed.notify_all()

    def _wait_or_refuse(self) -> None:
        if self.waiting >= self.queue:
            self._refuse(f"{self.in_flight} images are being processed and {self.waiting} are waiting")
        self.waiting += 1
        try:
            free = self._changed.wait_for(lambda: self.in_flight < self.limit, timeout=self.wait)
        finally:
            self.waiting -= 1
        if not free:
            self._refuse(f"no processing slot came free within {self.wait:g} s")

    def _refuse(self, why: str) -> None:
        self.shed += 1
        raise Problem(503, f"overloaded: {why}; try again shortly", headers={"Retry-After": "1"})
