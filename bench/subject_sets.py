"""The labelled sets bench/subject.py measures on, built from real photos fetched from package registries.

    .venv/bin/python bench/subject_sets.py          # or let bench/subject.py call it

Downloads (~330 MB, once, into bench/.cache/subject; nothing here is committed):
  npm   @vladmandic/face-api@1.7.15   demo/sample1..6.jpg: group photos, 22 faces        (npm pack)
  npm   @vladmandic/human@3.3.6       assets/screenshot-facematch.jpg: a grid of 108 small faces
  PyPI  insightface==2.1              data/images/t1.jpg: 6 faces                        (pip download)
  PyPI  scikit-image==0.26.0          astronaut, camera (faces); chelsea, coffee, ... (no face)
  deb   opencv-doc                    messi5.jpg (a face); baboon, fruits, ... (no face)  (apt-get download)
  deb   mate-backgrounds, plasma-workspace-wallpapers: photos without faces, some with an off-centre subject
Every file is checked against bench/subject_labels/sources.sha256, so a changed upstream file fails loudly.

Written to bench/.cache/subject/:
  faces/   10 photos with 31 labelled faces, and the grid (108 faces of about 26 px at 480 px)
  neg/     37 photos with no face (at most 1920 px)
  smart/   59 landscape photos with a known off-centre subject box: 7 wallpapers labelled by hand, and 52
           composites (a real subject - a head and shoulders from the face photos, or an object photo -
           pasted with a feathered edge onto a real wallpaper, its centre at 12-28 % or 72-88 % of the
           width; seeded, so every run builds the same set)
Labels: bench/subject_labels/faces.json (face boxes, and "ignore" boxes: a blurred crowd, a painted
portrait) and smart.json (subject boxes), made by hand with detector proposals checked by eye.
"""

from __future__ import annotations

import glob
import hashlib
import json
import random
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "subject"
LABELS = HERE / "subject_labels"

NPM = {"@vladmandic/face-api@1.7.15": "vladmandic-face-api-1.7.15.tgz",
       "@vladmandic/human@3.3.6": "vladmandic-human-3.3.6.tgz"}
PYPI = {"insightface==2.1": "insightface-2.1-py3-none-any.whl", "scikit-image==0.26.0": "scikit_image-0.26.0-*.whl"}
DEB = ("opencv-doc", "mate-backgrounds", "plasma-workspace-wallpapers")
WALL = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
MATE = "usr/share/backgrounds/mate/nature/{}.jpg"
OPENCV = "usr/share/doc/opencv-doc/examples/data/{}"
NEG = {
    **{f"mate_{n}": ("deb:mate-backgrounds", MATE.format(n)) for n in
       "Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower".split()},
    **{f"plasma_{n}": ("deb:plasma-workspace-wallpapers", WALL.format(n)) for n in
       "ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am".split()},
    **{f"opencv_{n.rsplit('.', 1)[0]}": ("deb:opencv-doc", OPENCV.format(n)) for n in
       "baboon.jpg fruits.jpg HappyFish.jpg building.jpg home.jpg aero3.jpg butterfly.jpg apple.jpg orange.jpg "
       "starry_night.jpg".split()},
    **{f"skimage_{n.rsplit('.', 1)[0]}": ("pypi:scikit-image", f"skimage/data/{n}") for n in
       "chelsea.png coffee.png rocket.jpg horse.png coins.png".split()},
}
FACES = {
    **{f"faceapi_sample{i}.jpg": ("npm:@vladmandic/face-api", f"package/demo/sample{i}.jpg") for i in range(1, 7)},
    "insightface_t1.jpg": ("pypi:insightface", "insightface/data/images/t1.jpg"),
    "skimage_astronaut.png": ("pypi:scikit-image", "skimage/data/astronaut.png"),
    "skimage_camera.png": ("pypi:scikit-image", "skimage/data/camera.png"),
    "opencv_messi5.jpg": ("deb:opencv-doc", OPENCV.format("messi5.jpg")),
    "human_facematch_grid.png": ("npm:@vladmandic/human", "package/assets/screenshot-facematch.jpg"),
}
GRID_ROWS = (283, 951)  # the 6 x 18 tiles of faces; above them is other screenshot content

