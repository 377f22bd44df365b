"""Facts about an encoded image read from its first bytes, without decoding pixels.

The format is decided from magic bytes, never from a file name, and only the formats in `READERS`
are accepted. Width and height come from the header so that the pixel limit is enforced, and the
shrink-on-load factor chosen, before a decoder allocates anything. Any malformed header is a 415.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from .. import formats
from ..errors import Problem
from . import bmp, isobmff


@dataclass(frozen=True)
class Header:
    format: str          # a name in formats.FORMATS
    width: int           # as stored, before EXIF orientation
    height: int
    channels: int        # as stored: 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha (palette counts as 3)
    bit_depth: int       # bits per channel
    orientation: int = 1  # EXIF orientation 1..8
    progressive: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as a viewer shows it: orientations 5-8 swap the axes."""
        return (self.height, self.width) if self.orientation >= 5 else (self.width, self.height)


def probe(data: bytes) -> Header:
    kind = formats.sniff(data)
    if kind is None:
        raise Problem(415, f"not an image this server decodes ({formats.listed()}, recognised by content)")
    try:
        header = READERS[kind](data)
    except Problem:
        raise
    except (struct.error, IndexError):
        raise Problem(415, f"the {kind.upper()} header is truncated") from None
    except ValueError as error:
        raise Problem(415, f"the {kind.upper()} header is damaged: {error}") from None
    if header.width < 1 or header.height < 1:
        raise Problem(415, f"the {kind.upper()} header declares an empty image ({header.width}x{header.height})")
    return header


def _u16be(data: bytes, at: int) -> int:
    return struct.unpack_from(">H", data, at)[0]


def _jpeg(data: bytes) -> Header:
    at, orientation = 2, 1
    while True:
        if data[at] != 0xFF:
            raise ValueError(f"expected a marker at byte {at}")
        while data[at] == 0xFF:  # fill bytes
            at += 1
        marker = data[at]
        at += 1
        if marker in (0x01, *range(0xD0, 0xD8)):
            continue
        if marker in (0xD9, 0xDA):
            raise ValueError("no frame header before the image data")
        length = _u16be(data, at)
        if length < 2:
            raise ValueError("segment length below 2")
        if marker == 0xE1 and data[at + 2:at + 8] == b"Exif\0\0":
            orientation = exif_orientation(data[at + 8:at + length])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            precision, height, width, components = struct.unpack_from(">BHHB", data, at + 2)
            if components not in (1, 3, 4):
                raise ValueError(f"{components} colour components")
            return Header("jpeg", width, height, 1 if components == 1 else 3, precision,
                          orientation=orientation, progressive=marker in (0xC2, 0xC6, 0xCA, 0xCE))
        at += length


def _png(data: bytes) -> Header:
    length, tag = struct.unpack_from(">I4s", data, 8)
    if tag != b"IHDR" or length != 13:
        raise ValueError("the first chunk is not IHDR")
    width, height, depth, color_type = struct.unpack_from(">IIBB", data, 16)
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color_type)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise ValueError(f"colour type {color_type} with bit depth {depth}")
    return Header("png", width, height, channels, depth)


def _webp(data: bytes) -> Header:
    chunk = bytes(data[12:16])
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("VP8 start code missing")
        width, height = struct.unpack_from("<HH", data, 26)
        return Header("webp", width & 0x3FFF, height & 0x3FFF, 3, 8)
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ValueError("VP8L signature missing")
        bits = struct.unpack_from("<I", data, 21)[0]
        return Header("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4 if bits >> 28 & 1 else 3, 8)
    if chunk == b"VP8X":
        flags = data[20]
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return Header("webp", width, height, 4 if flags & 0x10 else 3, 8)
    raise ValueError(f"unknown first chunk {chunk!r}")


def _tiff_entries(data: bytes) -> tuple[str, dict[int, int]]:
    """Byte order and the first value of each tag in the first image directory (classic or BigTIFF)."""
    order = "<" if data[:2] == b"II" else ">"
    big = struct.unpack_from(order + "H", data, 2)[0] == 43
    if big:
        ifd = struct.unpack_from(order + "Q", data, 8)[0]
        count, at, size = struct.unpack_from(order + "Q", data, ifd)[0], ifd + 8, 20
    else:
        ifd = struct.unpack_from(order + "I", data, 4)[0]
        count, at, size = struct.unpack_from(order + "H", data, ifd)[0], ifd + 2, 12
    if count > 4096:
        raise ValueError(f"{count} directory entries")
    tags: dict[int, int] = {}
    widths = {1: "B", 3: "H", 4: "I", 16: "Q"}  # BYTE, SHORT, LONG, LONG8
    for i in range(count):
        entry = at + i * size
        tag, kind = struct.unpack_from(order + "HH", data, entry)
        if kind not in widths:
            continue
        n = struct.unpack_from(order + ("Q" if big else "I"), data, entry + 4)[0]
        value_at = entry + (12 if big else 8)
        if n * struct.calcsize(widths[kind]) > (8 if big else 4):  # stored elsewhere; read the first
            value_at = struct.unpack_from(order + ("Q" if big else "I"), data, value_at)[0]
        tags[tag] = struct.unpack_from(order + widths[kind], data, value_at)[0]
    return order, tags


def _tiff(data: bytes) -> Header:
    _, tags = _tiff_entries(data)
    if 256 not in tags or 257 not in tags:
        raise ValueError("no ImageWidth/ImageLength tags")
    samples = tags.get(277, 1)
    return Header("tiff", tags[256], tags[257], min(samples, 4), tags.get(258, 1),
                  orientation=tags.get(274, 1) if 1 <= tags.get(274, 1) <= 8 else 1)


def exif_orientation(exif: bytes) -> int:
    """Tag 0x0112 of an EXIF block (a TIFF structure); 1 when absent or unreadable."""
    try:
        value = _tiff_entries(exif)[1].get(0x0112, 1)
    except (struct.error, IndexError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def _gif(data: bytes) -> Header:
    width, height = struct.unpack_from("<HH", data, 6)
    return Header("gif", width, height, 4, 8)


def _bmp(data: bytes) -> Header:
    info = bmp.read_header(data)
    return Header("bmp", info.width, info.height, 4 if info.alpha else 3, 8)


def _isobmff(format: str) -> Callable[[bytes], Header]:
    """AVIF and HEIF: the primary image's `ispe`, `pixi`, and `irot`/`imir` as an EXIF orientation."""
    def read(data: bytes) -> Header:
        facts = isobmff.facts(data)
        return Header(format, facts.width, facts.height, facts.channels, facts.depth, orientation=facts.orientation)
    return read


READERS: dict[str, Callable[[bytes], Header]] = {
    "jpeg": _jpeg, "png": _png, "webp": _webp, "bmp": _bmp, "tiff": _tiff, "gif": _gif,
    "avif": _isobmff("avif"), "heif": _isobmff("heif"),
}
