"""The boxes of an AVIF or HEIF file (ISO/IEC 14496-12 and 23008-12), read without decoding anything.

The probe needs the primary image's size (`ispe`) before libavif or libheif allocate a pixel, its
depth (`pixi`), its rotation and mirroring (`irot`, `imir`: OpenCV's AVIF decoder does not apply
them) and whether an alpha plane rides along; colour management needs its `colr` boxes (an ICC
profile, or CICP code points); an image sequence (`avis`) has its frame count and timing in `moov`.
Every size is checked against its parent; damage raises ValueError or struct.error like the other
header readers, and the probe turns that into a 415.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

MAX_BOXES = 10_000  # per level: a real file has a few dozen
MAX_FRAMES = 100_000


def boxes(data, start: int, end: int, cut: bool = False) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box in data[start:end]. With `cut`, a last box that
    runs past the end is given as far as it goes (the top level of a file's first bytes: /info reads
    the primary item's properties from there without the image data that follows them)."""
    at, count = start, 0
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if cut and at + size > end >= at + header:
            yield kind, at + header, end
            return
        if size < header or at + size > end:
            raise ValueError(f"box {kind!r} at byte {at} claims {size} bytes")
        count += 1
        if count > MAX_BOXES:
            raise ValueError("too many boxes")
        yield kind, at + header, at + size
        at += size


def _child(data, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in boxes(data, start, end) if k == kind), None)


def _path(data, start: int, end: int, *kinds: bytes) -> tuple[int, int] | None:
    """The payload of the first box along a path of box types (FullBoxes' version/flags included)."""
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        span = _child(data, *span, kind) if span else None
    return span


@dataclass(frozen=True)
class Facts:
    width: int           # of the primary image, before rotation and mirroring
    height: int
    depth: int           # bits per channel
    channels: int        # 1 monochrome, 3 colour, 4 colour with an alpha plane
    orientation: int     # irot and imir as an EXIF orientation (1..8)
    colr: tuple[tuple[bytes, bytes], ...]  # (colour type, payload): `prof`/`rICC` hold ICC, `nclx` CICP
    durations: tuple[int, ...] = ()  # ms per frame of an image sequence; () for a still image
    frame_size: tuple[int, int] = (0, 0)  # a sequence's largest frame size (track header, sample entry)


# irot (anticlockwise quarter turns), then imir (axis 0: top and bottom exchanged, 1: left and right;
# ISO/IEC 23008-12:2022 6.5.12, where EXIF 4 is axis 0 and EXIF 2 axis 1) -> the EXIF orientation
_ORIENTATION = {(0, None): 1, (0, 1): 2, (0, 0): 4, (1, None): 8, (1, 1): 7, (1, 0): 5,
                (2, None): 3, (2, 1): 4, (2, 0): 2, (3, None): 6, (3, 1): 5, (3, 0): 7}


def facts(data: bytes) -> Facts:
    view = memoryview(data)
    top = list(boxes(view, 0, len(view), cut=True))
    meta = next(((s, e) for k, s, e in top if k == b"meta"), None)
    width = height = 0
    depth, channels, turns, mirror, colr = 8, 3, 0, None, []
    if meta is not None:
        for kind, payload in _primary_properties(view, meta[0] + 4, meta[1]):
            if kind == b"ispe":
                width, height = struct.unpack_from(">II", payload, 4)
            elif kind == b"pixi":
                if payload[4] == 0:
                    raise ValueError("pixi lists no channels")
                depth, channels = payload[5], 1 if payload[4] == 1 else 3
            elif kind == b"irot":
                turns = payload[0] & 3
            elif kind == b"imir":
                mirror = payload[0] & 1
            elif kind == b"colr":
                colr.append((bytes(payload[:4]), bytes(payload[4:])))
        auxiliary = bytes(view[meta[0]:meta[1]])  # an alpha plane is an auxiliary item of this type
        if b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha" in auxiliary or b"urn:mpeg:hevc:2015:auxid:1" in auxiliary:
            channels = 4 if channels == 3 else 2
    durations, frame_size = _sequence(view, top)
    if not width:
        width, height = frame_size
    if depth not in (8, 10, 12, 16):
        raise ValueError(f"{depth}-bit samples")
    return Facts(width, height, depth, channels, _ORIENTATION[turns, mirror], tuple(colr), durations, frame_size)


