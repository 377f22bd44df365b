"""Bench: how imgserve's JPEG quantisation tables were chosen (imaging/jpeg_writer.py, issue #20).

    .venv/bin/python bench/jpeg_tables.py [--set train|w1|both]

Each candidate shape (luma tilt, chroma tilt, whether the DC steps stay Annex K's) writes 300 px
thumbnails at qualities 30-97 through Pillow; per photo, its bytes are interpolated at the SSIM (RGB
mean, luma) and the PSNR that libjpeg's own tables reach at q80 (OpenCV, optimised Huffman tables, as
imgserve wrote before), summed over the photos and divided by libjpeg's q80 bytes. The shape is
chosen on "train": one photo per folder of the Debian wallpaper packages that the W1 set
(bench/photos.py photo_set) does not use; "w1" checks it on the W1 photos. Then "level" prints
each set's mean SSIM and bytes at q80 for a few levels (what q80 means). No timing: bytes only.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.photos import photo_set, unpacked  # noqa: E402
from imgserve.imaging import jpeg_writer  # noqa: E402
from tests.support.ssim import bytes_at, rgb_and_luma  # noqa: E402

SHAPES = [  # (luma tilt, chroma tilt, keep DC)
    (0.0, 0.0, False), (0.6, 0.0, False), (-0.6, 0.0, False), (-1.2, 0.0, False), (-2.0, -0.5, False),
    (-2.0, -1.0, False), (-2.0, -0.5, True), (-2.5, -0.5, True), (-2.0, -1.0, True),
]
QUALITIES = range(30, 100, 3)


def thumbnails(paths: list[Path]) -> list[np.ndarray]:
    out = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        h, w = image.shape[:2]
        out.append(cv2.resize(image, (300, round(h * 300 / w)), interpolation=cv2.INTER_AREA))
    return out


def training() -> list[Path]:
    """One photo per wallpaper folder, none from a folder W1 uses."""
    used = {path.parent for path in photo_set()}
    pool = sorted((unpacked("mate-backgrounds") / "usr/share/backgrounds/mate").rglob("*.jpg")) + sorted(
        (unpacked("plasma-workspace-wallpapers") / "usr/share/wallpapers").rglob("*.jpg"))
    chosen: dict[Path, Path] = {}
    for path in pool:
        if path.parent not in used and not any(str(u).startswith(str(path.parent)) for u in used):
            chosen.setdefault(path.parent, path)
    return list(chosen.values())


def written(image: np.ndarray, steps: list[list[int]]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).save(out, "JPEG", qtables=steps, subsampling="4:2:0",
                                                                 optimize=True)
    return out.getvalue()


def measures(image: np.ndarray, data: bytes) -> tuple[float, float, float]:
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return (*rgb_and_luma(image, data), cv2.PSNR(image, back))


def libjpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_OPTIMIZE, 1])[1].tobytes()


def at_equal(images: list[np.ndarray], shape: tuple[float, float, bool]) -> list[float]:
    """Bytes at libjpeg q80's RGB SSIM, luma SSIM and PSNR, over libjpeg's q80 bytes."""
    found, theirs = [0.0, 0.0, 0.0], 0
    for image in images:
        reference = libjpeg(image)
        target = measures(image, reference)
        theirs += len(reference)
        points = [(len(data), *measures(image, data)) for q in QUALITIES
                  for data in [written(image, jpeg_writer.tables(q, shape[0], shape[1], 1.0, shape[2]))]]
        for k in range(3):
            found[k] += bytes_at([(p[1 + k], p[0]) for p in points], target[k])
    return [f / theirs for f in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("train", "w1", "both"), default="both")
    args = parser.parse_args()
    sets = {name: thumbnails(paths()) for name, paths in (("train", training), ("w1", photo_set))
            if args.set in (name, "both")}
    print("| set | luma tilt | chroma tilt | DC | RGB SSIM | luma SSIM | PSNR |\n|---|---:|---:|---|---:|---:|---:|")
    for name, images in sets.items():
        for shape in SHAPES:
            ratios = at_equal(images, shape)
            dc = "Annex K" if shape[2] else "tilted"
            print(f"| {name} ({len(images)}) | {shape[0]:+.1f} | {shape[1]:+.1f} | {dc} | "
                  + " | ".join(f"{r:.3f}" for r in ratios) + " |", flush=True)
    print("\nq80 at each level (the chosen shape): mean RGB SSIM, luma SSIM, bytes / libjpeg q80's")
    for name, images in sets.items():
        theirs = np.array([(len(d), *rgb_and_luma(i, d)) for i in images for d in [libjpeg(i)]])
        print(f"{name}: libjpeg q80 RGB {theirs[:, 1].mean():.4f} luma {theirs[:, 2].mean():.4f}")
        for level in (0.85, 0.9, 0.95, 1.0):
            steps = jpeg_writer.tables(80, jpeg_writer.TILT, jpeg_writer.CHROMA_TILT, level)
            ours = np.array([(len(d), *rgb_and_luma(i, d)) for i in images for d in [written(i, steps)]])
            print(f"  level {level}: RGB {ours[:, 1].mean():.4f} luma {ours[:, 2].mean():.4f} "
                  f"bytes {ours[:, 0].sum() / theirs[:, 0].sum():.3f}")


if __name__ == "__main__":
    main()
