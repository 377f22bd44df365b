"""HTTP benchmark of the other source formats (issue 21): imgserve against its peers, same URLs, same run.

    .venv/bin/python bench/formats_bench.py [--workloads w2,w3,bmp] [--outputs webp,avif,jpeg]
                                            [--seconds 20] [--rounds 2] [--width 400]
    .venv/bin/python bench/formats_bench.py --in-process [--workloads w2,w3,bmp]
    .venv/bin/python bench/formats_bench.py --baseline DIR --peers ''   # A/B against imgserve's source in DIR
    .venv/bin/python bench/formats_bench.py --by-original --workloads w2 --outputs webp --peers sharp

Workloads (bench/photos.py fetches and makes the originals; all real photos or real wallpapers):
  w2   PNG and WebP: 11 real PNG wallpapers, 5 real WebP wallpapers, photos as 8/16-bit PNG with and
       without alpha, interlaced PNG, lossy and lossless WebP with and without alpha (25 files);
  w3   TIFF (strips none/LZW/deflate/JPEG, tiles, a pyramid, 16 bits) and GIF (stills, one animation);
  bmp  legacy BMPs, 24-bit and 8-bit palette. sharp (libvips) cannot read BMP, so its peers are thumbor
       (Pillow) and ImageMagick.
Each into 400 px wide WebP, AVIF and JPEG at quality 80, 8 connections (wrk), no result cache anywhere,
the same peers as W1 (bench/http_bench.py, whose helpers this uses). AVIF runs once imgserve's format
registry has `avif`; sharp then encodes at the same libavif quality and speed as imgserve (its
`effort` is 9 - speed), so the AVIF column compares decoders and pipelines, not encoder settings.
Servers run one at a time; rounds are interleaved; the best round of each counts. Printed per
workload and output: req/s, p50/p99, peak RSS of the server's process tree, the mean response size,
and imgserve's ratios. --in-process prints, per original, imgserve's render in CPU ms on one thread
and the PSNR of its pixels (before encoding) against a full decode + premultiplied INTER_AREA, and
how much of imgserve's CPU the decoder alone takes (libspng, libwebp, libtiff: sharp's own decoders).
--by-original prints each server's latency per original (median and slowest) at 8 closed-loop clients.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import threading
import time
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.http_bench import (  # noqa: E402
    PYTHON,
    SERVERS,
    Result,
    add_baseline,
    free_port,
    measured,
    photo_root,
    started,
)
from bench.photos import CACHE, bmp_w3_set, w2_set, w3_set  # noqa: E402

WORKLOADS = {  # name: (originals, peers)
    "w2": (w2_set, ("sharp", "thumbor", "seed")),
    "w3": (w3_set, ("sharp", "thumbor", "seed")),
    "bmp": (bmp_w3_set, ("thumbor", "magick", "seed")),
}


def encoder_settings() -> tuple[bool, int, int]:
    """(imgserve encodes AVIF, its libavif quality for q=80, sharp's matching AVIF effort)."""
    from imgserve import formats

    if "avif" not in formats.FORMATS:
        return False, 0, 0
    quality = formats.avif_quality(80) if hasattr(formats, "avif_quality") else 80
    return True, quality, 9 - getattr(formats, "AVIF_SPEED", 4)


def paths_for(server: str, names: list[str], width: int, output: str) -> list[str]:
    _, avif_quality, avif_effort = encoder_settings()
    if server in ("imgserve", "baseline"):  # GIFs as stills, as the peers make them (not animated WebP/AVIF)
        return [f"/image/{n}?w={width}&format={output}&q=80{'&frame=0' * n.endswith('.gif')}" for n in names]
    if server == "sharp":
        extra = f"&q={avif_quality}&effort={avif_effort}" if output == "avif" else "&q=80"
        return [f"/image/{n}?w={width}&format={output}{extra}" for n in names]
    if server == "thumbor":
        return [f"/unsafe/{width}x0/filters:format({output}):quality(80)/{n}" for n in names]
    return [f"/image/{n}?w={width}&format={output}" for n in names]


def command(server: str, root: Path, port: int) -> list[str]:
    if server == "magick":
        return [PYTHON, str(HERE / "servers/magick_server.py"), str(root), str(port)]
    return SERVERS[server][0](root, port)


def response_bytes(port: int, paths: list[str]) -> float | None:
    """Mean body size over one request per path; None if any answer is not a 200."""
    sizes = []
    for path in paths:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=120) as response:
                sizes.append(len(response.read()))
        except OSError:
            return None
    return statistics.mean(sizes)


