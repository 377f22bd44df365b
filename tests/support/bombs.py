"""The decoder bombs of issue #19, made byte by byte: small files that cost a decoder time or memory.

Used by the tests (at the sizes of the issue: they are refused before any decoder runs, so they
cost nothing) and by bench/attacks.py (which also times them against the unchanged code).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

from imgserve.imaging import dc_scans


def _pil(image: Image.Image, format: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **kwargs)
    return out.getvalue()


def jpeg_scans(side: int = 8192, scans: int = 4000) -> bytes:
    """A progressive gray JPEG of side x side followed by `scans` AC scans that are all end-of-band:
    about 90 bytes each, and each a pass over every block (row B4: 627 KB, 20 s of libjpeg at 8192)."""
    base = _pil(Image.new("L", (side, side), 128), "JPEG", progressive=True, quality=50)
    blocks = (-(-side // 8)) ** 2
    scan = b"\xff\xda\x00\x08\x01" + bytes([1, 0x00, 1, 63, 0x00]) + dc_scans._empty_scan(blocks, 0)
    body = base[:-2] + dc_scans._dht(0, dc_scans._EOB_TABLE) + scan * scans
    return body + b"\xff\xd9"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_ztxt(chunks: int = 300, inflated: int = 7_000_000) -> bytes:
    """A 64x64 PNG carrying `chunks` zTXt chunks of `inflated` zero bytes each, compressed (row B4:
    300 of 7 MB, about 2 MB of file, 8.5 s of libpng)."""
    png = _pil(Image.new("RGB", (64, 64), (10, 200, 30)), "PNG")
    text = _chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"\0" * inflated, 9))
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + text * chunks + png[iend:]


def tiff_huge_tile(width: int = 16, height: int = 16, tile: tuple[int, int] = (16384, 16368)) -> bytes:
    """A tiny RGB TIFF declaring one enormous tile (row B2: libtiff allocates the tile, +1 GB a request)."""
    data = zlib.compress(bytes(64 * 1024))
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 8), (262, 3, 1, 2),
               (277, 3, 1, 3), (284, 3, 1, 1), (322, 4, 1, tile[0]), (323, 4, 1, tile[1]),
               (324, 4, 1, 0), (325, 4, 1, len(data))]
    ifd = struct.pack("<H", len(entries))
    data_at = 8 + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in entries:
        value = data_at if tag == 324 else value
        ifd += struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else
                                                         struct.pack("<I", value))
    return b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + data


def png_alpha(side: int = 5000) -> bytes:
    """An RGBA PNG of side x side, half transparent, that compresses to little (row B3: 112 KB at 5000)."""
    image = np.zeros((side, side, 4), np.uint8)
    image[:, :, 2] = 255
    image[:, : side // 2, 3] = 255
    image[:, side // 2:, 3] = 100
    return _pil(Image.fromarray(image, "RGBA"), "PNG", optimize=False, compress_level=9)


def tiff_palette(width: int = 6000, height: int = 6000) -> bytes:
    """A palette TIFF in one strip (row B2's second part: estimated 191 MiB, used 575)."""
    image = Image.fromarray((np.arange(width * height) % 251).astype(np.uint8).reshape(height, width), "L")
    return _pil(image.convert("P"), "TIFF", compression="tiff_deflate", strip_size=1 << 40)
