"""Bench: `imgserve convert` on a legacy-archive stand-in made of real photos.

    .venv/bin/python bench/batch.py [--photos N] [--repeat 2] [--pools]

The photos are the 24 real photos of bench/photos.py (Debian's MATE and Plasma wallpapers, 1280 to
5640 px wide, fetched into bench/.cache, which git ignores), each stored as BMP twice, 24-bit and
8-bit palette (quantised by Pillow), the two kinds legacy archives are full of: the same set the HTTP
bench serves with --bmp. The bench then runs the real
command, `imgserve convert SRC DST --format png --width 1024 --quiet`, with 1 and 2 workers into a
fresh DST, and prints images/s and MB/s (BMP bytes read) for each, and the 2-worker/1-worker ratio.
Times are wall times less the command's start-up (the time it takes on an empty tree); runs are
interleaved and the best of `--repeat` counts, since the machine may be shared.

`--pools` also runs the same conversion in-process on a thread pool and on a process pool of the same
size, which is how the thread pool was chosen (imgserve/batch/convert.py).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.photos import CACHE, bmp_set, photo_set  # noqa: E402


def command(src: Path, dst: Path, workers: int) -> float:
    """Wall seconds of `imgserve convert` into a fresh DST."""
    shutil.rmtree(dst, ignore_errors=True)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "imgserve", "convert", str(src), str(dst), "--format", "png",
                             "--width", "1024", "--workers", str(workers)],
                            capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode or " 0 failed" not in result.stdout:
        sys.exit(f"imgserve convert failed ({result.returncode}): {result.stderr or result.stdout}")
    return seconds


def pooled(src: Path, dst: Path, pool: str, workers: int) -> float:
    from imgserve.batch import convert as batch
    from imgserve.options import Options

    shutil.rmtree(dst, ignore_errors=True)
    job = batch.Conversion(src, dst.resolve(), Options(w=1024, format="png"), batch.Limits(10**8, 8192, 2**27, 10**8))
    tasks = [t for t in batch.plan(job) if isinstance(t, batch.Task)]
    started = time.perf_counter()
    if pool == "threads":
        executor = cf.ThreadPoolExecutor(workers)
    else:  # forkserver: fork is unsafe with threads about; workers start with imgserve imported
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["imgserve.batch.convert"])
        executor = cf.ProcessPoolExecutor(workers, mp_context=context)
        list(executor.map(abs, range(4 * workers)))  # start them before the clock: fair to processes
        started = time.perf_counter()
    with executor:
        outcomes = list(batch.run(job, tasks, executor, workers * batch.IN_FLIGHT_PER_WORKER))
    assert all(o.outcome == batch.CONVERTED for o in outcomes), outcomes
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=24, help="how many photos (x2 BMP kinds)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per configuration; the best counts")
    parser.add_argument("--pools", action="store_true", help="also compare thread and process pools in-process")
    args = parser.parse_args()

    files = sorted(bmp_set(photo_set(args.photos)))
    src = CACHE / "bmp"
    total = sum(f.stat().st_size for f in files)
    sizes = {cv2.imread(str(f), cv2.IMREAD_UNCHANGED).shape[1::-1] for f in files[:3]}
    print(f"{len(files)} BMPs (24-bit and 8-bit palette), {total / 1e6:.0f} MB, e.g. {sorted(sizes)}; "
          f"-> PNG, width 1024; cores: {multiprocessing.cpu_count()}; best of {args.repeat}")
    empty = CACHE / "empty"
    empty.mkdir(exist_ok=True)
    startup = min(command(empty, CACHE / "out", 1) for _ in range(args.repeat))
    print(f"start-up (an empty tree): {startup:.2f} s, taken off the times below")
    runs: dict[str, list[float]] = {}
    for _ in range(args.repeat):  # interleaved, so a busy moment on a shared machine hits every variant
        for workers in (1, 2):
            runs.setdefault(f"imgserve convert --workers {workers}", []).append(
                command(src, CACHE / "out", workers) - startup)
        for pool in ("threads", "processes") if args.pools else ():
            for workers in (1, 2):
                runs.setdefault(f"in-process, {pool} x{workers}", []).append(
                    pooled(src, CACHE / "out", pool, workers))
    for name, seconds in runs.items():
        best = min(seconds)
        print(f"{name:36} {best:6.2f} s  {len(files) / best:6.2f} images/s  {total / best / 1e6:7.1f} MB/s")
    one, two = (min(runs[f"imgserve convert --workers {n}"]) for n in (1, 2))
    print(f"ratio 2 workers / 1 worker: {one / two:.2f}")
    shutil.rmtree(CACHE / "out", ignore_errors=True)


if __name__ == "__main__":
    main()
