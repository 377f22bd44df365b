"""Running the app under waitress: connections, threads, slow clients, quiet logs, a graceful stop.

Connections are cheap and threads are not, so they are counted apart. waitress reads every request
on its one main loop and hands a thread only a request that has fully arrived: a slow client costs a
socket, never a thread. So `max_connections` (a thousand) is far above the threads, which are sized
for what can hold one (render slots, queue places, remote downloads, and some for cheap requests),
and /healthz and /readyz have two threads of their own, so a probe never waits behind anything.
A client must send a request's head within `header_timeout` seconds of its first byte, and its body
at `body_min_rate` bytes a second on average (after the first `header_timeout`), or it gets a 408
and the connection is closed; an idle connection is closed after `idle_timeout`.

On SIGTERM the listening socket is closed (new connections are refused, so a load balancer moves
on) and idle kept-alive connections are closed. Requests that had begun to arrive are read and
served; one that only begins on a kept-alive connection after the signal gets a 503. Shortly before
`shutdown_timeout` the renders still queued are refused with a 503 and running ones stop after their
current step, as at their own deadline; what is still unanswered at the timeout - a request that
never finished arriving, a response not yet sent, a render inside one long decoder call - is counted
and logged, and the process exits with status 1 instead of 0.
"""

from __future__ import annotations

import errno
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import fields, replace

import waitress
from waitress import wasyncore
from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask
from waitress.utilities import BadRequest, RequestEntityTooLarge, RequestHeaderFieldsTooLarge, ServerNotImplemented
from waitress.utilities import Error as WaitressError
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
INCOMPLETE = "incomplete"  # the endpoint label of requests that did not arrive in time (408)
HEALTH = ("/healthz", "/readyz")  # answered by threads of their own
HEALTH_THREADS = 2
ARRIVED = "imgserve.arrived"  # environ: time.monotonic() of the request's first byte
CLEANUP_SECONDS = 1.0  # how often slow and idle connections are looked for
SEND_PIECE = 256 * 1024  # bytes waitress hands the kernel per send() (Channel)
FILES_SPARE = 64  # descriptors kept for originals, logs and the listening socket, past the connections


class Drain:
    """WSGI middleware that knows how many requests are in progress and refuses new ones once stopping.
    A refusal gets its access line and is counted through `account` (web.Service.account), like any
    answer: an operator should see how many requests a shutdown turned away. A request whose first
    byte came before the stop (ARRIVED, set by our channel) was accepted and is served."""

    def __init__(self, app: Callable, account: Callable[..., None]) -> None:
        self.app = app
        self.account = account
        self.active = 0
        self.stopping = False
        self.stopped_at = float("inf")
        self._lock = threading.Lock()

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        self.stopping = True

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if self.stopping and environ.get(ARRIVED, self.stopped_at) >= self.stopped_at:
            problem = Problem(503, "the server is shutting down; retry on another instance")
            body = problem.body()
            start_response("503 Service Unavailable", [("Content-Type", PROBLEM_JSON), ("Retry-After", "1")])
            self.account(environ, DRAINING, 503, len(body), 0.0, detail=problem.detail)
            return [body]
        with self._lock:
            self.active += 1
        try:
            result = self.app(environ, start_response)
        except BaseException:
            self._finished()
            raise
        if isinstance(result, ReadOnlyFileBasedBuffer):
            # waitress sends a file buffer from its main loop and closes it once sent (or when the
            # connection closes): that is when this request is over. Wrapping it would make waitress
            # copy it into every connection's buffer instead (web/bodies.py).
            close = result.close
            result.close = lambda: (close(), self._finished())
            return result
        return ClosingIterator(result, self._finished)

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
                inbuf_overflow=BODY_SLACK * settings.max_body_bytes + 1, outbuf_overflow=sys.maxsize,
                channel_timeout=settings.idle_timeout, cleanup_interval=CLEANUP_SECONDS)


