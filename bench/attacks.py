"""The attacks of issue #19 against a real `imgserve serve`, with the figures docs/limits.md gives.

    .venv/bin/python bench/attacks.py                      # every attack, against this checkout
    .venv/bin/python bench/attacks.py --baseline DIR       # and against another checkout, side by side
    .venv/bin/python bench/attacks.py --only memory,cpu    # some of: memory, cpu, slow, bodies, fuzz
    .venv/bin/python bench/attacks.py --only fuzz --fuzz-examples 20000

memory  B2 and B3 at the issue's sizes: a 16x16 TIFF declaring one 16384x16368 tile, uploaded six
        times at once; a 6000x6000 palette TIFF in one strip, twice; a 5000x5000 RGBA PNG enlarged to
        8192 (`w=8192&enlarge=1`), twice at once, and scaled to fit (2400 to 4000, four at once).
        Each under MAX_MEMORY=2 GiB and 512 MiB, on a fresh
        server with the result cache off: its peak RSS (VmHWM) and its RSS at rest before.
cpu     B4 with RENDER_TIMEOUT=5: a progressive 8192x8192 JPEG with 4,000 empty scans (w=2000) and a
        PNG with 300 zTXt chunks of 7 MB: each one's time to an answer alone, then a plain thumbnail's
        latency with three of each in flight.
slow    B5: 500 connections each trickling a request's head a byte every 5 s, /healthz asked every
        0.1 s for 15 s: its latencies and failures.
bodies  B6: 10 clients ask for a cached 201 MB BMP result (8192x8192) and never read: RSS growth.
fuzz    point 5: every header parser and structure walker on the structure-aware files of
        tests/support/structured.py, N examples each, and whole renders of them: examples, failures.

The baseline gets only the flags it knows. Measured on a shared machine: the lead re-runs on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
from tests.support import bombs  # noqa: E402
from tests.support.images import encode, photo  # noqa: E402

MiB = 1 << 20


class Server:
    """`imgserve serve` from `checkout` over `root`, with the settings it knows of `settings`."""

    def __init__(self, checkout: Path, root: Path, **settings: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        known = subprocess.run([sys.executable, "-m", "imgserve", "serve", "--help"], cwd=checkout, text=True,
                               capture_output=True, env={**os.environ, "PYTHONPATH": str(checkout)}).stdout
        flags = [f"--{name.replace('_', '-')}={value}" for name, value in settings.items()
                 if f"--{name.replace('_', '-')}" in known]
        self.log = tempfile.NamedTemporaryFile(prefix="imgserve-attack-", suffix=".log", delete=False)
        self.process = subprocess.Popen([sys.executable, "-m", "imgserve", "serve", "--root", str(root),
                                         "--port", str(self.port), *flags], cwd=checkout, stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(checkout)})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{checkout} did not start: {Path(self.log.name).read_text()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def status(self, field: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(field)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.unlink(self.log.name)


def send(url: str, data: bytes | None = None, timeout: float = 600) -> tuple[int, float, bytes]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers={
                "Content-Type": "image/tiff"}), timeout=timeout) as answer:
            return answer.status, time.monotonic() - started, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, time.monotonic() - started, error.read()
    except OSError as error:
        return 0, time.monotonic() - started, str(error).encode()


def detail(body: bytes) -> str:
    try:
        return json.loads(body)["detail"][:70]
    except (ValueError, KeyError):
        return body[:70].decode("latin-1")


# -- the attacks ------------------------------------------------------------------------------------

def memory(checkout: Path, root: Path) -> None:
    print("\n## memory bombs (B2, B3): peak RSS, MAX_MEMORY, result cache off")
    (root / "alpha.png").write_bytes(bombs.png_alpha(5000))
    (root / "palette.tif").write_bytes(bombs.tiff_palette(6000, 6000))
    tile = bombs.tiff_huge_tile()
    (root / "alpha-small.png").write_bytes(bombs.png_alpha(2400))
    attacks = {
        "B2: 6 uploads of the one-tile TIFF, at once": [("/process?w=10", tile)] * 6,
        "B2: the palette TIFF, twice at once": [("/image/palette.tif?format=png", None)] * 2,
        "B3: RGBA 5000x5000 to w=8192&enlarge=1, twice at once": [("/image/alpha.png?w=8192&enlarge=1", None)] * 2,
        "B3 scaled to fit: RGBA 2400x2400 to w=4000&enlarge=1, 4 at once": [
            ("/image/alpha-small.png?w=4000&enlarge=1", None)] * 4,
    }
    for budget in (2048, 512):
        for name, requests in attacks.items():
            with Server(checkout, root, max_memory=str(budget * MiB), cache_bytes="0", queue_wait="120",
                        render_timeout="300") as server:
                send(server.url("/image/photo.jpg?w=300&format=webp"))  # warm: codecs loaded
                rest = server.status()
                with ThreadPoolExecutor(len(requests)) as pool:
                    answers = list(pool.map(lambda r: send(server.url(r[0]), r[1]), requests))
                peak = server.status("VmHWM")
            statuses = ", ".join(f"{status} in {seconds:.1f} s" for status, seconds, _ in answers)
            print(f"MAX_MEMORY={budget} MiB  {name}: peak RSS {peak:.0f} MB ({peak - rest:+.0f} over {rest:.0f} at "
                  f"rest); answers: {statuses}; {detail(answers[-1][2]) if answers[-1][0] != 200 else ''}")


def cpu(checkout: Path, root: Path) -> None:
    print("\n## CPU bombs (B4), RENDER_TIMEOUT=5")
    (root / "scans.jpg").write_bytes(bombs.jpeg_scans(8192, 4000))
    (root / "text.png").write_bytes(bombs.png_ztxt(300, 7_000_000))
    (root / "thumb.jpg").write_bytes(encode(photo(1600, 1200), ".jpg"))
    with Server(checkout, root, render_timeout="5", cache_bytes="0") as server:
        send(server.url("/image/thumb.jpg?w=64"))
        for url in ("/image/scans.jpg?w=2000", "/image/text.png?w=100"):
            status, seconds, body = send(server.url(url))
            print(f"{url} alone: {status} after {seconds:.2f} s: {detail(body)}")
        with ThreadPoolExecutor(7) as pool:
            inflight = [pool.submit(send, server.url(url)) for url in ["/image/scans.jpg?w=2000",
                                                                       "/image/text.png?w=100"] * 3]
            time.sleep(0.2)
            status, seconds, _ = send(server.url("/image/thumb.jpg?w=300&q=81"))
            print(f"a thumbnail with 3 of each in flight: {status} after {seconds:.2f} s")
            answers = [future.result() for future in inflight]
            print("the bombs in flight: " + ", ".join(f"{s} after {t:.1f} s" for s, t, _ in answers))


def slow(checkout: Path, root: Path, count: int = 500, seconds: float = 15) -> None:
    print(f"\n## slow connections (B5): {count} trickling a byte every 5 s, /healthz every 0.1 s for {seconds:g} s")
    with Server(checkout, root) as server:
        sockets = []
        for _ in range(count):
            try:
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=2)
                sock.sendall(b"GET /image/photo.jpg?w=10 HTTP/1.1\r\nHost: x\r\n")
                sockets.append(sock)
            except OSError:
                break
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(5):
                for sock in sockets:
                    try:
                        sock.send(b"X")
                    except OSError:
                        pass

        threading.Thread(target=trickle, daemon=True).start()
        latencies, failures, started = [], 0, time.monotonic()
        while time.monotonic() - started < seconds:
            status, took, _ = send(server.url("/healthz"), timeout=5)
            if status == 200:
                latencies.append(took * 1000)
            else:
                failures += 1
            time.sleep(0.1)
        stop.set()
        for sock in sockets:
            sock.close()
    if latencies:
        latencies.sort()
        print(f"{len(sockets)} slow connections open; /healthz: {len(latencies)} answered, {failures} failed; "
              f"median {statistics.median(latencies):.1f} ms, p99 {latencies[int(len(latencies) * 0.99)]:.1f} ms, "
              f"max {latencies[-1]:.1f} ms")
    else:
        print(f"{len(sockets)} slow connections open; /healthz: 0 answered, {failures} failed (5 s timeout each)")


def bodies(checkout: Path, root: Path, clients: int = 10) -> None:
    print(f"\n## stalled readers (B6): {clients} clients ask for a cached 201 MB BMP result and do not read")
    import numpy as np

    big = np.zeros((8192, 8192, 3), np.uint8)
    big[::5] = 200
    (root / "big.png").write_bytes(encode(big))
    with Server(checkout, root, idle_timeout="60") as server:
        status, seconds, body = send(server.url("/image/big.png?format=bmp"))
        rest = server.status()
        sockets = []
        for _ in range(clients):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"GET /image/big.png?format=bmp HTTP/1.1\r\nHost: x\r\n\r\n")
            sockets.append(sock)
        time.sleep(3)
        grown = server.status() - rest
        for sock in sockets:
            sock.close()
    print(f"body {len(body) / 1e6:.0f} MB (first answer {status} in {seconds:.1f} s); RSS {grown:+.0f} MB with "
          f"{clients} stalled readers")


def fuzz(examples: int) -> None:
    print(f"\n## structure-aware fuzzing (point 5): {examples} examples per parser")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from imgserve import formats
    from imgserve.errors import Problem
    from imgserve.imaging import dc_scans, limits, probe
    from imgserve.settings import Settings
    from tests.support import structured

    config = settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    targets = {}
    for kind, strategy in structured.FORMATS.items():
        def parse(data: bytes, kind: str = kind) -> None:
            try:
                header = probe.probe(data)
            except Problem as problem:
                assert problem.status == 415
                return
            for shrink in (1, 8):
                try:
                    limits.inspect(data, header, Settings(), shrink)
                except Problem as problem:
                    assert problem.status in (415, 422)
        targets[f"probe + inspect, {kind}"] = (strategy(), parse)
    targets["EXIF orientation"] = (structured.tiff(), lambda data: 1 <= probe.exif_orientation(data) <= 8 or 1 / 0)
    targets["sniffing"] = (st.one_of(st.binary(max_size=40), structured.any_image()),
                           lambda data: formats.sniff(data) in (None, *formats.FORMATS) or 1 / 0)
    targets["DC-only rewrite"] = (st.one_of(structured.jpeg(), structured.damaged(structured.progressive_jpeg())),
                                  lambda data: dc_scans.dc_only(data))
    def runner(strategy, target, count: list[int]):
        @config
        @given(strategy)
        def run(data: bytes) -> None:
            count[0] += 1
            target(data)

        return run

    from imgserve.imaging.pipeline import render
    from imgserve.options import Options

    def rendered(data: bytes) -> None:
        try:
            render(data, Options(w=64), Settings(max_pixels=4_000_000))
        except Problem as problem:
            assert 400 <= problem.status < 500, problem

    targets["the whole render, decoders too"] = (structured.any_image(), rendered)
    total = 0
    for name, (strategy, target) in targets.items():
        count = [0]
        run = runner(strategy, target, count)
        started = time.monotonic()
        try:
            run()
            outcome = "no failure"
        except Exception as error:  # a failing example: hypothesis has shrunk it
            outcome = f"FAILED: {type(error).__name__}: {error}"
        total += count[0]
        print(f"{name}: {count[0]} examples in {time.monotonic() - started:.0f} s, {outcome}")
    print(f"{total} examples in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="memory,cpu,slow,bodies,fuzz")
    parser.add_argument("--baseline", type=Path, help="another checkout to attack the same way (e.g. main)")
    parser.add_argument("--fuzz-examples", type=int, default=5000)
    args = parser.parse_args()
    checkouts = {"this checkout": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    chosen = args.only.split(",")
    for label, checkout in checkouts.items():
        print(f"# {label}: {checkout}")
        for name in ("memory", "cpu", "slow", "bodies"):
            if name in chosen:
                with tempfile.TemporaryDirectory(prefix="imgserve-attack-") as folder:
                    root = Path(folder)
                    (root / "photo.jpg").write_bytes(encode(photo(320, 240), ".jpg"))
                    globals()[name](checkout, root)
    if "fuzz" in chosen:
        fuzz(args.fuzz_examples)


if __name__ == "__main__":
    main()
