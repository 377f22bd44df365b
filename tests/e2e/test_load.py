"""Load and faults against a real `imgserve serve`: 32 clients for 20 s (IMGSERVE_LOAD_SECONDS).

The mix: thumbnails (new sizes and repeats), conditional requests (304), hostile files, bad and
oversized requests, and heavy renders that overload a server limited to 2 renders in flight and 2
waiting. Asserted: no 5xx but deliberate 503s (each with Retry-After), every response complete,
cheap answers stay fast under overload, server memory stays bounded, and the server still serves.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support import hostile
from tests.support.http import free_port, start, stop
from tests.support.images import encode, photo

pytestmark = pytest.mark.slow  # load: bounded in time, run by CI

SECONDS = float(os.environ.get("IMGSERVE_LOAD_SECONDS", "20"))
CLIENTS = 32
RSS_LIMIT_MB = 600


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@pytest.fixture(scope="module")
def loaded_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("load")
    for i in range(4):
        (root / f"photo{i}.jpg").write_bytes(encode(photo(1600, 1200, seed=i), ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]))
    (root / "logo.png").write_bytes(encode(np.dstack([photo(400, 300), photo(400, 300)[:, :, 1]])))
    (root / "big.png").write_bytes(encode(photo(2000, 1500, seed=9)))
    for name, data, status in hostile.cases():
        if status != 200:
            (root / f"hostile-{name}").write_bytes(data)
    (root / "toolarge.jpg").write_bytes(encode(photo(1200, 900, seed=5), ".jpg") + bytes(7_000_000))
    return root


def plan_request(rng: random.Random, etags: dict[str, str]) -> tuple[str, dict, set[int]]:
    """(path, headers, acceptable statuses) for one request of the mix."""
    roll = rng.random()
    if roll < 0.35:
        w = rng.choice([64, 100, 160, 200, 240, 320]) + rng.randrange(0, 40)
        return f"/image/photo{rng.randrange(4)}.jpg?w={w}", {}, {200, 503}
    if roll < 0.45:
        path = rng.choice(list(etags)) if etags else "/image/logo.png?w=50"
        return path, {"If-None-Match": etags.get(path, '"none"')}, {200, 304, 503}
    if roll < 0.55:
        return f"/image/hostile-{rng.choice(HOSTILE)}?w=64", {}, {400, 404, 413, 415, 422, 503}
    if roll < 0.65:
        return rng.choice([
            "/image/photo0.jpg?w=999999", "/image/photo0.jpg?" + "&".join(f"x{i}=1" for i in range(400)),
            "/image/../../etc/passwd", "/image/missing.jpg", "/image/toolarge.jpg?w=10",
            "/image/photo0.jpg?w=10&w=20", "/image/photo0.jpg?blur=99999",
        ]), {}, {400, 404, 413, 503}
    if roll < 0.75:
        return "/image/logo.png?w=50", {}, {200, 503}   # a repeat: cache hits
    return rng.choice(["/image/big.png?w=1500&format=png", "/image/photo1.jpg?format=png",
                       "/image/photo2.jpg?w=1400&sharpen=2&format=webp"]), {}, {200, 503}


HOSTILE = [name for name, _, status in hostile.cases() if status != 200]


def client_loop(port: int, seed: int, deadline: float, results: list, etags: dict[str, str]) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        path, headers, acceptable = plan_request(rng, etags)
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            results.append(("error", path, repr(error), 0.0))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        seconds = time.perf_counter() - started
        problems = []
        if response.status not in acceptable:
            problems.append(f"status {response.status} not in {sorted(acceptable)}: {body[:200]!r}")
        length = response.getheader("Content-Length", "0" if response.status == 304 else None)
        if length is None or int(length) != len(body):
            problems.append(f"incomplete: Content-Length {length}, got {len(body)}")
        if response.status == 200:
            if not body.startswith((b"\xff\xd8\xff", b"\x89PNG", b"RIFF")):
                problems.append(f"200 body is not an image: {body[:16]!r}")
            elif rng.random() < 0.1 and cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED) is None:
                problems.append("200 body does not decode")  # a sample: decoding everything would load the CPU
            tag = response.getheader("ETag")
            if tag and len(etags) < 50:
                etags[path] = tag
        elif response.status == 503:
            if response.getheader("Retry-After") != "1" or json.loads(body)["status"] != 503:
                problems.append("503 without Retry-After or problem body")
        elif response.status != 304 and (response.getheader("Content-Type") != "application/problem+json"
                                         or json.loads(body)["status"] != response.status):
            problems.append(f"error without a problem body: {response.getheader('Content-Type')} {body[:60]!r}")
        results.append((response.status, path, "; ".join(problems), seconds))


PROBE = """
import http.client, sys, time
port, seconds, tag = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
end = time.monotonic() + seconds
while time.monotonic() < end:
    started = time.perf_counter()
    connection.request("GET", "/image/logo.png?w=50", headers={"If-None-Match": tag})
    response = connection.getresponse()
    response.read()
    print(response.status, time.perf_counter() - started, flush=True)
    time.sleep(0.05)