# the smart-crop set: hand-labelled wallpapers (fraction boxes of the subject) ...
PICKED = {
    "mate_LadyBird": (0.655, 0.44, 0.10, 0.16), "mate_TwoWings": (0.33, 0.25, 0.62, 0.42),
    "mate_Aqua": (0.54, 0.39, 0.32, 0.50), "mate_Garden": (0.36, 0.18, 0.64, 0.82),
    "mate_YellowFlower": (0.74, 0.64, 0.26, 0.36), "plasma_Kite": (0.64, 0.30, 0.07, 0.11),
    "plasma_OneStandsOut": (0.60, 0.44, 0.08, 0.12),
}
# ... and composites: object subjects (a photo of neg/, the fraction box of its object) and face subjects
OBJECTS = [
    ("mate_LadyBird", (0.62, 0.38, 0.17, 0.28)), ("plasma_Kite", (0.61, 0.26, 0.13, 0.19)),
    ("plasma_OneStandsOut", (0.57, 0.40, 0.14, 0.20)), ("mate_Aqua", (0.52, 0.36, 0.36, 0.56)),
    ("skimage_chelsea", (0.0, 0.0, 1.0, 1.0)), ("skimage_coffee", (0.08, 0.0, 0.84, 1.0)),
    ("opencv_apple", (0.05, 0.0, 0.9, 1.0)), ("opencv_orange", (0.05, 0.05, 0.9, 0.95)),
    ("opencv_butterfly", (0.0, 0.05, 1.0, 0.85)),
]
FACE_SUBJECTS = ["faceapi_sample1.jpg", "faceapi_sample3.jpg", "faceapi_sample4.jpg", "faceapi_sample6.jpg",
                 "insightface_t1.jpg", "skimage_astronaut.png"]
BACKGROUNDS = ["mate_Blinds", "mate_Dune", "mate_GreenMeadow", "mate_Wood", "mate_Storm", "mate_RainDrops",
               "plasma_DarkestHour", "plasma_Grey", "plasma_summer_1am", "plasma_Path", "plasma_FallenLeaf",
               "plasma_ColdRipple", "plasma_EveningGlow"]
COMPOSITES = 52


