"""The format registry: one row per image format, read by everything that needs a fact about formats.

A format's name is how URLs, /info and the CLI spell it; aliases are other spellings that mean it.
Sniffing decides a source's format from its first bytes, never from a file name or a Content-Type.
`encoder` turns the request's options into OpenCV's encoder parameters for that format. Adding a
format is one `Format(...)` row here, plus a header reader in imaging/probe.py when it decodes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class Format:
    name: str
    label: str                         # as a person writes it, for messages
    mime: str
    extensions: tuple[str, ...]        # lower case, with the dot; the first is what `convert` writes
    magic: Callable[[bytes], bool]     # whether the first 32 bytes of a file are this format
    aliases: tuple[str, ...] = ()
    encodes: bool = True               # may be an output format
    alpha: bool = False                # the encoder keeps an alpha channel
    depths: tuple[type, ...] = (np.uint8,)  # sample types the encoder takes, deepest last
    web: bool = False                  # browsers show it: a source in it is served in it by default
    encoder: Callable[[Any], list[int]] = field(default=lambda options: [])  # options -> cv2.imencode params

    @property
    def extension(self) -> str:
        return self.extensions[0]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("jpeg", "JPEG", "image/jpeg", (".jpg", ".jpeg"), lambda head: head.startswith(b"\xff\xd8\xff"),
           aliases=("jpg",), web=True, encoder=lambda o: [cv2.IMWRITE_JPEG_QUALITY, o.q]),
    Format("png", "PNG", "image/png", (".png",), lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
           alpha=True, depths=(np.uint8, np.uint16), web=True),  # written by imaging/png_writer.py
    Format("webp", "WebP", "image/webp", (".webp",), lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
           alpha=True, web=True, encoder=lambda o: [cv2.IMWRITE_WEBP_QUALITY, o.q]),
    Format("bmp", "BMP", "image/bmp", (".bmp",), lambda head: head.startswith(b"BM")),
    Format("tiff", "TIFF", "image/tiff", (".tif", ".tiff"),
           lambda head: head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), aliases=("tif",),
           alpha=True, depths=(np.uint8, np.uint16, np.float32)),
    Format("gif", "GIF", "image/gif", (".gif",), lambda head: head[:6] in (b"GIF87a", b"GIF89a"), encodes=False),
)}
DEFAULT_OUTPUT = "png"  # for sources browsers do not show: lossless, alpha and 16 bits kept


def named(name: str) -> Format | None:
    """The format a name or alias means (`jpg` -> jpeg), or None."""
    return FORMATS.get(name) or next((f for f in FORMATS.values() if name in f.aliases), None)


def outputs() -> Iterator[Format]:
    return (f for f in FORMATS.values() if f.encodes)


def sniff(data: bytes) -> str | None:
    """The format of encoded bytes, from their first bytes; None when it is none of ours."""
    head = bytes(data[:32])
    return next((f.name for f in FORMATS.values() if f.magic(head)), None)


def default_output(source: str) -> str:
    """What a source in `source` format is served as when the request names no format."""
    found = FORMATS.get(source)
    return source if found and found.web and found.encodes else DEFAULT_OUTPUT


def extensions() -> tuple[str, ...]:
    """Every extension an original may have, in registry order (tried in it for ids without one)."""
    return tuple(ext for f in FORMATS.values() for ext in f.extensions)


def listed(names: Iterator[str] | None = None) -> str:
    """`JPEG, PNG, WebP, BMP, TIFF or GIF`: formats as a person reads them, for messages."""
    labels = [FORMATS[n].label for n in (names or FORMATS)]
    return ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else "".join(labels)
