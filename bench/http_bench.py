"""HTTP benchmark: imgserve against sharp, thumbor and the seed-style baseline, same URLs, same run.

    .venv/bin/python bench/http_bench.py [--peers sharp,thumbor,seed] [--seconds 20] [--rounds 2]
    .venv/bin/python bench/http_bench.py --cache      # repeated URL, result cache on, vs a bare Flask app
    .venv/bin/python bench/http_bench.py --bmp        # BMP archive to 1024 px PNG over HTTP vs in-process
    .venv/bin/python bench/http_bench.py --overhead   # the thumbnails over HTTP vs in-process, 1 and 8 clients
    .venv/bin/python bench/http_bench.py --baseline DIR --peers ''   # A/B: imgserve against its source in DIR

Workload (issue 3): 300 px wide JPEG q80 thumbnails of 24 real photos (bench/photos.py), 8 concurrent
connections driven by wrk (Debian's `wrk`), no result cache anywhere. Peers are installed on demand
into bench/.cache, outside the project's dependencies: sharp from npm, thumbor from PyPI into its own
virtualenv (2 processes, as thumbor is deployed). Servers run one at a time and rounds are
interleaved, so drift on a shared machine hits all of them; the best round of each counts. Printed:
one table of req/s, p50/p99 latency, peak RSS (the server's process tree, VmHWM) and ratios.
--bmp and --overhead start imgserve once per client count; at 1 client each request is paired with the
same render in-process, at 8 clients wrk and the in-process threads alternate in windows; they print
each round's ratio and the median of them (short windows and many rounds: `--seconds 2 --rounds 30`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.photos import CACHE, bmp_set, photo_set  # noqa: E402

PYTHON = sys.executable
WRK_SCRIPT = """
local paths = {%s}
local i = math.random(#paths)
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass
class Result:
    name: str
    rps: float
    p50: float
    p99: float
    rss: float
    errors: int
    cpu: float = 0.0  # CPU ms the server's process tree spent per request answered (all its threads)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """A process and its descendants."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = int(re.search(r"PPid:\s+(\d+)", text)[1])
        children.setdefault(ppid, []).append(int(status.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_rss_mb(pid: int) -> float:
    """Sum of peak RSS (VmHWM) over a process and its descendants."""
    total = 0.0
    for current in _tree(pid):
        try:
            match = re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{current}/status").read_text())
        except OSError:
            continue
        total += int(match[1]) / 1024 if match else 0
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants, every thread included; children that
    ended and were waited for count too (ImageMagick's convert per request)."""
    total = 0.0
    for current in _tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode}") from None
            time.sleep(0.1)
    raise SystemExit("server did not start")


def wrk(port: int, paths: list[str], seconds: float, connections: int = 8) -> tuple[float, float, float, int]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths))
    out = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds:g}s",
                          "--timeout", "60s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    script.unlink()

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)  # wrk's own
    # timeout (2 s by default) would drop the slow requests of a loaded machine from the latencies: 60 s
    errors = (int(errors[1]) if errors else 0) + (sum(map(int, failed.groups())) if failed else 0)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]), ms("50"), ms("99"), errors


def thumbor_command(root: Path, port: int) -> list[str]:
    venv = CACHE / "thumbor-venv"
    if not (venv / "bin/thumbor").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "thumbor"], check=True)
    conf = CACHE / "thumbor.conf"
    conf.write_text(f"LOADER = 'thumbor.loaders.file_loader'\nFILE_LOADER_ROOT_PATH = '{root}'\n"
                    "STORAGE = 'thumbor.storages.no_storage'\nRESULT_STORAGE = None\nALLOW_UNSAFE_URL = True\n"
                    "QUALITY = 80\nAUTO_WEBP = False\nMAX_AGE = 0\n")
    return [str(venv / "bin/thumbor"), "-p", str(port), "-i", "127.0.0.1", "-c", str(conf), "--processes", "2",
            "-l", "error"]


def sharp_command(root: Path, port: int) -> list[str]:
    node = CACHE / "node"
    if not (node / "node_modules/sharp").is_dir():
        node.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(node), "sharp"], check=True, capture_output=True)
    return ["node", str(HERE / "servers/sharp_server.js"), str(root), str(port)]