"""


def test_load_with_overload_and_hostile_input(loaded_root: Path, tmp_path: Path) -> None:
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(loaded_root), "--port", str(port),
                     "--max-in-flight", "2", "--max-queue", "2", "--queue-wait", "1",
                     "--max-source-bytes", "6000000", *os.environ.get("IMGSERVE_LOAD_FLAGS", "").split()], {},
                    port, tmp_path / "load.log")
    try:
        results: list = []
        etags: dict[str, str] = {}
        first = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        first.request("GET", "/image/logo.png?w=50")
        tag = first.getresponse().getheader("ETag")
        # a probe in its own process, like a load balancer's health check: not slowed by our client threads
        probe = subprocess.Popen([sys.executable, "-c", PROBE, str(port), str(SECONDS), tag], stdout=subprocess.PIPE,
                                 text=True)
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=client_loop, args=(port, n, deadline, results, etags))
                   for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 60)
        probes = [line.split() for line in probe.communicate(timeout=60)[0].splitlines()]
        rss = peak_rss_mb(process.pid)
        after = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        after.request("GET", "/image/photo3.jpg?w=77")
        assert after.getresponse().status == 200  # still serving
    finally:
        stop(process)

    statuses = Counter(r[0] for r in results)
    failures = [r for r in results if r[0] == "error" or r[2]]
    cheap = sorted(r[3] for r in results if r[0] in (304, 400, 404, 503))
    renders = sorted(r[3] for r in results if r[0] == 200)
    p99 = lambda values: values[int(len(values) * 0.99) - 1] if values else 0.0  # noqa: E731
    probe_seconds = sorted(float(seconds) for status, seconds in probes)
    summary = (f"load: {len(results)} requests in {SECONDS:g} s by {CLIENTS} clients; statuses {dict(statuses)}; "
               f"p99 cheap {p99(cheap) * 1000:.0f} ms, p99 200s {p99(renders) * 1000:.0f} ms; "
               f"304 probe from another process: {len(probes)} requests, p50 "
               f"{probe_seconds[len(probe_seconds) // 2] * 1000:.1f} ms, p99 {p99(probe_seconds) * 1000:.1f} ms; "
               f"peak server RSS {rss:.0f} MB")
    print(summary)
    (tmp_path / "summary.txt").write_text(summary)
    assert not failures, failures[:5]
    assert not [s for s in statuses if isinstance(s, int) and s >= 500 and s != 503]
    assert statuses[503] > 0, "the mix should overload 2 slots + 2 queued"
    assert statuses[200] > 50 and statuses[304] > 0 and statuses[415] > 0 and statuses[422] > 0
    # A 304 that had to wait for a render slot would be a 503 here (2 slots, 2 queued, always full):
    # that is the claim, and it cannot be broken by a loaded machine. The times are bounds with room
    # for one: measured at a load average of 13 on 2 cores, p50 48 ms and p99 320 ms for the probe,
    # p99 258 ms for the cheap answers; a render takes 0.1-1 s.
    assert {status for status, _ in probes} == {"304"}
    assert probe_seconds[len(probe_seconds) // 2] < 0.25 and p99(probe_seconds) < 1.5
    assert p99(cheap) < 2.0
    assert rss < RSS_LIMIT_MB


def test_client_disconnecting_mid_response_does_not_hurt_the_server(loaded_root: Path, tmp_path: Path) -> None:
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(loaded_root), "--port", str(port)],
                    {}, port, tmp_path / "disconnect.log")
    try:
        for _ in range(5):  # ask for a big output, read a little, hang up
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /image/big.png?format=tiff HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
            sock.close()
        sock = socket.create_connection(("127.0.0.1", port))  # and one that hangs up before the answer
        sock.sendall(b"GET /image/photo0.jpg?w=1500&format=png HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/image/photo0.jpg?w=90")
        response = connection.getresponse()
        assert response.status == 200 and cv2.imdecode(np.frombuffer(response.read(), np.uint8), 1).shape[1] == 90
        assert process.poll() is None
    finally:
        stop(process)
    assert "Traceback" not in (tmp_path / "disconnect.log").read_text()


def test_original_replaced_or_deleted_while_being_served(loaded_root: Path, tmp_path: Path) -> None:
    """Every response is one whole image whose ETag matches the bytes it came from, whatever the file does."""
    root = tmp_path / "churn"
    root.mkdir()
    versions = [encode(photo(1600, 1200, seed=s), ".png") for s in (1, 2)]
    (root / "churn.png").write_bytes(versions[0])
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--cache-bytes", "0"], {}, port, tmp_path / "churn.log")
    stop_churning = threading.Event()

    def churn() -> None:
        i = 0
        while not stop_churning.is_set():
            i += 1
            staging = root / ".staging.png"
            staging.write_bytes(versions[i % 2])
            os.replace(staging, root / "churn.png")     # replaced atomically
            if i % 5 == 0:
                (root / "churn.png").unlink()            # and sometimes gone for a moment
                time.sleep(0.01)
            time.sleep(0.005)

    churner = threading.Thread(target=churn)
    churner.start()
    seen = Counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(300):
            if seen[200] >= 20:
                break
            connection.request("GET", f"/image/churn.png?w={100 + i}")
            response = connection.getresponse()
            body = response.read()
            seen[response.status] += 1
            assert response.status in (200, 404)
            if response.status == 200:
                image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
                assert image is not None and image.shape[1] == 100 + i
                assert int(response.getheader("Content-Length")) == len(body)
            else:
                time.sleep(0.02)  # the file is gone for a moment
    finally:
        stop_churning.set()
        churner.join()
        stop(process)
    assert seen[200] >= 20


def drop_root_file_powers() -> None:
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set: the server still runs as
    uid 0, but execve cannot give them back, so file permissions apply to it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, dac_override, dac_read_search = 24, 1, 2
    for capability in (dac_override, dac_read_search):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_original_is_403(tmp_path: Path) -> None:
    root = tmp_path / "perm"
    root.mkdir()
    (root / "secret.png").write_bytes(encode(photo(40, 30)))
    (root / "open.png").write_bytes(encode(photo(40, 30)))
    (root / "secret.png").chmod(0)
    port = free_port()
    log = tmp_path / "perm.log"
    process = subprocess.Popen([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port)],
                               stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               preexec_fn=drop_root_file_powers if os.geteuid() == 0 else None)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/image/secret.png?w=10")
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 403 and "may not read it" in body["detail"]
        connection.request("GET", "/image/open.png?w=10")
        assert connection.getresponse().status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert "permission denied" in log.read_text()
