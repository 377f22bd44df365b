"""Running the app under waitress: threads sized with admission, quiet logs, a graceful stop.

On SIGTERM the listening socket is closed (new connections are refused, so a load balancer moves
on), idle kept-alive connections are closed, a request that still arrives on a busy connection gets
503, and the process exits once every request in progress has been answered and flushed, or after
`shutdown_timeout`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import fields

import waitress
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.task import ThreadedTaskDispatcher
from werkzeug.wsgi import ClosingIterator

from ..errors import PROBLEM_JSON, Problem
from ..settings import Settings
from ..web import logs
from ..web.app import create_app
from . import allocator
from .nativelog import capture_native_stderr

log = logging.getLogger("imgserve")
BODY_SLACK = 2  # waitress reads bodies up to this many times MAX_BODY_BYTES, so the app can answer 413 itself
DRAINING = "draining"  # the endpoint label of requests refused while shutting down (never routed)


class Drain:
    """WSGI middleware that knows how many requests are in progress and refuses new ones once stopping.
    A refusal gets its access line and is counted through `account` (web.Service.account), like any
    answer: an operator should see how many requests a shutdown turned away."""

    def __init__(self, app: Callable, account: Callable[..., None]) -> None:
        self.app = app
        self.account = account
        self.active = 0
        self.stopping = False
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.stopping:
            problem = Problem(503, "the server is shutting down; retry on another instance")
            body = problem.body()
            start_response("503 Service Unavailable", [("Content-Type", PROBLEM_JSON), ("Retry-After", "1")])
            self.account(environ, DRAINING, 503, len(body), 0.0, detail=problem.detail)
            return [body]
        with self._lock:
            self.active += 1
        try:
            return ClosingIterator(self.app(environ, start_response), self._finished)
        except BaseException:
            self._finished()
            raise

    def _finished(self) -> None:
        with self._lock:
            self.active -= 1


def waitress_options(settings: Settings) -> dict:
    """waitress reads a whole request before the app sees it, and spills bodies over 512 KB to a temporary
    file. Keep them in memory, and let waitress itself refuse (from the header, with a plain-text 413)
    only bodies so large that reading them to answer with problem+json would be a waste. It also spills
    responses over 1 MB not yet sent to a temporary file: they are in memory already, keep them."""
    return dict(host=settings.host, port=settings.port,  # threads: `dispatcher` starts them
                connection_limit=settings.max_connections, ident="imgserve",
                channel_request_lookahead=1,  # lets waitress see a client hang up (admission.slot's `gone`)
                max_request_body_size=BODY_SLACK * settings.max_body_bytes,
                inbuf_overflow=BODY_SLACK * settings.max_body_bytes + 1, outbuf_overflow=sys.maxsize)


class RecentFirst:
    """The wait/notify of waitress's task queue, waking the worker that went idle last.

    waitress's threads wait on a threading.Condition, which wakes the one that has waited longest:
    with a hundred threads (one per connection, see admission.py), every request ran on the thread
    that had been idle the longest, its stack and malloc caches cold, and the kernel had no recent
    CPU to place it on. Waking the most recent idler keeps a few warm threads doing the work.
    Measured with the same servers alternated (8 s each, 4 rounds), one client: BMP to 1024 px PNG
    +11% and +4.6% req/s in two runs, thumbnails +2.4%; 8 clients: within 1% (there the busy threads
    are the recent ones anyway). Only what the dispatcher calls is implemented; it holds `lock`."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._waiters: list[threading.Lock] = []

    def wait(self) -> None:
        waiter = threading.Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        self._lock.release()
        try:
            waiter.acquire()
        finally:
            self._lock.acquire()

    def notify(self, n: int = 1) -> None:
        for _ in range(min(n, len(self._waiters))):
            self._waiters.pop().release()

    def notify_all(self) -> None:
        self.notify(len(self._waiters))


def dispatcher(threads: int) -> ThreadedTaskDispatcher:
    """waitress's own dispatcher, with its queue waking the most recently idle thread."""
    tasks = ThreadedTaskDispatcher()
    tasks.queue_cv = RecentFirst(tasks.lock)
    tasks.set_thread_count(threads)
    return tasks


