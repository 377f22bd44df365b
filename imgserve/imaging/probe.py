"""Facts about an encoded image read from its first bytes, without decoding pixels.

The format is decided from magic bytes, never from a file name, and only the formats in `READERS`
are accepted. Width and height come from the header so that the pixel limit is enforced, and the
shrink-on-load factor chosen, before a decoder allocates anything. Any malformed header is a 415.

The readers take bytes from anyone, so each one either returns a Header whose every field is in range
or raises ValueError (which `probe` turns into the 415): every read goes through `unpack`, which checks
the offset against the data first. tests/unit/test_parsers.py fuzzes each reader with
structure-aware mutations.
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
    except (struct.error, IndexError):  # unpack and _byte make these ValueErrors; kept as a safety net
        raise Problem(415, f"the {kind.upper()} header is truncated") from None
    except Truncated:
        raise Problem(415, f"the {kind.upper()} header is truncated") from None
    except ValueError as error:
        raise Problem(415, f"the {kind.upper()} header is damaged: {error}") from None
    if header.width < 1 or header.height < 1:
        raise Problem(415, f"the {kind.upper()} header declares an empty image ({header.width}x{header.height})")
    return header


class Truncated(ValueError):
    """The data ends (or an offset points) before what a reader needs."""


def unpack(fmt: str, data: bytes, at: int) -> tuple:
    """struct.unpack_from that checks `at` first: an offset read from the file may point anywhere
    (2**63 and beyond in a BigTIFF), and only ValueError leaves a reader."""
    if not 0 <= at <= len(data) - struct.calcsize(fmt):
        raise Truncated(f"{struct.calcsize(fmt)} bytes wanted at offset {at} of {len(data)}")
    return struct.unpack_from(fmt, data, at)


def _byte(data: bytes, at: int) -> int:
    if not 0 <= at < len(data):
        raise Truncated(f"a byte wanted at offset {at} of {len(data)}")
    return data[at]


def _u16be(data: bytes, at: int) -> int:
    return unpack(">H", data, at)[0]


def _jpeg(data: bytes) -> Header:
    at, orientation = 2, 1
    while True:
        if _byte(data, at) != 0xFF:
            raise ValueError(f"expected a marker at byte {at}")
        while _byte(data, at) == 0xFF:  # fill bytes
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
            precision, height, width, components = unpack(">BHHB", data, at + 2)
            if components not in (1, 3, 4):
                raise ValueError(f"{components} colour components")
            if precision not in (8, 12, 16):
                raise ValueError(f"{precision}-bit samples")
            return Header("jpeg", width, height, 1 if components == 1 else 3, precision,
                          orientation=orientation, progressive=marker in (0xC2, 0xC6, 0xCA, 0xCE))
        at += length


def _png(data: bytes) -> Header:
    length, tag = unpack(">I4s", data, 8)
    if tag != b"IHDR" or length != 13:
        raise ValueError("the first chunk is not IHDR")
    width, height, depth, color_type = unpack(">IIBB", data, 16)
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(color_type)
    if channels is None or depth not in {0: (1, 2, 4, 8, 16), 3: (1, 2, 4, 8)}.get(color_type, (8, 16)):
        raise ValueError(f"colour type {color_type} with bit depth {depth}")
    if width >= 1 << 31 or height >= 1 << 31:
        raise ValueError(f"size {width}x{height} is past the format's limit of 2**31 - 1")
    return Header("png", width, height, channels, depth)


def _webp(data: bytes) -> Header:
    chunk = bytes(data[12:16])
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("VP8 start code missing")
        width, height = unpack("<HH", data, 26)
        return Header("webp", width & 0x3FFF, height & 0x3FFF, 3, 8)
    if chunk == b"VP8L":
        if _byte(data, 20) != 0x2F:
            raise ValueError("VP8L signature missing")
        bits = unpack("<I", data, 21)[0]
        return Header("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4 if bits >> 28 & 1 else 3, 8)
    if chunk == b"VP8X":
        flags, size = unpack("<B3x6s", data, 20)
        width = int.from_bytes(size[:3], "little") + 1
        height = int.from_bytes(size[3:], "little") + 1
        return Header("webp", width, height, 4 if flags & 0x10 else 3, 8)
    raise ValueError(f"unknown first chunk {chunk!r}")


def tiff_entries(data: bytes) -> tuple[str, dict[int, int]]:
    """Byte order and the first value of each tag in the first image directory (classic or BigTIFF)."""
    if data[:2] not in (b"II", b"MM"):
        raise ValueError("no TIFF byte order mark")
    order = "<" if data[:2] == b"II" else ">"
    big = unpack(order + "H", data, 2)[0] == 43
    if big:
        ifd = unpack(order + "Q", data, 8)[0]
        count, at, size = unpack(order + "Q", data, ifd)[0], ifd + 8, 20
    else:
        ifd = unpack(order + "I", data, 4)[0]
        count, at, size = unpack(order + "H", data, ifd)[0], ifd + 2, 12
    if count > 4096:
        raise ValueError(f"{count} directory entries")
    tags: dict[int, int] = {}
    widths = {1: "B", 3: "H", 4: "I", 16: "Q"}  # BYTE, SHORT, LONG, LONG8
    for i in range(count):
        entry = at + i * size
        tag, kind = unpack(order + "HH", data, entry)
        if kind not in widths:
            continue
        n = unpack(order + ("Q" if big else "I"), data, entry + 4)[0]
        if n == 0:
            continue
        value_at = entry + (12 if big else 8)
        if n * struct.calcsize(widths[kind]) > (8 if big else 4):  # stored elsewhere; read the first
            value_at = unpack(order + ("Q" if big else "I"), data, value_at)[0]
        tags[tag] = unpack(order + widths[kind], data, value_at)[0]
    return order, tags


def _tiff(data: bytes) -> Header:
    _, tags = tiff_entries(data)
    if 256 not in tags or 257 not in tags:
        raise ValueError("no ImageWidth/ImageLength tags")
    samples, depth = tags.get(277, 1), tags.get(258, 1)
    if not 1 <= samples <= 16:
        raise ValueError(f"{samples} samples per pixel")
    if depth not in (1, 2, 4, 8, 12, 14, 16, 24, 32, 64):
        raise ValueError(f"{depth} bits per sample")
    if tags[256] >= 1 << 31 or tags[257] >= 1 << 31:
        raise ValueError(f"size {tags[256]}x{tags[257]} is past what a decoder takes (2**31 - 1)")
    return Header("tiff", tags[256], tags[257], min(samples, 4), depth,
                  orientation=tags.get(274, 1) if 1 <= tags.get(274, 1) <= 8 else 1)


def exif_orientation(exif: bytes) -> int:
    """Tag 0x0112 of an EXIF block (a TIFF structure); 1 when absent or unreadable."""
    try:
        value = tiff_entries(exif)[1].get(0x0112, 1)
    except ValueError:
        return 1
    return value if 1 <= value <= 8 else 1


def _gif(data: bytes) -> Header:
    width, height = unpack("<HH", data, 6)
    return Header("gif", width, height, 4, 8)


def _bmp(data: bytes) -> Header:
    try:
        info = bmp.read_header(data)
    except struct.error as error:
        raise Truncated(str(error)) from None
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
