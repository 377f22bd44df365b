"""Colour and formats benchmarks (issue #17): the figures of docs/performance.md, "Colour and formats".

    .venv/bin/python bench/colour_formats.py w1 [--seconds 15] [--rounds 3]
    .venv/bin/python bench/colour_formats.py w1cpu [--rounds 5]
    .venv/bin/python bench/colour_formats.py avif [--photos 12] [--width 300]
    .venv/bin/python bench/colour_formats.py jpeg [--photos 12]
    .venv/bin/python bench/colour_formats.py order [--photos 12]
    .venv/bin/python bench/colour_formats.py animation [--frames 60]

w1: W1 over HTTP (300 px JPEG q80 thumbnails of the 24 bench photos, 8 connections, wrk, no result
cache) with colour management ("on") and with the profile lookup patched out ("off"), on the photos as
they are, tagged with sRGB (a 3 KB v2 profile, as cameras write) and tagged with Display P3 (same
pixels: every request converts). Plus `format=avif` at the chosen speed. Configurations alternate
within each round; the best round of each counts. w1cpu: the same renders in-process, on and off
alternating render by render, CPU time each: what a loaded machine's HTTP figures cannot resolve.
avif: OpenCV's AVIF (libavif + libaom) at speeds x qualities against sharp's (libvips + libheif +
libaom, its default effort 4) on thumbnails: bytes and CPU at equal SSIM (luma), per photo, median of
the ratios. Also the AVIF quality that matches JPEG's SSIM at each q (how imgserve maps `q`).
jpeg: optimised Huffman tables and progressive scans: bytes and encode time. order: the error of
converting after the resize instead of before, and the time of each. animation: peak memory and time
of an animated GIF rendered frame by frame (imgserve) against OpenCV's decode-all-frames API.
Profiles and photos come from Debian packages (argyll-ref; the wallpapers), into bench/.cache.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.photos import CACHE, photo_set, unpacked  # noqa: E402

PYTHON = sys.executable


def profiles() -> dict[str, bytes]:
    ref = unpacked("argyll-ref") / "usr/share/color/argyll/ref"
    names = {"srgb": "sRGB.icm", "p3": "DisplayP3.icm", "adobergb": "ClayRGB1998.icm", "prophoto": "ProPhoto.icm"}
    return {key: (ref / name).read_bytes() for key, name in names.items()}


def thumbnail(image: np.ndarray, width: int) -> np.ndarray:
    height, w = image.shape[:2]
    return cv2.resize(image, (width, max(1, round(height * width / w))), interpolation=cv2.INTER_AREA)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5) of the BT.601 luma of two BGR images."""
    def luma(image):
        image = image.astype(np.float64)
        return image[:, :, 0] * 0.114 + image[:, :, 1] * 0.587 + image[:, :, 2] * 0.299

    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s[5:-5, 5:-5].mean())


