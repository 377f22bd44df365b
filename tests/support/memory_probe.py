"""Measure what renders really take, against what memory.working_bytes says they take.

`python -m tests.support.memory_probe NAME...` runs in a process of its own (as the server runs:
allocator.tune()'s malloc settings) and prints one JSON line per case: the estimate the render
reserved, and the growth of its peak RSS. Each case is rendered once to warm up (libraries loaded,
OpenCV's threads started, Python's caches filled), then free memory is handed back to the kernel
(gc, malloc_trim), the kernel's peak-RSS mark is reset (/proc/self/clear_refs), and the same render
runs again: VmHWM minus VmRSS before it is everything the render touched, in any library. NumPy
arrays, OpenCV's buffers and libpng's alike, which tracemalloc would not see.

Sources are made here, deterministically, so that the parent only names cases.
"""

from __future__ import annotations

import ctypes
import gc
import io
import json
import struct
import sys
from collections.abc import Callable
from contextlib import contextmanager
from functools import cache

import cv2
import numpy as np
from PIL import Image

W, H = 1200, 900  # each array is megabytes, far above the noise of a Python process


@cache
def _pixels(alpha: bool = False, seed: int = 0) -> np.ndarray:
    """BGR(A) uint8 with texture (so encoders cannot shrink it to nothing) and, with alpha, a gradient."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    image = np.dstack([128 + 100 * np.sin(x / (17 + k) + y / 29) for k in range(3)])
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    if alpha:
        image = np.dstack([image, np.clip(x / W * 255, 0, 255).astype(np.uint8)])
    return image


def _cv(ext: str, image: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, data = cv2.imencode(ext, image, params or [])
    assert ok
    return data.tobytes()


def _pil(image: Image.Image, format: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **kwargs)
    return out.getvalue()


def _rgb() -> Image.Image:
    return Image.fromarray(_pixels()[:, :, ::-1])


def _rgba() -> Image.Image:
    return Image.fromarray(_pixels(True)[:, :, [2, 1, 0, 3]])


def _oriented(orientation: int) -> bytes:
    image = _rgb()
    exif = image.getexif()
    exif[0x0112] = orientation
    return _pil(image, "JPEG", quality=90, exif=exif.tobytes())


def _bmp(bits: int, masks: tuple[int, int, int, int] | None = None) -> bytes:
    """An uncompressed BMP of W x H with `bits` per pixel (and BITFIELDS masks), written by hand."""
    rgb = _pixels()
    if bits == 8:
        palette = np.arange(256, dtype=np.uint8).repeat(4).reshape(256, 4)
        rows = rgb[:, :, 1]
    elif bits == 16:
        b, g, r = (rgb[:, :, i].astype(np.uint16) for i in range(3))
        rows = ((r >> 3) << 11 | (g >> 2) << 5 | b >> 3).astype("<u2").view(np.uint8).reshape(H, -1)
    else:
        b, g, r = (rgb[:, :, i].astype(np.uint32) for i in range(3))
        rows = (r << 22 | g << 12 | b << 2).astype("<u4").view(np.uint8).reshape(H, -1)  # 10-bit channels
    stride = (W * bits + 31) // 32 * 4
    pixels = np.zeros((H, stride), np.uint8)
    pixels[:, :rows.shape[1]] = rows
    pixels = pixels[::-1].tobytes()
    compression = 3 if masks else 0
    extra = struct.pack("<3I", *masks[:3]) if masks else b""
    table = palette.tobytes() if bits == 8 else b""
    offset = 14 + 40 + len(extra) + len(table)
    info = struct.pack("<IiiHHIIiiII", 40, W, H, 1, bits, compression, len(pixels), 2835, 2835,
                       256 if bits == 8 else 0, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + extra + table + pixels


def _animated(format: str) -> bytes:
    frames = [Image.fromarray(_pixels(seed=i)[:, :, ::-1]) for i in range(3)]
    return _pil(frames[0], format, save_all=True, append_images=frames[1:], duration=100,
                **({"lossless": False, "quality": 50} if format == "WEBP" else {}))


def _profiled(format: str, profile: str, image: Image.Image | None = None) -> bytes:
    from tests.support import REPO

    icc = (REPO / "tests" / "data" / "icc" / profile).read_bytes()
    return _pil(image or _rgb(), format, icc_profile=icc, **({"quality": 90} if format == "JPEG" else {}))


def _heif(alpha: bool = False) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _pil(_rgba() if alpha else _rgb(), "HEIF", quality=80)


SOURCES: dict[str, Callable[[], bytes]] = {
    "jpeg-420": lambda: _pil(_rgb(), "JPEG", quality=90),
    "jpeg-444": lambda: _pil(_rgb(), "JPEG", quality=90, subsampling=0),
    "jpeg-progressive": lambda: _pil(_rgb(), "JPEG", quality=90, progressive=True),
    "jpeg-progressive-444": lambda: _pil(_rgb(), "JPEG", quality=90, progressive=True, subsampling=0),
    "jpeg-gray": lambda: _pil(_rgb().convert("L"), "JPEG"),
    "jpeg-cmyk": lambda: _pil(_rgb().convert("CMYK"), "JPEG"),
    "jpeg-orientation-6": lambda: _oriented(6),
    "jpeg-orientation-5": lambda: _oriented(5),
    "png-rgb": lambda: _cv(".png", _pixels()),
    "png-rgba": lambda: _cv(".png", _pixels(True)),
    "png-palette": lambda: _pil(_rgb().quantize(256), "PNG"),
    "png-palette-trns": lambda: _pil(_rgb().quantize(256), "PNG", transparency=0),
    "png-gray": lambda: _cv(".png", _pixels()[:, :, 1]),
    "png-gray-alpha": lambda: _pil(_rgba().convert("LA"), "PNG"),
    "png-16": lambda: _cv(".png", _pixels().astype(np.uint16) * 257),
    "png-16-alpha": lambda: _cv(".png", _pixels(True).astype(np.uint16) * 257),
    "png-1bit": lambda: _pil(_rgb().convert("1"), "PNG"),
    "png-animated": lambda: _animated("PNG"),
    "webp-lossy": lambda: _cv(".webp", _pixels(), [cv2.IMWRITE_WEBP_QUALITY, 80]),
    "webp-lossless": lambda: _cv(".webp", _pixels(), [cv2.IMWRITE_WEBP_QUALITY, 101]),
    "webp-alpha": lambda: _pil(_rgba(), "WEBP", quality=80),
    "webp-animated": lambda: _animated("WEBP"),
    "tiff-rgb": lambda: _cv(".tiff", _pixels()),
    "tiff-one-strip": lambda: _pil(_rgb(), "TIFF", compression="tiff_lzw", strip_size=1 << 30),
    "tiff-palette": lambda: _pil(_rgb().quantize(256), "TIFF", strip_size=1 << 30),
    "tiff-tiled": lambda: _tiled(),
    "tiff-16": lambda: _cv(".tiff", _pixels().astype(np.uint16) * 257),
    "tiff-float": lambda: _cv(".tiff", _pixels().astype(np.float32) / 255),
    "tiff-rgba": lambda: _cv(".tiff", _pixels(True)),
    "tiff-cmyk": lambda: _pil(_rgb().convert("CMYK"), "TIFF"),
    "tiff-gray": lambda: _cv(".tiff", _pixels()[:, :, 1]),
    "tiff-jpeg": lambda: _pil(_rgb(), "TIFF", compression="jpeg"),
    "gif": lambda: _pil(_rgb().quantize(256), "GIF"),
    "gif-transparent": lambda: _pil(_rgb().quantize(256), "GIF", transparency=0),
    "bmp-24": lambda: _cv(".bmp", _pixels()),
    "bmp-8": lambda: _bmp(8),
    "bmp-16": lambda: _bmp(16),
    "bmp-32-bitfields": lambda: _bmp(32, (0x3FF << 22, 0x3FF << 12, 0x3FF << 2, 0)),
    "bmp-rle8": lambda: _rle8(),
    "avif": lambda: _cv(".avif", _pixels(), [cv2.IMWRITE_AVIF_QUALITY, 80]),
    "avif-alpha": lambda: _cv(".avif", _pixels(True), [cv2.IMWRITE_AVIF_QUALITY, 80]),
    "avif-10": lambda: _cv(".avif", (_pixels().astype(np.uint16) * 4), [cv2.IMWRITE_AVIF_DEPTH, 10]),
    "heif": lambda: _heif(),
    "heif-alpha": lambda: _heif(True),
    "jpeg-adobe-rgb": lambda: _profiled("JPEG", "AdobeRGB1998.icc"),
    "png-prophoto": lambda: _profiled("PNG", "ProPhoto.icm"),
    "jpeg-cmyk-profile": lambda: _cmyk_profiled(),
    "gif-animated": lambda: _animated("GIF"),
}


def _cmyk_profiled() -> bytes:
    from PIL import ImageCms

    cmyk = ImageCms.profileToProfile(_rgb(), ImageCms.createProfile("sRGB"), _cmyk_profile(), outputMode="CMYK")
    return _pil(cmyk, "JPEG", quality=90, icc_profile=_cmyk_profile().tobytes())


def _cmyk_profile():
    from PIL import ImageCms

    return ImageCms.getOpenProfile("/usr/share/color/icc/ghostscript/default_cmyk.icc")  # libgs-common, as CI has


def _tiled() -> bytes:
    """OpenCV and Pillow write strips only: a tiled TIFF by hand, 8-bit RGB, uncompressed, 256x256 tiles."""
    rgb = _pixels()[:, :, ::-1]
    tile = 256
    across, down = -(-W // tile), -(-H // tile)
    tiles = []
    for ty in range(down):
        for tx in range(across):
            block = np.zeros((tile, tile, 3), np.uint8)
            part = rgb[ty * tile:(ty + 1) * tile, tx * tile:(tx + 1) * tile]
            block[:part.shape[0], :part.shape[1]] = part
            tiles.append(block.tobytes())
    count = len(tiles)
    entries = [(256, 4, 1, W), (257, 4, 1, H), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
               (277, 3, 1, 3), (284, 3, 1, 1), (322, 3, 1, tile), (323, 3, 1, tile),
               (324, 4, count, None), (325, 4, count, None)]
    ifd_size = 2 + 12 * len(entries) + 4
    extra_at = 8 + ifd_size
    bits_at = extra_at
    offsets_at = bits_at + 6
    counts_at = offsets_at + 4 * count
    data_at = counts_at + 4 * count
    offsets = [data_at + i * len(tiles[0]) for i in range(count)]
    out = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(entries)))
    for tag, kind, n, value in entries:
        if tag == 258:
            value = bits_at
        elif tag == 324:
            value = offsets_at
        elif tag == 325:
            value = counts_at
        out += struct.pack("<HHI", tag, kind, n) + (struct.pack("<HH", value, 0) if kind == 3 and n == 1
                                                      else struct.pack("<I", value))
    out += struct.pack("<I", 0) + struct.pack("<3H", 8, 8, 8)
    out += struct.pack(f"<{count}I", *offsets) + struct.pack(f"<{count}I", *[len(t) for t in tiles])
    return bytes(out) + b"".join(tiles)


def _rle8() -> bytes:
    from tests.support import bmp_factory

    return bmp_factory.write("info-8-rle", W, H)


OPTIONS: dict[str, str] = {
    "thumbnail": "w=400",
    "same-size": "",
    "enlarge": "w=3000&enlarge=1",
    "crop": "crop=100,100,900,700",
    "rotate": "rotate=90",
    "flip": "flip=hv",
    "cover": "w=500&h=500&fit=cover",
    "pad": "w=2000&h=2000&fit=pad&bg=ff000080",
    "grayscale": "grayscale=1",
    "blur": "blur=3",
    "blur-wide": "blur=40",
    "sharpen": "sharpen=2",
    "pixelate": "pixelate=8",
    "to-jpeg": "format=jpeg&q=95",
    "to-png": "format=png",
    "to-webp": "format=webp",
    "to-tiff": "format=tiff",
    "to-bmp": "format=bmp",
    "to-avif": "format=avif",
    "to-gif": "format=gif",
    "trim": "trim=10",
    "smart": "w=300&h=600&fit=cover&gravity=smart",
    "face": "w=300&h=600&fit=cover&gravity=face",
    "redact": "redact=faces",
    "overlay": "overlay=mark.png&overlay_scale=1&overlay_opacity=0.5",
    "everything": "w=2400&enlarge=1&rotate=270&flip=h&grayscale=1&sharpen=1&blur=2&pixelate=4&format=webp",
}


@cache
def source_bytes(source: str) -> bytes:
    return SOURCES[source]()


def case_names(slow: bool = True) -> list[str]:
    """`source/options` names: every source with the options that change what its decoder and encoder
    do, and every option family on the sources whose arrays differ (alpha, 16 bits, gray, orientation)."""
    names = [f"{source}/{options}" for source in SOURCES for options in ("same-size", "enlarge")]
    names += [f"{source}/to-jpeg" for source in ("png-animated", "webp-animated", "gif-animated")]  # one frame
    names += [f"{source}/thumbnail" for source in SOURCES]  # shrink-on-load, and the reducers of decode.py
    families = ("png-rgba", "jpeg-420", "png-16-alpha", "png-gray", "jpeg-orientation-5", "tiff-float",
                "png-prophoto")
    names += [f"{source}/{options}" for source in families for options in OPTIONS
              if options not in ("thumbnail", "same-size", "enlarge")]
    if not slow:
        names = [n for n in names if n.endswith("/enlarge") or n.startswith(("png-rgba/", "png-16-alpha/"))]
    return names


@contextmanager
def _noop():
    yield


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def measure(name: str) -> dict:
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    from imgserve.errors import Problem
    from imgserve.imaging.pipeline import render
    from imgserve.options import parse
    from imgserve.settings import Settings

    source, option = name.split("/")
    data = source_bytes(source)
    settings = Settings()
    options = parse(MultiDict(parse_qsl(OPTIONS[option], keep_blank_values=True)), settings)
    reserved: list[int] = []

    def reserve(nbytes: int):
        reserved.append(nbytes - len(data))
        return _noop()

    overlay = _pixels(True)[:300, :500] if options.overlay else None
    try:
        render(data, options, settings, overlay=overlay)  # warm up
    except Problem as problem:
        return {"case": name, "status": problem.status, "detail": problem.detail}
    gc.collect()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc_trim(0)
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    rendered = render(data, options, settings, reserve=reserve, overlay=overlay)
    grown = _status("VmHWM") - before
    return {"case": name, "estimate": reserved[0], "measured": grown, "output": [rendered.width, rendered.height],
            "format": rendered.format}


def main(names: list[str]) -> None:
    from imgserve.server import allocator

    allocator.tune()
    for name in names:
        print(json.dumps(measure(name)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
