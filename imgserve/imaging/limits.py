"""What a decoder will do with a file, read from its bytes before it runs.

The pixel limit bounds the decoded image, but not the work or the memory a decoder spends getting
there. A progressive JPEG may hold thousands of scans, each a pass over every block (4,000 empty
scans of an 8192x8192 image: 20 s in libjpeg); a PNG may carry hundreds of compressed text chunks
that libpng inflates, 8 MB each (300 of them: 8.5 s); a TIFF may declare one 16384x16368 tile for a
16x16 image, and libtiff allocates the tile. So before any decoder runs, `inspect` walks the file's
structure - JPEG markers, PNG chunks, RIFF chunks, the TIFF directory - refuses what no real image
needs (422 past MAX_SCANS or MAX_METADATA_BYTES, 415 for geometry that makes no sense), and says
what the decoder will allocate: the array it returns (palettes expanded, alpha added) and its
scratch memory (coefficient buffers, tiles, canvases), for the memory account (memory.py).

Every reader here takes bytes from anyone: it returns a Decoding or raises Problem, and
tests/unit/test_parsers.py fuzzes it like the header readers.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import Problem
from . import bmp
from .probe import Header, tiff_entries, unpack

ROWS = 16  # rows of scratch a row-by-row decoder keeps (libjpeg's MCU rows, libpng's two rows), per width
FIXED = 2 << 20  # what any decoder may allocate whatever the image: tables, zlib's and libwebp's state
LZW_TABLE = 8 << 20  # OpenCV's GIF decoder keeps each of 4096 codes' whole string: up to 4096 * 4097 / 2 bytes
MAX_ANCILLARY_CHUNKS = 1000  # PNG chunks besides IHDR, PLTE, IDAT, IEND: libpng's own chunk cache limit
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # a marker after entropy-coded data


@dataclass(frozen=True)
class Decoding:
    """The array the decoder returns, as stored (before EXIF orientation), and what else it allocates.
    OpenCV's decoders write into a buffer of their own and convert it into the array they return
    (measured: one more decoded image at the peak, for every format it decodes): `scratch` counts it.
    Scratch is a list of blocks, because the memory account treats small and large blocks apart."""
    width: int
    height: int
    channels: int   # 1, 3 or 4
    sample: int     # bytes per sample: 1, 2 or 4
    scratch: tuple[int, ...]  # the blocks the decoder allocates besides the returned array, at most

    @property
    def bytes(self) -> int:
        return self.width * self.height * self.channels * self.sample


def inspect(data: bytes, header: Header, settings: Any, shrink: int = 1) -> Decoding:
    """What decoding `data` costs; Problem 422 when it would cost more than the limits allow, 415 when
    its structure is broken in a way the header did not show. `shrink` is the JPEG decode scale."""
    try:
        return INSPECTORS[header.format](data, header, settings, shrink)
    except (ValueError, struct.error, IndexError, zlib.error) as error:
        raise Problem(415, f"the {header.format.upper()} structure is damaged: {error}") from None


def _sample(bits: int) -> int:
    return 1 if bits <= 8 else 2 if bits <= 16 else 4


def _jpeg(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    """Walk the markers, counting scans (each is a pass over the blocks of its components)."""
    at, scans, components, frame = 2, 0, [], None
    while at < len(data) - 1:
        if data[at] != 0xFF:  # libjpeg skips bytes that are not a marker (with a warning): so do we
            found = _MARKER.search(data, at)
            if found is None:
                break
            at = found.start()
        marker = data[at + 1]
        if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD7:
            at += 1 if marker == 0xFF else 2
            continue
        if marker == 0xD9:
            break
        end = at + 2 + unpack(">H", data, at + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and frame is None:
            frame = marker
            count = unpack(">B", data, at + 9)[0]
            components = [unpack(">B", data, at + 11 + 3 * i)[0] for i in range(count)]
        if marker == 0xDA:
            scans += 1
            if scans > settings.max_scans:
                raise Problem(422, f"the JPEG has more than {settings.max_scans} scans, each a pass over the whole "
                                   "image (real progressive JPEGs have about 10); this server decodes at most "
                                   f"{settings.max_scans} (IMGSERVE_MAX_SCANS)")
            found = _MARKER.search(data, end)
            at = found.start() if found else len(data)
            continue
        at = end
    width, height = -(-header.width // shrink), -(-header.height // shrink)
    channels = 1 if header.channels == 1 else 3
    sampling = [(h, v) for h, v in ((s >> 4, s & 15) for s in components) if 1 <= h <= 4 and 1 <= v <= 4] or [(1, 1)]
    scratch = [ROWS * 8 * header.width * max(len(components), 1) * 2]  # MCU rows, in and out of upsampling
    if header.progressive:
        # every DCT coefficient of every component until the last scan (2 bytes each), at full size
        # whatever the output scale; components subsampled hold fewer
        h_max, v_max = max(h for h, _ in sampling), max(v for _, v in sampling)
        scratch += [2 * -(-header.width * h // h_max // 8) * 8 * -(-header.height * v // v_max // 8) * 8
                    for h, v in sampling]
        if shrink == 8:
            scratch += [len(data), len(data)]  # dc_scans rewrites the file (its parts, then the joined bytes)
    decoded = width * height * channels * _sample(header.bit_depth)
    return Decoding(width, height, channels, _sample(header.bit_depth), (decoded, *scratch, FIXED))


_COMPRESSED = {b"zTXt", b"iCCP", b"iTXt"}
_CRITICAL = {b"IHDR", b"PLTE", b"IDAT", b"IEND"}


def _png(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    """Walk the chunks: count the ancillary ones and inflate the compressed ones (text, ICC profile)
    against one budget, as libpng would inflate them."""
    at, ancillary, inflated, transparency, animated = 8, 0, 0, False, False
    while at + 8 <= len(data):
        length, kind = unpack(">I4s", data, at)
        body = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IEND":
            break
        if kind in _CRITICAL:
            continue
        ancillary += 1
        if ancillary > MAX_ANCILLARY_CHUNKS:
            raise Problem(422, f"the PNG has more than {MAX_ANCILLARY_CHUNKS} metadata chunks; no image needs them")
        transparency |= kind == b"tRNS"
        animated |= kind == b"acTL"
        if kind in _COMPRESSED:
            inflated += _inflated(kind, body, settings.max_metadata_bytes - inflated)
    color_type = unpack(">B", data, 25)[0]
    channels = {0: 1, 2: 3, 3: 3, 4: 4, 6: 4}[color_type]
    if transparency and color_type in (2, 3):
        channels = 4
    scratch = [header.width * header.height * channels * _sample(header.bit_depth), ROWS * header.width * 8, inflated]
    if animated:  # an APNG's first frame goes through OpenCV's frame compositing: a canvas and a frame, BGRA
        scratch += [header.width * header.height * 4 * _sample(header.bit_depth)] * 2
    return Decoding(header.width, header.height, channels, _sample(header.bit_depth), (*scratch, FIXED))


def _inflated(kind: bytes, body: bytes, budget: int) -> int:
    """Bytes a compressed metadata chunk inflates to; 422 once they pass `budget`."""
    name_end = body.find(b"\0")
    if name_end < 0:
        return 0
    if kind == b"iTXt":
        if body[name_end + 1:name_end + 2] != b"\1":  # not compressed
            return 0
        language_end = body.find(b"\0", name_end + 3)
        translated_end = body.find(b"\0", language_end + 1) if language_end >= 0 else -1
        if translated_end < 0:
            return 0
        stream = body[translated_end + 1:]
    else:
        stream = body[name_end + 2:]
    inflater = zlib.decompressobj()
    try:
        size = len(inflater.decompress(stream, max(budget, 0) + 1))
    except zlib.error:
        return 0  # libpng refuses it too, without inflating more than this did
    if size > budget:
        raise Problem(422, f"the PNG's compressed metadata ({kind.decode()} chunks) inflates past "
                           "IMGSERVE_MAX_METADATA_BYTES; no image needs that much text or profile data")
    return size


def _webp(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    chunks, at = set(), 12
    while at + 8 <= len(data) and len(chunks) < 64:
        kind, size = unpack("<4sI", data, at)
        chunks.add(kind)
        at += 8 + size + (size & 1)
    flags = data[20] if chunks and data[12:16] == b"VP8X" and len(data) > 20 else 0
    pixels = header.width * header.height
    alpha = header.channels == 4 or b"ALPH" in chunks or bool(flags & 0x10)
    channels = 4 if alpha else 3
    scratch = [len(data), pixels * channels]  # OpenCV's copy of the file, and of the decoded image
    if b"VP8L" in chunks:
        scratch.append(4 * pixels)  # libwebp decodes a lossless image whole, ARGB
    else:
        scratch.append(ROWS * header.width * 4)  # YUV rows
    if alpha:
        scratch += [pixels, 4 * pixels]  # the alpha plane, and libwebp's RGBA before OpenCV's conversion
    if flags & 0x02 or b"ANIM" in chunks:  # animation: the demuxer's canvas and the previous one, BGRA
        scratch += [4 * pixels, 4 * pixels]
    return Decoding(header.width, header.height, channels, 1, (*scratch, FIXED))


def _gif(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    # OpenCV's decoder: the LZW codes of the frame (one byte a pixel), the BGRA canvas, a copy for
    # "restore previous", its LZW table (strings of up to 4096 codes)
    pixels = header.width * header.height
    return Decoding(header.width, header.height, 4, 1, (pixels, 4 * pixels, 4 * pixels, 4 * pixels, LZW_TABLE, FIXED))


def _bmp(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    info = bmp.read_header(data)
    pixels = info.width * info.height
    channels = 4 if info.alpha else 3
    if info.compression in (bmp.RLE4, bmp.RLE8):
        scratch = [pixels * 4]  # OpenCV's palette expansion
    elif info.bits <= 8:
        scratch = [pixels, pixels * 3, pixels * 3]  # indices, gray to BGR before the palette lookup, cv2.LUT's own
    elif info.bits == 16:
        scratch = [pixels] * 4 + [pixels * 4]  # a table lookup per channel, then stacked
    elif info.bits == 32 and info.masks not in ((0xFF0000, 0xFF00, 0xFF, 0), (0xFF0000, 0xFF00, 0xFF, 0xFF000000)):
        per_channel = [pixels * 4, pixels]  # the masked uint32, scaled in place, as bytes
        if any(mask and mask >> bmp._shift(mask) >= 1 << 24 for mask in info.masks):
            per_channel += [pixels * 8] * 3  # channels over 24 bits are scaled in uint64
        scratch = per_channel * 4 + [pixels * 4]
    else:
        scratch = []  # rows copied once: that copy is the array
    return Decoding(info.width, info.height, channels, 1, (*scratch, FIXED))


def _tiff(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    """OpenCV reads a TIFF a tile (or strip) at a time: for 8-bit output through libtiff's RGBA reader
    (a BGRA tile, plus libtiff's decoded tile), else the samples and an unpacking buffer."""
    _, tags = tiff_entries(data)
    width, height = header.width, header.height
    samples, bits, photometric = tags.get(277, 1), tags.get(258, 1), tags.get(262, 1)
    if 322 in tags or 323 in tags:
        tile_w, tile_h = tags.get(322, 0), tags.get(323, 0)
        if tile_w < 1 or tile_h < 1:
            raise ValueError(f"tiles of {tile_w}x{tile_h}")
        room = max(-(-width // 16) * 16 * -(-height // 16) * 16, 1 << 20)
        if tile_w * tile_h > room:
            raise ValueError(f"tiles of {tile_w}x{tile_h} for a {width}x{height} image; tiles larger than the "
                             "image (and than 1024x1024) serve no purpose")
    else:
        rows = tags.get(278, height)
        tile_w, tile_h = width, height if rows < 1 or rows > height else rows
    if tags.get(259) in (6, 7):  # JPEG-compressed tiles: the scans of every tile count, as in a JPEG
        tiles = -(-width // tile_w) * -(-height // tile_h)
        if data.count(b"\xff\xda") > settings.max_scans * tiles:
            raise Problem(422, f"the TIFF's JPEG tiles hold more than {settings.max_scans} scans each "
                               "(IMGSERVE_MAX_SCANS)")
    gray = photometric in (0, 1) and samples <= 2
    channels = 1 if gray else 3 if photometric in (3, 6) or samples == 3 else 4
    sample = _sample(bits)
    tile = tile_w * tile_h
    raw = tile * samples * max(1, -(-bits // 8))
    if sample == 1:
        scratch = [tile * 4, raw]  # OpenCV's RGBA tile, libtiff's decoded one
    else:
        scratch = [tile * samples * sample, tile * samples * sample, raw]  # samples, unpacked to the output depth
    decoded = width * height * channels * sample
    return Decoding(width, height, channels, sample, (decoded, *scratch, min(len(data), raw), FIXED))


def _isobmff(data: bytes, header: Header, settings: Any, shrink: int) -> Decoding:
    """AVIF (libavif in OpenCV) and HEIF (libheif): the coded picture is decoded whole into YUV planes
    at full precision, then converted to RGB(A) and handed over as a copy. No scans or chunks to count:
    the box structure was read, bounded, by the header reader."""
    pixels = header.width * header.height
    sample = _sample(header.bit_depth)
    channels = 4 if header.channels == 4 else 1 if header.channels == 1 else 3
    planes = pixels * (3 + (channels == 4)) * 4  # YUV(A), and its conversion to RGB(A), at 16 bits always
    return Decoding(header.width, header.height, channels, sample,
                    (len(data), planes, pixels * 4 * sample, pixels * channels * sample, FIXED))


INSPECTORS: dict[str, Callable[[bytes, Header, Any, int], Decoding]] = {
    "jpeg": _jpeg, "png": _png, "webp": _webp, "gif": _gif, "bmp": _bmp, "tiff": _tiff,
    "avif": _isobmff, "heif": _isobmff,
}
