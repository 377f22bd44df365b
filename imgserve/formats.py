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

# For animated PNG, which OpenCV writes; a still PNG is written by imaging/png_writer.py. zlib's
# run-length strategy at level 1 (OpenCV's own default, said explicitly): 1024 px photos came out
# smaller than at level 3 (814 vs 822 KB) in a third of the time (16 vs 47 ms); level 6, 784 KB in
# 121 ms. Naming a compression level switches OpenCV to the default strategy, so none is named.
PNG_PARAMS = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
# libaom's speed for AVIF (0 slowest .. 10; OpenCV uses 10 when none is named). At 300 px, against
# sharp's default (effort 4) at equal SSIM: speed 8 spends 0.05x its CPU for 1.14-1.18x its bytes;
# 6 matches its bytes for 0.15x, 9 costs 1.24-1.30x the bytes (docs/performance.md, "Colour and formats").
AVIF_SPEED = 8
# `q` is on JPEG's scale for every format. AVIF reaches JPEG's SSIM at a lower quality number, so
# (JPEG q, AVIF quality) points of equal median SSIM on the bench photos at 300 px, speed 8, are
# joined linearly; the top stays short of 100, which is lossless in libavif.
AVIF_QUALITY = ((1, 1), (50, 43), (60, 48), (70, 54), (80, 65), (90, 79), (95, 88), (100, 97))


def avif_quality(q: int) -> int:
    return round(float(np.interp(q, *zip(*AVIF_QUALITY))))


def _ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO BMFF file's leading `ftyp` box, as far as `head` holds them."""
    if head[4:8] != b"ftyp" or len(head) < 12:
        return set()
    size = int.from_bytes(head[:4], "big")
    return {head[8:12]} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}


AVIF_BRANDS = {b"avif", b"avis"}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


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
    animates: bool = False             # the encoder writes animations (PNG as APNG)
    icc: bool = False                  # the encoder can embed an ICC profile (icc=keep)
    lossless: str = "always"           # always, "option" (lossless=1 switches it) or "never"
    encoder: Callable[[Any], list[int]] = field(default=lambda options: [])  # options -> cv2.imencode params

    @property
    def extension(self) -> str:
        return self.extensions[0]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("jpeg", "JPEG", "image/jpeg", (".jpg", ".jpeg"), lambda head: head.startswith(b"\xff\xd8\xff"),
           aliases=("jpg",), web=True, icc=True, lossless="never"),  # written by imaging/jpeg_writer.py
    Format("png", "PNG", "image/png", (".png",), lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
           alpha=True, depths=(np.uint8, np.uint16), web=True, animates=True, icc=True, encoder=lambda o: PNG_PARAMS),
    Format("webp", "WebP", "image/webp", (".webp",), lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
           alpha=True, web=True, animates=True, icc=True, lossless="option",
           encoder=lambda o: [cv2.IMWRITE_WEBP_QUALITY, 101 if o.lossless else o.q]),  # above 100: lossless
    Format("avif", "AVIF", "image/avif", (".avif",), lambda head: bool(_ftyp_brands(head) & AVIF_BRANDS),
           alpha=True, web=True, animates=True, icc=True, lossless="option",
           encoder=lambda o: [cv2.IMWRITE_AVIF_QUALITY, 100 if o.lossless else avif_quality(o.q),
                              cv2.IMWRITE_AVIF_SPEED, AVIF_SPEED]),  # quality 100: lossless
    Format("bmp", "BMP", "image/bmp", (".bmp",), lambda head: head.startswith(b"BM")),
    Format("tiff", "TIFF", "image/tiff", (".tif", ".tiff"),
           lambda head: head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), aliases=("tif",),
           alpha=True, depths=(np.uint8, np.uint16, np.float32), icc=True),
    Format("gif", "GIF", "image/gif", (".gif",), lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
           alpha=True, web=True, animates=True, lossless="never"),
    Format("heif", "HEIF", "image/heif", (".heic", ".heif"),
           lambda head: not _ftyp_brands(head) & AVIF_BRANDS and bool(_ftyp_brands(head) & HEIF_BRANDS),
           aliases=("heic",), encodes=False),
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
