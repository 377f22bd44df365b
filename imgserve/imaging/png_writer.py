"""PNG bytes written here, not by OpenCV: chunks in Python, row filters with OpenCV, deflate by libdeflate
or zlib-ng.

OpenCV's PNG writer can only write the array it is given (no palette, no 2- or 4-bit gray) with one
fixed filter strategy, so a 1-bit scan became 24-bit RGB four times the size of its BMP. `write` takes
the smallest honest form of the pixels (`png_form.smallest`) and writes it:

    palette (colour type 3, 1/2/4/8-bit indices, PLTE trimmed, tRNS for alpha)
    gray 1/2/4/8/16 (type 0), gray + alpha 8/16 (type 4), RGB 8/16 (type 2), RGBA 8/16 (type 6)

How hard it tries is `effort` (IMGSERVE_PNG_EFFORT, see EFFORTS). "default" chooses the row filter and
the deflate library per image by compressing a sample of row bands with each candidate: libpng's and
Pillow's rule (per row, the filter with the smallest sum of |signed bytes|) is one candidate, not the
judge, because it is wrong for flat graphics and alpha, where unfiltered rows keep the long exact
repeats deflate finds. 8-bit palette rows are unfiltered, as libpng and Pillow write them; packed
1/2/4-bit rows are unfiltered or adaptive, by the same trial. The figures behind every choice are
in docs/performance.md, "Legacy archives".
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import deflate
import numpy as np
from zlib_ng import zlib_ng

from .png_form import Form, smallest

SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Effort:
    filter: str           # a filter name, or "trial": chosen per image on a sample
    level: int            # deflate level of the output
    bands: int = 4        # row bands in the trial's sample
    trial_level: int = 2  # libdeflate level the filter trial compresses the sample with
    libraries: bool = True  # also try zlib-ng (Z_RLE; level 6 on repetitive data) against libdeflate


EFFORTS = {
    "fast": Effort("up", 1, libraries=False),    # libdeflate 1, fixed filter: for thumbnails
    "default": Effort("trial", 6),
    "max": Effort("trial", 10, bands=8, trial_level=6, libraries=False),  # libdeflate 10: for archives
}
TRUE_COLOR_FILTERS = ("none", "sub", "up", "paeth", "adaptive")
SUB_BYTE_FILTERS = ("none", "adaptive3")  # Paeth rarely wins on packed samples and costs the most
FILTER_TYPES = {"none": 0, "sub": 1, "up": 2, "paeth": 4}  # PNG's numbers (3, Average, is never chosen)
REPETITIVE = 0.15  # a sample deflating below this ratio is flat graphics or text: zlib-ng's level 6 is tried
TOLERANCE = 0.02  # a faster library is taken when its sample is at most this much larger than the smallest
WHOLE_BYTES = 1 << 16  # images up to this size are their own sample
SAMPLE_BYTES = 1 << 20  # the sample's bands hold h/64 rows each (at least MIN_ROWS), up to this in all
MIN_ROWS = 8
BAND_BYTES = 1 << 19  # rows are filtered in bands of about this size: temporaries stay in cache


def write(image: np.ndarray, effort: str = "default", indexed: tuple[np.ndarray, np.ndarray] | None = None,
          icc: bytes | None = None) -> bytes:
    """A BGR(A) or gray uint8/uint16 array -> PNG bytes, in the smallest form that decodes to exactly
    these pixels. `indexed` (indices, BGR palette) is a decoder's promise that `image` is exactly
    palette[indices]; it saves finding the colours again. `icc`, a profile to embed (iCCP): an RGB
    profile keeps the PNG in colour (PNG allows it only there), a gray one comes with gray pixels."""
    color = icc is not None and icc[16:20] == b"RGB "
    return write_form(smallest(image, indexed, color=color), effort, icc)


def write_form(form: Form, effort: str = "default", icc: bytes | None = None) -> bytes:
    settings = EFFORTS[effort]
    h, w = form.pixels.shape[:2]
    rows, color_type, depth = _rows(form)
    chunks = []
    if icc:
        chunks.append(chunk(b"iCCP", b"ICC profile\0\0" + compress(icc, ("zlib-ng", 9))))  # before PLTE
    if form.palette is not None:
        chunks.append(chunk(b"PLTE", np.ascontiguousarray(form.palette[:, ::-1]).tobytes()))  # BGR -> RGB
        if form.alpha is not None:
            chunks.append(chunk(b"tRNS", _trimmed_alpha(form.alpha)))
    indexed_rows = color_type == 3 or depth < 8
    idat = _compress_rows(rows, indexed_rows and depth == 8, indexed_rows, settings)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    return b"".join([SIGNATURE, chunk(b"IHDR", ihdr), *chunks, chunk(b"IDAT", idat), chunk(b"IEND", b"")])


def chunk(kind: bytes, data: bytes) -> bytes:
    """One chunk, `data` copied once (png.py wraps megabytes at a time); zlib-ng's CRC is SIMD."""
    return b"".join((struct.pack(">I", len(data)), kind, data,
                     struct.pack(">I", zlib_ng.crc32(data, zlib_ng.crc32(kind)))))


