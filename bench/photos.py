"""Real photos for the benchmarks, fetched from Debian's wallpaper packages into bench/.cache.

`apt-get download` + `dpkg -x`, once; nothing here is committed (bench/.cache is git-ignored).
The photo set is every camera photo (JPEG) in MATE's `nature` and `abstract` wallpapers plus the
largest JPEG of each of KDE Plasma's wallpapers, between 1280 and 5640 pixels wide: 24 photos from
1280x1024 to 5640x3172, the set issue 3's figures were measured on.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers")


def unpacked(package: str) -> Path:
    root = CACHE / "pkg" / package
    if not root.is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        if not list(CACHE.glob(f"{package}_*.deb")):
            subprocess.run(["apt-get", "download", package], cwd=CACHE, check=True, capture_output=True)
        deb = sorted(CACHE.glob(f"{package}_*.deb"))[-1]
        root.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def photo_set(count: int = 24) -> list[Path]:
    """Real camera photos, widest first, `count` of them, 1280..5640 pixels wide."""
    mate = unpacked("mate-backgrounds") / "usr/share/backgrounds/mate"
    chosen = sorted((mate / "nature").glob("*.jpg")) + sorted((mate / "abstract").glob("Elephants*.jpg"))
    plasma = unpacked("plasma-workspace-wallpapers") / "usr/share/wallpapers"
    for folder in sorted(p for p in plasma.iterdir() if p.is_dir()):
        sizes = [(int(m[1]) * int(m[2]), image) for image in (folder / "contents/images").glob("*.jpg")
                 if (m := re.fullmatch(r"(\d+)x(\d+)", image.stem)) and int(m[1]) >= int(m[2])]
        if sizes:
            chosen.append(max(sizes)[1])
    widths = {path: _width(path) for path in chosen}
    photos = [p for p in chosen if 1280 <= widths[p] <= 5640]
    photos.sort(key=lambda p: (-widths[p], str(p)))
    if len(photos) < count:
        raise SystemExit(f"only {len(photos)} photos found")
    # keep the widest and the narrowest, spread the rest
    step = (len(photos) - 1) / (count - 1)
    return [photos[round(i * step)] for i in range(count)]


def _width(path: Path) -> int:
    from imgserve.imaging.probe import probe

    with open(path, "rb") as file:
        return probe(file.read(1 << 20)).display_size[0]


def bmp_set(photos: list[Path], kinds: tuple[str, ...] = ("24bit", "8bit")) -> list[Path]:
    """Each photo stored as a legacy BMP: 24-bit, and 8-bit palette (quantised by Pillow)."""
    from PIL import Image

    made = []
    for photo in photos:
        name = f"{photo.parent.parent.parent.name if 'wallpapers' in str(photo) else photo.stem}.bmp"
        for kind in kinds:
            target = CACHE / "bmp" / kind / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
                if kind == "24bit":
                    assert cv2.imwrite(str(target), image)
                else:
                    Image.fromarray(image[:, :, ::-1]).quantize(256).save(target, "BMP")
            made.append(target)
    return made


if __name__ == "__main__":
    for path in photo_set():
        print(_width(path), path)
