"""Running the app under waitress: threads sized with admission, quiet logs, a graceful stop.

On SIGTERM the listening socket is closed (new connections are refused, so a load balancer moves
on), idle kept-alive connections are closed, a request that still arrives on a busy connection gets
503, and the process exits once every request in progress has been answered and flushed, or after
`shutdown_timeout`.
"""

from __future__ import annotations

import errno
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
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import BadRequest, RequestEntityTooLarge, RequestHeaderFieldsTooLarge, ServerNotImplemented
from werkzeug.wsgi import ClosingIterator

from ..errors import PROBLEM_JSON, Problem
from ..settings import Settings, SettingsError
from ..web import logs
from ..web.app import create_app
from . import allocator
from .nativelog import capture_native_stderr

log = logging.getLogger("imgserve")
BODY_SLACK = 2  # waitress reads bodies up to this many times MAX_BODY_BYTES, so the app can answer 413 itself
DRAINING = "draining"  # the endpoint label of requests refused while shutting down (never routed)
UNREADABLE = "unreadable"  # ... and of requests waitress could not read (never routed either)


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


class ProblemErrorTask(ErrorTask):
    """waitress's answer to a request it could not read itself (a bad Content-Length, a chunked body over
    the limit, a Transfer-Encoding it does not do, headers over its limit, a malformed request line or
    URI) as problem+json saying what to send instead, with an access line and a count, like any answer.
    Stock waitress sends text/plain that nothing logs."""

    def execute(self) -> None:
        error, request = self.request.error, self.request
        problem = transport_problem(error, self.channel.adj.max_request_header_size,
                                    self.channel.adj.max_request_body_size // BODY_SLACK)
        body = problem.body()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", PROBLEM_JSON))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        account = getattr(self.channel.server, "account", None)
        if account is not None:
            known = not isinstance(error, RequestHeaderFieldsTooLarge)  # else the parser put a stand-in line
            method = getattr(request, "command", "") if known else ""
            path, _, query = (getattr(request, "request_uri", "") if known else "").partition("?")
            account({"REQUEST_METHOD": method or "-", "PATH_INFO": path or "-", "QUERY_STRING": query},
                    UNREADABLE, error.code, len(body), 0.0, detail=problem.detail)


def transport_problem(error, max_header: int, max_body: int) -> Problem:
    """What a person should send instead, for each way waitress can refuse to read a request."""
    reason = str(error.body)
    if isinstance(error, RequestHeaderFieldsTooLarge):
        return Problem(431, f"the request line and headers are over {max_header} bytes, the most this server "
                            "reads: send fewer or shorter headers (large cookies?)")
    if isinstance(error, RequestEntityTooLarge):
        return Problem(413, f"the body is larger than {max_body} bytes, the most this server accepts in a request "
                            "body: send a smaller image")
    if isinstance(error, ServerNotImplemented):
        return Problem(501, "this server reads no Transfer-Encoding but chunked: send the body as it is, with "
                            "Content-Length, or with Transfer-Encoding: chunked")
    if not isinstance(error, BadRequest):  # the app raised past Flask's handlers: a bug, logged by waitress
        return Problem(500, "the server failed to handle this request; its log has the details")
    details = {
        "Bad URI": "the request target is not a valid URI: percent-encode characters outside ASCII as UTF-8 "
                   "(é as %C3%A9)",
        "Start line is invalid": "the request line is not `METHOD /path HTTP/1.1`: percent-encode spaces in the "
                                 "path and query as %20",
        "Content-Length is invalid": "Content-Length must be the body's length in bytes, one decimal number: "
                                     "send it so, or send the body with Transfer-Encoding: chunked",
    }
    if reason in details:
        return Problem(400, details[reason])
    if "chunk" in reason.lower():
        return Problem(400, f"the chunked body is malformed ({reason.lower()}): each chunk is its size in hex, "
                            "CRLF, the bytes, CRLF, and a 0-size chunk ends the body")
    return Problem(400, f"the request could not be read ({reason}): send a well-formed HTTP/1.1 request")


class QuietChannel(HTTPChannel):
    """waitress's connection, except that the main loop does not wait on a socket it cannot write, and
    requests it cannot read get problem+json (ProblemErrorTask).

    waitress sends a response from the worker thread (its send_bytes is 1), but marks the connection
    writable for its main loop whenever output is pending. While the worker is inside send() (holding
    the output lock, without the GIL), select() says "writable" at once, the loop finds the lock taken
    and selects again: 22 empty passes per thumbnail at 8 clients, each taking the GIL back from the
    workers. Here pending output makes the connection writable only when no task runs or the lock is
    free (the worker left output behind, or waits for the loop to drain it): the passes that can write.
    Same servers alternated (2 s windows): thumbnails at 8 clients +3.0%, +3.3%, +2.4% in three runs
    of 30-40 rounds; the loop's CPU per thumbnail went from 475 to 214-258 us."""

    error_task_class = ProblemErrorTask

    def writable(self) -> bool:
        if self.will_close or self.close_when_flushed:
            return True
        return bool(self.total_outbufs_len) and (not self.requests or self._unlocked())

    def _unlocked(self) -> bool:
        if not self.outbuf_lock.acquire(False):
            return False  # a worker is sending
        self.outbuf_lock.release()
        return True


def listen(app: Callable, threads: int, account: Callable[..., None] | None = None, **options):
    """waitress's server for `app`, with the thread order of RecentFirst and the QuietChannel; `account`
    logs and counts the requests waitress answers itself (web.Service.account)."""
    # `_dispatcher` is create_server's one way in for a dispatcher of our own (waitress calls it a test
    # shim), and `channel_class` is read at each accept; waitress is pinned below 4 and
    # tests/e2e/test_server.py runs this server for real.
    server = waitress.create_server(app, _dispatcher=dispatcher(threads), **options)
    server.channel_class = QuietChannel
    server.account = account
    return server


def serve(settings: Settings) -> None:
    allocator.tune()
    # Threads waiting for the GIL get it every 1 ms instead of 5: under overload (tests/e2e/test_load.py),
    # a 304 probe's median went from 75-79 ms to 58-62 ms; thumbnail throughput did not move.
    sys.setswitchinterval(0.001)
    capture_native_stderr()
    listener = logs.configure(settings.log_format)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a "queue depth" line per busy request
    try:
        app = create_app({f.name: getattr(settings, f.name) for f in fields(Settings)})
        drain = Drain(app, app.extensions["imgserve"].account)
        try:
            server = listen(drain, settings.threads, drain.account, **waitress_options(settings))
        except (OSError, ValueError) as error:  # waitress says ValueError for a host it cannot resolve
            raise SettingsError(cannot_listen(error, settings.host, settings.port)) from None
    except SettingsError:
        listener.stop()
        raise
    signal.signal(signal.SIGTERM, lambda signum, frame: _stop(server, drain, settings.shutdown_timeout))
    server.print_listen("Serving on http://{}:{}")
    server.run()  # returns once _exit_when_idle has closed every socket
    server.task_dispatcher.shutdown(timeout=1)
    log.info("stopped")
    listener.stop()


def cannot_listen(error: OSError | ValueError, host: str, port: int) -> str:
    """What to do when the listening socket cannot be made, naming the flag and the setting."""
    if not isinstance(error, OSError):
        return f"host {host!r} cannot be resolved to an address; pass --host or set IMGSERVE_HOST"
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is in use; pass --port or set IMGSERVE_PORT"
    if error.errno == errno.EACCES:
        return (f"port {port} needs privileges this user does not have (ports below 1024 usually do); "
                "pass --port or set IMGSERVE_PORT to 1024 or above")
    if error.errno == errno.EADDRNOTAVAIL:
        return (f"{host} is not an address of this machine; pass --host or set IMGSERVE_HOST "
                "(127.0.0.1 for this machine only, 0.0.0.0 for every interface)")
    return (f"cannot listen on {host}:{port} ({error.strerror or error}); check --host and --port "
            "(IMGSERVE_HOST, IMGSERVE_PORT)")


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