def run(workload: str, outputs: list[str], args: argparse.Namespace) -> None:
    originals, peers = WORKLOADS[workload]
    root, names = photo_root(originals(), f"root-{workload}")
    servers = ["imgserve", *(["baseline"] if args.baseline else []), *(p for p in peers if p in args.peers.split(","))]
    best: dict[tuple[str, str], Result] = {}
    sizes: dict[tuple[str, str], float | None] = {}
    for _ in range(args.rounds):
        for output in outputs:
            for server in servers:
                if sizes.get((server, output), 0) is None:
                    continue  # it could not make this output: said once, below
                port = free_port()
                paths = paths_for(server, names, args.width, output)
                with started(server, command(server, root, port), port, paths) as process:
                    if (server, output) not in sizes:
                        sizes[server, output] = response_bytes(port, paths)
                        if sizes[server, output] is None:
                            continue
                    result = measured(server, process, port, paths, args.seconds)
                if (server, output) not in best or result.rps > best[server, output].rps:
                    best[server, output] = result
    for output in outputs:
        print(f"\n{workload}: {len(names)} originals -> {args.width} px {output} q80, 8 connections, "
              f"{args.seconds:g} s, best of {args.rounds} interleaved rounds")
        print("| server | req/s | p50 ms | p99 ms | peak RSS MB | non-2xx | mean KB | CPU ms/req |")
        print("|---|---|---|---|---|---|---|---|")
        for server in servers:
            if sizes.get((server, output)) is None:
                print(f"| {server} | cannot make {output} from every original here | | | | | | |")
                continue
            r = best[server, output]
            print(f"| {server} | {r.rps:.1f} | {r.p50:.0f} | {r.p99:.0f} | {r.rss:.0f} | {r.errors} | "
                  f"{sizes[server, output] / 1000:.1f} | {r.cpu:.0f} |")
        ours = best.get(("imgserve", output))
        for server in servers[1:]:
            other = best.get((server, output))
            if ours and other:
                print(f"imgserve / {server}: {ours.rps / other.rps:.2f}x throughput, p99 {ours.p99:.0f} vs "
                      f"{other.p99:.0f} ms, {other.cpu / ours.cpu:.2f}x less CPU per request")


def closed_loop(port: int, paths: list[str], seconds: float, clients: int = 8) -> list[tuple[int, float]]:
    """(index in `paths`, ms) of every answer from `clients` connections, each asking the next path as
    soon as it has its answer, for `seconds`."""
    stop, latencies = time.monotonic() + seconds, []

    def client() -> None:
        connection, i = HTTPConnection("127.0.0.1", port, timeout=120), random.randrange(len(paths))
        while time.monotonic() < stop:
            i = (i + 1) % len(paths)
            begun = time.monotonic()
            connection.request("GET", paths[i])
            connection.getresponse().read()
            latencies.append((i, (time.monotonic() - begun) * 1000))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def by_original(workload: str, outputs: list[str], args: argparse.Namespace) -> None:
    """Latency per original at 8 closed-loop clients, each walking the originals in order from a random
    start, as wrk's script does (Python threads here: wrk cannot tell the URLs apart). How the
    latencies spread says where a p99 comes from: the largest originals' own time, or the order in
    which the queue is served (a small original that sometimes waits a second). It found #21's
    near-random queue (docs/performance.md)."""
    originals, peers = WORKLOADS[workload]
    root, names = photo_root(originals(), f"root-{workload}")
    servers = ["imgserve", *(["baseline"] if args.baseline else []), *(p for p in peers if p in args.peers.split(","))]
    for output in outputs:
        for server in servers:
            port = free_port()
            paths = paths_for(server, names, args.width, output)
            with started(server, command(server, root, port), port, paths):
                latencies = closed_loop(port, paths, args.seconds)
            every = sorted(ms for _, ms in latencies)
            print(f"\n{workload} -> {output}, {server}: {len(every) / args.seconds:.1f} req/s, "
                  f"p50 {every[len(every) // 2]:.0f} ms, p99 {every[int(len(every) * 0.99)]:.0f} ms")
            print("| original | answers | median ms | slowest ms |\n|---|---|---|---|")
            for i, name in enumerate(names):
                mine = [ms for j, ms in latencies if j == i] or [0.0]
                print(f"| {name} | {len(mine)} | {statistics.median(mine):.0f} | {max(mine):.0f} |")


def sharp_cpu(paths: list[Path], width: int, output: str, rounds: int) -> dict[str, float | None]:
    """sharp's CPU ms per original (bench/servers/sharp_times.js), one at a time."""
    import json
    import os
    import subprocess

    SERVERS["sharp"][0](CACHE / "node", 0)  # installs sharp on first use
    env = {**os.environ, "NODE_ENV": "production", "NODE_PATH": str(CACHE / "node/node_modules")}
    out = subprocess.run(["node", str(HERE / "servers/sharp_times.js"), str(rounds), str(width), output,
                          *map(str, paths)], env=env, check=True, capture_output=True, text=True).stdout
    return {path: (times or {}).get("cpu") for path, times in json.loads(out).items()}