class Dispatcher(ThreadedTaskDispatcher):
    """waitress's dispatcher, with a small pool of its own for the health endpoints: however busy the
    others are, a probe finds a thread."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.set_thread_count(threads)
        self.health = ThreadedTaskDispatcher()
        self.health.set_thread_count(HEALTH_THREADS)

    def add_task(self, task) -> None:
        requests = getattr(task, "requests", None)
        if requests and getattr(requests[0], "path", None) in HEALTH:
            self.health.add_task(task)
        else:
            super().add_task(task)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        self.health.shutdown(cancel_pending, timeout)
        return super().shutdown(cancel_pending, timeout)


def dispatcher(threads: int) -> Dispatcher:
    return Dispatcher(threads)


class Parser(HTTPRequestParser):
    """waitress's request parser, noting when the request's first byte and its head's end arrived, and
    counting its body in the memory budget while it is held (`adj.budget`: web.admission.Admission).

    waitress reads a whole body before the app sees it: a thousand connections each sending 64 MiB
    would hold 64 GiB that no render reservation sees. Each body's bytes are taken from MAX_MEMORY as
    they arrive; a body that does not fit is refused at once (503), and its bytes are given back when
    the request is done or its connection closed."""

    def __init__(self, adj) -> None:
        super().__init__(adj)
        self.arrived = time.monotonic()  # made when the first byte of a request comes in
        self.body_started: float | None = None
        self.budget = getattr(adj, "budget", None)
        self.counted = 0

    def received(self, data: bytes) -> int:
        before = self.body_bytes_received
        consumed = super().received(data)
        if self.body_started is None and self.headers_finished:
            self.body_started = time.monotonic()
        grown = self.body_bytes_received - before
        if grown and self.budget is not None and not self.error:
            if self.budget.take(grown):
                self.counted += grown
            else:
                self.error = Unavailable("request bodies arriving fill the memory budget")
                self.completed = True
                return len(data)  # the rest is this body's too: not the start of another request
        return consumed

    def close(self) -> None:
        """When the request is done, or its connection closed (Channel.handle_close)."""
        super().close()
        counted, self.counted = self.counted, 0
        if counted and self.budget is not None:
            self.budget.give(counted)


class Unavailable(WaitressError):
    code = 503
    reason = "Service Unavailable"


class Task(WSGITask):
    """waitress's task, telling the app when its request began to arrive (for Drain)."""

    def get_environment(self) -> dict:
        environ = super().get_environment()
        environ[ARRIVED] = getattr(self.request, "arrived", 0.0)
        return environ


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
        self.response_headers += [("Content-Type", PROBLEM_JSON), *problem.headers.items()]
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
    if isinstance(error, Unavailable):
        return Problem(503, "the request bodies arriving now fill this server's memory budget (IMGSERVE_MAX_MEMORY); "
                            "retry shortly", headers={"Retry-After": "1"})
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


