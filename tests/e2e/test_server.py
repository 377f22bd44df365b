"""End to end: the real `imgserve serve` (waitress) in a subprocess, spoken to over a real socket."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from tests.support.http import free_port, request, start, stop
from tests.support.images import RED, close, color_at, decode, encode, photo
from tests.support.waiting import wait_until


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def server(root: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "server.log"
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--threads", "4"], {}, port, log)
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop(process)


def test_imgserve_serve_end_to_end(server: tuple[str, Path], root: Path) -> None:
    base, log = server
    status, headers, body = request(f"{base}/image/quad.png?w=40&format=png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    image = decode(body)
    assert image.shape == (30, 40, 3) and close(color_at(image, 0.25, 0.25), RED)

    status, headers, body = request(f"{base}/image/photo?w=64", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0
    status, _, body = request(f"{base}/image/photo?w=64", headers={"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""

    status, headers, body = request(f"{base}/image/photo.jpg?w=nope")
    assert status == 400 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["option"] == "w"
    status, _, _ = request(f"{base}/image/..%2f..%2fetc%2fpasswd")
    assert status == 404

    # a burst of concurrent requests, and nothing but our own lines in the log
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda i: request(f"{base}/image/photo.jpg?w={20 + i}")[0], range(48)))
    assert statuses == [200] * 48
    assert "Task queue depth" not in log.read_text()
    assert not list(root.parent.glob("**/*.tmp"))


def test_waitress_serve_call_works_and_logs_each_request_once(root: Path, tmp_path: Path) -> None:
    """waitress-serve configures logging only after create_app: a handler of our own beside its root
    handler wrote every access line twice."""
    port, log = free_port(), tmp_path / "waitress.log"
    process = start([sys.executable, "-m", "waitress", "--host", "127.0.0.1", "--port", str(port), "--call",
                     "imgserve:create_app"], {"IMGSERVE_ROOT": str(root), "IMGSERVE_PROT": "1"}, port, log)
    try:
        status, headers, body = request(f"http://127.0.0.1:{port}/image/sub/deep.bmp?w=20")
        assert status == 200 and decode(body).shape == (10, 20, 3)
        assert request(f"http://127.0.0.1:{port}/image/missing.png")[0] == 404
        time.sleep(0.2)
    finally:
        stop(process)
    text = log.read_text()
    access = [line for line in text.splitlines() if "imgserve.access" in line]
    assert len(access) == 2, text
    assert f"imgserve.access: GET /image/sub/deep.bmp?w=20 200 {len(body)} B" in access[0]
    assert "GET /image/missing.png 404" in access[1]
    assert text.count("IMGSERVE_PROT is not a setting and is ignored; did you mean IMGSERVE_PORT?") == 1


def test_decoder_chatter_stays_off_the_console(server: tuple[str, Path], root: Path) -> None:
    """libpng and libjpeg print to fd 2 themselves; the console must show only the service's own line."""
    base, log = server
    png = encode(photo(200, 150))
    (root / "cut.png").write_bytes(png[: len(png) * 7 // 10])     # libpng: "PNG input buffer is incomplete"
    jpeg = bytearray(encode(photo(200, 150), ".jpg"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = (600).to_bytes(2, "big") * 2           # libjpeg: "Corrupt JPEG data: premature end"
    (root / "short.jpg").write_bytes(bytes(jpeg))
    status, _, body = request(f"{base}/image/cut.png?w=10")
    assert status == 415 and b"could not be decoded" in body
    status, _, body = request(f"{base}/image/short.jpg?w=10")
    assert status == 200 and decode(body).shape == (10, 10, 3)
    wait_until(lambda: "/image/short.jpg" in log.read_text(), "the last request's access line")
    text = log.read_text()  # decoders write to fd 2 during the decode, before that line
    assert "libpng" not in text and "Corrupt JPEG" not in text, text
    assert text.count("/image/cut.png") == 1, text


def test_sigterm_finishes_requests_in_progress_and_refuses_new_ones(root: Path, tmp_path: Path) -> None:
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--shutdown-timeout", "120"], {}, port, tmp_path / "drain.log")
    slow = f"http://127.0.0.1:{port}/image/photo.jpg?w=8000&enlarge=1&format=png&sharpen=2"  # a second or two
    from concurrent.futures import ThreadPoolExecutor
    kept_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        kept_alive.request("GET", "/image/quad.png?w=10")
        assert kept_alive.getresponse().read()
        with ThreadPoolExecutor(2) as pool:
            in_progress = pool.submit(request, slow, timeout=120)  # a second or two; 10+ on a loaded machine
            wait_until(lambda: b"imgserve_images_in_flight 1.0" in request(f"http://127.0.0.1:{port}/metrics")[2],
                       "the slow render to start")
            process.send_signal(signal.SIGTERM)
            wait_until(lambda: not listening(port), "the listening socket to close")
            with pytest.raises(OSError):  # the listening socket is closed: refused, not queued
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            with pytest.raises(OSError):  # the idle kept-alive connection was closed
                kept_alive.request("GET", "/image/quad.png?w=11")
                kept_alive.getresponse()
            status, headers, body = in_progress.result(timeout=120)
        assert status == 200 and int(headers["Content-Length"]) == len(body)
        assert decode(body).shape == (6000, 8000, 3)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = (tmp_path / "drain.log").read_text()
    # The render was in progress at SIGTERM and finished after it. (The count may include the last
    # /metrics poll, whose request ends only when waitress has written it.)
    assert "stopped" in text and text.index("finishing ") < text.index("GET /image/photo.jpg?w=8000"), text


def test_sigterm_with_nothing_in_progress_exits_at_once(root: Path, tmp_path: Path) -> None:
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port)], {},
                    port, tmp_path / "idle.log")
    assert request(f"http://127.0.0.1:{port}/image/quad.png?w=10")[0] == 200
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 7  # not the 10 s shutdown timeout (measured: well under 1 s)


def test_requests_arriving_while_stopping_get_503_logged_and_counted(root: Path, caplog) -> None:
    from imgserve import create_app
    from imgserve.server.runner import DRAINING, Drain
    from tests.support.http import scrape, value

    app = create_app({"root": str(root)})
    drain = Drain(app, app.extensions["imgserve"].account)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/image/quad.png", "QUERY_STRING": "w=10",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": None}
    statuses = []
    response = drain(dict(environ), lambda status, headers, *exc: statuses.append(status))
    served = b"".join(response)
    response.close()  # as waitress does: the request is over
    assert statuses == ["200 OK"] and decode(served).shape == (8, 10, 3) and drain.active == 0
    drain.stopping = True
    caplog.set_level("INFO", logger="imgserve.access")
    refused = []
    body = b"".join(drain(dict(environ), lambda status, headers: refused.append((status, dict(headers)))))
    assert refused[0][0].startswith("503") and refused[0][1]["Retry-After"] == "1"
    assert json.loads(body)["status"] == 503
    line = caplog.records[-1].access
    assert (line["path"], line["status"], line["bytes"]) == ("/image/quad.png?w=10", 503, len(body))
    assert "shutting down" in line["detail"]
    samples = scrape(app.test_client())  # the Flask app itself still answers: only Drain refuses
    assert value(samples, "imgserve_requests_total", endpoint=DRAINING, status="503") == 1
    assert value(samples, "imgserve_requests_total", endpoint="/image/<path:id>", status="200") == 1


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_serve_writes_exactly_one_line_per_request(root: Path, tmp_path: Path, log_format: str) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--threads", "4"], {"IMGSERVE_LOG_FORMAT": log_format}, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        urls = ["/image/photo.jpg?w=30", "/image/photo.jpg?w=30", "/image/photo.jpg?w=abc", "/image/missing",
                "/nope", "/healthz", "/readyz", "/metrics"]
        statuses = [request(base + url)[0] for url in urls]
        statuses.append(request(f"{base}/image/quad.png?w=9", method="HEAD")[0])
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(8) as pool:
            statuses += pool.map(lambda i: request(f"{base}/image/quad.png?w={10 + i}")[0], range(24))
    finally:
        stop(process)
    assert statuses[:9] == [200, 200, 400, 404, 404, 200, 200, 200, 200] and statuses[9:] == [200] * 24
    lines = log.read_text().splitlines()
    started = next(i for i, line in enumerate(lines) if "Serving on" in line)
    stopping = next(i for i, line in enumerate(lines) if "SIGTERM" in line)
    access = lines[started + 1:stopping]   # while serving, the log holds one access line per request, no more
    assert len(access) == len(statuses), lines
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        access = [r for r in records if r["logger"] == "imgserve.access"]
        assert len(access) == len(statuses)
        assert [(r["path"], r["status"], r["cache"]) for r in access[:3]] == [
            ("/image/photo.jpg?w=30", 200, "miss"), ("/image/photo.jpg?w=30", 200, "hit"),
            ("/image/photo.jpg?w=abc", 400, None)]
        assert access[2]["detail"].startswith("w: ")
        assert sorted(r["status"] for r in access) == sorted(statuses)
    else:
        assert all(" INFO imgserve.access: " in line for line in access)
        assert access[0].endswith("cache=miss format=jpeg") and access[1].endswith("cache=hit format=jpeg")
        assert ": w: expected a whole number" in access[2]