def decoded(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def timed(function, *args):
    cpu, wall = time.thread_time(), time.perf_counter()
    result = function(*args)
    return result, (time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3


def interpolate(points: list[tuple[float, dict]], target: float) -> dict | None:
    """Linear interpolation of a measurement at SSIM `target` between the grid points around it."""
    points = sorted(points, key=lambda p: p[0])
    for (s0, a), (s1, b) in zip(points, points[1:]):
        if s0 <= target <= s1:
            f = 0.0 if s1 == s0 else (target - s0) / (s1 - s0)
            return {k: a[k] + f * (b[k] - a[k]) for k in a}
    return None


# -- w1 ------------------------------------------------------------------------------------------------

def tag_jpeg(data: bytes, icc: bytes) -> bytes:
    """The same JPEG with an ICC profile in an APP2 segment after SOI: the pixels are untouched."""
    segment = b"\xff\xe2" + (2 + 14 + len(icc)).to_bytes(2, "big") + b"ICC_PROFILE\0\x01\x01" + icc
    return data[:2] + segment + data[2:]


def w1(args) -> None:
    from bench.http_bench import free_port, tree_rss_mb, wait_for, wrk

    photos = photo_set(24)
    icc = profiles()
    root = CACHE / "colour-w1"
    sets = {"plain": None, "srgb": icc["srgb"], "p3": icc["p3"]}
    for name, profile in sets.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, photo in enumerate(photos):
            target = folder / f"{i:02d}.jpg"
            if not target.exists():
                data = photo.read_bytes()
                target.write_bytes(tag_jpeg(data, profile) if profile else data)
    off = ("import imgserve.imaging.icc as icc; icc.profile = lambda data, format: None; "
           "from imgserve.cli import main; main()")
    servers = {"on": [PYTHON, "-m", "imgserve"], "off": [PYTHON, "-c", off]}
    configs = [(server, name, "format=jpeg&q=80") for name in sets for server in servers]
    configs.append(("on", "plain", "format=avif&q=80"))
    results: dict[tuple, list] = {c: [] for c in configs}
    for round in range(args.rounds):
        for config in configs:
            server, name, query = config
            port = free_port()
            env = {**os.environ, "IMGSERVE_CACHE_BYTES": "0"}
            log = root / "server.log"
            process = subprocess.Popen([*servers[server], "serve", "--root", str(root / name), "--port", str(port)],
                                       env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
            try:
                wait_for(port, process)
                paths = [f"/image/{i:02d}.jpg?w=300&{query}" for i in range(len(photos))]
                wrk(port, paths, 3)  # warm-up: transforms built, pages cached
                time.sleep(3)  # the warm-up's queued requests drain, or the measured run starts with 503s
                rps, p50, p99, errors = wrk(port, paths, args.seconds)
                results[config].append((rps, p50, p99, errors, tree_rss_mb(process.pid)))
            finally:
                process.terminate()
                process.wait()
            statuses = Counter(found[1] for found in re.finditer(r"imgserve.access: \S+ \S+ (\d{3}) ", log.read_text())
                               if found[1] not in ("200", "499"))  # 499: wrk hung up at its end
            print(f"round {round + 1} {server:3s} {name:5s} {query:18s} {rps:7.1f} req/s p50 {p50:6.1f} ms "
                  f"p99 {p99:6.1f} ms errors {errors} {dict(statuses) if statuses else ''}", flush=True)
    print("\nbest round of each (req/s, p50, p99 ms, peak RSS MB):")
    best = {c: max(r) for c, r in results.items()}
    for (server, name, query), (rps, p50, p99, _, rss) in best.items():
        print(f"  {server:3s} {name:5s} {query:18s} {rps:7.1f} req/s  p50 {p50:6.1f}  p99 {p99:6.1f}  RSS {rss:5.0f}")
    for name in sets:
        on, off = best[("on", name, "format=jpeg&q=80")], best[("off", name, "format=jpeg&q=80")]
        print(f"  {name:5s}: colour management on/off = x{on[0] / off[0]:.3f} req/s")
    avif, jpeg = best[("on", "plain", "format=avif&q=80")], best[("on", "plain", "format=jpeg&q=80")]
    print(f"  avif/jpeg (plain, on): x{avif[0] / jpeg[0]:.3f} req/s, p99 {avif[2]:.1f} vs {jpeg[2]:.1f} ms")


def w1cpu(args) -> None:
    """W1's renders in this process, colour management on and off alternating render by render, CPU
    time of each (OpenCV on one thread, so the calling thread's CPU time is all of it)."""
    from imgserve.imaging import icc as icc_module
    from imgserve.imaging.pipeline import render
    from imgserve.options import Options
    from imgserve.settings import Settings

    cv2.setNumThreads(1)
    photos, icc = photo_set(24), profiles()
    settings = Settings.load({}, root=str(CACHE))
    options = Options(w=300, format="jpeg", q=80)
    lookup = icc_module.profile
    sets = {"plain": None, "srgb": icc["srgb"], "p3": icc["p3"]}
    for name, profile in sets.items():
        sources = [tag_jpeg(p.read_bytes(), profile) if profile else p.read_bytes() for p in photos]
        cpu = {"on": [[] for _ in sources], "off": [[] for _ in sources]}
        for _ in range(args.rounds):
            for i, data in enumerate(sources):
                for mode in ("on", "off") if i % 2 else ("off", "on"):
                    icc_module.profile = lookup if mode == "on" else (lambda data, format: None)
                    start = time.thread_time()
                    render(data, options, settings)
                    cpu[mode][i].append(time.thread_time() - start)
        icc_module.profile = lookup
        on = [min(times) for times in cpu["on"]]
        off = [min(times) for times in cpu["off"]]
        ratios = [a / b for a, b in zip(on, off)]
        print(f"{name:5s}: CPU per render on {statistics.median(on) * 1e3:6.2f} ms, off "
              f"{statistics.median(off) * 1e3:6.2f} ms (medians over photos of the best of {args.rounds}); "
              f"on/off: total x{sum(on) / sum(off):.3f}, per photo median x{statistics.median(ratios):.3f}, "
              f"max x{max(ratios):.3f}; added {statistics.median(a - b for a, b in zip(on, off)) * 1e3:.2f} ms")
    sources = [p.read_bytes() for p in photos]
    cpu = {"jpeg": [[] for _ in sources], "avif": [[] for _ in sources]}
    for _ in range(args.rounds):
        for i, data in enumerate(sources):
            for format in cpu:
                start = time.thread_time()
                render(data, Options(w=300, format=format, q=80), settings)
                cpu[format][i].append(time.thread_time() - start)
    jpeg, avif = ([min(t) * 1e3 for t in cpu[f]] for f in ("jpeg", "avif"))
    print(f"format=avif vs jpeg (plain photos, 300 px, q80): CPU per render median {statistics.median(avif):.1f} vs "
          f"{statistics.median(jpeg):.1f} ms, slowest photo {max(avif):.1f} vs {max(jpeg):.1f} ms, "
          f"total x{sum(avif) / sum(jpeg):.2f}")


# -- avif ------------------------------------------------------------------------------------------------

def avif(args) -> None:
    photos = photo_set(24)[:: 24 // args.photos][: args.photos]
    folder = CACHE / f"colour-avif-w{args.width}"
    folder.mkdir(parents=True, exist_ok=True)
    thumbs, index = {}, []
    for i, photo in enumerate(photos):
        image = thumbnail(cv2.imread(str(photo), cv2.IMREAD_COLOR), args.width)
        name = f"p{i:02d}"
        thumbs[name] = image
        (folder / f"{name}.rgb").write_bytes(np.ascontiguousarray(image[:, :, ::-1]).tobytes())
        index.append({"name": name, "width": image.shape[1], "height": image.shape[0]})
    (folder / "index.json").write_text(json.dumps(index))
    speeds = [int(s) for s in args.speeds.split(",")]
    qualities = [int(q) for q in args.qualities.split(",")]
    jpeg_qs = [50, 60, 70, 80, 90, 95]
    grid: dict[tuple, dict] = {}
    node = CACHE / "node"
    if not (node / "node_modules/sharp").is_dir():
        subprocess.run(["npm", "install", "--prefix", str(node), "sharp"], check=True, capture_output=True)
    sharp_rounds = []
    for _ in range(2):  # OpenCV, then sharp in its own process, twice: the machine's drift hits both
        for name, image in thumbs.items():
            for speed in speeds:
                for q in qualities:
                    params = [cv2.IMWRITE_AVIF_QUALITY, q, cv2.IMWRITE_AVIF_SPEED, speed]
                    (ok, buffer), ms, cpu = timed(cv2.imencode, ".avif", image, params)
                    entry = grid.setdefault(("cv2", name, speed, q), {"bytes": len(buffer), "ms": [], "cpu": []})
                    entry["ms"].append(ms)
                    entry["cpu"].append(cpu)
                    entry.setdefault("ssim", ssim(decoded(buffer.tobytes()), image))
            for q in jpeg_qs:
                params = [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
                (ok, buffer), ms, cpu = timed(cv2.imencode, ".jpg", image, params)
                entry = grid.setdefault(("jpeg", name, 0, q), {"bytes": len(buffer), "ms": [], "cpu": []})
                entry["ms"].append(ms)
                entry["cpu"].append(cpu)
                entry.setdefault("ssim", ssim(decoded(buffer.tobytes()), image))
        subprocess.run(["node", str(HERE / "servers/sharp_avif.js"), str(folder), args.sharp_q, "4"],
                       check=True, env={**os.environ, "NODE_PATH": str(node / "node_modules")})
        sharp_rounds.append(json.loads((folder / "sharp.json").read_text()))
    for rows in sharp_rounds:
        for row in rows:
            entry = grid.setdefault(("sharp", row["name"], 4, row["q"]), {"bytes": row["bytes"], "ms": [], "cpu": []})
            entry["ms"].append(row["ms"])
            entry["cpu"].append(row["cpu_ms"])
            if "ssim" not in entry:
                entry["ssim"] = ssim(decoded((folder / f"{row['name']}.q{row['q']}.e4.avif").read_bytes()),
                                     thumbs[row["name"]])
    for entry in grid.values():
        entry["ms"], entry["cpu"] = min(entry["ms"]), min(entry["cpu"])

    pixels = statistics.median(t.shape[0] * t.shape[1] for t in thumbs.values())
    print(f"{len(thumbs)} photos at {args.width} px wide (median {pixels / 1e3:.0f} kpx); medians over photos:")
    for tool, settings, qs in [("cv2", speeds, qualities), ("sharp", [4], [int(q) for q in args.sharp_q.split(",")]),
                               ("jpeg", [0], jpeg_qs)]:
        for setting in settings:
            for q in qs:
                rows = [grid[(tool, n, setting, q)] for n in thumbs]
                label = {"cv2": f"speed {setting:2d}", "sharp": "effort  4", "jpeg": "optimize"}[tool]
                size, ms, cpu, score = (statistics.median(r[k] for r in rows) for k in ("bytes", "ms", "cpu", "ssim"))
                print(f"  {tool:5s} {label} q{q:3d}: {size:7.0f} B {ms:7.1f} ms {cpu:7.1f} cpu-ms  SSIM {score:.4f}")
    for sharp_q in [int(q) for q in args.sharp_q.split(",")]:
        print(f"equal SSIM to sharp q{sharp_q} effort 4 (per photo, median of the ratios OpenCV/sharp):")
        for speed in speeds:
            ratios = []
            for name in thumbs:
                ref = grid[("sharp", name, 4, sharp_q)]
                at = interpolate([(grid[("cv2", name, speed, q)]["ssim"],
                                   {k: grid[("cv2", name, speed, q)][k] for k in ("bytes", "ms", "cpu")})
                                  for q in qualities], ref["ssim"])
                if at:
                    ratios.append((at["bytes"] / ref["bytes"], at["ms"] / ref["ms"], at["cpu"] / ref["cpu"]))
            if ratios:
                b, m, c = (statistics.median(r[i] for r in ratios) for i in range(3))
                print(f"  speed {speed:2d}: bytes x{b:.2f}  wall x{m:.2f}  cpu x{c:.2f}  ({len(ratios)}/{len(thumbs)} "
                      "photos bracketed)")
    print("AVIF quality with the SSIM of JPEG (optimised) at q, median over photos:")
    for speed in speeds:
        found = []
        for q in jpeg_qs:
            target = statistics.median(grid[("jpeg", n, 0, q)]["ssim"] for n in thumbs)
            curve = [(statistics.median(grid[("cv2", n, speed, a)]["ssim"] for n in thumbs), {"q": a})
                     for a in qualities]
            at = interpolate(curve, target)
            found.append(f"q{q}->{at['q']:.0f}" if at else f"q{q}->?")
        print(f"  speed {speed:2d}: " + "  ".join(found))


# -- jpeg ------------------------------------------------------------------------------------------------

def jpeg(args) -> None:
    photos = photo_set(24)[:: 24 // args.photos][: args.photos]
    variants = {"baseline": [], "optimize": [cv2.IMWRITE_JPEG_OPTIMIZE, 1],
                "progressive": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
                "progressive+optimize": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_OPTIMIZE, 1]}
    for width in (300, 1024):
        thumbs = [thumbnail(cv2.imread(str(p), cv2.IMREAD_COLOR), width) for p in photos]
        rows = {v: {"bytes": [], "ms": [], "cpu": []} for v in variants}
        for _ in range(5):  # variants interleaved, photo by photo
            for image in thumbs:
                for variant, extra in variants.items():
                    (ok, buffer), ms, cpu = timed(cv2.imencode, ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80, *extra])
                    rows[variant]["ms"].append(ms)
                    rows[variant]["cpu"].append(cpu)
                    rows[variant]["bytes"].append(len(buffer))
        base = sum(rows["baseline"]["bytes"])
        print(f"{len(thumbs)} photos at {width} px, q80 (bytes summed, times median of 5 x photos):")
        for variant, row in rows.items():
            print(f"  {variant:22s} {sum(row['bytes']) / 5 / len(thumbs):8.0f} B (x{sum(row['bytes']) / base:.3f})"
                  f"  {statistics.median(row['ms']):6.2f} ms  {statistics.median(row['cpu']):6.2f} cpu-ms")


# -- order -----------------------------------------------------------------------------------------------

def order(args) -> None:
    from PIL import Image, ImageCms

    photos = photo_set(24)[:: 24 // args.photos][: args.photos]
    srgb = ImageCms.createProfile("sRGB")
    icc = profiles()

    def convert(image: np.ndarray, source, target) -> np.ndarray:
        pil = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))
        return np.asarray(ImageCms.profileToProfile(pil, source, target, outputMode="RGB"))[:, :, ::-1].copy()

    for name in ("p3", "adobergb", "prophoto"):
        space = ImageCms.ImageCmsProfile(io.BytesIO(icc[name]))
        for content in ("stored values", "sRGB content"):
            for width in (300, 400):
                errors, first_ms, after_ms = [], [], []
                for photo in photos:
                    image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
                    if content == "sRGB content":  # a photo inside sRGB, stored in the wide space
                        image = convert(image, srgb, space)
                    start = time.perf_counter()
                    before = thumbnail(convert(image, space, srgb), width)
                    first_ms.append((time.perf_counter() - start) * 1e3)
                    start = time.perf_counter()
                    after = convert(thumbnail(image, width), space, srgb)
                    after_ms.append((time.perf_counter() - start) * 1e3)
                    errors.append(cv2.PSNR(before, after))
                print(f"{name:9s} {content:13s} {width} px: after vs before the resize PSNR median "
                      f"{statistics.median(errors):5.1f} dB, worst {min(errors):5.1f} dB; convert+resize "
                      f"{statistics.median(first_ms):6.1f} ms, resize+convert {statistics.median(after_ms):5.1f} ms")


# -- animation --------------------------------------------------------------------------------------------

MEASURE = """
import io, resource, sys, time
import cv2, numpy as np
sys.path.insert(0, {root!r})
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from imgserve.settings import Settings
data = open({path!r}, "rb").read()
settings = Settings.load({{}}, root="/tmp")
def peak():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
render(open({small!r}, "rb").read(), Options(w=20, format="webp"), settings)  # libraries loaded
ok, _ = cv2.imdecodeanimation(np.frombuffer(open({small!r}, "rb").read(), np.uint8))
before = peak()
start = time.perf_counter()
if {method!r} == "imgserve":
    body = render(data, Options(w={width}, format="webp"), settings).body
else:
    ok, animation = cv2.imdecodeanimation(np.frombuffer(data, np.uint8))
    out = cv2.Animation()
    frames = [cv2.resize(f if f.shape[2] == 4 else cv2.cvtColor(f, cv2.COLOR_BGR2BGRA),
                         ({width}, round(f.shape[0] * {width} / f.shape[1])), interpolation=cv2.INTER_AREA)
              for f in animation.frames]
    out.frames, out.durations, out.loop_count = frames, list(animation.durations), animation.loop_count
    body = cv2.imencodeanimation(".webp", out, [cv2.IMWRITE_WEBP_QUALITY, 80])[1].tobytes()
print(round(peak() - before, 1), round((time.perf_counter() - start) * 1e3), len(body))
"""


def animation(args) -> None:
    from PIL import Image

    photo = cv2.imread(str(photo_set(24)[5]), cv2.IMREAD_COLOR)
    folder = CACHE / "colour-animation"
    folder.mkdir(parents=True, exist_ok=True)
    base = thumbnail(photo, 960)[:540]
    frames = [Image.fromarray(np.ascontiguousarray(np.roll(base, 12 * i, axis=1)[:, :, ::-1]))
              for i in range(args.frames)]
    small = folder / "small.gif"
    frames[0].resize((48, 27)).save(small, "GIF", save_all=True,
                                    append_images=[f.resize((48, 27)) for f in frames[1:4]])
    for format in ("GIF", "WEBP"):
        path = folder / f"pan{args.frames}.{format.lower()}"
        if not path.exists():
            frames[0].save(path, format, save_all=True, append_images=frames[1:], duration=40, loop=0,
                           **({"quality": 80} if format == "WEBP" else {}))
        canvas = 960 * 540 * 4 * args.frames / 2**20
        print(f"{format} {args.frames} frames of 960x540 ({path.stat().st_size / 2**20:.1f} MB; every canvas as "
              f"BGRA: {canvas:.0f} MiB), to 240 px animated WebP; peak RSS growth, time, output bytes, 3 runs each:")
        for method in ("imgserve", "opencv-all-frames") * 3:
            code = textwrap.dedent(MEASURE.format(root=str(HERE.parent), path=str(path), small=str(small),
                                                  method=method, width=240))
            out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            print(f"  {method:18s} +{out[0]:>7s} MiB  {out[1]:>6s} ms  {out[2]:>8s} B")
    from imgserve.imaging.animation import write_gif

    small_frames = [thumbnail(np.asarray(f)[:, :, ::-1], 240) for f in frames]
    print(f"GIF writers on the {args.frames} frames at 240 px (bytes, time, PSNR of the frames read back):")
    for name in ("opencv", "pillow (imgserve)") * 2:
        start = time.perf_counter()
        if name == "opencv":
            out = cv2.Animation()
            out.frames = [cv2.cvtColor(f, cv2.COLOR_BGR2BGRA) for f in small_frames]
            out.durations, out.loop_count = [40] * len(small_frames), 0
            data = cv2.imencodeanimation(".gif", out)[1].tobytes()
        else:
            data = write_gif(small_frames, [40] * len(small_frames), 0)
        ms = (time.perf_counter() - start) * 1e3
        with Image.open(io.BytesIO(data)) as opened:
            back = []
            for index in range(len(small_frames)):
                opened.seek(index)
                back.append(np.asarray(opened.convert("RGB"))[:, :, ::-1].copy())
        scores = [cv2.PSNR(a, b) for a, b in zip(back, small_frames)]
        print(f"  {name:18s} {len(data):8d} B {ms:7.0f} ms  PSNR median {statistics.median(scores):5.1f} dB, "
              f"worst {min(scores):5.1f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["w1", "w1cpu", "avif", "jpeg", "order", "animation"])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--speeds", default="6,7,8,9")
    parser.add_argument("--qualities", default="30,40,50,60,70,80,90")
    parser.add_argument("--sharp-q", default="50,60")
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    {"w1": w1, "w1cpu": w1cpu, "avif": avif, "jpeg": jpeg, "order": order,
     "animation": animation}[args.what](args)


if __name__ == "__main__":
    main()