def download(cache: Path) -> None:
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    run = lambda *command: subprocess.run(command, cwd=downloads, check=True, stdout=subprocess.DEVNULL)  # noqa: E731
    for spec, name in NPM.items():
        if not (downloads / name).exists():
            run("npm", "pack", spec)
    for spec, pattern in PYPI.items():
        if not glob.glob(str(downloads / pattern)):
            run(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", ".", spec)
    for package in DEB:
        if not glob.glob(str(downloads / f"{package}_*.deb")):
            run("apt-get", "download", package)


def read(cache: Path, source: str, member: str) -> bytes:
    downloads = cache / "downloads"
    kind, name = source.split(":", 1)
    if kind == "npm":
        archive = next(file for spec, file in NPM.items() if spec.rsplit("@", 1)[0] == name)
        with tarfile.open(downloads / archive) as tar:
            return tar.extractfile(member).read()
    if kind == "pypi":
        pattern = next(file for spec, file in PYPI.items() if spec.split("==")[0] == name)
        with zipfile.ZipFile(sorted(glob.glob(str(downloads / pattern)))[-1]) as wheel:
            return wheel.read(member)
    root = downloads / f"deb-{name}"
    if not root.is_dir():
        deb = sorted(glob.glob(str(downloads / f"{name}_*.deb")))[-1]
        subprocess.run(["dpkg-deb", "-x", deb, str(root)], check=True)
    return (root / member).read_bytes()


def build(cache: Path = CACHE) -> Path:
    """The sets under `cache` (built once; a finished build leaves `cache/done`)."""
    if (cache / "done").exists():
        return cache
    download(cache)
    sums = dict(reversed(line.split(None, 1)) for line in (LABELS / "sources.sha256").read_text().splitlines())
    sums = {key.strip(): digest for key, digest in sums.items()}
    for folder in ("faces", "neg", "smart"):
        (cache / folder).mkdir(parents=True, exist_ok=True)
    for name, (source, member), folder in [*((k, v, "faces") for k, v in FACES.items()),
                                           *((k, v, "neg") for k, v in NEG.items())]:
        data = read(cache, source, member)
        key = f"{source}:{member}"
        if hashlib.sha256(data).hexdigest() != sums.get(key):
            raise SystemExit(f"{key}: not the file the labels were made on (SHA-256 differs)")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if name == "human_facematch_grid.png":
            cv2.imwrite(str(cache / folder / name), image[GRID_ROWS[0]:GRID_ROWS[1]])
        elif folder == "faces":
            (cache / folder / name).write_bytes(data)
        else:
            scale = min(1.0, 1920 / max(image.shape[:2]))
            if scale < 1:
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(cache / folder / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    _smart_set(cache)
    (cache / "done").write_text("ok\n")
    return cache


def _smart_set(cache: Path) -> None:
    """The composites are made here, seeded; their boxes must match smart.json (checked)."""
    labels = json.loads((LABELS / "smart.json").read_text())
    load = lambda name: cv2.imread(str(cache / "neg" / f"{name}.jpg"), cv2.IMREAD_COLOR)  # noqa: E731
    for name in PICKED:
        cv2.imwrite(str(cache / "smart" / f"picked_{name}.jpg"), load(name), [cv2.IMWRITE_JPEG_QUALITY, 92])
    faces = json.loads((LABELS / "faces.json").read_text())
    subjects = []
    for name in FACE_SUBJECTS:
        image = cv2.imread(str(cache / "faces" / name), cv2.IMREAD_COLOR)
        height, width = image.shape[:2]
        for x, y, w, h in faces[name]["faces"][:2]:  # head and shoulders around each of the first two faces
            subjects.append(image[max(0, int(y - 0.5 * h)):min(height, int(y + 2.1 * h)),
                                  max(0, int(x - 0.6 * w)):min(width, int(x + 1.6 * w))])
    for name, (fx, fy, fw, fh) in OBJECTS:
        image = load(name)
        height, width = image.shape[:2]
        subjects.append(image[int(fy * height):int((fy + fh) * height), int(fx * width):int((fx + fw) * width)])
    rng = random.Random(18)
    for i in range(COMPOSITES):
        background = BACKGROUNDS[i % len(BACKGROUNDS)]
        width, height = (1600, 1000) if i % 2 == 0 else (1600, 900)
        canvas = cv2.resize(load(background), (width, height), interpolation=cv2.INTER_AREA)
        side = rng.choice((0, 1))
        cx = width * (rng.uniform(0.12, 0.28) if side == 0 else rng.uniform(0.72, 0.88))
        cy = height * rng.uniform(0.35, 0.65)
        box = _paste(canvas, subjects[i % len(subjects)], cx, cy, height * rng.uniform(0.25, 0.45))
        name = f"comp_{i:02d}_{background}.jpg"
        if labels[name]["box"] != box:
            raise SystemExit(f"{name}: the composite's box {box} is not the labelled {labels[name]['box']}")
        cv2.imwrite(str(cache / "smart" / name), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])


def _paste(canvas: np.ndarray, subject: np.ndarray, cx: float, cy: float, height: float) -> list[int]:
    """`subject` scaled to `height`, feathered in an ellipse, centred near (cx, cy): its box."""
    big_h, big_w = canvas.shape[:2]
    sh = int(height)
    sw = max(8, int(subject.shape[1] * sh / subject.shape[0]))
    subject = cv2.resize(subject, (sw, sh), interpolation=cv2.INTER_AREA)
    x0, y0 = int(np.clip(cx - sw / 2, 0, big_w - sw)), int(np.clip(cy - sh / 2, 0, big_h - sh))
    mask = np.zeros((sh, sw), np.float32)
    cv2.ellipse(mask, (sw // 2, sh // 2), (int(sw * 0.47), int(sh * 0.47)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.04 * max(sw, sh))[..., None]
    below = canvas[y0:y0 + sh, x0:x0 + sw].astype(np.float32)
    canvas[y0:y0 + sh, x0:x0 + sw] = (mask * subject + (1 - mask) * below).astype(np.uint8)
    return [x0, y0, sw, sh]


if __name__ == "__main__":
    print(build())