SERVERS = {
    # name: (command(root, port), path for a photo name and a width)
    "imgserve": (lambda root, port: [PYTHON, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                                     "--cache-bytes", "0"],
                 lambda name, w: f"/image/{name}?w={w}&format=jpeg&q=80"),
    "sharp": (sharp_command, lambda name, w: f"/image/{name}?w={w}"),
    "thumbor": (thumbor_command, lambda name, w: f"/unsafe/{w}x0/{name}"),
    "seed": (lambda root, port: [PYTHON, str(HERE / "servers/seed_app.py"), str(root), str(port)],
             lambda name, w: f"/image/{name}?w={w}"),
}


def add_baseline(source: str) -> None:
    """A peer named `baseline`: imgserve from another source tree (`git archive main | tar -x -C DIR`), served
    and asked exactly as imgserve is, for same-run A/B figures of a change."""
    command, path = SERVERS["imgserve"]
    # `python -m` puts its working directory (this checkout) first on sys.path, ahead of PYTHONPATH, so
    # without -P the "baseline" imported this checkout's imgserve and every A/B compared a tree with itself.
    SERVERS["baseline"] = (lambda root, port: ["env", f"PYTHONPATH={Path(source).resolve()}", PYTHON, "-P",
                                               *command(root, port)[1:]],
                           path)


@contextmanager
def started(name: str, command: list[str], port: int, paths: list[str]) -> Iterator[subprocess.Popen]:
    """A server running and warmed up on `paths`; stopped (and its log shown, on failure) at the end."""
    env = {**os.environ, "NODE_ENV": "production", "NODE_PATH": str(CACHE / "node/node_modules")}
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent,
                               start_new_session=True)
    try:
        wait_for(port, process)
        wrk(port, paths, 3)  # warm-up: caches of the file system, the JIT of node, thumbor's imports
        time.sleep(2)        # requests the warm-up left behind finish (or, in imgserve, leave the queue)
        yield process
    except BaseException:
        log.seek(0)
        print(f"--- {name} ({' '.join(command)}):\n{log.read().decode(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_server(name: str, command: list[str], port: int, paths: list[str], seconds: float,
               connections: int = 8) -> Result:
    with started(name, command, port, paths) as process:
        return measured(name, process, port, paths, seconds, connections)


def measured(name: str, process: subprocess.Popen, port: int, paths: list[str], seconds: float,
             connections: int = 8) -> Result:
    """One wrk window against a started server: throughput, latency, peak RSS, and the CPU time the
    server spent per answer. On a loaded machine throughput also depends on how many threads a server
    runs (the kernel shares the cores among runnable threads, not servers); CPU per answer does not."""
    before = tree_cpu_seconds(process.pid)
    rps, p50, p99, errors = wrk(port, paths, seconds, connections)
    cpu = (tree_cpu_seconds(process.pid) - before) * 1000 / max(1.0, rps * seconds)
    return Result(name, rps, p50, p99, tree_rss_mb(process.pid), errors, cpu)


def photo_root(paths: list[Path], folder: str) -> tuple[Path, list[str]]:
    """The photos copied under simple names into one folder (servers refuse symlinks out of their root)."""
    root = CACHE / folder
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i, source in enumerate(paths):
        name = f"photo{i:02d}{source.suffix.lower()}"
        if not (root / name).exists():
            shutil.copyfile(source, root / name)
        names.append(name)
    return root, names


def table(results: dict[str, Result]) -> None:
    print(f"{'server':10} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'peak RSS MB':>12} {'non-2xx':>8} "
          f"{'CPU ms/req':>11}")
    for r in results.values():
        print(f"{r.name:10} {r.rps:7.1f} {r.p50:8.0f} {r.p99:8.0f} {r.rss:12.0f} {r.errors:8d} {r.cpu:11.0f}")
    ours = results["imgserve"]
    for other in results.values():
        if other is not ours:
            print(f"imgserve / {other.name}: {ours.rps / other.rps:.2f}x throughput, "
                  f"p99 {ours.p99:.0f} vs {other.p99:.0f} ms, {other.cpu / ours.cpu:.2f}x less CPU per request")