def in_process(workload: str, width: int, rounds: int = 3) -> None:
    """Per original: imgserve's render to WebP in CPU ms (one thread, median of `rounds`) beside sharp's
    (its whole thumbnail, all its threads), and the PSNR of imgserve's pixels before encoding against a
    full decode + premultiplied INTER_AREA. CPU time is what a saturated machine has to share out."""
    import cv2
    import numpy as np

    from imgserve.imaging import decode, geometry, ops
    from imgserve.imaging.pipeline import render
    from imgserve.imaging.probe import probe
    from imgserve.options import Options
    from imgserve.settings import Settings
    from tests.support.originals import area_reference

    cv2.setNumThreads(1)
    settings = Settings.load({}, root=str(HERE))
    options = Options(w=width, format="webp", q=80)
    originals = WORKLOADS[workload][0]()
    theirs = sharp_cpu(originals, width, "webp", rounds)
    print(f"\n{workload}: in-process, {width} px WebP q80: CPU ms per original (median of {rounds}), PSNR dB")
    print("| original | size | imgserve CPU ms | of which decoding | sharp CPU ms | sharp / imgserve | "
          "imgserve PSNR dB |")
    print("|---|---|---|---|---|---|---|")
    total, total_sharp, total_both, total_decoding = 0.0, 0.0, 0.0, 0.0
    for path in originals:
        data = path.read_bytes()
        times = []
        for _ in range(rounds):
            started = time.process_time()
            render(data, options, settings)
            times.append((time.process_time() - started) * 1000)
        header = probe(data)
        plan = geometry.plan(*header.display_size, options, settings.max_dimension, shrinkable=header.format == "jpeg")
        decoding = []
        for _ in range(rounds):
            started = time.process_time()
            decode.decode(data, header, shrink=plan.shrink, least=plan.least, eight=True)
            decoding.append((time.process_time() - started) * 1000)
        total_decoding += statistics.median(decoding)
        ours = ops.resize(decode.decode(data, header, shrink=plan.shrink, least=plan.least), plan.resize)
        full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        quality = _psnr(ours, area_reference(full, plan.resize))
        ours_ms, sharp_ms = statistics.median(times), theirs.get(str(path))
        total += ours_ms
        if sharp_ms is not None:
            total_sharp, total_both = total_sharp + sharp_ms, total_both + ours_ms
        label = f"{path.parents[2 if path.parent.name == 'images' else 0].name}/{path.name}"
        print(f"| {label} | {header.width}x{header.height} | {ours_ms:.0f} | {statistics.median(decoding):.0f} | "
              f"{'-' if sharp_ms is None else f'{sharp_ms:.0f}'} | "
              f"{'-' if sharp_ms is None else f'{sharp_ms / ours_ms:.2f}'} | {quality:.1f} |", flush=True)
    ratio = f"{total_sharp / total_both:.2f}" if total_both and total_sharp else "-"
    share = f"{total_decoding:.0f} ({total_decoding / total:.0%})"
    print(f"| **sum** | | {total:.0f} | {share} | {total_sharp:.0f} | {ratio} | |")


def _psnr(ours, reference) -> float:
    """PSNR of what is seen: both composited over white where there is alpha, in 8 bits."""
    import cv2
    import numpy as np

    ours = ops_to_8(ours)
    if ours.ndim == 3 and reference.ndim == 3 and ours.shape[2] != reference.shape[2]:
        ours, reference = ours[:, :, :3], reference[:, :, :3]  # e.g. OpenCV's BGRA for an opaque GIF

    def seen(image):
        if image.ndim == 3 and image.shape[2] == 4:
            alpha = image[:, :, 3:4].astype(np.float64) / 255.0
            return image[:, :, :3] * alpha + 255.0 * (1 - alpha)
        return image.astype(np.float64)

    return float(cv2.PSNR(seen(ours), seen(reference), 255.0))


def ops_to_8(image):
    import numpy as np

    return np.clip(np.rint(image / 257.0), 0, 255).astype(np.uint8) if image.dtype == np.uint16 else image


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", default="w2,w3,bmp")
    parser.add_argument("--outputs", default="webp,avif,jpeg")
    parser.add_argument("--peers", default="sharp,thumbor,seed,magick")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--width", type=int, default=400)
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--by-original", action="store_true", help="latency per original, median and slowest")
    parser.add_argument("--baseline", help="another imgserve source tree, run as the peer `baseline` (A/B)")
    args = parser.parse_args()
    if args.baseline:
        add_baseline(args.baseline)
    workloads = args.workloads.split(",")
    if args.in_process:
        for workload in workloads:
            in_process(workload, args.width)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    outputs = args.outputs.split(",")
    if "avif" in outputs and not encoder_settings()[0]:
        print("imgserve's format registry has no avif yet: the AVIF column is left out")
        outputs.remove("avif")
    for workload in workloads:
        (by_original if args.by_original else run)(workload, outputs, args)


if __name__ == "__main__":
    main()
