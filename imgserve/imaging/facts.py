"""Facts about an original (`GET /info/<id>`, `imgserve info FILE`), read from its header, not its pixels.

The first 64 KiB hold the header of nearly every image; a JPEG with large metadata segments before
its frame header, or a TIFF whose directory sits at the end, is then read whole (up to the source
byte limit) and probed again. Nothing is decoded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from .. import formats
from ..errors import Problem
from .probe import Header, probe

HEAD_BYTES = 64 * 1024


class Readable(Protocol):
    def head(self, count: int) -> bytes: ...
    def read(self, limit: int) -> bytes: ...


def read_header(original: Readable, limit: int) -> Header:
    head = original.head(HEAD_BYTES)
    try:
        return probe(head)
    except Problem:
        if len(head) < HEAD_BYTES:  # that was the whole file: it really is damaged, or not an image
            raise
    return probe(original.read(limit))


def facts(header: Header, size: int, modified: float) -> dict[str, Any]:
    """Width and height as stored, and as displayed (after EXIF orientation); bit depth per channel."""
    display_width, display_height = header.display_size
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
        "bytes": size,
        "modified": datetime.fromtimestamp(modified, UTC).isoformat(timespec="seconds"),
    }