def test_uploads_over_a_real_socket(root: Path, tmp_path: Path) -> None:
    """POST /process through waitress: raw body, chunked body, and a body over the limit."""
    from tests.support.images import encode, quadrants

    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--max-body-bytes", "100000"], {}, port, tmp_path / "server.log")
    try:
        body = encode(quadrants())
        status, headers, data = request_with_body(port, "/process?w=40&format=png", body)
        assert status == 200 and decode(data).shape == (30, 40, 3)
        status, _, data = request_with_body(port, "/process?w=20", iter([body[:100], body[100:]]))
        assert status == 200 and decode(data).shape == (15, 20, 3)   # chunked: no Content-Length
        for big in (b"\x89PNG" + b"\0" * 150_000, iter([b"\x89PNG" + b"\0" * 150_000])):   # sized, chunked
            status, headers, data = request_with_body(port, "/process", big)
            assert status == 413 and headers["Content-Type"] == "application/problem+json"
            assert "at most 100000 bytes" in json.loads(data)["detail"]
        status, _, data = request_with_body(port, "/process", b"\x89PNG" + b"\0" * 250_000)
        assert status == 413   # over twice the limit: waitress refuses it from the header, without reading it
    finally:
        stop(process)


def request_with_body(port: int, path: str, body) -> tuple[int, Message, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "image/png"},
                           encode_chunked=not isinstance(body, bytes))
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_a_slow_reader_gets_every_byte_of_responses_past_the_output_watermark() -> None:
    """A worker whose output passes waitress's high watermark waits for the main loop to drain it,
    while its task still runs (and with a pipelined request queued behind it): the loop must then
    write, or the worker and the client wait for each other for ever."""
    from imgserve.server.runner import listen

    chunk = bytes(range(256)) * 256  # 64 KB

    def app(environ, start_response):
        count = 8 if environ["PATH_INFO"] == "/big" else 1
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(count * len(chunk)))])
        return (chunk for _ in range(count))

    server = listen(app, 2, host="127.0.0.1", port=0, outbuf_high_watermark=len(chunk),
                    channel_request_lookahead=1)
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)  # accepted sockets inherit it
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.settimeout(10)
    try:
        client.connect(("127.0.0.1", int(server.effective_port)))
        client.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\nGET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.5)  # not reading: the buffers fill and the worker waits (a window: load can only
        # keep them from filling, which makes the test pass without the stall, never fail)
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2 or not received.endswith(chunk):
            data = client.recv(1 << 20)
            assert data, "connection closed early"
            received += data
        first, second = received.split(b"HTTP/1.1 200 OK")[1:]
        assert first.split(b"\r\n\r\n", 1)[1] == chunk * 8
        assert second.split(b"\r\n\r\n", 1)[1] == chunk
    finally:
        client.close()
        server.close()
        thread.join(5)
