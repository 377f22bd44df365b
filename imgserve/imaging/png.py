"""PNG decoded by libspng (through imagecodecs).

libspng inflates and unfilters a third faster than the libpng inside OpenCV, and releases the GIL
while it does. It hands out RGB(A); reordering a 5120x2880 RGBA image to BGRA costs 45 ms, so
decode.py reduces it first and reorders only the small result (shrink.py works the same on RGBA).

imagecodecs asks libspng for 8-bit gray, RGB, RGBA (palettes expanded) or 16-bit RGBA, and ignores
tRNS; `reduced` takes only the layouts where that gives exactly what OpenCV gives (tests check it
pixel for pixel) and returns None for the others (gray+alpha, bit depths below 8, transparency by
tRNS), which decode.py hands to OpenCV; 16-bit gray and RGB go there too when no thumbnail is asked.

16-bit gray, RGB and RGBA PNGs are the largest a thumbnail is made of (a 5120x2880 RGB photo: an
80 MB file, 88 MB of pixels). For a thumbnail they are decoded a band of rows at a time and each
band averaged down at once (`_banded`), as tiff.py does with strips: zlib-ng inflates the IDAT
stream a band at a time, and each band goes to OpenCV's libpng as a PNG of its own, its deflate
stream stored (uncompressed), headed by the last row of the band before (filter None) so that the
band's first row unfilters against the right row. When the output keeps 8 bits, each band is made
8-bit before it is averaged (premultiplied by OpenCV in 8 bits when it has alpha), as a whole decode
was. A 400 px WebP of that photo then peaks at 97 MB instead of 164 (its bytes and a band) in about
the same CPU (445 against 431-468 ms); of a 3200x2000 RGBA one (31 MB), at 45 MB instead of 107, in
0.79x the CPU (267 against 338 ms): zlib-ng inflates faster than the system's zlib inside libspng
and OpenCV, which pays for re-wrapping the bands. On 8-bit PNGs the same costs 1.3-2.5x libspng's
CPU (docs/performance.md), so they stay whole.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator

import cv2
import numpy as np
from zlib_ng import zlib_ng

from . import shrink
from .png_writer import SIGNATURE, chunk

try:
    import imagecodecs
except ImportError:  # pragma: no cover - a dependency; kept optional so OpenCV alone still decodes
    imagecodecs = None

_GRAY, _RGB, _PALETTE, _RGBA = 0, 2, 3, 6
_TAKEN = {(8, _GRAY), (8, _RGB), (8, _PALETTE), (8, _RGBA), (16, _RGBA)}  # (bit depth, colour type)
_BANDED = {(16, _GRAY), (16, _RGB), (16, _RGBA)}
BAND_ROWS = 128  # at least this many rows inflated and decoded at a time (4 MB of a 5120 px RGB row band)
_PIECE = 1 << 18  # compressed bytes handed to the inflater at a time: its unconsumed tail is a copy
_RGB_ORDER = {3: [2, 1, 0], 4: [2, 1, 0, 3]}  # OpenCV's BGR(A) -> the PNG's RGB(A)
_BLOCK = 65535  # the most a stored deflate block holds
_IEND = chunk(b"IEND", b"")


def reduced(data: bytes, least: tuple[int, int] | None, eight: bool = False) -> tuple[np.ndarray, bool] | None:
    """(the pixels at full size, in RGB(A) order: True; or, for 16-bit gray, RGB and RGBA, averaged
    down towards `least`, in BGR(A) order: False), or None for OpenCV to decode."""
    if least is not None and len(data) >= 33 and (data[24], data[25]) in _BANDED and data[28] == 0:
        try:
            image = _banded(data, least, eight)
        except (ValueError, struct.error, zlib_ng.error, cv2.error):  # damage: OpenCV reports it its usual way
            image = None
        return None if image is None else (image, False)
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
    for tag, _, _ in _chunks(data):
        if tag == b"IDAT":
            return True
        if tag == b"tRNS":
            return False
    return False


def _chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(tag, start, end) of each chunk's contents, in order, up to the first that the data cuts short."""
    at = 8
    while at + 12 <= len(data):
        length, tag = struct.unpack_from(">I4s", data, at)
        if at + 12 + length > len(data):
            return
        yield tag, at + 8, at + 8 + length
        at += 12 + length


