"""TIFF read in the cheapest way its layout allows, reduced to the size the output needs.

tifffile (pure Python) reads the directories; the pixels then come from the first way that fits:

- a pyramid (SubIFDs or reduced-resolution pages, as slide scanners, GIS tools and libvips write
  them): the smallest level still SHRINK_MARGIN times the size needed, so a thumbnail of a 5640 px
  TIFF decodes a 705 px level;
- JPEG-compressed YCbCr or RGB strips or tiles: each one through libjpeg at 1/2, 1/4 or 1/8 scale (OpenCV's
  IMREAD_REDUCED_*), as whole JPEGs are, keeping JPEG_MARGIN times the size needed;
- uncompressed contiguous strips: read in place from the file's bytes, never copied at full size;
- opaque LZW or deflate strips or tiles in 8 or 16 bits, when the output is at most half the size:
  a band of them at a time, each band averaged down by a power of two as soon as it is decoded, so
  a 400 px thumbnail of a 5640x3172 16-bit LZW TIFF never holds its 107 MB of pixels (`_banded`);
- LZW, deflate or no compression in 8 or 16 bits otherwise: libtiff with libdeflate inside imagecodecs
  (twice as fast as OpenCV's reader on deflate), reduced before the channels are reordered.

Anything else (planar, palette, CMYK, min-is-white, float, associated alpha, bilevel...) is None, for
OpenCV. Reducing to `least` exactly, reordering RGB and orientation (tag 274) are left to decode.py:
`least` is in the stored frame.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import struct

import cv2
import numpy as np

from . import shrink
from .geometry import SHRINK_FACTORS, SHRINK_MARGIN

try:
    import imagecodecs
    import tifffile
except ImportError:  # pragma: no cover - dependencies; OpenCV alone still decodes TIFF
    imagecodecs = tifffile = None

# tifffile logs a warning for each damaged tag it skips: a damaged file is OpenCV's to report (one line,
# as for every format), not a dozen of tifffile's per request.
logging.getLogger("tifffile").setLevel(logging.ERROR)

_NONE, _JPEG, _LZW, _DEFLATE, _DEFLATE_OLD = 1, 7, 5, 8, 32946
_MINISBLACK, _RGB, _YCBCR = 1, 2, 6
_UNASSOCIATED_ALPHA = 2
_YCBCR_IDS, _RGB_IDS = (1, 2, 3), (0x52, 0x47, 0x42)  # what libjpeg reads as YCbCr, and as RGB ('R', 'G', 'B')
# libjpeg's 1/8 scale is the blocks' DC terms: on a TIFF of the 5640 px Elephants photo (q85, 4:2:0
# strips) 1/8 then a 1.76x reduction measured 30.6 dB against a full decode + INTER_AREA; 1/4 then
# 3.5x, 39.8 dB. So JPEG strips keep twice the size needed (whole JPEGs keep 1.5x: geometry.py).
JPEG_MARGIN = 2.0
BAND_ROWS = 256  # at least this many rows decoded at a time: few calls, a few MB each


def reduced(data: bytes, least: tuple[int, int] | None, eight: bool = False) -> tuple[np.ndarray, bool] | None:
    """(the first image, gray or colour, at `least` (w, h, stored frame) or larger; whether its colours
    are in RGB order), or None when its layout is left to OpenCV (which also reports damage its usual
    way)."""
    if tifffile is None:
        return None
    # Closed below, not left to tifffile: its objects refer to each other, so they and the stream, and
    # through it the source's bytes (77 MB for a 16-bit TIFF), lived on until Python's cyclic collector
    # ran. W3 served over HTTP peaked at 1.7 GB that way, at 430 MB once closed.
    stream = io.BytesIO(data)
    try:
        with tifffile.TiffFile(stream) as tif:
            series = tif.series[0]
            page = series.levels[0].keyframe
            if least is not None and len(series.levels) > 1:
                level = _level(series.levels, least)
                if level is not None and _ordinary(level.keyframe):
                    return _squeezed(level.asarray(maxworkers=1)), True
            if page.compression == _JPEG and least is not None:
                image = _jpeg_segments(data, page, least)
                if image is not None:
                    return image, False
            if not _ordinary(page):
                return None
            if least is not None and page.compression != _NONE and not page.extrasamples:
                image = _banded(data, page, least)
                if image is not None:
                    return image, True
            if page.compression == _NONE:
                view = _in_place(data, page)
                if view is not None:
                    return _squeezed(view), True
    except Exception:  # noqa: BLE001 - tifffile's errors on damaged files: OpenCV decides
        return None
    finally:
        stream.close()
    try:
        return _squeezed(imagecodecs.tiff_decode(data)), True
    except Exception:  # noqa: BLE001 - imagecodecs.TiffError and kin
        return None


def _ordinary(page) -> bool:
    """Gray, RGB or RGBA in 8 or 16 unsigned bits, interleaved, plainly compressed."""
    extra = tuple(page.extrasamples)
    return (page.compression in (_NONE, _LZW, _DEFLATE, _DEFLATE_OLD) and page.planarconfig == 1
            and page.sampleformat == 1 and page.bitspersample in (8, 16) and page.fillorder == 1
            and ((page.photometric == _MINISBLACK and page.samplesperpixel == 1 and not extra)
                 or (page.photometric == _RGB and page.samplesperpixel == 3 and not extra)
                 or (page.photometric == _RGB and page.samplesperpixel == 4 and extra == (_UNASSOCIATED_ALPHA,))))


def _level(levels, least: tuple[int, int]):
    """The smallest level at least SHRINK_MARGIN times `least` on both sides; None: only the full one."""
    chosen = None
    for level in levels[1:]:
        height, width = level.keyframe.imagelength, level.keyframe.imagewidth
        if width >= SHRINK_MARGIN * least[0] and height >= SHRINK_MARGIN * least[1]:
            chosen = level
    return chosen


def _jpeg_segments(data: bytes, page, least: tuple[int, int]) -> np.ndarray | None:
    """YCbCr or RGB JPEG strips or tiles, each decoded by libjpeg at 1/factor and put together."""
    if not (page.photometric in (_YCBCR, _RGB) and page.samplesperpixel == 3 and page.bitspersample == 8
            and page.planarconfig == 1 and len(page.dataoffsets)):
        return None
    first = data[page.dataoffsets[0]:page.dataoffsets[0] + page.databytecounts[0]]
    if _component_ids(first) != (_RGB_IDS if page.photometric == _RGB else _YCBCR_IDS):
        return None  # libjpeg would guess the colour space from these ids, unlike libtiff
    width, height = page.imagewidth, page.imagelength
    if page.is_tiled:
        seg_w, seg_h = page.tilewidth, page.tilelength
    else:
        seg_w, seg_h = width, min(page.rowsperstrip or height, height)
    factor = next((f for f in SHRINK_FACTORS if seg_h % f == 0 and (not page.is_tiled or seg_w % f == 0)
                   and width // f >= JPEG_MARGIN * least[0] and height // f >= JPEG_MARGIN * least[1]), 1)
    if factor == 1:
        return None
    flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}[factor]
    tables = bytes(page.jpegtables or b"")[:-2]  # shared DQT/DHT, without their EOI
    across = math.ceil(width / seg_w)
    canvas = np.empty((math.ceil(math.ceil(height / seg_h) * seg_h / factor), math.ceil(across * seg_w / factor), 3),
                      np.uint8)
    for index, (offset, count) in enumerate(zip(page.dataoffsets, page.databytecounts)):
        segment = data[offset:offset + count]
        if tables:
            segment = tables + segment[2:]  # the strip's own SOI gives way to the tables'
        tile = cv2.imdecode(np.frombuffer(segment, np.uint8), flag | cv2.IMREAD_IGNORE_ORIENTATION)
        row, column = divmod(index, across)
        top, left = row * seg_h // factor, column * seg_w // factor
        if tile is None or left + tile.shape[1] > canvas.shape[1] or top + tile.shape[0] > canvas.shape[0]:
            return None
        canvas[top:top + tile.shape[0], left:left + tile.shape[1]] = tile
    return canvas[:math.ceil(height / factor), :math.ceil(width / factor)]


def _banded(data: bytes, page, least: tuple[int, int]) -> np.ndarray | None:
    """The page averaged down by the largest power of two that keeps twice `least`, decoded BAND_ROWS
    rows or more at a time (whole strips, or whole rows of tiles). imagecodecs hands libtiff only whole
    files, and its own LZW decoder is half libtiff's speed, so each band's compressed segments are
    wrapped in a TIFF header of their own (`_band_file`). The averaging is the one shrink.py's halvings
    would do after a full decode (2x2 boxes, repeated), in the source's depth. None: nothing to gain
    (the output is over half the size, or one band would be the whole image)."""
    width, height = page.imagewidth, page.imagelength
    factor = 1
    while width // (2 * factor) >= 2 * least[0] and height // (2 * factor) >= 2 * least[1]:
        factor *= 2
    seg_h = page.tilelength if page.is_tiled else min(page.rowsperstrip or height, height)
    across = math.ceil(width / page.tilewidth) if page.is_tiled else 1
    step = factor // math.gcd(seg_h, factor)  # segment rows per band: a multiple of this keeps bands whole blocks
    per_band = step * math.ceil(BAND_ROWS / (step * seg_h))
    down = math.ceil(height / seg_h)
    if factor == 1 or per_band >= down or len(page.dataoffsets) != down * across:
        return None
    small = (width // factor, height // factor)
    out = np.empty((small[1], small[0], *(() if page.samplesperpixel == 1 else (page.samplesperpixel,))), page.dtype)
    for first in range(0, down, per_band):
        top = first * seg_h  # a multiple of factor, as every band's height but the last
        rows = min(height, (first + per_band) * seg_h) - top
        try:
            band = _squeezed(imagecodecs.tiff_decode(_band_file(data, page, first * across,
                                                                (first + per_band) * across, rows)))
        except Exception:  # noqa: BLE001 - a damaged segment or table: the whole file gets its chance below
            return None
        if band.shape[:2] != (rows, width):
            return None
        if rows >= factor:  # the last band's rows past a whole block are dropped, as by shrink's halvings
            shrink.boxes_into(band, factor, out[top // factor:(top + rows) // factor])
        del band  # before the next one is decoded: one band at a time
    return out


_SHORT, _LONG = 3, 4


def _band_file(data: bytes, page, first: int, end: int, rows: int) -> bytes:
    """A classic TIFF, in the source's byte order, of `page`'s segments first..end-1 (all of its
    rows `rows` high): the same layout and compression, the compressed bytes copied as they are."""
    order = "<" if data[:2] == b"II" else ">"
    offsets, counts = page.dataoffsets[first:end], page.databytecounts[first:end]
    spp = page.samplesperpixel
    tags = [(256, _LONG, [page.imagewidth]), (257, _LONG, [rows]), (258, _SHORT, [page.bitspersample] * spp),
            (259, _SHORT, [page.compression]), (262, _SHORT, [page.photometric]), (277, _SHORT, [spp]),
            (284, _SHORT, [1]), (317, _SHORT, [page.predictor])]
    if page.is_tiled:
        tags += [(322, _LONG, [page.tilewidth]), (323, _LONG, [page.tilelength]), (324, _LONG, None),
                 (325, _LONG, list(counts))]
    else:
        tags += [(273, _LONG, None), (278, _LONG, [page.rowsperstrip]), (279, _LONG, list(counts))]
    tags.sort()
    packed = [struct.pack(f"{order}{len(values or counts)}{'H' if kind == _SHORT else 'I'}", *(values or counts))
              for _, kind, values in tags]  # the offsets (None) only reserve their room here
    head = 8 + 2 + 12 * len(tags) + 4
    at = head + sum(len(field) for field in packed if len(field) > 4)  # where the first segment's bytes go
    starts = list(itertools.accumulate([at, *counts[:-1]]))
    entries, extra = [], []
    for (tag, kind, values), field in zip(tags, packed):
        if values is None:
            values, field = starts, struct.pack(f"{order}{len(starts)}I", *starts)
        if len(field) > 4:
            extra.append(field)
            field = struct.pack(f"{order}I", head + sum(map(len, extra[:-1])))
        entries.append(struct.pack(f"{order}HHI", tag, kind, len(values)) + field.ljust(4, b"\0"))
    view = memoryview(data)
    return b"".join([(b"II" if order == "<" else b"MM") + struct.pack(f"{order}HI", 42, 8),
                     struct.pack(f"{order}H", len(entries)), *entries, b"\0\0\0\0", *extra,
                     *(view[offset:offset + count] for offset, count in zip(offsets, counts))])


def _component_ids(jpeg: bytes) -> tuple[int, ...] | None:
    """The component ids of a JPEG stream's frame header (SOF), or None."""
    at = 2
    while at + 4 <= len(jpeg) and jpeg[at] == 0xFF:
        marker, length = jpeg[at + 1], int.from_bytes(jpeg[at + 2:at + 4], "big")
        if 0xC0 <= marker <= 0xC2:
            count = jpeg[at + 9] if at + 9 < len(jpeg) else 0
            return tuple(jpeg[at + 10 + 3 * i] for i in range(count) if at + 10 + 3 * i < len(jpeg))
        at += 2 + length
    return None


def _in_place(data: bytes, page) -> np.ndarray | None:
    """Uncompressed strips stored one after another: the pixels as a view of `data`."""
    offsets, counts = page.dataoffsets, page.databytecounts
    if any(offsets[i] + counts[i] != offsets[i + 1] for i in range(len(offsets) - 1)):
        return None
    dtype = np.dtype(np.uint8 if page.bitspersample == 8 else f"{'<' if data[:2] == b'II' else '>'}u2")
    shape = (page.imagelength, page.imagewidth, page.samplesperpixel)
    if offsets[0] + math.prod(shape) * dtype.itemsize > len(data):
        return None
    view = np.frombuffer(data, dtype, math.prod(shape), offsets[0]).reshape(shape)
    return view if dtype.byteorder != ">" else view.astype(np.uint16)


def _squeezed(image: np.ndarray) -> np.ndarray:
    return image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