class Channel(HTTPChannel):
    """waitress's connection, which answers what it cannot read with problem+json (ProblemErrorTask),
    notes when a request began to arrive (Parser, Task) so that slow ones can be refused (`too_slow`,
    `refuse`), and sends large bodies in pieces that bound the copies it holds."""

    error_task_class = ProblemErrorTask
    task_class = Task
    parser_class = Parser

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # waitress reads what it sends in pieces of the socket's send buffer (4 MB on Linux's loopback):
        # each worker thread flushing a large body held one such copy. A smaller piece bounds that.
        self.sendbuf_len = min(self.sendbuf_len, SEND_PIECE)

    def received(self, data: bytes) -> bool:
        if self.requests and self.requests[-1].error is not None:
            return False  # more of a refused request's body: dropped; the connection closes after the answer
        return super().received(data)

    def handle_close(self) -> None:
        if self.request is not None:  # waitress drops a request still arriving without closing it
            self.request.close()
        super().handle_close()

    def too_slow(self, now: float, header_timeout: float, body_min_rate: int) -> str | None:
        """Why the request being received is late, or None. Only while no task runs on this
        connection: a request queued behind a running one is not being read, so it is not late."""
        request = self.request
        if request is None or self.requests or self.will_close or self.close_when_flushed:
            return None
        arrived = getattr(request, "arrived", now)
        if not request.headers_finished:
            if now - arrived > header_timeout:
                return f"the request's head did not arrive within {header_timeout:g} s"
            return None
        elapsed = now - request.body_started
        if elapsed > header_timeout and request.body_bytes_received < body_min_rate * elapsed:
            return (f"the request's body came at {request.body_bytes_received / elapsed:.0f} bytes/s, slower than "
                    f"{body_min_rate} (IMGSERVE_BODY_MIN_RATE)")
        return None

    def refuse(self, problem: Problem, account: Callable[..., None] | None, endpoint: str = INCOMPLETE) -> None:
        """Answer the request being received with `problem` and close, from the main loop."""
        request, self.request = self.request, None
        body = problem.body()
        fields = {"Content-Type": PROBLEM_JSON, "Content-Length": str(len(body)), **problem.headers,
                  "Connection": "close"}
        head = (f"HTTP/1.1 {problem.status} {problem.title}\r\n" +
                "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode("latin-1")
        with self.outbuf_lock:
            self.outbufs[-1].append(head + body)
            self.total_outbufs_len += len(head) + len(body)
        self.close_when_flushed = True
        if account is not None:
            environ = {"REQUEST_METHOD": getattr(request, "command", None) or "-",
                       "PATH_INFO": getattr(request, "path", None) or "", "QUERY_STRING": getattr(request, "query", "")}
            account(environ, endpoint, problem.status, len(body), time.monotonic() - getattr(
                request, "arrived", time.monotonic()), detail=problem.detail)


def listen(app: Callable, threads: int, *, account: Callable[..., None] | None = None, header_timeout: float = 10.0,
           body_min_rate: int = 10240, budget=None, **options):
    """waitress's server for `app`, with the Dispatcher, the Channel, and the request deadlines
    enforced by waitress's periodic maintenance (`cleanup_interval`); `account` logs and counts the
    requests waitress answers itself (web.Service.account); `budget` (web.admission.Admission) counts
    request bodies while they are held (Parser)."""
    # `_dispatcher` is create_server's one way in for a dispatcher of our own (waitress calls it a test
    # shim), and `channel_class` is read at each accept; waitress is pinned below 4 and
    # tests/e2e/test_server.py runs this server for real.
    server = waitress.create_server(app, _dispatcher=dispatcher(threads), **options)
    server.adj.budget = budget  # read by each connection's Parser
    server.channel_class = Channel
    server.account = account
    maintenance = server.maintenance

    def maintain(now: float) -> None:
        maintenance(now)  # waitress's: idle connections get will_close (channel_timeout)
        moment = time.monotonic()
        stuck = []
        for channel in list(server.active_channels.values()):
            why = channel.too_slow(moment, header_timeout, body_min_rate) if isinstance(channel, Channel) else None
            if why:
                channel.refuse(Problem(408, f"{why}; send requests without pauses"), account)
            elif channel.will_close and channel.total_outbufs_len and not channel.requests:
                stuck.append(channel)
        if stuck:
            # waitress closes a channel in handle_write, which select() never calls while the client
            # reads nothing (its window is shut): idle output would be held for ever. Close them from
            # the loop's trigger, outside the poll that is running this.
            server.trigger.pull_trigger(lambda: [c.handle_close() for c in stuck if c.connected])

    server.maintenance = maintain
    return server


def file_limit(connections: int) -> int:
    """Raise this process's descriptor limit as far as allowed, and return how many connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + FILES_SPARE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with suppress(ValueError, OSError):
            soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return connections if soft == resource.RLIM_INFINITY else max(1, min(connections, soft - FILES_SPARE))


def serve(settings: Settings) -> int:
    """Serve until SIGTERM; the exit status: 0, or 1 if work was dropped at the shutdown deadline."""
    allocator.tune()
    # Threads waiting for the GIL get it every 1 ms instead of 5: under overload (tests/e2e/test_load.py),
    # a 304 probe's median went from 75-79 ms to 58-62 ms; thumbnail throughput did not move.
    sys.setswitchinterval(0.001)
    capture_native_stderr()
    listener = logs.configure(settings.log_format)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a "queue depth" line per busy request
    connections = file_limit(settings.max_connections)
    if connections < settings.max_connections:
        log.warning("only %d connections fit in this process's descriptor limit (IMGSERVE_MAX_CONNECTIONS=%d)",
                    connections, settings.max_connections)
        settings = replace(settings, max_connections=connections)
    try:
        app = create_app({f.name: getattr(settings, f.name) for f in fields(Settings)})
        service = app.extensions["imgserve"]
        drain = Drain(app, service.account)
        try:
            server = listen(drain, settings.threads, account=service.account, header_timeout=settings.header_timeout,
                            body_min_rate=settings.body_min_rate, budget=service.admission,
                            **waitress_options(settings))
        except (OSError, ValueError) as error:  # waitress says ValueError for a host it cannot resolve
            raise SettingsError(cannot_listen(error, settings.host, settings.port)) from None
    except SettingsError:
        listener.stop()
        raise
    outcome = {"dropped": 0}
    signal.signal(signal.SIGTERM, lambda signum, frame: _stop(server, drain, service.admission,
                                                                settings.shutdown_timeout, outcome))
    server.print_listen("Serving on http://{}:{}")
    server.run()  # returns once _exit_when_idle has closed every socket
    server.task_dispatcher.shutdown(timeout=1)
    log.info("stopped")
    listener.stop()
    if outcome["dropped"]:
        # A thread may still be inside a decoder: finalizing the interpreter under it aborts (SIGABRT).
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        os._exit(1)
    return 0


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


def _stop(server, drain: Drain, admission, timeout: float, outcome: dict) -> None:
    if drain.stopping:
        return
    log.info("SIGTERM: no new connections; finishing %d request(s) within %g s", drain.active, timeout)
    drain.stop()
    now = time.monotonic()
    # At `soft`, renders still waiting for a slot get a 503, running ones stop after their current
    # step, and requests still arriving are refused: their answers can be sent before the deadline.
    soft = now + timeout - min(1.0, timeout / 4)
    admission.stop_at(soft)
    # On the loop's own thread (closing inside this handler would leave select() retrying on a dead
    # descriptor): close the listening socket, and the kept-alive connections that are idle.
    server.trigger.pull_trigger(lambda: _close_listener_and_idle(server))
    threading.Thread(target=_exit_when_idle, args=(server, drain, soft, now + timeout, outcome),
                     name="drain", daemon=True).start()


def _close_listener_and_idle(server) -> None:
    wasyncore.dispatcher.close(server)
    for channel in _channels(server):
        if not channel.requests and not channel.total_outbufs_len and channel.request is None:
            channel.will_close = True


def _refuse_arriving(server, account: Callable[..., None]) -> None:
    """On the loop's thread: a 503 for each request still arriving with no task running before it."""
    for channel in _channels(server):
        if isinstance(channel, Channel) and channel.request is not None and not channel.requests:
            channel.refuse(Problem(503, "the server is shutting down and this request had not fully arrived; "
                                        "retry on another instance", headers={"Retry-After": "1"}), account, DRAINING)


def _channels(server) -> list:
    while True:  # the loop thread adds and removes channels meanwhile: a copy may fail, then try again
        try:
            return [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]
        except RuntimeError:
            continue


def _exit_when_idle(server, drain: Drain, soft: float, deadline: float, outcome: dict) -> None:
    refused = False
    while time.monotonic() < deadline:
        channels = _channels(server)
        if not drain.active and not any(c.requests or c.total_outbufs_len or c.request for c in channels):
            break
        if not refused and time.monotonic() >= soft:
            refused = True
            server.trigger.pull_trigger(lambda: _refuse_arriving(server, drain.account))
        time.sleep(0.02)
    else:
        channels = _channels(server)
        processing = sum(len(c.requests) for c in channels)
        partial = sum(1 for c in channels if c.request is not None and not c.requests)
        unsent = sum(1 for c in channels if c.total_outbufs_len and not c.requests)
        outcome["dropped"] = processing + partial + unsent
        if outcome["dropped"]:
            log.error("shutdown deadline: dropped %d request(s): %d still being processed, %d not fully received, "
                      "%d responses not fully sent", outcome["dropped"], processing, partial, unsent)
    # waitress's loop runs while it has sockets: closing them all, on its own thread, ends it. (Not
    # SIGINT: a server started in the background by a shell has SIGINT ignored.) pull_trigger queues
    # the thunk, then writes to the trigger's pipe; the loop may already have run it and closed the
    # pipe in between, which is fine.
    with suppress(OSError):
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
