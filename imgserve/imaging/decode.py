"""Bytes -> ndarray, in memory, with OpenCV (and `bmp` for what OpenCV gets wrong).

`decode` trusts nothing: the header has been probed (format by magic bytes, size checked against
the pixel limit) before a decoder runs, and a decoder that fails or throws is a 415. JPEG is decoded
at 1/2, 1/4 or 1/8 scale when the output is small enough (libjpeg skips most of the IDCT work), and
its EXIF orientation is applied here so everything downstream sees the image as a viewer would.
PNG, WebP, TIFF, GIF and BMP go first to a decoder of their own that reduces while decoding or right
after (REDUCERS: png.py, webp.py, tiff.py, gif.py; bmp.reduced), down to the plan's `least`; what
those do not take, OpenCV decodes at full size as before.
Arrays are BGR(A), uint8, uint16 or float32, as OpenCV returns them.
"""

from __future__ import annotations

import logging
import os

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # OpenCV must not print to the console; we log
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import Problem  # noqa: E402
from . import (
    bmp,  # noqa: E402
    dc_scans,  # noqa: E402
    gif,  # noqa: E402
    heif,  # noqa: E402
    ops,  # noqa: E402
    png,  # noqa: E402
    tiff,  # noqa: E402
    webp,  # noqa: E402
)
from . import shrink as reduction  # noqa: E402
from .probe import Header, probe  # noqa: E402

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # a failed decode is our 415, not a console line
log = logging.getLogger(__name__)

MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "bmp": "image/bmp",
              "tiff": "image/tiff"}
# What each encoder takes: sample types, and whether alpha survives.
DEPTHS = {"jpeg": (np.uint8,), "webp": (np.uint8,), "bmp": (np.uint8,), "png": (np.uint8, np.uint16),
          "tiff": (np.uint8, np.uint16, np.float32)}
ALPHA = {"png", "webp", "tiff"}
# Served as-is by default where browsers show them well; everything else becomes PNG.
WEB_FORMATS = {"jpeg", "png", "webp"}

_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}
_REDUCED_GRAY = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}


def check_pixels(header: Header, max_pixels: int) -> None:
    if header.pixels > max_pixels:
        raise Problem(422, f"the source is {header.width}x{header.height} = {header.pixels} pixels; "
                           f"this server decodes at most {max_pixels}")


# Decoders that reduce while decoding, or that hand over pixels which are reduced before any full-size
# copy: format -> function(data, least, eight) giving (pixels at `least` (w, h, as stored) or larger,
# whether their colours are in RGB order), or None to leave the image to OpenCV. `eight`: the output
# keeps 8 bits, so deeper samples may come in 8 (png.py's 16-bit bands average ten times faster so).
# Each module says what it takes; docs/performance.md, what it gains.
REDUCERS = {"png": png.reduced, "webp": webp.reduced, "tiff": tiff.reduced, "gif": gif.reduced}


def decode(data: bytes, header: Header, *, shrink: int = 1, least: tuple[int, int] | None = None,
           eight: bool = False) -> np.ndarray:
    """Pixels as a viewer shows them (EXIF orientation applied), JPEG at 1/`shrink` of its size,
    other formats at `least` (w, h, as displayed) where their decoder reduces (REDUCERS, bmp).
    `eight`: the output keeps 8 bits only, so deeper samples may come out in 8 (rounded, before any
    averaging: a 16-bit RGBA PNG reduces ten times faster in 8 bits)."""
    stored = least if least is None or header.orientation < 5 else (least[1], least[0])
    if header.format == "bmp":
        try:
            info = bmp.read_header(data)
            image = bmp.reduced(data, info, stored) if stored and info.compression not in (bmp.RLE4, bmp.RLE8) \
                else None
            return bmp.decode(data, info) if image is None else image
        except ValueError as error:
            raise Problem(415, f"the BMP data could not be decoded: {error}") from None
    if header.format == "heif":
        return heif.decode(data)
    found = REDUCERS[header.format](data, stored, eight) if header.format in REDUCERS else None
    if found is not None:
        image = _finished(*found, stored, eight)
        return ops.orient(image, header.orientation) if header.format == "tiff" else image
    if header.format == "jpeg" and header.progressive and shrink == 8:
        data = dc_scans.dc_only(data) or data
    buffer = np.frombuffer(data, np.uint8)
    if header.format == "jpeg":
        flags = (_REDUCED_GRAY if header.channels == 1 else _REDUCED)[shrink] | cv2.IMREAD_IGNORE_ORIENTATION
    elif eight and header.format == "png" and header.bit_depth == 16 and header.channels in (1, 3):
        # libpng strips 16 bits to 8 while it decodes: half the memory (44 MB instead of 88 for a
        # 5120x2880 RGB photo) and 9% less time; alpha needs IMREAD_UNCHANGED, which keeps 16 bits
        flags = (cv2.IMREAD_GRAYSCALE if header.channels == 1 else cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
    else:
        flags = cv2.IMREAD_UNCHANGED  # keeps alpha and 16 bits; TIFF applies its own orientation
    try:
        image = cv2.imdecode(buffer, flags)
    except cv2.error as error:
        log.info("OpenCV refused a %s: %s", header.format, str(error).strip().splitlines()[-1])
        image = None
    if image is None or image.size == 0:
        raise Problem(415, f"the {header.format.upper()} data could not be decoded (truncated or corrupt)")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise Problem(415, f"{image.dtype} samples are not supported; use 8 or 16 bits or 32-bit float")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if header.format == "avif" and image.dtype == np.uint16 and header.bit_depth < 16:
        shift = 16 - header.bit_depth  # 10 and 12 bits come as 0..1023 or 0..4095: replicate the top bits
        image = (image << shift) | (image >> (header.bit_depth - shift))
    if header.format in ("jpeg", "avif"):  # libavif leaves irot and imir to its caller
        image = ops.orient(image, header.orientation)
    return _finished(image, False, None, eight) if eight else image


def _finished(image: np.ndarray, rgb: bool, least: tuple[int, int] | None, eight: bool) -> np.ndarray:
    """8 bits if asked, reduced to `least` if larger, colours to BGR order: in that order, so the two
    passes over the whole image are the cheap ones and the reordering touches only the small result."""
    if eight and image.dtype == np.uint16:
        image = cv2.convertScaleAbs(image, alpha=1 / 257)
    if least is not None and least[0] <= image.shape[1] and least[1] <= image.shape[0]:
        image = reduction.shrink(image, least)
    if rgb and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    return image


def indexed(data: bytes, header: Header) -> tuple[np.ndarray, np.ndarray] | None:
    """(indices, BGR palette) of a palette BMP, whose `decode` is exactly palette[indices]; else None.
    Only worth asking when the pixels reach the encoder untouched (pipeline.render)."""
    if header.format != "bmp":
        return None
    info = bmp.read_header(data)
    return (bmp.indices(data, info), info.palette) if info.bits <= 8 else None


def decode_array(data: bytes, max_pixels: int = 100_000_000) -> np.ndarray:
    """Encoded bytes -> the whole image at full size, BGR(A) or gray, as stored depth."""
    header = probe(data)
    check_pixels(header, max_pixels)
    return decode(data, header)


