"""Attacks on a real `imgserve serve` (issue #19): slow clients, and SIGTERM with work in flight.

Each test starts the server in a subprocess, attacks it over real sockets, and cleans up its sockets
and the process whatever happens.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.http import free_port, request, start, stop
from tests.support.images import decode, encode, photo


def serve(root: Path, log: Path, **settings: str):
    port = free_port()
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in settings.items()]
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port), *flags],
                    {}, port, log)
    return process, port


_READERS: dict[socket.socket, object] = {}


def read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response from `sock`, whole (status, headers, body); raises if the connection ends
    first. Bytes past it (a pipelined response) stay buffered for the next call."""
    sock.settimeout(timeout)
    reader = _READERS.setdefault(sock, sock.makefile("rb"))
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("closed before a response")
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0)))
    if len(body) < int(headers.get("content-length", 0)):
        raise ConnectionError("closed in the middle of the body")
    return int(status_line.split()[1]), headers, body


@pytest.mark.slow
def test_slow_clients_do_not_starve_health_checks(root: Path, tmp_path: Path) -> None:
    """Row B5: 500 connections each trickling a request's head, a byte every second. Before: past
    98 of them /healthz timed out for the whole attack (waitress stopped accepting at 100
    connections). Now /healthz answers quickly throughout, and each slow client gets a 408 once it
    has taken HEADER_TIMEOUT, then is closed."""
    slow_count, header_timeout = 500, 3
    log = tmp_path / "server.log"
    process, port = serve(root, log, header_timeout=str(header_timeout))
    latencies: list[float] = []
    with ExitStack() as cleanup:
        cleanup.callback(stop, process)
        slow = []
        for _ in range(slow_count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            cleanup.callback(sock.close)
            sock.sendall(b"GET /image/photo.jpg?w=10 HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        started = time.monotonic()
        stop_trickle = threading.Event()

        def trickle() -> None:
            while not stop_trickle.wait(1.0):
                for sock in slow:
                    try:
                        sock.send(b"X")
                    except OSError:
                        pass

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        cleanup.callback(stop_trickle.set)
        while time.monotonic() - started < header_timeout + 2.5:
            began = time.monotonic()
            status, _, body = request(f"http://127.0.0.1:{port}/healthz")
            latencies.append(time.monotonic() - began)
            assert status == 200 and json.loads(body)["status"] == "ok"
            time.sleep(0.1)
        stop_trickle.set()
        trickler.join(5)
        refused = 0
        for sock in slow:
            status, headers, body = read_response(sock, timeout=5)
            assert status == 408 and headers["content-type"] == "application/problem+json"
            assert "did not arrive within 3 s" in json.loads(body)["detail"]
            assert _READERS[sock].read(1) == b""  # and closed
            refused += 1
        assert refused == slow_count
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
    assert log.read_text().count(" 408 ") >= slow_count  # each one logged
    print(f"/healthz under {slow_count} slow connections: {len(latencies)} probes, median "
          f"{sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")


@pytest.mark.slow
def test_a_body_trickled_below_the_minimum_rate_gets_a_408(root: Path, tmp_path: Path) -> None:
    process, port = serve(root, tmp_path / "server.log", header_timeout="1", body_min_rate="1000")
    with ExitStack() as cleanup:
        cleanup.callback(stop, process)
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        cleanup.callback(sock.close)
        sock.sendall(b"POST /process HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n")
        started = time.monotonic()
        status, _, body = None, None, b""
        while time.monotonic() - started < 6:
            try:
                sock.send(b"\0" * 10)
            except OSError:
                break
            time.sleep(0.2)
        status, _, body = read_response(sock, timeout=5)
        assert status == 408 and "slower than 1000" in json.loads(body)["detail"]
        assert time.monotonic() - started < 4.5
        fast = encode(photo(64, 48))  # a body at a normal pace is served
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/process?w=32", body=fast, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        assert response.status == 200 and decode(response.read()).shape[:2] == (24, 32)
        connection.close()


def test_request_bodies_being_received_count_in_max_memory(root: Path, tmp_path: Path) -> None:
    """waitress holds a body whole before the app sees it: twelve clients each sending 20 MB and not
    finishing held 240 MB that no reservation saw (a thousand connections x 64 MiB: 64 GiB). With
    MAX_MEMORY=64 MiB the bodies that do not fit get a 503 problem+json at once, RSS stays within the
    budget, and once the others are done their memory serves a new upload."""
    size, clients = 20 * 2**20, 12
    process, port = serve(root, tmp_path / "server.log", max_memory=str(64 * 2**20), max_body_bytes=str(size))
    with ExitStack() as cleanup:
        cleanup.callback(stop, process)
        at_rest = _rss_mb(process.pid)
        head = (f"POST /process HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {size}\r\n"
                "\r\n").encode()
        refused, holding = [], []
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            cleanup.callback(sock.close)
            sock.sendall(head)
            try:
                sock.sendall(b"\0" * (size - 1000))  # all but the end: the server holds it, waiting for more
            except OSError:
                pass  # refused and closed while we were sending
            sock.settimeout(2)
            try:
                answer = sock.recv(1 << 20)
            except TimeoutError:
                holding.append(sock)
                continue
            while chunk := sock.recv(1 << 20):  # a refusal closes the connection
                answer += chunk
            fields, _, body = answer.partition(b"\r\n\r\n")
            assert fields.startswith(b"HTTP/1.1 503 "), answer[:300]
            assert b"Content-Type: application/problem+json" in fields and b"Retry-After: 1" in fields
            assert "IMGSERVE_MAX_MEMORY" in json.loads(body)["detail"]
            refused.append(sock)
        grown = _rss_mb(process.pid, "VmHWM") - at_rest
        assert refused and len(holding) <= 3, (len(refused), len(holding))
        assert grown <= 64 * 1.048576 + SLACK_MIB, f"+{grown:.0f} MB with {len(holding)} bodies held"
        for sock in holding:
            sock.close()
        deadline = time.monotonic() + 10
        while True:  # the server sees the closed connections at its next pass: their bytes come back
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("POST", "/process", body=b"\0" * size, headers={"Content-Type": "image/png"})
                answer = connection.getresponse()
                status, detail = answer.status, answer.read()
            except ConnectionError as error:
                detail = repr(error)
                status = 503  # refused while we were still sending
            finally:
                connection.close()
            if status != 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 415, detail  # read whole, then found not to be an image: the budget had room again


def _render_url(i: int) -> str:
    # a few hundred ms each, in many short steps: a shutdown can stop it between two of them
    return f"/image/photo.jpg?w={2400 + i}&enlarge=1&blur=3&sharpen=2&pixelate=3&format=jpeg"


def test_sigterm_answers_every_accepted_request_or_counts_it(root: Path, tmp_path: Path) -> None:
    """Row W3: SIGTERM with 20 requests in flight. Before: a half-sent request and a mid-body upload
    got EOF with no response, and with SHUTDOWN_TIMEOUT=2 the renders still queued were dropped
    silently, exit status 0. Now the upload that had begun is taken in, the request that never
    finishes arriving gets a 503, a request begun after the signal gets a 503, queued and running
    renders are answered (200, or 503 once the deadline nears), and whatever a render still running
    at the deadline (inside one long decoder call, on a loaded machine) leaves unanswered is
    counted: the log gives the number of connections that got no answer, and the exit status is 1."""
    log = tmp_path / "server.log"
    process, port = serve(root, log, shutdown_timeout="2", max_in_flight="1", max_queue="20", threads="30")
    upload = encode(photo(400, 300))

    def answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
        try:
            return read_response(sock, 15)
        except ConnectionError:
            return None

    with ExitStack() as cleanup, ThreadPoolExecutor(24) as pool:
        cleanup.callback(lambda: process.poll() is None and process.kill())

        def connect() -> socket.socket:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            cleanup.callback(sock.close)
            return sock

        renders = []
        for i in range(17):
            sock = connect()
            sock.sendall(f"GET {_render_url(i)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            renders.append(pool.submit(answer, sock))
        half = connect()
        half.sendall(b"GET /image/photo.jpg?w=10 HTTP/1.1\r\nHo")
        uploading = connect()
        uploading.sendall(b"POST /process?w=40&format=png HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(upload) + upload[:1000])
        busy = connect()  # busy at the signal, and asks again after it
        busy.sendall(f"GET {_render_url(99)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        busy.sendall(b"GET /image/quad.png?w=12 HTTP/1.1\r\nHost: x\r\n\r\n")  # pipelined: begins after
        uploading.sendall(upload[1000:])
        answers = {"upload": answer(uploading), "busy": answer(busy), "half": answer(half)}
        answers["busy, after"] = answer(busy) if answers["busy"] else None
        answers.update({f"render {i}": future.result(timeout=30) for i, future in enumerate(renders)})
        code = process.wait(timeout=10)
    text = log.read_text()
    unanswered = [name for name, got in answers.items() if got is None]
    if unanswered:
        assert code == 1 and f"dropped {len(unanswered)} request(s)" in text, (unanswered, text)
    else:
        assert code == 0 and "dropped" not in text, text
    status, headers, body = answers["half"]                   # never finished arriving: refused
    assert status == 503 and headers["content-type"] == "application/problem+json"
    if answers["upload"]:                                     # it had begun: taken in, and served,
        status, _, body = answers["upload"]                   # or queued until the deadline
        assert (status == 200 and decode(body).shape[:2] == (30, 40)) or json.loads(body)["detail"].startswith(
            "overloaded: the server is shutting down")
    if answers["busy, after"]:                                # began after the signal: refused
        assert json.loads(answers["busy, after"][2])["detail"].startswith("the server is shutting down; retry")
    statuses = [got[0] for name, got in answers.items() if name.startswith("render") and got]
    assert set(statuses) <= {200, 503} and 503 in statuses, "the deadline should cut this run short"
    for name, got in answers.items():
        if name.startswith("render") and got and got[0] == 503:
            assert "shutting down" in json.loads(got[2])["detail"]


def test_work_still_running_at_the_deadline_is_counted_and_the_exit_status_says_so(root: Path,
                                                                                     tmp_path: Path) -> None:
    """A render inside one long OpenCV call cannot be stopped: at the deadline it is dropped, the log
    says so, and the exit status is 1 (before: 0)."""
    log = tmp_path / "server.log"
    process, port = serve(root, log, shutdown_timeout="0.1")
    with ExitStack() as cleanup:
        cleanup.callback(lambda: process.poll() is None and process.kill())
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        cleanup.callback(sock.close)
        sock.sendall(b"GET /image/photo.jpg?w=8000&enlarge=1&sharpen=9&format=png HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.8)  # into the 8000x6000 steps (seconds in all), each well over 0.1 s
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 1
    assert "shutdown deadline: dropped 1 request(s): 1 still being processed" in log.read_text()


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _metric(port: int, name: str) -> float:
    _, _, body = request(f"http://127.0.0.1:{port}/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


@pytest.mark.slow
def test_clients_that_do_not_read_share_one_body_counted_once(root: Path, tmp_path: Path) -> None:
    """Row B6: 10 clients ask for a cached 201 MB BMP result and never read. Before: each connection
    held its own copy (+1.97 GB RSS), counted nowhere. Scaled to a 48 MB body: now the connections
    read from the one cached copy, it is counted once in the memory budget while they hold it, and
    IDLE_TIMEOUT closes them, which gives the memory back."""
    import numpy as np

    big = np.zeros((4000, 4000, 3), np.uint8)
    big[::7] = 255
    (root / "big.png").write_bytes(encode(big))
    url = "/image/big.png?format=bmp"
    process, port = serve(root, tmp_path / "server.log", idle_timeout="3")
    with ExitStack() as cleanup:
        cleanup.callback(stop, process)
        status, headers, body = request(f"http://127.0.0.1:{port}{url}")  # rendered once, now cached
        assert status == 200 and len(body) == 4000 * 4000 * 3 + 54
        size_mb = len(body) / 2**20
        before = _rss_mb(process.pid)
        stalled = []
        for _ in range(10):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            cleanup.callback(sock.close)
            sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            stalled.append(sock)
        time.sleep(1.0)
        grown = _rss_mb(process.pid) - before
        held = _metric(port, "imgserve_response_memory_held_bytes")
        assert held == len(body), held                          # once, for ten connections
        # What is left per connection is what waitress reads to hand the kernel at a time (SEND_PIECE),
        # not the body (before: 10 x 46 MB)
        from imgserve.server.runner import SEND_PIECE

        assert grown < 10 * SEND_PIECE / 2**20 + 8, f"+{grown:.0f} MB for 10 stalled readers of {size_mb:.0f} MB"
        time.sleep(3.5)                                         # IDLE_TIMEOUT: they are closed
        assert _metric(port, "imgserve_response_memory_held_bytes") == 0
        for sock in stalled:
            sock.settimeout(5)
            with pytest.raises(OSError):
                while sock.recv(1 << 20):
                    pass
                raise ConnectionResetError  # closed before the whole body
        print(f"10 stalled readers of a {size_mb:.0f} MB cached body: RSS +{grown:.1f} MB")


@pytest.mark.slow
def test_cpu_bombs_are_refused_at_once_and_a_thumbnail_does_not_wait(root: Path, tmp_path: Path) -> None:
    """Row B4: with RENDER_TIMEOUT=5 a 4,000-scan progressive JPEG got its 503 after 19.8 s and a
    300-chunk zTXt PNG after 8.5 s, and a plain thumbnail waited 8.5 s behind three of them. Now
    both are refused from their structure before any decoder runs."""
    from tests.support import bombs

    (root / "scans.jpg").write_bytes(bombs.jpeg_scans(8192, 4000))
    (root / "text.png").write_bytes(bombs.png_ztxt(300, 7_000_000))
    process, port = serve(root, tmp_path / "server.log", render_timeout="5", cache_bytes="0")
    base = f"http://127.0.0.1:{port}"

    def timed(url: str) -> tuple[int, float, bytes]:
        started = time.monotonic()
        status, _, body = request(base + url)
        return status, time.monotonic() - started, body

    with ExitStack() as cleanup, ThreadPoolExecutor(8) as pool:
        cleanup.callback(stop, process)
        urls = ["/image/scans.jpg?w=2000", "/image/text.png?w=100"] * 3
        bombs_sent = [pool.submit(timed, url) for url in urls]
        time.sleep(0.05)
        thumbnail = pool.submit(timed, "/image/photo.jpg?w=50").result(timeout=30)
        answers = [future.result(timeout=30) for future in bombs_sent]
    assert thumbnail[0] == 200 and decode(thumbnail[2]).shape[1] == 50 and thumbnail[1] < 2.0, thumbnail[:2]
    for (status, seconds, body), url in zip(answers, urls):
        detail = json.loads(body)["detail"]
        assert status == 422 and seconds < 2.0, (url, status, seconds, detail)
        assert ("scans" in detail) if "scans" in url else ("zTXt" in detail)
    print("time to answer: " + ", ".join(f"{url.split('?')[0]} {seconds * 1000:.0f} ms"
                                         for (_, seconds, _), url in zip(answers, urls)))


def _peak_rss_within_budget(root: Path, tmp_path: Path, max_memory_mib: int, sources: dict[str, bytes],
                            requests: list[str], uploads: list[tuple[str, bytes]]) -> tuple[float, float]:
    """Serve with MAX_MEMORY, warm up, then send every request and upload at once; the server's peak
    RSS (VmHWM) over its RSS at rest before them must stay within MAX_MEMORY plus SLACK_MIB."""
    for name, data in sources.items():
        (root / name).write_bytes(data)
    process, port = serve(root, tmp_path / "server.log", max_memory=str(max_memory_mib * 2**20), cache_bytes="0",
                          queue_wait="60", render_timeout="120")
    base = f"http://127.0.0.1:{port}"
    with ExitStack() as cleanup, ThreadPoolExecutor(len(requests) + len(uploads)) as pool:
        cleanup.callback(stop, process)
        assert request(f"{base}/image/photo.jpg?w=300&format=webp")[0] == 200  # warm: codecs loaded, threads up
        at_rest = _rss_mb(process.pid)
        import urllib.error
        import urllib.request

        def send(path: str, data: bytes | None = None) -> int:
            try:
                with urllib.request.urlopen(urllib.request.Request(base + path, data=data, headers={
                        "Content-Type": "image/tiff"}), timeout=300) as answer:
                    answer.read()
                    return answer.status
            except urllib.error.HTTPError as error:
                return error.code

        sent = [pool.submit(send, url) for url in requests]
        sent += [pool.submit(send, path, data) for path, data in uploads]
        statuses = [future.result(timeout=300) for future in sent]
        peak = _rss_mb(process.pid, "VmHWM")
    assert all(status < 500 or status == 503 for status in statuses), statuses
    return peak - at_rest, at_rest


SLACK_MIB = 64  # what is not counted: Python objects, the allocator's rounding


@pytest.mark.slow
@pytest.mark.parametrize("max_memory_mib", [512, 768])
def test_peak_rss_stays_within_max_memory_under_concurrent_memory_bombs(root: Path, tmp_path: Path,
                                                                        max_memory_mib: int) -> None:
    """Rows B2 and B3, scaled to a CI machine: two RGBA PNGs enlarged at once (B3: estimated 798 MiB
    each, took 3.7 GB; two at once 6.33 GB under MAX_MEMORY=2 GiB), six uploads of the one-tile TIFF
    (B2: +1 GB RSS each; six at once 2.99 GB under 512 MiB) and a palette TIFF in one strip
    (estimated a third of what it took)."""
    from tests.support import bombs

    sources = {"alpha.png": bombs.png_alpha(2000), "palette.tif": bombs.tiff_palette(3000, 3000)}
    requests = ["/image/alpha.png?w=3000&enlarge=1"] * 2 + ["/image/palette.tif?format=png"] * 2
    uploads = [("/process?w=10", bombs.tiff_huge_tile())] * 6
    grown, at_rest = _peak_rss_within_budget(root, tmp_path, max_memory_mib, sources, requests, uploads)
    print(f"MAX_MEMORY={max_memory_mib} MiB: peak RSS {at_rest + grown:.0f} MB, {grown:.0f} MB over the "
          f"{at_rest:.0f} MB at rest")
    assert grown <= max_memory_mib * 1.048576 + SLACK_MIB, f"+{grown:.0f} MB"
