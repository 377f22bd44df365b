"""Originals of every layout the decoders handle, made from a real photo (tests/data/photos/README.md).

Each `ORIGINALS` entry names a layout and makes its encoded bytes in memory (a few ms each, cached):
PNG, WebP, TIFF, GIF and BMP as the writers people use (OpenCV, Pillow, tifffile) produce them. The
reference every decoder is held to is `reference`: OpenCV's full decode, resized in float with
INTER_AREA, premultiplied where there is alpha, composited over white by `seen`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

PHOTO = Path(__file__).resolve().parent.parent / "data/photos/seeding.jpg"


@functools.cache
def photo() -> np.ndarray:
    """The 640x360 photo, BGR uint8."""
    image = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    assert image is not None, PHOTO
    return image


def with_alpha(image: np.ndarray) -> np.ndarray:
    """The photo with a soft vignette to transparent corners, a transparent band on top and, under the
    transparent pixels, garish green: any resize that does not weight colour by alpha shows it."""
    h, w = image.shape[:2]
    top = np.iinfo(image.dtype).max
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    alpha = np.clip((1.25 - np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2))) / 0.5, 0, 1)
    alpha[:h // 8] = 0
    out = np.dstack([image, (alpha * top).astype(image.dtype)])
    out[alpha == 0, :3] = (0, top, 0)
    return out


def deep(image: np.ndarray) -> np.ndarray:
    """16 bits: the photo's levels times 257, plus noise in the low bits as a real sensor has."""
    return image.astype(np.uint16) * 257 + np.random.default_rng(3).integers(0, 257, image.shape, dtype=np.uint16)


def _pillow(image: np.ndarray, format: str, mode: str | None = None, **options) -> bytes:
    from PIL import Image

    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    picture = Image.fromarray(image)
    if mode == "P":
        picture = picture.quantize(256)
    elif mode == "PA":  # palette with one transparent entry for the top band
        picture = picture.convert("RGB").quantize(255)
        indices = np.asarray(picture).copy()
        indices[:image.shape[0] // 8] = 255
        palette = picture.getpalette()
        picture = Image.fromarray(indices, "P")
        picture.putpalette(palette)
        options["transparency"] = 255
    out = io.BytesIO()
    picture.save(out, format, **options)
    return out.getvalue()


def _tiff(image: np.ndarray, **options) -> bytes:
    import tifffile

    out = io.BytesIO()
    if image.ndim == 2:
        rgb, extra, photometric = image, {}, "minisblack"
    else:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
        extra = {"extrasamples": ["unassalpha"]} if image.shape[2] == 4 else {}
        photometric = "rgb"
    tifffile.imwrite(out, rgb, photometric=options.pop("photometric", photometric), **extra, **options)
    return out.getvalue()


def _pyramid(image: np.ndarray) -> bytes:
    import tifffile

    out = io.BytesIO()
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    with tifffile.TiffWriter(out) as writer:
        options = {"photometric": "rgb", "compression": "zlib", "tile": (64, 64)}
        writer.write(rgb, subifds=2, **options)
        for _ in range(2):
            rgb = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
            writer.write(rgb, subfiletype=1, **options)
    return out.getvalue()


def _gray_alpha(image: np.ndarray) -> bytes:
    from PIL import Image

    gray = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
    out = io.BytesIO()
    Image.fromarray(np.dstack([gray, image[:, :, 3]]), "LA").save(out, "PNG")
    return out.getvalue()


def _animated_gif(image: np.ndarray) -> bytes:
    from PIL import Image

    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    frames = [Image.fromarray(np.roll(rgb, 40 * i, axis=1)).quantize(256) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def _encoded(ext: str, image: np.ndarray, params: list[int] | None = None) -> bytes:
    ok, data = cv2.imencode(ext, image, params or [])
    assert ok
    return data.tobytes()


# name: (makes the bytes, whether a reducer takes it: then the decode comes out at `least`)
ORIGINALS: dict[str, tuple[Callable[[], bytes], bool]] = {
    "png-rgb8": (lambda: _pillow(photo(), "PNG"), True),
    "png-rgba8": (lambda: _pillow(with_alpha(photo()), "PNG"), True),
    "png-gray8": (lambda: _encoded(".png", cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY)), True),
    "png-palette": (lambda: _pillow(photo(), "PNG", mode="P"), True),
    "png-rgba16": (lambda: _encoded(".png", with_alpha(deep(photo()))), True),
    "png-rgb16": (lambda: _encoded(".png", deep(photo())), True),
    "png-palette-trns": (lambda: _pillow(photo(), "PNG", mode="PA"), False),
    "png-gray-alpha": (lambda: _gray_alpha(with_alpha(photo())), False),
    "webp-lossy": (lambda: _encoded(".webp", photo(), [cv2.IMWRITE_WEBP_QUALITY, 90]), True),
    "webp-lossless": (lambda: _encoded(".webp", photo(), [cv2.IMWRITE_WEBP_QUALITY, 101]), True),
    "webp-lossless-alpha": (lambda: _pillow(with_alpha(photo()), "WEBP", lossless=True, exact=True), True),
    "webp-lossy-alpha": (lambda: _pillow(with_alpha(photo()), "WEBP", quality=90, exact=True), False),
    "tiff-none": (lambda: _tiff(photo()), True),
    "tiff-none-rgba": (lambda: _tiff(with_alpha(photo())), True),
    "tiff-lzw": (lambda: _tiff(photo(), compression="lzw", predictor=True, rowsperstrip=32), True),
    "tiff-deflate-tiles": (lambda: _tiff(photo(), compression="zlib", tile=(64, 64)), True),
    "tiff-jpeg-strips": (lambda: _tiff(photo(), compression="jpeg", photometric="ycbcr", rowsperstrip=32), True),
    "tiff-jpeg-tables": (lambda: _pillow(photo(), "TIFF", compression="jpeg", quality=90), True),
    "tiff-pyramid": (lambda: _pyramid(photo()), True),
    "tiff-rgb16": (lambda: _tiff(deep(photo()), compression="lzw"), True),
    "tiff-rgb16-big-endian": (lambda: _tiff(deep(photo()), byteorder=">"), True),
    "tiff-rgb16-lzw-strips": (lambda: _tiff(deep(photo()), compression="lzw", predictor=True, rowsperstrip=16), True),
    "tiff-rgb16-deflate-tiles": (lambda: _tiff(deep(photo()), compression="zlib", tile=(48, 48)), True),
    "tiff-gray16-big-endian-lzw": (lambda: _tiff(deep(cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY)), byteorder=">",
                                                 compression="lzw", predictor=True, rowsperstrip=24), True),
    "tiff-gray8-deflate-odd-strips": (lambda: _tiff(cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY), compression="zlib",
                                                    rowsperstrip=7), True),
    "gif": (lambda: _pillow(photo(), "GIF", mode="P"), True),
    "gif-transparent": (lambda: _pillow(photo(), "GIF", mode="PA"), True),
    "gif-animated": (lambda: _animated_gif(photo()), True),
    "bmp-24": (lambda: _encoded(".bmp", photo()), True),
    "bmp-8": (lambda: _pillow(photo(), "BMP", mode="P"), True),
    "bmp-32-alpha": (lambda: _bmp32(with_alpha(photo())), True),
    "bmp-24-top-down": (lambda: _top_down(_encoded(".bmp", photo())), True),
}


