"""End to end: the real `imgserve serve` (waitress) in a subprocess, spoken to over a real socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from tests.images import RED, close, color_at, decode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, Message, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers or {}),
                                    timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def start(command: list[str], env: dict, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()}") from None
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start in 20 s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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


def test_waitress_serve_call_works(root: Path, tmp_path: Path) -> None:
    port = free_port()
    process = start([sys.executable, "-m", "waitress", "--port", str(port), "--call", "imgserve:create_app"],
                    {"IMGSERVE_ROOT": str(root)}, port, tmp_path / "waitress.log")
    try:
        status, headers, body = request(f"http://127.0.0.1:{port}/image/sub/deep.bmp?w=20")
        assert status == 200 and decode(body).shape == (10, 20, 3)
    finally:
        stop(process)


def test_uploads_over_a_real_socket(root: Path, tmp_path: Path) -> None:
    """POST /process through waitress: raw body, chunked body, and a body over the limit."""
    from tests.images import encode, quadrants

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
