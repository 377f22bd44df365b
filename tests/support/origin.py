"""A real HTTP(S) server on 127.0.0.1 (a free port), in a thread, for /fetch to read from.

`routes` maps a path to a function of the request handler; helpers below make the usual ones:
an image (with validators that answer conditional requests), a redirect, a status, and the
misbehaving kinds (stalls, drips, bodies over the cap, truncated bodies). Every request is recorded
in `seen` as (path, headers).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


class Origin:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                origin.seen.append((self.path, dict(self.headers)))
                self.close_connection = True
                route = origin.routes.get(self.path.split("?")[0])
                if route is None:
                    status(404)(self)
                else:
                    try:
                        route(self)
                    except (BrokenPipeError, ConnectionResetError):
                        pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> Origin:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def send(handler: BaseHTTPRequestHandler, code: int, body: bytes = b"", **headers: str) -> None:
    handler.send_response(code)
    headers.setdefault("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def image(data: bytes, etag: str | None = None, last_modified: str | None = None,
          content_type: str = "image/png") -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        validators = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}
        if (etag and handler.headers.get("If-None-Match") == etag) or \
                (last_modified and not etag and handler.headers.get("If-Modified-Since") == last_modified):
            send(handler, 304, **validators)
        else:
            send(handler, 200, data, Content_Type=content_type, **validators)
    return route


def redirect(location: str, code: int = 302) -> Route:
    return lambda handler: send(handler, code, Location=location)


def status(code: int, body: bytes = b"nope", content_type: str = "text/plain") -> Route:
    return lambda handler: send(handler, code, body, Content_Type=content_type)


def stall(origin: Origin, first: bytes, declared: int) -> Route:
    """Headers and the first bytes, then nothing (until the test ends)."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(first)
        handler.wfile.flush()
        origin.stopping.wait(30)
    return route


def silent(origin: Origin) -> Route:
    """Accepts the request and never answers."""
    return lambda handler: origin.stopping.wait(30)


def drip(origin: Origin, first: bytes) -> Route:
    """A byte every 50 ms (for 5 s): each read succeeds, only a deadline for the whole fetch ends it."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(first)
        until = time.monotonic() + 5
        while not origin.stopping.wait(0.05) and time.monotonic() < until:
            handler.wfile.write(b"\0")
            handler.wfile.flush()
    return route


def drip_headers(origin: Origin) -> Route:
    """A status line, then a header a byte every 50 ms, for 5 s."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        until = time.monotonic() + 5
        while not origin.stopping.wait(0.05) and time.monotonic() < until:
            handler.wfile.write(b"X")
            handler.wfile.flush()
    return route


def chunked(first: bytes, total: int) -> Route:
    """A body with no length (chunked), `total` bytes long."""
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sent = 0
        while sent < total:
            piece = (first if not sent else b"\0" * 8192)[:total - sent]
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            sent += len(piece)
        handler.wfile.write(b"0\r\n\r\n")
    return route


def truncated(data: bytes, declared: int) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(data)
    return route


def slow(route: Route, seconds: float) -> Route:
    def delayed(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        route(handler)
    return delayed