def original(name: str) -> bytes:
    return _made(name)


@functools.cache
def _made(name: str) -> bytes:
    return ORIGINALS[name][0]()


def _bmp32(image: np.ndarray) -> bytes:
    """A BITMAPV4 BMP with BGRA bitfields (alpha mask 0xFF000000), bottom-up."""
    import struct

    h, w = image.shape[:2]
    pixels = np.ascontiguousarray(image[::-1]).tobytes()
    header = struct.pack("<IiiHHIIiiII", 108, w, h, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    header += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"BGRs" + bytes(36) + bytes(12)
    offset = 14 + len(header)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + header + pixels


def _top_down(data: bytes) -> bytes:
    """The same BMP with its rows stored top row first (a negative height)."""
    import struct

    offset = struct.unpack_from("<I", data, 10)[0]
    width, height = struct.unpack_from("<ii", data, 18)
    stride = (width * 3 + 3) // 4 * 4
    rows = np.frombuffer(data, np.uint8, stride * height, offset).reshape(height, stride)[::-1]
    return data[:22] + struct.pack("<i", -height) + data[26:offset] + rows.tobytes()


def full_decode(data: bytes) -> np.ndarray:
    """OpenCV's full decode (orientation applied); Pillow's for TIFF with alpha, which OpenCV returns
    premultiplied (it reads RGBA TIFFs through libtiff's TIFFReadRGBA*, which multiplies unassociated
    alpha in) while calling it straight."""
    if data[:4] in (b"II*\0", b"MM\0*"):
        from PIL import Image

        picture = Image.open(io.BytesIO(data))
        if picture.mode == "RGBA":
            return cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGBA2BGRA)
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert full is not None
    return full


def reference(data: bytes, size: tuple[int, int]) -> np.ndarray:
    """The full decode, INTER_AREA in float, premultiplied when there is alpha, rounded to 8 bits."""
    full = full_decode(data)
    if full.ndim == 3 and full.shape[2] == 1:
        full = full[:, :, 0]
    return area_reference(full, size)


def area_reference(full: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A decoded image resized to `size` by INTER_AREA in float, premultiplied when there is alpha."""
    work = full.astype(np.float32) / (257.0 if full.dtype == np.uint16 else 1.0)
    if work.ndim == 3 and work.shape[2] == 4:
        work[:, :, :3] *= work[:, :, 3:4] / 255.0
    small = cv2.resize(work, size, interpolation=cv2.INTER_AREA)
    if small.ndim == 3 and small.shape[2] == 4:
        np.divide(small[:, :, :3] * 255.0, small[:, :, 3:4], out=small[:, :, :3], where=small[:, :, 3:4] > 0)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def seen(image: np.ndarray) -> np.ndarray:
    """What a viewer sees, as float BGR: gray made colour, 16 bits made 8, alpha composited over white."""
    if image.dtype == np.uint16:
        image = np.clip(np.rint(image / 257.0), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    work = image.astype(np.float64)
    if work.shape[2] == 4:
        alpha = work[:, :, 3:4] / 255.0
        return work[:, :, :3] * alpha + 255.0 * (1 - alpha)
    return work


def psnr(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(cv2.PSNR(seen(ours), seen(theirs), 255.0))
