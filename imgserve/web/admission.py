"""Backpressure: a bounded number of renders in flight and a bounded queue; past that, 503 at once.

waitress queues requests without limit behind its worker threads, and a render holds its thread
until it finishes, so with too few threads a 304 waits behind decodes. The limit lives here
instead: renders take a slot, at most `limit` run, at most `queue` wait (each for at most `wait`
seconds), and everything past that is refused immediately with `Retry-After`; `imgserve serve`
gives waitress a thread for each slot and queue place and more for requests that need no decoding,
which never wait here (and health checks have threads of their own: server/runner.py).
Each render also reserves the memory its image needs (estimated from the header before decoding)
from one budget, and each response body counts in the same budget while connections send it, so
memory is bounded by that budget under any mix of sizes and of clients that read slowly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import Problem
from ..settings import MiB

GONE_CHECK = 0.1   # seconds between checks that a queued request's client is still connected
CLIENT_GONE = 499  # nginx's "client closed request": logged, never seen by anyone


class Admission:
    def __init__(self, limit: int, queue: int, wait: float, memory: int) -> None:
        self.limit = limit
        self.queue = queue
        self.wait = wait
        self.memory = memory      # bytes of pixel memory all renders together may hold
        self.in_flight = 0
        self._queue: deque[_Turn] = deque()  # requests waiting for a slot, first come first
        self.reserved = 0
        self.shed = 0  # requests refused with 503 since start
        self.closing = float("inf")  # time.monotonic() after which nothing more waits or renders (stop_at)
        self._held: dict[int, list] = {}  # id(body) -> [body, connections sending it] (web/bodies.py)
        self.held = 0  # bytes of response bodies being sent, part of `reserved`
        self.arriving = 0  # bytes of request bodies being received (server/runner.py Parser), part of `reserved`
        self.abandoned = 0  # requests dropped from the queue because their client hung up
        # A condition per queued request, all on one lock, so that a freed slot wakes only the request it
        # is handed to, and freed memory only the renders waiting for memory. One condition notified to
        # all woke every queued request twice per render (at the end of its reservation, then of its
        # slot), each going back to sleep but one: 27 voluntary thread switches per thumbnail at 8
        # clients, 14 with a condition for slots and one for memory (before the queue was kept in order).
        self._lock = threading.Lock()
        self._memory_free = threading.Condition(self._lock)

    def stop_at(self, moment: float) -> None:
        """Shutting down: from `moment` (time.monotonic()), requests still waiting get a 503 and
        running renders stop at their next deadline check (`deadline`)."""
        with self._lock:
            self.closing = moment
            for turn in self._queue:
                turn.woken.notify()
            self._memory_free.notify_all()

    @property
    def stopped(self) -> bool:
        return time.monotonic() >= self.closing

    def deadline(self, seconds: float) -> Callable[[], float]:
        """A render's deadline, `seconds` from now, or the shutdown's if that comes first."""
        own = time.monotonic() + seconds
        return lambda: min(own, self.closing)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def full(self) -> bool:
        """Every slot busy and every queue place taken: a new render would be refused now."""
        return self.in_flight >= self.limit and self.waiting >= self.queue

    @contextmanager
    def slot(self, gone: Callable[[], bool] = lambda: False) -> Iterator[None]:
        """A processing slot. While waiting for one, `gone()` is asked whether the client is still there
        (waitress.client_disconnected): a client that hung up loses its place in the queue at once
        instead of having its image rendered for nobody while live clients are refused."""
        with self._lock:
            if self.in_flight < self.limit:
                self.in_flight += 1
            else:
                self._wait_or_refuse(gone)  # returns with a slot handed over
            if self.stopped:  # its render would only be stopped after decoding
                self._free_slot()
                self._refuse("the server is shutting down")
        try:
            yield
        finally:
            with self._lock:
                self._free_slot()

    def _free_slot(self) -> None:
        """Hand the slot to the request that has waited longest, or give it back if none waits.

        Handed over, not freed for whoever takes it first: a request arriving meanwhile would take it
        before the one woken for it, which would then go back to the end of the queue. Served in that
        near-random order, W2's p99 was 2.7 s and W3's 1.7 s; in the order they came, 1.7 and 0.9 s
        (same run; sharp 2.0 and 1.3 s: docs/performance.md)."""
        if self._queue:
            turn = self._queue.popleft()
            turn.granted = True
            turn.woken.notify()
        else:
            self.in_flight -= 1

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold `nbytes` of the memory budget while an image is decoded and processed.

        Slots alone would bound memory only by slots x the largest image; this makes the bound the
        budget itself, whatever mix of sizes arrives. One image over the whole budget is a 422."""
        if nbytes > self.memory:
            raise Problem(422, f"this image needs about {nbytes // MiB} MiB to process and this server allows "
                               f"{self.memory // MiB} MiB; ask for a smaller source or crop")
        with self._lock:
            until = time.monotonic() + self.wait
            while self.reserved + nbytes > self.memory:
                left = min(until, self.closing) - time.monotonic()  # closing may come while waiting
                if left <= 0:
                    self._refuse(self._stopping() or f"{self.reserved // MiB} MiB of image memory are in use")
                self._memory_free.wait(left)
            self.reserved += nbytes
        try:
            yield
        finally:
            with self._lock:
                self.reserved -= nbytes
                self._memory_free.notify_all()  # any of them may fit now

    def take(self, nbytes: int) -> bool:
        """Count `nbytes` of a request body arriving, if they fit in the budget now; it never waits (the
        server's loop is receiving them). False: refuse the request. `give` hands them back."""
        with self._lock:
            if self.reserved + nbytes > self.memory:
                self.shed += 1
                return False
            self.reserved += nbytes
            self.arriving += nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self.reserved -= nbytes
            self.arriving -= nbytes
            self._memory_free.notify_all()

    def hold(self, body: bytes) -> Callable[[], None]:
        """Count `body` in the budget while a connection sends it; returns the function that stops
        counting it (once per call of hold; the bytes count once however many connections send
        them). It never waits: the bytes exist already, and it is the renders that wait for them."""
        with self._lock:
            entry = self._held.setdefault(id(body), [body, 0])
            if not entry[1]:
                self.reserved += len(body)
                self.held += len(body)
            entry[1] += 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                entry[1] -= 1
                if not entry[1]:
                    del self._held[id(body)]
                    self.reserved -= len(body)
                    self.held -= len(body)
                    self._memory_free.notify_all()

        return release

    def _wait_or_refuse(self, gone: Callable[[], bool]) -> None:
        if self.full:
            self._refuse(f"{self.in_flight} images are being processed and {self.waiting} are waiting")
        turn = _Turn(self._lock)
        self._queue.append(turn)
        try:
            deadline = time.monotonic() + self.wait
            while not turn.granted:
                left = min(deadline, self.closing) - time.monotonic()  # closing may come while waiting
                if left <= 0:
                    self._refuse(self._stopping() or f"no processing slot came free within {self.wait:g} s")
                turn.woken.wait(min(left, GONE_CHECK))  # a timeout leaves the turn where it is in the queue
                if gone():
                    self.abandoned += 1
                    raise Problem(CLIENT_GONE, "the client closed the connection while waiting for a slot")
        except BaseException:
            if turn.granted:
                self._free_slot()  # handed the slot, then gone: it passes on to the next
            else:
                self._queue.remove(turn)
            raise

    def _stopping(self) -> str | None:
        return "the server is shutting down" if self.stopped else None

    def _refuse(self, why: str) -> None:
        self.shed += 1
        raise Problem(503, f"overloaded: {why}; try again shortly", headers={"Retry-After": "1"})


class _Turn:
    """A request's place in the queue for a slot; `granted` once the slot's holder hands it over (a
    finishing render, or a request that was handed it and left: at shutdown, or its client gone)."""

    def __init__(self, lock: threading.Lock) -> None:
        self.woken = threading.Condition(lock)
        self.granted = False