def thumbnails(args: argparse.Namespace) -> None:
    root, names = photo_root(photo_set(), "photoroot")
    chosen = ["imgserve"] + [p for p in args.peers.split(",") if p]
    best: dict[str, Result] = {}
    for _ in range(args.rounds):
        for name in chosen:
            command, path = SERVERS[name]
            port = free_port()
            result = run_server(name, command(root, port), port, [path(n, 300) for n in names], args.seconds)
            if name not in best or result.rps > best[name].rps:
                best[name] = result
    print(f"{len(names)} photos, 300 px JPEG q80, 8 connections, {args.seconds:g} s, best of {args.rounds} rounds")
    table(best)


def cached(args: argparse.Namespace) -> None:
    """One URL over and over, result cache on, against a bare Flask app sending a body of the same size."""
    root, names = photo_root(photo_set(), "photoroot")
    path = f"/image/{names[0]}?w=300&format=jpeg&q=80"
    port = free_port()
    process = subprocess.Popen([PYTHON, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=HERE.parent)
    try:
        wait_for(port, process)
        import urllib.request
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read()
    finally:
        process.terminate()
        process.wait()
    from imgserve.settings import Settings
    threads = Settings.load({}, root=str(root)).threads
    body_file = CACHE / "bare-body.jpg"
    body_file.write_bytes(body)
    best: dict[str, Result] = {}
    for _ in range(args.rounds):
        for name, command in (
            ("imgserve", [PYTHON, "-m", "imgserve", "serve", "--root", str(root), "--port", "{port}"]),
            ("bare flask", [PYTHON, str(HERE / "servers/bare_app.py"), str(body_file), "{port}", str(threads)]),
        ):
            port = free_port()
            result = run_server(name, [c.replace("{port}", str(port)) for c in command], port, [path], args.seconds)
            if name not in best or result.rps > best[name].rps:
                best[name] = result
    print(f"one URL repeated ({len(body)} bytes), result cache on, 8 connections, waitress threads {threads}")
    table(best)


def local_renderer(options) -> Callable[[bytes | Path], object]:
    """The service's render of one item, in this process, with malloc set up as `imgserve serve` sets
    it, so that a ratio measures HTTP and nothing else. An item given as a path is read for every
    render, as the server (and cv2.imread) reads originals."""
    from imgserve.imaging.pipeline import render
    from imgserve.server import allocator
    from imgserve.settings import Settings

    allocator.tune()
    settings = Settings.load({}, root=str(HERE), max_pixels="200000000")
    return lambda item: render(item.read_bytes() if isinstance(item, Path) else item, options, settings)


def in_process(items: list[bytes] | list[Path], options, threads: int, seconds: float) -> float:
    """Images/s rendering `items` over and over for `seconds` in this process on `threads` threads (the
    same pipeline, no HTTP). As long as the HTTP run: the best of a few 2 s runs is not comparable with
    the best of a few 20 s runs on a machine whose speed drifts (the short run's best is luckier)."""
    from concurrent.futures import ThreadPoolExecutor

    render = local_renderer(options)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(render, items))  # warm-up, as the server gets one
        done, started = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - started < seconds:
            list(pool.map(render, items))
            done += len(items)
    return done / (time.perf_counter() - started)


def paired(port: int, paths: list[str], baselines: dict[str, list], options, seconds: float
           ) -> tuple[float, dict[str, float]]:
    """One client against one thread, request by request: each URL over one kept-alive connection, then
    the same image rendered in-process from each baseline's item, in turn, for `seconds` (whole passes).
    Returns requests/s over HTTP and images/s of each baseline, each over its own share of the time.
    The two halves of a pair are milliseconds apart and see the machine at one speed; windows seconds
    apart do not (same code, the ratio of 5 s windows ranged 0.70-0.95, of request pairs 0.85-0.91)."""
    render = local_renderer(options)
    http, local = 0.0, dict.fromkeys(baselines, 0.0)
    connection = HTTPConnection("127.0.0.1", port, timeout=60)
    done, started = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - started < seconds:
        for index, path in enumerate(paths):
            begun = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            if response.status != 200 or not response.read():
                raise SystemExit(f"{path}: HTTP {response.status}")
            http += time.perf_counter() - begun
            for name, items in baselines.items():
                begun = time.perf_counter()
                render(items[index])
                local[name] += time.perf_counter() - begun
        done += len(paths)
    connection.close()
    return done / http, {name: done / spent for name, spent in local.items()}


