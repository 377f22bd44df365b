"""Bench: a legacy BMP archive to PNG (issue #20), imgserve against Pillow and ImageMagick, same run.

    .venv/bin/python bench/archives.py [--rounds 3] [--only a4_text_1bit,pal8_photo] [--no-http] [--no-convert]

The archive is bench/archive_corpus.py's: one BMP of every kind, made from Debian's wallpapers and
from drawn A4 text pages. Every converter reads the same BMP bytes and writes a PNG:

  pillow    Image.open + save(PNG) with Pillow's defaults (zlib 6, adaptive filters, P/L/1 modes kept)
  magick    Debian's ImageMagick 6, `convert-im6.q16 bmp:- png:-` (its time includes the process start)
  before    imgserve before issue #20: the decoded pixels as BGR, cv2.imencode (zlib 1, Z_RLE)
  imgserve  pipeline.render(format=png) at IMGSERVE_PNG_EFFORT=default; `fast` and `max` beside it
  http      GET /image/<kind>.bmp?format=png from `imgserve serve` (one client, result cache off)
  convert   `imgserve convert SRC DST --format png --workers 1`, each file's time from its report
  webp      pipeline.render(format=webp, lossless=1): lossless WebP

In-process converters are timed in CPU seconds (the machine is shared: CPU time is the steadier
figure), medians over `--rounds` interleaved rounds (`max` and `webp`, slow, run once); http and
convert are wall times. Every PNG is decoded by Pillow and compared with Pillow's decoding of the
BMP ("exact"); the WebP by OpenCV against imgserve's decoding, where it is visible (lossless WebP keeps
alpha, not the colour of fully transparent pixels).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.archive_corpus import OUT, corpus  # noqa: E402
from imgserve.imaging.decode import decode_array  # noqa: E402
from imgserve.imaging.pipeline import render  # noqa: E402
from imgserve.options import Options  # noqa: E402
from imgserve.settings import Settings  # noqa: E402

MAGICK = "/usr/bin/convert-im6.q16"  # Debian's binary itself, whatever `convert` on PATH is
OLD_PNG = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
ONCE = ("max", "webp")


def rgba(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def converters(settings: Settings) -> dict:
    def pillow(data: bytes) -> bytes:
        image = Image.open(io.BytesIO(data))
        image.load()
        out = io.BytesIO()
        image.save(out, "PNG")
        return out.getvalue()

    def magick(data: bytes) -> bytes:
        return subprocess.run([MAGICK, "bmp:-", "png:-"], input=data, capture_output=True, check=True).stdout

    def before(data: bytes) -> bytes:
        image = decode_array(data)
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image  # as it decoded then
        return cv2.imencode(".png", image, OLD_PNG)[1].tobytes()

    def ours(effort: str):
        chosen = replace(settings, png_effort=effort)
        return lambda data: render(data, Options(format="png"), chosen).body

    def webp(data: bytes) -> bytes:
        return render(data, Options(format="webp", lossless=True), settings).body

    return {"pillow": pillow, "magick": magick, "before": before, "imgserve": ours("default"),
            "fast": ours("fast"), "max": ours("max"), "webp": webp}


def timed(convert, data: bytes) -> tuple[bytes, float, float]:
    """(output, CPU seconds including children, wall seconds)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    out = convert(data)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return out, time.process_time() - cpu + child, time.perf_counter() - wall


