"""An original's colour profile, found in its container without decoding pixels.

Every format hides the profile differently: JPEG in APP2 `ICC_PROFILE` segments (numbered chunks of
at most 64 KB, in any order), PNG in a zlib-compressed iCCP chunk, WebP in an ICCP chunk, TIFF in
tag 34675 (classic or BigTIFF), AVIF and HEIF in a `colr` property of the primary item, BMP behind a
V5 header. OpenCV's metadata API finds none of TIFF's or AVIF's and returns a JPEG's profile corrupted
when a phone's MPF APP2 segment precedes it, so the containers are read here, from their headers.

AVIF and PNG may name their colours by CICP code points instead (`nclx`, cICP: Display P3 is 12/13);
`iccmake` builds the profile they mean. A damaged container is no profile: the decoder decides about
the pixels. Nothing here trusts a length: every profile is bounded by MAX_ICC, every zlib stream too.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from . import iccmake, isobmff

MAX_ICC = 4 << 20  # bytes; the largest real profiles (printer LUTs) are about 1 MB
_DAMAGED = (struct.error, IndexError, ValueError, KeyError, zlib.error)


@dataclass(frozen=True)
class Profile:
    icc: bytes
    space: str        # the colour space of the pixels it describes: RGB, GRAY, CMYK, ...
    version: str      # 2.1, 4.3, ...
    description: str  # as the profile names itself ("Display P3", "Adobe RGB (1998)", ...)

    @classmethod
    def of(cls, icc: bytes) -> Profile | None:
        """None for bytes that are not an ICC profile (no `acsp` signature, wrong length)."""
        if len(icc) < 132 or icc[36:40] != b"acsp" or int.from_bytes(icc[:4], "big") > len(icc):
            return None
        major, minor = icc[8], icc[9] >> 4
        return cls(icc, icc[16:20].decode("latin-1").strip(), f"{major}.{minor}", description(icc))


def profile(data: bytes, format: str) -> Profile | None:
    """The profile an original carries (an ICC profile first, else the one CICP code points name)."""
    icc = embedded(data, format)
    if icc is None:
        code_points = cicp(data, format)
        icc = _cicp_profile(*code_points[:2]) if code_points else None
    return Profile.of(icc) if icc else None


@lru_cache(maxsize=32)
def _cicp_profile(primaries: int, transfer: int) -> bytes | None:
    return iccmake.cicp_profile(primaries, transfer)


def embedded(data: bytes, format: str) -> bytes | None:
    reader = _READERS.get(format)
    if reader is None:
        return None
    try:
        icc = reader(memoryview(data))
    except _DAMAGED:
        return None
    return icc if icc and len(icc) <= MAX_ICC else None


def jpeg_segments(data) -> Iterator[tuple[int, memoryview]]:
    """(marker, payload) of every segment before the first scan."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("marker expected")
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = (data[at + 2] << 8) | data[at + 3]
        if length < 2:
            raise ValueError("segment length below 2")
        yield marker, data[at + 4:at + 2 + length]
        if marker == 0xDA:
            return
        at += 2 + length


def _jpeg(data) -> bytes | None:
    chunks: dict[int, bytes] = {}
    total = 0
    for marker, payload in jpeg_segments(data):
        if marker == 0xE2 and bytes(payload[:12]) == b"ICC_PROFILE\0" and len(payload) > 14:
            total = payload[13]
            chunks.setdefault(payload[12], bytes(payload[14:]))
    if not chunks or sorted(chunks) != list(range(1, total + 1)):
        return None  # a missing or misnumbered chunk: libjpeg's reader gives up too
    return b"".join(chunks[i] for i in range(1, total + 1))


def _png_chunks(data) -> Iterator[tuple[bytes, memoryview]]:
    at = 8
    while at + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind in (b"IDAT", b"IEND"):  # colour chunks must come before the image data
            return
        yield kind, data[at + 8:at + 8 + length]
        at += 12 + length


def _png(data) -> bytes | None:
    for kind, body in _png_chunks(data):
        if kind == b"iCCP":
            name_end = bytes(body[:80]).index(b"\0")
            if body[name_end + 1] != 0:
                return None  # compression method 0 (zlib) is the only one
            inflater = zlib.decompressobj()
            icc = inflater.decompress(bytes(body[name_end + 2:]), MAX_ICC)
            return None if inflater.unconsumed_tail else icc  # more than MAX_ICC: a zip bomb, not a profile
    return None


