"""Bytes -> ndarray, in memory, with OpenCV (and `bmp` for what OpenCV gets wrong).

`decode` trusts nothing: the header has been probed (format by magic bytes, size checked against
the pixel limit) before a decoder runs, and a decoder that fails or throws is a 415. JPEG is decoded
at 1/2, 1/4 or 1/8 scale when the output is small enough (libjpeg skips most of the IDCT work), and
its EXIF orientation is applied here so everything downstream sees the image as a viewer would.
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
    heif,  # noqa: E402
    ops,  # noqa: E402
)
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


def decode(data: bytes, header: Header, *, shrink: int = 1) -> np.ndarray:
    """Pixels as a viewer shows them (EXIF orientation applied), JPEG at 1/`shrink` of its size."""
    if header.format == "bmp":
        try:
            return bmp.decode(data, bmp.read_header(data))
        except ValueError as error:
            raise Problem(415, f"the BMP data could not be decoded: {error}") from None
    if header.format == "heif":
        return heif.decode(data)
    if header.format == "jpeg" and header.progressive and shrink == 8:
        data = dc_scans.dc_only(data) or data
    buffer = np.frombuffer(data, np.uint8)
    if header.format == "jpeg":
        flags = (_REDUCED_GRAY if header.channels == 1 else _REDUCED)[shrink] | cv2.IMREAD_IGNORE_ORIENTATION
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


