"""PNG decoded by libspng (through imagecodecs).

libspng inflates and unfilters a third faster than the libpng inside OpenCV, and releases the GIL
while it does. It hands out RGB(A); reordering a 5120x2880 RGBA image to BGRA costs 45 ms, so
decode.py reduces it first and reorders only the small result (shrink.py works the same on RGBA).

imagecodecs asks libspng for 8-bit gray, RGB, RGBA (palettes expanded) or 16-bit RGBA, and ignores
tRNS; `reduced` takes only the layouts where that gives exactly what OpenCV gives (tests check it
pixel for pixel) and returns None for the others (gray+alpha, 16-bit gray or RGB, bit depths
below 8, transparency by tRNS), which decode.py hands to OpenCV.
"""

from __future__ import annotations

import struct

import numpy as np

try:
    import imagecodecs
except ImportError:  # pragma: no cover - a dependency; kept optional so OpenCV alone still decodes
    imagecodecs = None

_GRAY, _RGB, _PALETTE, _RGBA = 0, 2, 3, 6
_TAKEN = {(8, _GRAY), (8, _RGB), (8, _PALETTE), (8, _RGBA), (16, _RGBA)}  # (bit depth, colour type)


def reduced(data: bytes, least: tuple[int, int] | None) -> tuple[np.ndarray, bool] | None:
    """(the pixels at full size, in RGB(A) order: True), or None for OpenCV to decode."""
    if imagecodecs is None or not _taken(data):
        return None
    try:
        return imagecodecs.spng_decode(data), True
    except Exception:  # noqa: BLE001 - imagecodecs.SpngError and kin: OpenCV decides, and reports damage
        return None


def _taken(data: bytes) -> bool:
    """Whether the layout is one libspng decodes here exactly as OpenCV does: no tRNS before IDAT."""
    if len(data) < 33:
        return False
    depth, colour = data[24], data[25]
    if (depth, colour) not in _TAKEN:
        return False
    at = 8
    while at + 8 <= len(data):
        length, tag = struct.unpack_from(">I4s", data, at)
        if tag == b"IDAT":
            return True
        if tag == b"tRNS":
            return False
        at += 12 + length
    return False
