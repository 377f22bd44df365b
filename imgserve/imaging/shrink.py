"""Downscaling in the cheapest order that keeps area averaging's quality.

OpenCV's INTER_AREA at a non-integer scale weighs every source pixel for every output pixel it
touches; at exactly 1/2 it takes a SIMD path that is several times cheaper per source pixel. So a
big reduction is done as libvips does it: exact 2x2 box halvings while the image is at least four
times the target, then one INTER_AREA to the exact size (2..4 source pixels per output pixel, so it
still averages). The result stays within a few grey levels of a single INTER_AREA (docs/performance.md).
A reduction by whole factors on both sides is one INTER_AREA step (OpenCV's fast path too), exact:
halvings would blur edges that fall on the output's pixel grid (flat graphics, test cards).

Alpha is premultiplied before any averaging (colour under transparent pixels must not bleed into
edges), band by band so that no premultiplied copy of the whole source is ever held: each band is
premultiplied and halved at once, and only the half-size result is kept. 8-bit bands are
premultiplied by OpenCV in 8 bits (COLOR_RGBA2mRGBA: alpha is the fourth channel in BGRA too);
deeper samples in float32. The small result is unpremultiplied the same way.

A halving drops an odd last row or column of the source (at most 2**k - 1 source pixels over k
halvings, a fraction of one output pixel). Arrays are OpenCV's: gray, BGR or BGRA, any depth.
"""

from __future__ import annotations

import cv2
import numpy as np

BAND_ROWS = 128  # rows premultiplied and halved at a time: a few MB, while the band is still in cache


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`image` reduced to `size` (w, h), which is no larger than it on either side."""
    height, width = image.shape[:2]
    if (width, height) == tuple(size):
        return image
    premultiplied = _has_alpha(image)
    if width % size[0] == 0 and height % size[1] == 0:  # whole factors: one exact step, OpenCV's fast path
        small = _by_bands(image, width // size[0], height // size[1], premultiplied)
        return unpremultiply(small, image.dtype) if premultiplied else small
    work = image
    if premultiplied and _halvable(work, size):
        work = _by_bands(work, 2, 2, premultiplied)
    elif premultiplied:
        work = _premultiply(work)
    while _halvable(work, size):
        work = _halve(work)
    small = cv2.resize(work, tuple(size), interpolation=cv2.INTER_AREA)
    return unpremultiply(small, image.dtype) if premultiplied else small


def boxes_into(band: np.ndarray, factor: int, out: np.ndarray, premultiply: bool = False) -> None:
    """`band` averaged over `factor` x `factor` boxes (a power of two, at least 2) into `out`, for the
    decoders that reduce a band of rows as soon as it is decoded (tiff.py, png.py): 2x2 halvings,
    OpenCV's fast path, the last one straight into `out`. Rows and columns past `out`'s whole boxes
    are dropped, as by the halvings after a full decode. `premultiply`: the band has alpha, and `out`
    gets premultiplied averages (float32 from 16 bits) for `unpremultiply` once it is whole."""
    band = band[:out.shape[0] * factor, :out.shape[1] * factor]
    if premultiply:
        band = _premultiply(band)
    for _ in range(factor.bit_length() - 2):
        band = cv2.resize(band, (band.shape[1] // 2, band.shape[0] // 2), interpolation=cv2.INTER_AREA)
    cv2.resize(band, out.shape[1::-1], dst=out, interpolation=cv2.INTER_AREA)


def shrink_indexed(indices: np.ndarray, palette: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A palette image reduced to `size` without ever building it at full size: each channel is a
    table lookup of the (h, w) uint8 `indices` (cv2.LUT), reduced on its own, and the small planes
    are merged. `palette` is (n <= 256, 3 or 4) BGR(A) uint8. With alpha, the lookups give colours
    already premultiplied by their entry's alpha. INTER_AREA works per channel, so this equals
    shrinking the expanded image, with a third of the memory and no full-size colour pass."""
    channels = palette.shape[1]
    table = np.zeros((256, channels), np.float32)
    table[:len(palette)] = palette
    premultiplied = channels == 4 and bool((table[:len(palette), 3] < 255).any())
    if premultiplied:
        table[:, :3] *= table[:, 3:4] / 255.0
    lookups = np.clip(np.rint(table), 0, 255).astype(np.uint8)
    planes = [shrink(cv2.LUT(indices, np.ascontiguousarray(lookups[:, c])), size) for c in range(channels)]
    small = cv2.merge(planes)
    return cv2.cvtColor(small, cv2.COLOR_mRGBA2RGBA) if premultiplied else small


def _has_alpha(image: np.ndarray) -> bool:
    if image.ndim != 3 or image.shape[2] != 4:
        return False
    top = 255 if image.dtype == np.uint8 else 65535 if image.dtype == np.uint16 else 1.0
    return bool(image[:, :, 3].min() < top)


def _halvable(image: np.ndarray, size: tuple[int, int]) -> bool:
    return image.shape[1] >= 4 * size[0] and image.shape[0] >= 4 * size[1]


def _halve(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    even = image[:height // 2 * 2, :width // 2 * 2]
    return cv2.resize(even, (width // 2, height // 2), interpolation=cv2.INTER_AREA)


def _by_bands(image: np.ndarray, fx: int, fy: int, premultiply: bool) -> np.ndarray:
    """Area averages of `fx` x `fy` blocks, into one array, a band of rows at a time; premultiplied
    band by band when asked (8 bits stay 8 bits; deeper samples come out float32, premultiplied, for
    the rest of the reduction). Rows and columns past the last whole block are dropped."""
    height, width = image.shape[:2]
    rows, cols = height // fy * fy, width // fx * fx
    dtype = image.dtype if not premultiply or image.dtype == np.uint8 else np.float32
    out = np.empty((rows // fy, cols // fx, *image.shape[2:]), dtype)
    step = max(1, BAND_ROWS // fy) * fy
    for top in range(0, rows, step):
        band = image[top:min(top + step, rows), :cols]
        if premultiply:
            band = _premultiply(band)
        cv2.resize(band, (cols // fx, band.shape[0] // fy), dst=out[top // fy:(top + band.shape[0]) // fy],
                   interpolation=cv2.INTER_AREA)
    return out


def _premultiply(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2mRGBA)
    work = image.astype(np.float32)
    work[:, :, :3] *= work[:, :, 3:4] / (65535.0 if image.dtype == np.uint16 else 1.0)
    return work


def unpremultiply(small: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if small.dtype == np.uint8:
        return cv2.cvtColor(small, cv2.COLOR_mRGBA2RGBA)
    top = 65535.0 if np.dtype(dtype) == np.uint16 else 1.0
    alpha = small[:, :, 3:4]
    np.divide(small[:, :, :3] * top, alpha, out=small[:, :, :3], where=alpha > 0)
    if np.dtype(dtype) == np.float32:
        return small
    return np.clip(np.rint(small), 0, top).astype(dtype)
