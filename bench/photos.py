"""Real photos for the benchmarks, fetched from Debian's wallpaper packages into bench/.cache.

`apt-get download` + `dpkg -x`, once; nothing here is committed (bench/.cache is git-ignored).
The photo set is every camera photo (JPEG) in MATE's `nature` and `abstract` wallpapers plus the
largest JPEG of each of KDE Plasma's wallpapers, between 1280 and 5640 pixels wide: 24 photos from
1280x1024 to 5640x3172, the set issue 3's figures were measured on.

The other source formats (issue 21): `w2_set` is the real PNG wallpapers of Plasma and MATE and the
real WebP wallpapers of GNOME, plus photos saved as PNG (8 and 16 bits, with and without alpha,
interlaced) and WebP (lossy and lossless, with and without alpha); `w3_set` is photos saved as TIFF
in the layouts archives hold (strips uncompressed, LZW, deflate and JPEG; tiles; a pyramid; 16 bits)
and as GIF (stills and one animation); `bmp_w3_set` is six photos as 24-bit and 8-bit palette BMPs.
Derived files are made once, deterministically, with OpenCV, Pillow, tifffile and ImageMagick.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers", "gnome-backgrounds")


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


PLASMA_PNG = ("Patak", "Kay", "IceCold", "Altai", "MilkyWay", "Canopee", "Kokkini", "Elarun")
MATE_PNG = ("abstract/Gulp.png", "desktop/Stripes.png", "desktop/Ubuntu-Mate-Cold-no-logo.png")
GNOME_WEBP = ("adwaita-l", "grid-l", "pixels-l", "symbolic-l", "wood-l")
PHOTOS = {  # name: (package, path): the camera photos the derived originals are made from
    "shell": ("plasma-workspace-wallpapers", "usr/share/wallpapers/Shell/contents/images/5120x2880.jpg"),
    "safelanding": ("plasma-workspace-wallpapers", "usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg"),
    "elephants": ("mate-backgrounds", "usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg"),
    "pastel": ("plasma-workspace-wallpapers", "usr/share/wallpapers/PastelHills/contents/images/3200x2000.jpg"),
    "wood": ("mate-backgrounds", "usr/share/backgrounds/mate/nature/Wood.jpg"),
    "bythewater": ("plasma-workspace-wallpapers", "usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg"),
}


def _photo(name: str):
    package, path = PHOTOS[name]
    return cv2.imread(str(unpacked(package) / path), cv2.IMREAD_COLOR)


def _with_alpha(bgr):
    """A photo's own kind of alpha: a soft vignette to transparent corners and a transparent band on top."""
    import numpy as np

    h, w = bgr.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    alpha = np.clip((1.25 - np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))) / 0.5, 0, 1)
    alpha[:h // 10] = 0
    return np.dstack([bgr, (alpha * (np.iinfo(bgr.dtype).max)).astype(bgr.dtype)])


def _derived(folder: str, name: str, make) -> Path:
    target = CACHE / "derived" / folder / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}")
        make(partial)
        partial.rename(target)
    return target


def _pillow(image, path: Path, format: str, **options) -> None:
    from PIL import Image

    code = cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
    Image.fromarray(cv2.cvtColor(image, code)).save(path, format, **options)


def w2_set() -> list[Path]:
    """PNG and WebP originals: 11 real PNGs (RGB, RGBA, gray+alpha; 1920-5120 px), 5 real 4096x4096 lossy
    WebPs, and photos saved as PNG (8-bit RGB and RGBA as Pillow writes them, 16-bit RGB and RGBA,
    Adam7-interlaced by ImageMagick) and as 4096 px WebP (lossy and lossless, with and without alpha)."""
    import numpy as np

    plasma = unpacked("plasma-workspace-wallpapers") / "usr/share/wallpapers"
    chosen = [max((plasma / name / "contents/images").glob("*.png"), key=lambda p: p.stat().st_size)
              for name in PLASMA_PNG]
    chosen += [unpacked("mate-backgrounds") / "usr/share/backgrounds/mate" / name for name in MATE_PNG]
    chosen += [unpacked("gnome-backgrounds") / f"usr/share/backgrounds/gnome/{name}.webp" for name in GNOME_WEBP]
    chosen.append(_derived("png", "shell_rgb8.png", lambda p: _pillow(_photo("shell"), p, "PNG")))
    chosen.append(_derived("png", "shell_rgba8.png", lambda p: _pillow(_with_alpha(_photo("shell")), p, "PNG")))

    def deep(photo: str, alpha: bool):
        image = _photo(photo).astype(np.uint16) * 257
        image += np.random.default_rng(1).integers(0, 257, image.shape, dtype=np.uint16)  # a real sensor's low bits
        return lambda p: cv2.imwrite(str(p), _with_alpha(image) if alpha else image)

    chosen.append(_derived("png", "safelanding_rgb16.png", deep("safelanding", False)))
    chosen.append(_derived("png", "pastel_rgba16.png", deep("pastel", True)))
    if shutil.which("convert"):
        wood = unpacked(PHOTOS["wood"][0]) / PHOTOS["wood"][1]
        chosen.append(_derived("png", "wood_interlaced.png", lambda p: subprocess.run(
            ["convert", str(wood), "-interlace", "PNG", f"png:{p}"], check=True)))
    photo = _photo("elephants")
    photo = cv2.resize(photo, (4096, round(4096 * photo.shape[0] / photo.shape[1])), interpolation=cv2.INTER_AREA)
    for label, image, lossless in (("lossy_rgb", photo, False), ("lossy_rgba", _with_alpha(photo), False),
                                   ("lossless_rgb", photo, True), ("lossless_rgba", _with_alpha(photo), True)):
        chosen.append(_derived("webp", f"elephants_{label}.webp", lambda p, i=image, ll=lossless: _pillow(
            i, p, "WEBP", quality=80, lossless=ll)))
    return chosen