def _banded(data: bytes, least: tuple[int, int], eight: bool) -> np.ndarray | None:
    """A non-interlaced 16-bit gray, RGB or RGBA PNG averaged down by the largest power of two that
    keeps twice `least` (alpha premultiplied), BGR(A), a band at a time (see the module's docstring).
    None: nothing to gain (one band would be the whole image, or the output over half the size), or a
    layout this does not read."""
    width, height, _, colour = struct.unpack_from(">IIBB", data, 16)
    factor = 1
    while width // (2 * factor) >= 2 * least[0] and height // (2 * factor) >= 2 * least[1]:
        factor *= 2
    per_band = factor * math.ceil(BAND_ROWS / factor)
    idat = _idat(data)
    if factor == 1 or per_band >= height or idat is None:
        return None
    channels, alpha = {_GRAY: 1, _RGB: 3, _RGBA: 4}[colour], colour == _RGBA
    row_bytes = 1 + width * channels * 2
    kept = np.uint8 if eight else np.uint16
    out = np.empty((height // factor, width // factor, *((channels,) if channels > 1 else ())),
                   np.float32 if alpha and not eight else kept)  # alpha: premultiplied averages
    inflater, pieces = zlib_ng.decompressobj(), _pieces(data, idat)
    above = b""  # the band before's last row, unfiltered, as a PNG row of filter None
    for top in range(0, height, per_band):
        rows = min(per_band, height - top)
        parts = _inflate(inflater, pieces, rows * row_bytes)
        if parts is None:
            return None
        band_png = _band_file(b"".join([above, *parts]), width, rows + bool(above), colour)
        del parts
        band = cv2.imdecode(band_png, cv2.IMREAD_UNCHANGED)
        del band_png
        if band is None or band.shape[:2] != (rows + bool(above), width) or band.dtype != np.uint16:
            return None
        band = band[1:] if above else band
        last = band[-1] if channels == 1 else band[-1][:, _RGB_ORDER[channels]]
        above = b"\0" + last.astype(">u2").tobytes()
        band = cv2.convertScaleAbs(band, alpha=1 / 257) if eight else band
        if rows >= factor:  # the last band's rows past a whole block are dropped, as by shrink's halvings
            shrink.boxes_into(band, factor, out[top // factor:(top + rows) // factor], premultiply=alpha)
        del band  # before the next one is decoded: one band at a time
    # A stream that goes on, or ends without its checksum, is returned too: libpng takes it.
    return shrink.unpremultiply(out, kept) if alpha else out


def _idat(data: bytes) -> list[tuple[int, int]] | None:
    """(start, end) of each IDAT chunk's contents when they are consecutive, each with its CRC right
    (libpng refuses a file otherwise), and no tRNS comes before them."""
    spans: list[tuple[int, int]] = []
    for tag, start, end in _chunks(data):
        if tag == b"IDAT":
            if zlib_ng.crc32(memoryview(data)[start - 4:end]) != struct.unpack_from(">I", data, end)[0]:
                return None
            spans.append((start, end))
        elif spans:
            return spans
        elif tag == b"tRNS":
            return None
    return None


def _pieces(data: bytes, idat: list[tuple[int, int]]) -> Iterator[memoryview]:
    """The IDAT chunks' contents, in slices of at most _PIECE bytes, without copying them."""
    view = memoryview(data)
    for start, end in idat:
        for at in range(start, end, _PIECE):
            yield view[at:min(at + _PIECE, end)]


def _inflate(inflater, pieces, size: int) -> list[bytes] | None:
    """The next `size` inflated bytes (in parts, joined once by the caller), or None when the stream
    ends short."""
    parts, have = [], 0
    while have < size:
        piece = inflater.unconsumed_tail or next(pieces, b"")  # b"": what the inflater may still hold
        more = inflater.decompress(piece, size - have)
        if not more and (not piece or inflater.eof):
            return None
        parts.append(more)
        have += len(more)
    return parts


def _band_file(rows: bytes, width: int, height: int, colour: int) -> np.ndarray:
    """A PNG of `height` rows already filtered as the source filtered them, its zlib stream made of
    stored deflate blocks. Written into one buffer, the rows copied once (as a grid of whole blocks)
    and read twice for the two checksums libpng checks: a band's bytes pass through memory as few
    times as they can, which is what this costs beside the decode."""
    size, last = len(rows), (len(rows) - 1) % _BLOCK + 1  # the last block is 1.._BLOCK bytes
    blocks = (size - last) // _BLOCK + 1
    head = b"".join([SIGNATURE, chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)),
                     struct.pack(">I", 2 + size + 5 * blocks + 4), b"IDAT", b"\x78\x01"])
    stream_end = len(head) + size + 5 * blocks
    out = np.empty(stream_end + 8 + len(_IEND), np.uint8)
    out[:len(head)] = np.frombuffer(head, np.uint8)
    source = np.frombuffer(rows, np.uint8)
    grid = out[len(head):len(head) + (blocks - 1) * (_BLOCK + 5)].reshape(blocks - 1, _BLOCK + 5)
    grid[:, :5] = np.frombuffer(_stored_header(_BLOCK, final=False), np.uint8)
    grid[:, 5:] = source[:size - last].reshape(blocks - 1, _BLOCK)
    at = stream_end - last - 5
    out[at:at + 5] = np.frombuffer(_stored_header(last, final=True), np.uint8)
    out[at + 5:stream_end] = source[size - last:]
    out[stream_end:stream_end + 4] = np.frombuffer(struct.pack(">I", zlib_ng.adler32(rows)), np.uint8)
    crc = zlib_ng.crc32(out[len(head) - 6:stream_end + 4])  # "IDAT" and what follows it
    out[stream_end + 4:stream_end + 8] = np.frombuffer(struct.pack(">I", crc), np.uint8)
    out[stream_end + 8:] = np.frombuffer(_IEND, np.uint8)
    return out


def _stored_header(length: int, final: bool) -> bytes:
    return struct.pack("<BHH", final, length, length ^ 0xFFFF)