def exact(name: str, out: bytes, data: bytes, reference: np.ndarray) -> bool:
    if name == "webp":
        back = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_UNCHANGED)
        pixels = decode_array(data)
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR) if pixels.ndim == 2 else pixels  # WebP has no gray
        if back is None or back.shape != pixels.shape:
            return False
        visible = pixels[:, :, 3] > 0 if pixels.shape[2] == 4 else np.ones(pixels.shape[:2], bool)
        hidden = ~visible
        return np.array_equal(back[visible], pixels[visible]) and np.array_equal(back[hidden, 3:], pixels[hidden, 3:])
    return np.array_equal(rgba(out), reference)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over_http(files: list[Path], rounds: int) -> dict[str, dict]:
    port = free_port()
    env = {**os.environ, "IMGSERVE_CACHE_BYTES": "0", "IMGSERVE_PNG_EFFORT": "default"}
    server = subprocess.Popen([sys.executable, "-m", "imgserve", "serve", "--root", str(OUT), "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        results = {}
        for path in files:
            walls, body = [], b""
            for _ in range(rounds):
                started = time.perf_counter()
                url = f"http://127.0.0.1:{port}/image/{path.name}?format=png"
                body = urllib.request.urlopen(url, timeout=120).read()
                walls.append(time.perf_counter() - started)
            results[path.stem] = {"bytes": len(body), "wall": statistics.median(walls),
                                  "exact": np.array_equal(rgba(body), rgba(path.read_bytes()))}
        return results
    finally:
        server.terminate()
        server.wait(30)


def by_convert(files: list[Path], rounds: int) -> dict[str, dict]:
    work = Path(tempfile.mkdtemp(prefix="imgserve-archive-"))
    try:
        src = work / "src"
        src.mkdir()
        for path in files:
            os.link(path, src / path.name) if path.stat().st_dev == src.stat().st_dev else shutil.copy(path, src)
        seconds: dict[str, list[float]] = {path.stem: [] for path in files}
        for _ in range(rounds):
            shutil.rmtree(work / "dst", ignore_errors=True)
            subprocess.run([sys.executable, "-m", "imgserve", "convert", str(src), str(work / "dst"), "--format", "png",
                            "--workers", "1", "--quiet", "--report", str(work / "report.jsonl")],
                           check=True, env={**os.environ, "IMGSERVE_PNG_EFFORT": "default"})
            for line in (work / "report.jsonl").read_text().splitlines():
                row = json.loads(line)
                seconds[Path(row["input"]).stem].append(float(row["seconds"]))
        return {stem: {"bytes": (work / "dst" / f"{stem}.png").stat().st_size, "wall": statistics.median(walls),
                       "exact": np.array_equal(rgba((work / "dst" / f"{stem}.png").read_bytes()),
                                               rgba((src / f"{stem}.bmp").read_bytes()))}
                for stem, walls in seconds.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated kinds (file stems)")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-convert", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    files = [p for p in corpus() if not args.only or p.stem in args.only.split(",")]
    settings = Settings.load(root=str(OUT))
    tools = converters(settings)
    rows = {}
    for path in files:
        data = path.read_bytes()
        reference = rgba(data)
        record = {name: {"cpu": [], "wall": []} for name in tools}
        for round_ in range(args.rounds):
            names = list(tools)
            names = names[round_ % len(names):] + names[: round_ % len(names)]  # interleaved, rotated
            for name in names:
                if name in ONCE and round_:
                    continue
                out, cpu, wall = timed(tools[name], data)
                record[name]["cpu"].append(cpu)
                record[name]["wall"].append(wall)
                record[name]["bytes"] = len(out)
                if not round_:
                    record[name]["exact"] = exact(name, out, data, reference)
        rows[path.stem] = {"bmp": len(data), **{name: {"bytes": r["bytes"], "exact": r["exact"],
                                                       "cpu": statistics.median(r["cpu"]),
                                                       "wall": statistics.median(r["wall"])}
                                                for name, r in record.items()}}
        print(f"{path.stem:20s} " + "  ".join(f"{n} {r['bytes'] / 1024:,.0f} KB {r['cpu'] * 1e3:,.0f} ms"
                                               for n, r in rows[path.stem].items() if n != "bmp"), flush=True)
    if not args.no_http:
        for stem, result in over_http(files, args.rounds).items():
            rows[stem]["http"] = result
    if not args.no_convert:
        for stem, result in by_convert(files, args.rounds).items():
            rows[stem]["convert"] = result
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print(table(rows))


def table(rows: dict) -> str:
    kb = lambda n: f"{n / 1024:,.0f}"  # noqa: E731
    ms = lambda s: f"{s * 1e3:,.0f}"  # noqa: E731
    head = ("| BMP kind | BMP KB | Pillow KB / ms | magick KB / ms | before KB / ms | **imgserve KB (x Pillow) / ms "
            "(x faster)** | fast KB / ms | max KB / ms | HTTP ms | convert ms | lossless WebP KB / ms | exact |")
    lines = [head, "|---|" + "---:|" * 10 + "---|"]
    for stem, row in rows.items():
        pil, ours = row["pillow"], row["imgserve"]
        inexact = [name for name, r in row.items() if name != "bmp" and not r["exact"]]
        cells = [stem, kb(row["bmp"]), f"{kb(pil['bytes'])} / {ms(pil['cpu'])}",
                 f"{kb(row['magick']['bytes'])} / {ms(row['magick']['cpu'])}",
                 f"{kb(row['before']['bytes'])} / {ms(row['before']['cpu'])}",
                 f"**{kb(ours['bytes'])} ({ours['bytes'] / pil['bytes']:.3f}) / {ms(ours['cpu'])} "
                 f"({pil['cpu'] / ours['cpu']:.1f}x)**",
                 f"{kb(row['fast']['bytes'])} / {ms(row['fast']['cpu'])}",
                 f"{kb(row['max']['bytes'])} / {ms(row['max']['cpu'])}",
                 ms(row["http"]["wall"]) if "http" in row else "-",
                 ms(row["convert"]["wall"]) if "convert" in row else "-",
                 f"{kb(row['webp']['bytes'])} / {ms(row['webp']['cpu'])}",
                 "all" if not inexact else "not " + ", ".join(inexact)]
        lines.append("| " + " | ".join(cells) + " |")
    total = lambda name, key: sum(row[name][key] for row in rows.values() if name in row)  # noqa: E731
    n = len(rows)
    lines.append("")
    sizes = [f"{name} {total(name, 'bytes') / 1024:,.0f} KB"
             for name in ("pillow", "magick", "before", "imgserve", "fast", "max", "webp")]
    lines.append(f"All {n} files: {', '.join(sizes)}")
    rates = [f"{name} {n / total(name, 'cpu'):.2f}" for name in ("pillow", "magick", "before", "imgserve", "fast")]
    lines.append(f"images/s (CPU): {', '.join(rates)}")
    walls = [f"{name} {n / total(name, 'wall'):.2f}" for name in ("pillow", "magick", "imgserve", "http", "convert")
             if all(name in row for row in rows.values())]
    lines.append(f"images/s (wall, one at a time): {', '.join(walls)}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