TIFF_LAYOUTS = {  # label: tifffile.imwrite options
    "strip_none": {"compression": None, "rowsperstrip": 64},
    "strip_lzw": {"compression": "lzw", "predictor": True, "rowsperstrip": 64},
    "strip_deflate": {"compression": "zlib", "predictor": True, "rowsperstrip": 64},
    "strip_jpeg": {"compression": "jpeg", "compressionargs": {"level": 85}, "photometric": "ycbcr",
                   "rowsperstrip": 64},
    "tile_deflate": {"compression": "zlib", "predictor": True, "tile": (256, 256)},
}


def w3_set() -> list[Path]:
    """TIFF and GIF originals from the 5120 px Shell and 5640 px Elephants photos: strips (none, LZW, deflate,
    JPEG), tiles (deflate), a SubIFD pyramid (full size plus 1/2, 1/4, 1/8) and 16-bit LZW, each; GIF
    stills of three photos (2560-5640 px, Pillow's adaptive palette) and an 8-frame 1920 px animation."""
    import numpy as np
    import tifffile
    from PIL import Image

    chosen = []
    for name in ("shell", "elephants"):
        rgb = cv2.cvtColor(_photo(name), cv2.COLOR_BGR2RGB)
        for label, options in TIFF_LAYOUTS.items():
            options = dict(options)
            photometric = options.pop("photometric", "rgb")
            chosen.append(_derived("tiff", f"{name}_{label}.tif", lambda p, o=options, m=photometric, i=rgb:
                                   tifffile.imwrite(p, i, photometric=m, **o)))

        def pyramid(path: Path, image=rgb) -> None:
            with tifffile.TiffWriter(path) as writer:
                options = {"photometric": "rgb", "compression": "zlib", "predictor": True, "tile": (256, 256)}
                writer.write(image, subifds=3, **options)
                for _ in range(3):
                    image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
                    writer.write(image, subfiletype=1, **options)

        chosen.append(_derived("tiff", f"{name}_pyramid.tif", pyramid))
        chosen.append(_derived("tiff", f"{name}_rgb16_lzw.tif", lambda p, i=rgb: tifffile.imwrite(
            p, i.astype(np.uint16) * 257, photometric="rgb", compression="lzw", rowsperstrip=64)))
    for name in ("bythewater", "pastel", "elephants"):
        chosen.append(_derived("gif", f"{name}.gif", lambda p, n=name: Image.fromarray(cv2.cvtColor(
            _photo(n), cv2.COLOR_BGR2RGB)).quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(p, "GIF")))

    def animation(path: Path) -> None:
        base = cv2.cvtColor(cv2.resize(_photo("shell"), (1920, 1080), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        frames = [Image.fromarray(np.roll(base, 40 * i, axis=1)).quantize(256) for i in range(8)]
        frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    chosen.append(_derived("gif", "shell_animated.gif", animation))
    return chosen


def bmp_w3_set() -> list[Path]:
    """The six photos of PHOTOS as legacy BMPs, 24-bit and 8-bit palette (2560-5640 px)."""
    return bmp_set([unpacked(package) / path for package, path in PHOTOS.values()])


if __name__ == "__main__":
    for path in photo_set() + w2_set() + w3_set() + bmp_w3_set():
        print(f"{path.stat().st_size / 1e6:6.1f} MB {path}")
