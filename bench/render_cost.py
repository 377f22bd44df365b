"""What one render of each original costs in-process: CPU ms and peak memory, this checkout against
another tree, alternating.

    .venv/bin/python bench/render_cost.py [--baseline DIR] [--workloads w2] [--only NAME,...] [--rounds 7]

Each (tree, original) runs in a fresh process with the server's malloc settings
(server/allocator.py), renders the original to a 400 px WebP q80 `--rounds` times on one thread and
prints the median CPU time, and the peak RSS its first render added above the process, bytes of the
original included (VmHWM after /proc/self/clear_refs reset it, once small renders of each format
loaded the libraries; Linux only). Trees alternate per
original, so a drifting machine shows in both columns alike.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.http_bench import PYTHON  # noqa: E402
from bench.photos import w2_set, w3_set  # noqa: E402

WORKLOADS = {"w2": w2_set, "w3": w3_set}

CHILD = r"""
import json, statistics, sys, time
tree, path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, tree)
import cv2
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from imgserve.server import allocator
from imgserve.settings import Settings

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

allocator.tune()
cv2.setNumThreads(1)
settings, options = Settings.load({}, root=tree), Options(w=400, format="webp", q=80)
import numpy as np
for ext in (".png", ".jpg", ".webp", ".tif"):  # warm, on something small: libraries loaded, no heap grown
    render(cv2.imencode(ext, np.full((64, 64, 3), 99, np.uint8))[1].tobytes(), options, settings)
base = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
data = open(path, "rb").read()
render(data, options, settings)
peak = status("VmHWM") - base
times = []
for _ in range(rounds):
    started = time.process_time()
    render(data, options, settings)
    times.append((time.process_time() - started) * 1000)
print(json.dumps({"cpu_ms": statistics.median(times), "peak_mb": peak}))
"""


def measure(tree: Path, path: Path, rounds: int) -> dict:
    out = subprocess.run([PYTHON, "-c", CHILD, str(tree), str(path), str(rounds)], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another imgserve source tree to compare with")
    parser.add_argument("--workloads", default="w2")
    parser.add_argument("--only", default="", help="comma-separated file names (e.g. pastel_rgba16.png)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    trees = {"imgserve": HERE.parent, **({"baseline": args.baseline} if args.baseline else {})}
    only = set(filter(None, args.only.split(",")))
    print("| original | " + " | ".join(f"{name} CPU ms, peak MB" for name in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for workload in args.workloads.split(","):
        for path in WORKLOADS[workload]():
            if only and path.name not in only:
                continue
            cells = [measure(tree, path, args.rounds) for tree in trees.values()]
            label = path.parents[2].name if path.parent.name == "images" else path.name
            print(f"| {label} | " + " | ".join(f"{c['cpu_ms']:.0f}, {c['peak_mb']:.0f}" for c in cells) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