def _trimmed_alpha(alpha: np.ndarray) -> bytes:
    """tRNS stops at the last translucent entry (`png_form` puts those first)."""
    translucent = np.flatnonzero(alpha != 255)
    return alpha[: translucent[-1] + 1].tobytes() if translucent.size else b"\xff"


@dataclass(frozen=True)
class Rows:
    """The image's rows as PNG bytes, made a band at a time (BGR to RGB, big-endian 16-bit samples,
    packed sub-byte samples), so that no whole-image copy is made before the filtered rows."""
    pixels: np.ndarray
    convert: Callable[[np.ndarray], np.ndarray]  # pixels of some rows -> (rows, bytes) uint8
    bpp: int    # bytes per pixel for the filters (1 for packed samples)
    width: int  # bytes per row

    @classmethod
    def of_bytes(cls, raw: np.ndarray, bpp: int) -> Rows:
        return cls(raw, lambda band: band, bpp, raw.shape[1])

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.convert(self.pixels[rows])


def _rows(form: Form) -> tuple[Rows, int, int]:
    """-> (the rows, colour type, bit depth)."""
    pixels = form.pixels
    w = pixels.shape[1]
    if form.palette is not None or pixels.ndim == 2 and form.bits < 8:
        rows = Rows(pixels, lambda band: _pack(band, form.bits), 1, -(-w * form.bits // 8))
        return rows, 3 if form.palette is not None else 0, form.bits
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    sample = pixels.dtype.itemsize
    swap = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}.get(channels)

    def convert(band: np.ndarray) -> np.ndarray:
        if swap is not None:
            band = cv2.cvtColor(band, swap)
        if sample == 2:
            band = band.astype(">u2")  # PNG is big-endian
        return np.ascontiguousarray(band).view(np.uint8).reshape(band.shape[0], -1)

    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    return Rows(pixels, convert, channels * sample, w * channels * sample), color_type, 8 * sample


def _pack(samples: np.ndarray, bits: int) -> np.ndarray:
    """(h, w) values < 2**bits -> (h, ceil(w * bits / 8)) rows, the leftmost pixel in the high bits."""
    if bits == 8:
        return np.ascontiguousarray(samples)
    if bits == 1:
        return np.packbits(samples, axis=1)  # any non-zero is a 1
    per = 8 // bits
    h, w = samples.shape
    padded = np.zeros((h, -(-w // per) * per), np.uint8)
    padded[:, :w] = samples
    groups = padded.reshape(h, -1, per)
    out = groups[:, :, 0] << (8 - bits)
    for k in range(1, per):
        out |= groups[:, :, k] << (8 - bits * (k + 1))
    return out


# -- deflate ------------------------------------------------------------------------------------------

Library = tuple[str, int]  # ("libdeflate", level), ("zlib-ng", level) or ("zlib-ng-rle", 1)


def compress(data, library: Library) -> bytes:
    """A zlib stream of `data` (any buffer). Both libraries release the GIL while they work."""
    name, level = library
    if name == "libdeflate":
        return deflate.zlib_compress(data, level)
    if name == "zlib-ng":
        return zlib_ng.compress(data, level)
    packer = zlib_ng.compressobj(1, zlib_ng.DEFLATED, 15, 9, zlib_ng.Z_RLE)  # distance-1 matches only
    return packer.compress(data) + packer.flush()


def _compress_rows(rows: Rows, unfiltered: bool, sub_byte: bool, effort: Effort) -> bytes:
    """Filter and deflate the rows as `effort` says; a trial chooses the filter, and (with `libraries`)
    among libdeflate, zlib-ng's run-length strategy (distance-1 matches only: best on smooth residuals
    such as resized and gray photos, and several times faster) and, on repetitive data, zlib-ng's level
    6 (it finds more in flat graphics and text than libdeflate's)."""
    final: Library = ("libdeflate", effort.level)
    if unfiltered or effort.filter != "trial":
        how = "none" if unfiltered or sub_byte else effort.filter
        if not effort.libraries or effort.filter != "trial":
            return compress(filter_rows(rows, how), final)
        sample, whole = _sample(rows, how, effort.bands)
        ratio = len(compress(sample, ("libdeflate", effort.trial_level))) / max(sample.size, 1)
    else:
        how, sample, whole, ratio = _choose_filter(rows, SUB_BYTE_FILTERS if sub_byte else TRUE_COLOR_FILTERS, effort)
        if not effort.libraries:
            return compress(filter_rows(rows, how) if not whole else sample, final)
    options: list[Library] = [("zlib-ng-rle", 1), final]  # fastest first
    if ratio < REPETITIVE:
        options.append(("zlib-ng", effort.level))
    results = [(compress(sample, library), library) for library in options]
    smallest = min(len(result) for result, _ in results)
    best, library = next(r for r in results if len(r[0]) <= smallest * (1 + TOLERANCE))
    return best if whole else compress(filter_rows(rows, how), library)


def _sample(rows: Rows, how: str, bands: int) -> tuple[np.ndarray, bool]:
    """`how`-filtered rows of `bands` bands spread over the image, or of the whole image when it is
    small; and whether it is the whole."""
    h, n = rows.height, rows.width
    band = max(MIN_ROWS, min(h // 64, SAMPLE_BYTES // (bands * n)))
    if h * n <= WHOLE_BYTES or h <= 2 * bands * band:
        return filter_rows(rows, how), True
    parts = []
    for y in np.linspace(0, h - band, bands).astype(int):
        above = max(int(y) - 1, 0)  # the row above, which up and Paeth read; its own output is dropped
        parts.append(_filter_band(rows[above:y + band], rows.bpp, how)[y - above:])
    return np.concatenate(parts), False


def _choose_filter(rows: Rows, candidates: tuple[str, ...], effort: Effort):
    """-> (filter, its filtered sample, whether the sample is the whole image, the sample's deflate
    ratio): the candidate whose sample libdeflate compresses smallest at the trial's level."""
    best = None
    for how in candidates:
        sample, whole = _sample(rows, how, effort.bands)
        size = len(compress(sample, ("libdeflate", effort.trial_level)))
        if best is None or size < best[0]:
            best = (size, how, sample, whole)
    size, how, sample, whole = best
    return how, sample, whole, size / max(sample.size, 1)


# -- row filters (PNG spec, section 9): arithmetic on bytes mod 256, `bpp` bytes back is "left" ----------

def filter_rows(rows: Rows, how: str) -> np.ndarray:
    """-> (h, 1 + bytes per row) uint8: each row's filter type byte and its filtered bytes, in bands."""
    h, n = rows.height, rows.width
    out = np.empty((h, n + 1), np.uint8)
    step = max(1, BAND_BYTES // max(n, 1))
    for y in range(0, h, step):
        above = max(y - 1, 0)
        out[y:y + step] = _filter_band(rows[above:y + step], rows.bpp, how)[y - above:]
    return out


def _left(raw: np.ndarray, bpp: int) -> np.ndarray:
    out = np.zeros_like(raw)
    out[:, bpp:] = raw[:, :-bpp]
    return out


def _above(raw: np.ndarray) -> np.ndarray:
    out = np.zeros_like(raw)
    out[1:] = raw[:-1]
    return out


def paeth(raw: np.ndarray, a: np.ndarray, b: np.ndarray, bpp: int) -> np.ndarray:
    """The Paeth residual with uint8 OpenCV operations only (SIMD, no int16 temporaries): pa = |b - c|,
    pb = |a - c|, and pc = |(b - c) + (a - c)|, which is pa + pb when b - c and a - c have the same sign
    (saturating at 255 keeps every comparison exact, since then pc >= max(pa, pb)) and |pa - pb|
    otherwise. Ties go to a, then b, then c, as the spec says."""
    c = _left(b, bpp)
    pa, pb = cv2.absdiff(b, c), cv2.absdiff(a, c)
    differ = cv2.bitwise_xor(cv2.compare(b, c, cv2.CMP_GE), cv2.compare(a, c, cv2.CMP_GE))
    pc = cv2.add(pa, pb)
    cv2.copyTo(cv2.absdiff(pa, pb), differ, pc)
    use_a = cv2.compare(pa, cv2.min(pb, pc), cv2.CMP_LE)
    use_b = cv2.compare(pb, pc, cv2.CMP_LE)
    predicted = c
    cv2.copyTo(b, use_b, predicted)
    cv2.copyTo(a, use_a, predicted)
    return np.subtract(raw, predicted)


_COST = np.minimum(np.arange(256), 256 - np.arange(256)).astype(np.uint8)  # |byte as signed|


def _filter_band(raw: np.ndarray, bpp: int, how: str) -> np.ndarray:
    h, n = raw.shape
    out = np.empty((h, n + 1), np.uint8)
    if how in ("adaptive", "adaptive3"):
        a, b = _left(raw, bpp), _above(raw)
        candidates = [raw, np.subtract(raw, a), np.subtract(raw, b)]
        types = [0, 1, 2]
        if how == "adaptive":
            candidates.append(paeth(raw, a, b, bpp))
            types.append(4)
        costs = np.stack([cv2.reduce(cv2.LUT(f, _COST), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0]
                          for f in candidates])
        best = costs.argmin(axis=0)
        out[:, 0] = np.array(types, np.uint8)[best]
        for k, filtered in enumerate(candidates):
            chosen = best == k
            out[chosen, 1:] = filtered[chosen]
        return out
    out[:, 0] = FILTER_TYPES[how]
    if how == "none":
        out[:, 1:] = raw
    elif how == "sub":
        np.subtract(raw, _left(raw, bpp), out=out[:, 1:])
    elif how == "up":
        np.subtract(raw, _above(raw), out=out[:, 1:])
    elif how == "paeth":
        out[:, 1:] = paeth(raw, _left(raw, bpp), _above(raw), bpp)
    else:
        raise ValueError(f"unknown filter {how!r}")
    return out