def compare(label: str, http: list[float], local: list[float]) -> None:
    """Each round's HTTP/in-process ratio (the two ran back to back), and their median."""
    ratios = [h / l for h, l in zip(http, local)]
    print(f"{label}: HTTP {statistics.median(http):6.1f} req/s, in-process {statistics.median(local):6.1f} images/s "
          f"(medians); HTTP / in-process per round {', '.join(f'{r:.2f}' for r in ratios)}, "
          f"median {statistics.median(ratios):.2f}")


def against_in_process(root: Path, paths: list[str], options, baselines: dict[str, list], args: argparse.Namespace,
                       label: str) -> dict[int, list[float]]:
    """One server, started and warmed up once as in production; each round, 1 client against 1 thread
    request by request (`paired`), and 8 clients (wrk) against a thread per core in windows of
    `--seconds`, HTTP then each in-process baseline, back to back. Then each pair's per-round ratios
    and their median. The machine's speed drifts by 10-20% within seconds: short windows (2 s) and
    many rounds (30) narrow the median more than long windows do."""
    cores = os.cpu_count() or 1
    pairs = ((1, 1), (8, cores))
    http: dict[int, list[float]] = {clients: [] for clients, _ in pairs}
    local: dict[tuple[int, str], list[float]] = {(clients, name): [] for clients, _ in pairs for name in baselines}
    for clients, threads in pairs:
        port = free_port()
        with started("imgserve", SERVERS["imgserve"][0](root, port), port, paths):
            for _ in range(args.rounds):
                if clients == 1:
                    rate, rates = paired(port, paths, baselines, options, args.seconds)
                else:
                    rate = wrk(port, paths, args.seconds, clients)[0]
                    rates = {name: in_process(items, options, threads, args.seconds)
                             for name, items in baselines.items()}
                http[clients].append(rate)
                for name in baselines:
                    local[clients, name].append(rates[name])
    print(f"{label}, no result cache, {args.rounds} rounds of {args.seconds:g} s")
    for clients, threads in pairs:
        for name in baselines:
            compare(f"{clients} client(s) vs {threads} thread(s), {name}", http[clients], local[clients, name])
    return http


def bmps(args: argparse.Namespace) -> None:
    """BMP archive to 1024 px PNG over HTTP, against the same renders in-process from originals in memory
    and from originals read from disk for every render (as the server, and cv2.imread, read them)."""
    from imgserve.options import Options

    root, names = photo_root(bmp_set(photo_set()), "bmproot")
    items = [(root / n).read_bytes() for n in names]
    megabytes = sum(map(len, items)) / len(items) / 1e6
    label = f"{len(names)} BMPs (24-bit and 8-bit palette, {megabytes:.0f} MB each on average) to 1024 px PNG"
    http = against_in_process(root, [f"/image/{n}?w=1024&format=png" for n in names], Options(w=1024, format="png"),
                              {"originals in memory": items, "originals read from disk": [root / n for n in names]},
                              args, label)
    rates = ", ".join(f"{clients} client(s) {statistics.median(r) * megabytes:.0f} MB/s" for clients, r in http.items())
    print(f"HTTP throughput (medians): {rates}")


def overhead(args: argparse.Namespace) -> None:
    """What the HTTP path costs on the thumbnail workload."""
    from imgserve.options import Options

    root, names = photo_root(photo_set(), "photoroot")
    against_in_process(root, [SERVERS["imgserve"][1](n, 300) for n in names], Options(w=300, format="jpeg", q=80),
                       {"originals in memory": [(root / n).read_bytes() for n in names]}, args,
                       f"{len(names)} photos, 300 px JPEG q80")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peers", default="sharp,thumbor,seed")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--bmp", action="store_true")
    parser.add_argument("--overhead", action="store_true")
    parser.add_argument("--baseline", help="another imgserve source tree, run as the peer `baseline`")
    args = parser.parse_args()
    if args.baseline:
        add_baseline(args.baseline)
        args.peers = ",".join(["baseline", *filter(None, args.peers.split(","))])
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    (cached if args.cache else bmps if args.bmp else overhead if args.overhead else thumbnails)(args)


if __name__ == "__main__":
    main()