def _webp(data) -> bytes | None:
    if bytes(data[12:16]) != b"VP8X":
        return None  # only the extended format carries chunks besides the image
    at = 12
    while at + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, at)
        if kind == b"ICCP":
            return bytes(data[at + 8:at + 8 + length]) if length <= MAX_ICC else None
        if kind in (b"VP8 ", b"VP8L", b"ANIM"):
            return None
        at += 8 + length + (length & 1)
    return None


def _tiff(data) -> bytes | None:
    order = {b"II": "<", b"MM": ">"}[bytes(data[:2])]
    big = struct.unpack_from(order + "H", data, 2)[0] == 43
    offset, count_format, entry, value_format, inline = (
        ("Q", "Q", 20, "HHQQ", 8) if big else ("I", "H", 12, "HHII", 4))
    ifd = struct.unpack_from(order + offset, data, 8 if big else 4)[0]
    count = struct.unpack_from(order + count_format, data, ifd)[0]
    first = ifd + struct.calcsize(count_format)
    for i in range(min(count, 4096)):
        at = first + entry * i
        tag, _, n, value = struct.unpack_from(order + value_format, data, at)
        if tag == 34675:  # InterColorProfile, UNDEFINED or BYTE
            start = at + 4 + struct.calcsize(offset) if n <= inline else value
            return bytes(data[start:start + n]) if n <= MAX_ICC and start + n <= len(data) else None
    return None


def _bmp(data) -> bytes | None:
    """BITMAPV5HEADER with bV5CSType PROFILE_EMBEDDED ('MBED'): the profile lies bV5ProfileData bytes
    after the start of the info header."""
    if struct.unpack_from("<I", data, 14)[0] < 124 or struct.unpack_from("<I", data, 14 + 56)[0] != 0x4D424544:
        return None
    offset, size = struct.unpack_from("<II", data, 14 + 112)
    start = 14 + offset
    return bytes(data[start:start + size]) if 0 < size <= MAX_ICC and start + size <= len(data) else None


def _isobmff(data) -> bytes | None:
    for kind, payload in isobmff.facts(bytes(data)).colr:
        if kind in (b"prof", b"rICC"):
            return payload
    return None


_READERS = {"jpeg": _jpeg, "png": _png, "webp": _webp, "tiff": _tiff, "bmp": _bmp, "avif": _isobmff,
            "heif": _isobmff}


def cicp(data: bytes, format: str) -> tuple[int, int, int, bool] | None:
    """Colour primaries, transfer characteristics, matrix coefficients (ITU-T H.273) and the full-range
    flag from an AVIF/HEIF `nclx` box or a PNG cICP chunk; None when the file has none."""
    try:
        if format in ("avif", "heif"):
            for kind, payload in isobmff.facts(data).colr:
                if kind == b"nclx":
                    primaries, transfer, matrix = struct.unpack_from(">HHH", payload, 0)
                    return primaries, transfer, matrix, bool(payload[6] & 0x80)
        elif format == "png":
            for kind, body in _png_chunks(memoryview(data)):
                if kind == b"cICP" and len(body) == 4:
                    return body[0], body[1], body[2], bool(body[3])
    except _DAMAGED:
        pass
    return None


def description(icc: bytes) -> str:
    """The profile's `desc` tag: v2 textDescriptionType (ASCII) or v4 multiLocalizedUnicodeType (the
    first record); "" when absent or unreadable."""
    try:
        count = struct.unpack_from(">I", icc, 128)[0]
        for i in range(min(count, 1000)):
            signature, offset, size = struct.unpack_from(">4sII", icc, 132 + 12 * i)
            if signature != b"desc":
                continue
            tag = icc[offset:offset + size]
            if tag[:4] == b"desc":
                length = struct.unpack_from(">I", tag, 8)[0]
                return tag[12:12 + length].split(b"\0")[0].decode("latin-1").strip()
            if tag[:4] == b"mluc":
                records, record_size = struct.unpack_from(">II", tag, 8)
                if records and record_size >= 12:
                    length, at = struct.unpack_from(">II", tag, 16 + 4)
                    return tag[at:at + length].decode("utf-16-be", "replace").strip("\0 ")
            if tag[:4] == b"text":
                return tag[8:].split(b"\0")[0].decode("latin-1").strip()
    except (struct.error, UnicodeDecodeError):
        pass
    return ""