class QuietChannel(HTTPChannel):
    """waitress's connection, except that the main loop does not wait on a socket it cannot write.

    waitress sends a response from the worker thread (its send_bytes is 1), but marks the connection
    writable for its main loop whenever output is pending. While the worker is inside send() (holding
    the output lock, without the GIL), select() says "writable" at once, the loop finds the lock taken
    and selects again: 22 empty passes per thumbnail at 8 clients, each taking the GIL back from the
    workers. Here pending output makes the connection writable only when no task runs or the lock is
    free (the worker left output behind, or waits for the loop to drain it): the passes that can write.
    Same servers alternated (2 s windows): thumbnails at 8 clients +3.0%, +3.3%, +2.4% in three runs
    of 30-40 rounds; the loop's CPU per thumbnail went from 475 to 214-258 us."""

    def writable(self) -> bool:
        if self.will_close or self.close_when_flushed:
            return True
        return bool(self.total_outbufs_len) and (not self.requests or self._unlocked())

    def _unlocked(self) -> bool:
        if not self.outbuf_lock.acquire(False):
            return False  # a worker is sending
        self.outbuf_lock.release()
        return True


def listen(app: Callable, threads: int, **options):
    """waitress's server for `app`, with the thread order of RecentFirst and the QuietChannel."""
    # `_dispatcher` is create_server's one way in for a dispatcher of our own (waitress calls it a test
    # shim), and `channel_class` is read at each accept; waitress is pinned below 4 and
    # tests/e2e/test_server.py runs this server for real.
    server = waitress.create_server(app, _dispatcher=dispatcher(threads), **options)
    server.channel_class = QuietChannel
    return server


def serve(settings: Settings) -> None:
    allocator.tune()
    # Threads waiting for the GIL get it every 1 ms instead of 5: under overload (tests/e2e/test_load.py),
    # a 304 probe's median went from 75-79 ms to 58-62 ms; thumbnail throughput did not move.
    sys.setswitchinterval(0.001)
    capture_native_stderr()
    listener = logs.configure(settings.log_format)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a "queue depth" line per busy request
    app = create_app({f.name: getattr(settings, f.name) for f in fields(Settings)})
    drain = Drain(app, app.extensions["imgserve"].account)
    server = listen(drain, settings.threads, **waitress_options(settings))
    signal.signal(signal.SIGTERM, lambda signum, frame: _stop(server, drain, settings.shutdown_timeout))
    server.print_listen("Serving on http://{}:{}")
    server.run()  # returns once _exit_when_idle has closed every socket
    server.task_dispatcher.shutdown(timeout=1)
    log.info("stopped")
    listener.stop()


def _stop(server, drain: Drain, timeout: float) -> None:
    if drain.stopping:
        return
    log.info("SIGTERM: no new connections; finishing %d request(s) within %g s", drain.active, timeout)
    drain.stopping = True
    # On the loop's own thread (closing inside this handler would leave select() retrying on a dead
    # descriptor): close the listening socket, and the kept-alive connections that are idle.
    server.trigger.pull_trigger(lambda: _close_listener_and_idle(server))
    threading.Thread(target=_exit_when_idle, args=(server, drain, time.monotonic() + timeout),
                     name="drain", daemon=True).start()


def _close_listener_and_idle(server) -> None:
    wasyncore.dispatcher.close(server)
    for channel in list(server._map.values()):
        if hasattr(channel, "requests") and not channel.requests and not channel.total_outbufs_len:
            channel.will_close = True


def _exit_when_idle(server, drain: Drain, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:  # the loop thread adds and removes channels meanwhile: a copy may fail, then try again
            channels = [c for c in list(server._map.values()) if hasattr(c, "total_outbufs_len")]
        except RuntimeError:
            continue
        if not drain.active and not any(c.requests or c.total_outbufs_len for c in channels):
            break
        time.sleep(0.02)
    else:
        log.warning("%d request(s) still running at the shutdown deadline", drain.active)
    # waitress's loop runs while it has sockets: closing them all, on its own thread, ends it. (Not
    # SIGINT: a server started in the background by a shell has SIGINT ignored.) pull_trigger queues
    # the thunk, then writes to the trigger's pipe; the loop may already have run it and closed the
    # pipe in between, which is fine.
    with suppress(OSError):
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))

