"""Facts about an original (`GET /info/<id>`, `imgserve info FILE`), read from its headers, not its pixels.

The first 64 KiB hold the header of nearly every image, and for most also the colour profile and
whatever says the image is animated. The whole original is read (up to the source byte limit) only
where that is not so: the frame header of a JPEG with large metadata segments, a TIFF whose directory
or profile sits at the end, the frames of an animation (GIF, animated WebP and PNG, AVIF sequences).
Nothing is decoded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from .. import formats
from ..errors import Problem
from . import animation, colour, icc, isobmff
from .probe import Header, probe

HEAD_BYTES = 64 * 1024


class Readable(Protocol):
    def head(self, count: int) -> bytes: ...
    def read(self, limit: int) -> bytes: ...


def read_header(original: Readable, limit: int) -> tuple[Header, bytes]:
    """The header, and the bytes that hold every fact `facts` reports: the head, or the whole original."""
    head = original.head(HEAD_BYTES)
    try:
        header = probe(head)
    except Problem:
        if len(head) < HEAD_BYTES:  # that was the whole file: it really is damaged, or not an image
            raise
        data = original.read(limit)
        return probe(data), data
    if len(head) < HEAD_BYTES or _head_suffices(head, header.format):
        return header, head
    return header, original.read(limit)


def _head_suffices(head: bytes, format: str) -> bool:
    """Whether the profile and the animation facts of this format can only lie within `head`."""
    try:
        if format == "jpeg":  # every APP segment (the ICC chunks) comes before the first scan
            return any(marker == 0xDA for marker, _ in icc.jpeg_segments(memoryview(head)))
        if format == "png":  # colour chunks before IDAT; an APNG's frame timing is spread through the file
            return b"IDAT" in head and b"acTL" not in head.split(b"IDAT", 1)[0]
        if format == "webp":  # an animation's frames are spread through the file
            return animation.timeline(head, "webp") == animation.STILL and not head[20] & 0x02
        if format in ("avif", "heif"):  # a sequence's timing is in `moov`, which may follow the data
            return isobmff.facts(head).durations == () and b"moov" not in head
    except (ValueError, IndexError):
        return False
    return False  # GIF (frames spread), TIFF (directory anywhere), BMP (V5 profile after the pixels)


def facts(header: Header, data: bytes, size: int, modified: float) -> dict[str, Any]:
    """Width and height as stored, and as displayed (after EXIF orientation); bit depth per channel; the
    colour profile (null: none, shown as sRGB); the animation (null: a still image)."""
    display_width, display_height = header.display_size
    found = icc.profile(data, header.format)
    timeline = animation.timeline(data, header.format)
    return {
        "format": header.format,
        "mime_type": formats.FORMATS[header.format].mime,
        "width": header.width,
        "height": header.height,
        "display_width": display_width,
        "display_height": display_height,
        "orientation": header.orientation,
        "channels": header.channels,
        "bit_depth": header.bit_depth,
        "profile": None if found is None else {
            "description": found.description,
            "colour_space": found.space,
            "version": found.version,
            "srgb": colour.is_srgb(found) if found.space in ("RGB", "GRAY") else False,
            "from": "icc" if icc.embedded(data, header.format) else "cicp",
        },
        "animation": None if timeline.frames < 2 else {
            "frames": timeline.frames,
            "duration_ms": timeline.duration_ms,
            "loops": timeline.loops,
        },
        "bytes": size,
        "modified": datetime.fromtimestamp(modified, UTC).isoformat(timespec="seconds"),
    }
