"""Bench: this checkout against an earlier commit, same run: W1 over HTTP (with sharp), BMP to PNG in-process.

    .venv/bin/python bench/before_after.py [--ref main] [--seconds 15] [--rounds 3] [--no-http]

The earlier imgserve is `git archive REF imgserve` unpacked into a temporary folder and run from there
(the venv's packages serve both). W1 is bench/http_bench.py's thumbnail workload (300 px JPEG q80 of the
24 photos, 8 connections) with that imgserve added as the peer "before", rounds interleaved. The BMP
workload is http_bench --bmp's, in-process: each photo stored as 24-bit and 8-bit palette BMP and
converted to 1024 px PNG; CPU ms and bytes per image, the two versions alternated (and this checkout
at IMGSERVE_PNG_EFFORT=fast too).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench import http_bench  # noqa: E402
from bench.photos import bmp_set, photo_set  # noqa: E402

CONVERT = """
import sys, time
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from imgserve.settings import Settings
settings = Settings.load(root="/")
datas = [open(path, "rb").read() for path in sys.argv[1:]]
render(datas[0], Options(w=1024, format="png"), settings)
started, size = time.process_time(), 0
for data in datas:
    size += len(render(data, Options(w=1024, format="png"), settings).body)
print(f"{(time.process_time() - started) / len(datas) * 1e3:.1f} {size / len(datas) / 1024:.0f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=8, help="photos for the BMP workload (each as 2 BMPs)")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="imgserve-before-") as before:
        archive = subprocess.run(["git", "archive", args.ref, "imgserve"], cwd=HERE.parent, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", before], input=archive, check=True)
        python = http_bench.PYTHON
        bmps = [str(p) for p in bmp_set(photo_set()[:: max(1, 24 // args.photos)][: args.photos])]
        runs = {"before": {"PYTHONPATH": before}, "after": {}, "after, fast": {"IMGSERVE_PNG_EFFORT": "fast"}}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, env in runs.items():
                out = subprocess.run([python, "-c", CONVERT, *bmps], env={**_environ(), **env}, check=True,
                                     cwd=tempfile.gettempdir(), capture_output=True, text=True).stdout.split()
                results[name].append((float(out[0]), float(out[1])))
        print(f"BMP to 1024 px PNG, {len(bmps)} BMPs, in-process, CPU ms and KB per image, {args.rounds} rounds:")
        for name, rows in results.items():
            print(f"  {name:12s} {', '.join(f'{ms:.1f} ms' for ms, _ in rows)}; {rows[0][1]:.0f} KB")
        if not args.no_http:
            http_bench.SERVERS["before"] = (
                lambda root, port: ["sh", "-c", f"cd {before} && exec {python} -m imgserve serve --root {root} "
                                                f"--port {port} --cache-bytes 0"],
                http_bench.SERVERS["imgserve"][1])
            http_bench.thumbnails(argparse.Namespace(peers="before,sharp", seconds=args.seconds, rounds=args.rounds))


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "IMGSERVE_PNG_EFFORT")}


if __name__ == "__main__":
    main()
