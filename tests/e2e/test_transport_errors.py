"""Requests that waitress or Werkzeug's form parser refuse before a view runs, against the real
`imgserve serve` over a raw socket: each answer is problem+json saying what to send instead, and
each has its access line, like every other answer. (Stock waitress sends text/plain that nothing logs.)"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.http import free_port, start, stop

LIMIT = 100_000  # --max-body-bytes: waitress itself refuses bodies of twice that


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("transport")
    (folder / "images").mkdir()
    port, log = free_port(), folder / "server.log"
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(folder / "images"), "--port", str(port),
                     "--max-body-bytes", str(LIMIT)], {}, port, log)
    try:
        yield port, log
    finally:
        stop(process)


def exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        try:
            connection.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: the answer is still there
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def access_line(log: Path, detail: str, after: int) -> str:
    """The access line written past byte `after` of the log that carries `detail` (the log writer is a
    thread: wait for it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in log.read_bytes()[after:].decode().splitlines()
                 if "imgserve.access" in line and detail in line]
        if lines:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.05)
    raise AssertionError(f"no access line with {detail!r} in:\n{log.read_text()}")


def multipart(parts: int, size: int = 1) -> bytes:
    return b"".join(b"--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\n%s\r\n" % (i, b"x" * size)
                    for i in range(parts)) + b"--b--\r\n"


PARTS = multipart(1200)  # small: well within the body limit, over Werkzeug's 1000 parts
# waitress stops reading where it refuses, and a socket closed with unread bytes is reset, taking the answer
# with it: these send exactly as much as waitress reads before it refuses.
HEADERS_OVER = (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 262_144)[:262_144]
CHUNK = b"%x\r\n" % (3 * LIMIT)
CHUNKED_OVER = (b"POST /process HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: image/png\r\n\r\n"
                + CHUNK + b"\0" * (2 * LIMIT - len(CHUNK)))
CASES = [
    ("bad Content-Length", b"POST /process HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\n", 400,
     "Content-Length must be the body's length in bytes, one decimal number: send it so, or send the body with "
     "Transfer-Encoding: chunked", "POST /process 400"),
    ("Transfer-Encoding gzip", b"POST /process HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
     b"0\r\n\r\n", 501, "this server reads no Transfer-Encoding but chunked: send the body as it is, with "
     "Content-Length, or with Transfer-Encoding: chunked", "POST /process 501"),
    ("headers over the limit", HEADERS_OVER, 431,
     "the request line and headers are over 262144 bytes, the most this server reads: send fewer or shorter headers "
     "(large cookies?)", "- - 431"),
    ("raw non-ASCII in the URI", "GET /image/été.jpg?w=1 HTTP/1.1\r\nHost: t\r\n\r\n".encode(), 400,
     "the request target is not a valid URI: percent-encode characters outside ASCII as UTF-8 (é as %C3%A9)",
     "GET /image/%C3%A9t%C3%A9.jpg?w=1 400"),
    ("a space in the URI", b"GET /image/a b.jpg HTTP/1.1\r\nHost: t\r\n\r\n", 400,
     "the request line is not `METHOD /path HTTP/1.1`: percent-encode spaces in the path and query as %20", "- - 400"),
    ("a malformed chunk", b"POST /process HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Type: image/png\r\n\r\nzz\r\n", 400, "the chunked body is malformed (invalid chunk size): each chunk "
     "is its size in hex, CRLF, the bytes, CRLF, and a 0-size chunk ends the body", "POST /process 400"),
    ("a chunked body over twice the limit", CHUNKED_OVER, 413,
     f"the body is larger than {LIMIT} bytes, the most this server accepts in a request body: send a smaller image",
     "POST /process 413"),
    ("a declared length over twice the limit", b"POST /process HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
     b"Content-Length: %d\r\n\r\n" % (3 * LIMIT), 413,
     f"the body is larger than {LIMIT} bytes, the most this server accepts in a request body: send a smaller image",
     "POST /process 413"),
    ("1200 small multipart parts", b"POST /process HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
     b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: %d\r\n\r\n" % len(PARTS) + PARTS, 413,
     "the multipart body has more than 1000 parts, or a text field over 500000 bytes: send one part, the file field "
     "'image' (or the image's bytes as the body, with Content-Type image/*)", "POST /process 413"),
    ("a multipart body with a wrong boundary", b"POST /process HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
     b"Content-Type: multipart/form-data; boundary=other\r\nContent-Length: %d\r\n\r\n" % len(PARTS) + PARTS, 400,
     "the multipart body has no part this server can read: check the boundary in its Content-Type, and send the "
     "image as the file field 'image'", "POST /process 400"),
    ("a doubled slash with a Host of its own",
     b"GET /image//etc/passwd HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 404,
     "no original '/etc/passwd': an id is a path under the image root, without a leading slash or empty segments, "
     "like photos/rotated.jpg", "GET /image//etc/passwd 404"),
]


@pytest.mark.parametrize("name, sent, status, detail, logged", CASES, ids=[case[0] for case in CASES])
def test_refused_requests_get_problem_json_and_an_access_line(server, name: str, sent: bytes, status: int,
                                                               detail: str, logged: str) -> None:
    port, log = server
    written = log.stat().st_size
    got, headers, body = exchange(port, sent)
    assert got == status, body
    assert headers["content-type"] == "application/problem+json" and "location" not in headers
    problem = json.loads(body)
    assert (problem["status"], problem["detail"]) == (status, detail)
    assert f"imgserve.access: {logged} {len(body)} B" in access_line(log, detail, written)


def test_the_server_still_answers_after_them(server) -> None:
    port, _ = server
    status, _, body = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert status == 200
