"""In-process pipeline benchmark: imgserve's render against the seed-style baseline, same photos, same run.

    .venv/bin/python bench/pipeline.py [--rounds 3] [--width 300] [--bmp]

Baseline ("seed"): what the first version of the idea did - `cv2.imdecode` at full size, `cv2.resize`
with INTER_AREA, `cv2.imencode` JPEG q80. imgserve: `pipeline.render` (shrink-on-load, EXIF, etc.).
Both run over the same 24 real photos held in memory (bench/photos.py), interleaved round by round so
machine noise hits both alike; the best round counts. Printed: images/s on one core (OpenCV limited to
one thread) and on all cores (a thread per core), the ratios, and the PSNR of imgserve's thumbnails
against the baseline's (full decode + INTER_AREA): the quality floor is 35 dB.

`--bmp`: the legacy-archive case instead - 24-bit and 8-bit BMPs of the same photos to 1024 px PNG.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.photos import bmp_set, photo_set  # noqa: E402
from imgserve.imaging.pipeline import render  # noqa: E402
from imgserve.options import Options  # noqa: E402
from imgserve.settings import Settings  # noqa: E402


def seed(data: bytes, width: int, fmt: str) -> bytes:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 80] if fmt == "jpeg" else []
    return cv2.imencode(".jpg" if fmt == "jpeg" else ".png", image, params)[1].tobytes()


def timed(work, items: list[bytes], threads: int) -> float:
    started = time.perf_counter()
    if threads == 1:
        for data in items:
            work(data)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, items))
    return len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int)
    parser.add_argument("--bmp", action="store_true", help="24/8-bit BMP sources to 1024 px PNG")
    args = parser.parse_args()
    photos = photo_set()
    paths = bmp_set(photos) if args.bmp else photos
    fmt = "png" if args.bmp else "jpeg"
    width = args.width or (1024 if args.bmp else 300)
    items = [p.read_bytes() for p in paths]
    settings = Settings.load({}, root=str(Path(__file__).parent), max_pixels="200000000")
    options = Options(w=width, format=fmt, q=80)

    def ours(data: bytes) -> bytes:
        return render(data, options, settings).body

    def baseline(data: bytes) -> bytes:
        return seed(data, width, fmt)

    cores = os.cpu_count() or 1
    best: dict[tuple[str, int], float] = {}
    for _ in range(args.rounds):
        for threads, cv_threads in ((1, 1), (cores, 1), (cores, cores)):
            cv2.setNumThreads(cv_threads)
            for name, work in (("seed", baseline), ("imgserve", ours)):
                key = (f"{name} (OpenCV threads {cv_threads})", threads)
                best[key] = max(best.get(key, 0.0), timed(work, items, threads))
    cv2.setNumThreads(cores)

    megabytes = sum(map(len, items)) / 1e6
    print(f"{len(items)} {'BMPs' if args.bmp else 'photos'} ({megabytes:.0f} MB), {width} px {fmt}, "
          f"best of {args.rounds} rounds")
    print(f"{'variant':40} {'threads':>7} {'images/s':>9}")
    for (name, threads), rate in best.items():
        print(f"{name:40} {threads:>7} {rate:>9.1f}")
    for threads, cv_threads in ((1, 1), (cores, 1), (cores, cores)):
        ratio = best[(f"imgserve (OpenCV threads {cv_threads})", threads)] / \
            best[(f"seed (OpenCV threads {cv_threads})", threads)]
        print(f"imgserve / seed, {threads} thread(s), OpenCV threads {cv_threads}: {ratio:.2f}x")

    worst = 99.0
    lossless = Options(w=width, format="png")
    for data in items:  # pixels before any lossy encoding: what shrink-on-load and resizing did
        ours_image = cv2.imdecode(np.frombuffer(render(data, lossless, settings).body, np.uint8), cv2.IMREAD_COLOR)
        reference = cv2.imdecode(np.frombuffer(seed(data, width, "png"), np.uint8), cv2.IMREAD_COLOR)
        if ours_image.shape != reference.shape:
            reference = cv2.resize(reference, ours_image.shape[1::-1], interpolation=cv2.INTER_AREA)
        worst = min(worst, cv2.PSNR(ours_image, reference))
    print(f"quality: lowest PSNR of imgserve's output against full decode + INTER_AREA: {worst:.1f} dB")


if __name__ == "__main__":
    main()
