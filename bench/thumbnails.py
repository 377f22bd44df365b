"""Bench: thumbnail bytes at equal SSIM, imgserve's and OpenCV's encoders against sharp's.

    .venv/bin/python bench/thumbnails.py [--photos 24]

Every encoder gets the same pixels: each W1 photo (bench/photos.py) decoded by OpenCV and shrunk to
300 px wide with INTER_AREA, as imgserve resizes. sharp 0.35 (installed by bench/http_bench.py into
bench/.cache/node) encodes the raw pixels through bench/servers/sharp_encode.js, one thread.
Each encoder (imgserve's own JPEG writer among them) runs at qualities 30-95; every output is
decoded by OpenCV and compared with the pixels it was given by SSIM (tests/support/ssim.py: Wang
et al.'s, Gaussian window, sigma 1.5, 11x11, constants (0.01 L)^2 and (0.03 L)^2, averaged over the
image less a 5-pixel border), taken two ways: the mean of the SSIMs of
R, G and B ("RGB"), and the SSIM of luma (BT.601 Y, "Y"). "At equal SSIM": per photo, each encoder's
bytes interpolated (log bytes, linear in SSIM between its qualities) at the SSIM sharp's q80 JPEG
reaches, then summed over the photos and divided by sharp's q80 bytes (where even an encoder's
lowest quality reaches that SSIM, its lowest quality's bytes count: an upper bound).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.http_bench import sharp_command  # noqa: E402
from bench.photos import CACHE, photo_set  # noqa: E402
from imgserve.imaging import jpeg_writer  # noqa: E402
from tests.support.ssim import bytes_at as at  # noqa: E402
from tests.support.ssim import rgb_and_luma as both  # noqa: E402

QUALITIES = [30, 40, 50, 55, 60, 65, 70, 75, 78, 80, 82, 84, 86, 88, 90, 95]
OPENCV = {
    "opencv jpeg": lambda q: (".jpg", [cv2.IMWRITE_JPEG_QUALITY, q]),
    "opencv jpeg optimize": lambda q: (".jpg", [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_OPTIMIZE, 1]),
    "opencv jpeg optimize progressive": lambda q: (".jpg", [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                                                            cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    "opencv webp": lambda q: (".webp", [cv2.IMWRITE_WEBP_QUALITY, q]),
}
OURS = {"imgserve jpeg (its own tables)": jpeg_writer.write}  # what imgserve writes since issue #20
SHARP = {
    "sharp jpeg": ("jpeg", {}),                     # sharp's defaults: baseline 4:2:0, optimised Huffman
    "sharp jpeg mozjpeg": ("jpeg", {"mozjpeg": True}),  # trellis quantisation, progressive, table 3
    "sharp webp": ("webp", {}),
}
REFERENCE = "sharp jpeg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--report", type=Path, help="print the table of an earlier run's rows (its --json)")
    parser.add_argument("--json", type=Path, default=CACHE / "thumbnails.json", help="where the rows go")
    args = parser.parse_args()
    if args.report:
        report([tuple(row) for row in json.loads(args.report.read_text())])
        return
    sharp_command(CACHE, 0)  # installs sharp on first use
    rows = []
    with tempfile.TemporaryDirectory(prefix="imgserve-thumbs-") as work:
        thumbs, jobs = {}, []
        for path in photo_set()[: args.photos]:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            h, w = image.shape[:2]
            small = cv2.resize(image, (300, round(h * 300 / w)), interpolation=cv2.INTER_AREA)
            name = f"{path.parent.parent.parent.name}-{path.stem}" if "wallpapers" in str(path) else path.stem
            thumbs[name] = small
            raw = Path(work) / f"{name}.rgb"
            cv2.cvtColor(small, cv2.COLOR_BGR2RGB).tofile(raw)
            for variant, (fmt, options) in SHARP.items():
                for q in QUALITIES:
                    out = Path(work) / f"{name}-{variant.replace(' ', '_')}-{q}.{fmt}"
                    jobs.append({"raw": str(raw), "width": 300, "height": small.shape[0], "format": fmt,
                                 "options": {**options, "quality": q}, "out": str(out),
                                 "name": name, "variant": variant, "q": q})
        (Path(work) / "jobs.json").write_text(json.dumps(jobs))
        done = subprocess.run(["node", str(HERE / "servers/sharp_encode.js"), str(Path(work) / "jobs.json"), "5"],
                              capture_output=True, text=True, check=True, cwd=CACHE / "node",
                              env={"NODE_PATH": str(CACHE / "node/node_modules"), "PATH": "/usr/bin:/bin"})
        timings = {json.loads(line)["out"]: json.loads(line)["ms"] for line in done.stdout.splitlines()}
        for job in jobs:
            data = Path(job["out"]).read_bytes()
            rows.append((job["name"], job["variant"], job["q"], len(data), timings[job["out"]],
                         *both(thumbs[job["name"]], data)))
    for name, small in thumbs.items():
        for q in QUALITIES:
            for variant, params in OPENCV.items():
                ext, flags = params(q)
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    data = cv2.imencode(ext, small, flags)[1].tobytes()
                    times.append((time.perf_counter() - started) * 1e3)
                rows.append((name, variant, q, len(data), statistics.median(times), *both(small, data)))
            for variant, write in OURS.items():
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    data = write(small, q)
                    times.append((time.perf_counter() - started) * 1e3)
                rows.append((name, variant, q, len(data), statistics.median(times), *both(small, data)))
    args.json.write_text(json.dumps(rows))
    report(rows)


def report(rows: list[tuple]) -> None:
    by = {(name, variant, q): (size, ms, rgb, luma) for name, variant, q, size, ms, rgb, luma in rows}
    names = sorted({row[0] for row in rows})
    reference = sum(by[(n, REFERENCE, 80)][0] for n in names)
    print(f"{len(names)} photos, 300 px wide; bytes summed over the photos, relative to {REFERENCE} q80")
    print("| encoder | q80 bytes | q80 RGB SSIM | q80 Y SSIM | ms at q80 | bytes at sharp's q80 RGB SSIM | "
          "bytes at sharp's q80 Y SSIM |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant in [*SHARP, *OPENCV, *OURS]:
        q80 = [by[(n, variant, 80)] for n in names]
        equal, missed = [], set()
        for k in (2, 3):  # RGB, luma
            sizes = {n: at([(by[(n, variant, q)][k], by[(n, variant, q)][0]) for q in QUALITIES],
                           by[(n, REFERENCE, 80)][k]) for n in names}
            reached = [n for n in names if sizes[n] == sizes[n]]
            missed |= set(names) - set(reached)
            equal.append(sum(sizes[n] for n in reached) / sum(by[(n, REFERENCE, 80)][0] for n in reached))
        note = f" (without {', '.join(sorted(missed))}: not reached at q95)" if missed else ""
        print(f"| {variant} | {sum(r[0] for r in q80) / reference:.3f} | {np.mean([r[2] for r in q80]):.4f} | "
              f"{np.mean([r[3] for r in q80]):.4f} | {statistics.median(r[1] for r in q80):.2f} | "
              f"{equal[0]:.3f} | {equal[1]:.3f}{note} |")


if __name__ == "__main__":
    main()