def _primary_properties(data, start: int, end: int) -> list[tuple[bytes, memoryview]]:
    """(type, payload) of the properties associated with the primary item, in association order."""
    primary, properties, associations = None, [], {}
    for kind, s, e in boxes(data, start, end):
        if kind == b"pitm":
            primary = struct.unpack_from(">H" if data[s] == 0 else ">I", data, s + 4)[0]
        elif kind == b"iprp":
            for kind2, s2, e2 in boxes(data, s, e):
                if kind2 == b"ipco":
                    properties = list(boxes(data, s2, e2))
                elif kind2 == b"ipma":
                    associations = _associations(data, s2, e2)
    chosen = associations.get(primary, range(1, len(properties) + 1))
    return [(properties[i - 1][0], data[properties[i - 1][1]:properties[i - 1][2]])
            for i in chosen if 0 < i <= len(properties)]


def _associations(data, start: int, end: int) -> dict[int, list[int]]:
    version, flags = data[start], int.from_bytes(data[start + 1:start + 4], "big")
    count = struct.unpack_from(">I", data, start + 4)[0]
    at, found = start + 8, {}
    for _ in range(min(count, MAX_BOXES)):
        item = struct.unpack_from(">H" if version < 1 else ">I", data, at)[0]
        at += 2 if version < 1 else 4
        n, at = data[at], at + 1
        if flags & 1:
            found[item] = [v & 0x7FFF for v in struct.unpack_from(f">{n}H", data, at)]
            at += 2 * n
        else:
            found[item] = [v & 0x7F for v in data[at:at + n]]
            at += n
        if at > end:
            raise ValueError("ipma runs past its box")
    return found


def _sequence(data, top: list[tuple[bytes, int, int]]) -> tuple[tuple[int, ...], tuple[int, int]]:
    """(ms per frame, largest frame size) of the first picture track of an image sequence: the frame size
    is the larger of the track header's and the sample entry's (the coded size). ((), (0, 0)) for a still."""
    moov = next(((s, e) for k, s, e in top if k == b"moov"), None)
    if moov is None:
        return (), (0, 0)
    for kind, s, e in boxes(data, *moov):
        if kind != b"trak":
            continue
        handler = _path(data, s, e, b"mdia", b"hdlr")
        if handler is None or bytes(data[handler[0] + 8:handler[0] + 12]) != b"pict":
            continue
        width = height = 0
        header = _child(data, s, e, b"tkhd")
        if header is not None:
            at = header[0] + (88 if data[header[0]] == 1 else 76)  # after version, flags, times and matrix
            width, height = (v >> 16 for v in struct.unpack_from(">II", data, at))
        entries = _path(data, s, e, b"mdia", b"minf", b"stbl", b"stsd")
        if entries is not None:  # a FullBox with an entry count, then sample entries (av01, hvc1, ...)
            for _, entry, _ in boxes(data, entries[0] + 8, entries[1]):
                coded = struct.unpack_from(">HH", data, entry + 24)  # after the visual sample entry's reserved fields
                width, height = max(width, coded[0]), max(height, coded[1])
        media = _path(data, s, e, b"mdia", b"mdhd")
        times = _path(data, s, e, b"mdia", b"minf", b"stbl", b"stts")
        if media is None or times is None:
            raise ValueError("a picture track without its media header or sample times")
        scale = struct.unpack_from(">I", data, media[0] + (20 if data[media[0]] == 1 else 12))[0] or 1000
        durations: list[int] = []
        count = struct.unpack_from(">I", data, times[0] + 4)[0]
        for i in range(min(count, (times[1] - times[0] - 8) // 8)):
            samples, delta = struct.unpack_from(">II", data, times[0] + 8 + 8 * i)
            durations += [round(delta * 1000 / scale)] * min(samples, MAX_FRAMES - len(durations))
        return tuple(durations), (width, height)
    return (), (0, 0)
