"""Writes BMP files of every kind real archives hold, byte by byte, for tests.

`write(kind)` returns the file's bytes; the expected pixels come from a reference decoder (Pillow)
in the tests, not from this writer, so a mistake here cannot hide a mistake in the decoder.
Kinds are named `<header>-<bits>[-<variant>]`: headers core (OS/2 1.x, 12 bytes), os2 (OS/2 2.x,
64 bytes), info (40), v3 (56), v4 (108), v5 (124).
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import BmpImagePlugin, Image

HEADER_SIZE = {"core": 12, "os2": 64, "info": 40, "v3": 56, "v4": 108, "v5": 124}
KINDS = (
    "info-1", "info-4", "info-8", "info-8-topdown", "info-8-short-palette", "info-4-rle", "info-8-rle",
    "info-16", "info-16-565", "info-24", "info-24-topdown", "info-32", "info-32-bgra", "info-32-bitfields",
    "v3-32-alpha", "v4-16-565", "v4-24", "v4-32-alpha",
    "v5-8", "v5-24", "v5-32-alpha", "v5-32-alpha-topdown", "v5-8-rle",
    "core-1", "core-4", "core-8", "core-24", "os2-8", "os2-24", "os2-8-rle",
)
# Palettes of grays: `ramp` is the n-bit ramp (0/255 for 1 bit, i * 17 for 4, i for 8), `grays` random grays.
GRAY_KINDS = ("info-1-ramp", "info-4-ramp", "info-8-ramp", "info-8-grays", "info-4-rle-ramp", "info-8-rle-grays",
              "core-1-ramp")


def _pad4(row: bytes) -> bytes:
    return row + b"\0" * (-len(row) % 4)


def _pack(indices: np.ndarray, bits: int) -> np.ndarray:
    per = 8 // bits
    h, w = indices.shape
    padded = np.pad(indices, ((0, 0), (0, -w % per))).reshape(h, -1, per).astype(np.uint8)
    out = np.zeros(padded.shape[:2], np.uint8)
    for k in range(per):
        out |= padded[:, :, k] << (8 - bits * (k + 1))
    return out


def rle8(indices: np.ndarray) -> bytes:
    """Encoded runs for repeats, absolute runs (padded to 16 bits) for varied stretches."""
    out = bytearray()
    for row in indices:
        x, w = 0, len(row)
        while x < w:
            run = 1
            while x + run < w and run < 255 and row[x + run] == row[x]:
                run += 1
            if run >= 2 or w - x < 3:
                out += bytes([run, row[x]])
                x += run
                continue
            n = 3
            while x + n < w and n < 255 and row[x + n] != row[x + n - 1]:
                n += 1
            out += bytes([0, n]) + bytes(row[x:x + n].tolist()) + (b"\0" if n % 2 else b"")
            x += n
        out += b"\0\0"  # end of line
    return bytes(out[:-2]) + b"\0\1"  # end of bitmap


def _alternating(row: np.ndarray, x: int) -> int:
    """How many pixels from x repeat the pair row[x], row[x + 1] (a, b, a, b, ...), at most 255."""
    pair, run = row[x:x + 2], 1
    while x + run < len(row) and run < 255 and row[x + run] == pair[run % 2]:
        run += 1
    return run


def rle4(indices: np.ndarray) -> bytes:
    """All three kinds of RLE4 code: encoded runs of one colour, encoded runs of two alternating colours
    (the byte's high nibble, then its low one, and again), and absolute runs (nibbles packed two to a
    byte, the run padded to 16 bits) for stretches with no pattern."""
    out = bytearray()
    for row in indices:
        x, w = 0, len(row)
        while x < w:
            run = _alternating(row, x)
            if run >= 4 or w - x < 3:
                second = row[x + 1] if run > 1 else row[x]
                out += bytes([run, (row[x] << 4) | second])
                x += run
                continue
            n = 3
            while x + n < w and n < 255 and _alternating(row, x + n) < 4:
                n += 1
            packed = _pack(row[None, x:x + n], 4)[0].tobytes()
            out += bytes([0, n]) + packed + (b"\0" if len(packed) % 2 else b"")
            x += n
        out += b"\0\0"
    return bytes(out[:-2]) + b"\0\1"


def write(kind: str, width: int = 13, height: int = 7, seed: int = 0) -> bytes:
    parts = kind.split("-")
    header, bits, variants = HEADER_SIZE[parts[0]], int(parts[1]), set(parts[2:])
    rng = np.random.default_rng(seed)
    top_down = "topdown" in variants
    compression, masks, palette = 0, None, None

    if bits <= 8:
        colors = 1 << bits
        used = colors // 2 + 1 if "short" in variants else colors
        palette = rng.integers(0, 256, size=(used, 3), dtype=np.uint8)
        if "ramp" in variants:
            palette = np.repeat((np.arange(used) * 255 // (used - 1)).astype(np.uint8)[:, None], 3, 1)
        elif "grays" in variants:
            palette = np.repeat(palette[:, :1], 3, 1)
        indices = rng.integers(0, used, size=(height, width), dtype=np.uint8)
        if "rle" in variants:  # give the encoder runs to find: one colour, then two alternating (dither)
            third = width // 3
            if third:
                pair = indices[:, 1:3].copy()
                indices[:, :third] = indices[:, :1]
                indices[:, third:2 * third] = pair[:, np.arange(third) % 2]
            compression = 1 if bits == 8 else 2
            body = (rle8 if bits == 8 else rle4)(indices[::-1])
        elif bits == 8:
            rows = indices if top_down else indices[::-1]
            body = b"".join(_pad4(r.tobytes()) for r in rows)
        else:
            packed = _pack(indices, bits)
            rows = packed if top_down else packed[::-1]
            body = b"".join(_pad4(r.tobytes()) for r in rows)
    elif bits == 16:
        if "565" in variants:
            compression, masks = 3, (0xF800, 0x07E0, 0x001F, 0)
        values = rng.integers(0, 1 << 16, size=(height, width), dtype=np.uint16)
        if "565" not in variants:
            values &= 0x7FFF
        rows = values if top_down else values[::-1]
        body = b"".join(_pad4(r.astype("<u2").tobytes()) for r in rows)
    elif bits == 24:
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        rows = pixels if top_down else pixels[::-1]
        body = b"".join(_pad4(r.tobytes()) for r in rows)
    else:  # 32
        pixels = rng.integers(0, 256, size=(height, width, 4), dtype=np.uint8)
        if not variants & {"alpha", "bgra", "1010102"}:
            pixels[:, :, 3] = 0  # BI_RGB as most writers leave it: the fourth byte unused
        if "1010102" in variants:  # ten bits a colour, two of alpha: not in KINDS, Pillow does not read it
            compression, masks = 3, (0x3FF00000, 0x000FFC00, 0x000003FF, 0xC0000000)
        elif "alpha" in variants:
            compression, masks = 3, (0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000)
        elif "bitfields" in variants:
            compression, masks = 3, (0x00FF0000, 0x0000FF00, 0x000000FF, 0)
        rows = pixels if top_down else pixels[::-1]
        body = b"".join(r.tobytes() for r in rows)

    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bits)
        table = palette.tobytes() if palette is not None else b""
    else:
        info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1, bits, compression,
                           len(body), 2835, 2835, 0 if palette is None else len(palette), 0)
        if header == 64:
            info += b"\0" * 24
        elif header == 56:  # BITMAPV3INFOHEADER: the four masks, alpha's included, and nothing else
            info += struct.pack("<4I", *(masks or (0, 0, 0, 0)))
        elif header >= 108:
            info += struct.pack("<4I", *(masks or (0, 0, 0, 0))) + b"BGRs" + b"\0" * 48
            if header == 124:
                info += struct.pack("<4I", 4, 0, 0, 0)
        elif masks:  # 40-byte header: three masks follow it
            info += struct.pack("<3I", *masks[:3])
        table = b"" if palette is None else np.hstack([palette, np.zeros((len(palette), 1), np.uint8)]).tobytes()
    offset = 14 + len(info) + len(table)
    return struct.pack("<2sIHHI", b"BM", offset + len(body), 0, 0, offset) + info + table + body


def reference(data: bytes) -> np.ndarray:
    """Pillow's pixels; for 32-bit BI_RGB whose fourth bytes are not all zero, Pillow's raw-alpha reading
    (BmpImagePlugin.USE_RAW_ALPHA), which is the rule imgserve follows (docs/colour-and-formats.md)."""
    offset, header = struct.unpack_from("<II", data, 10)
    bits, compression = struct.unpack_from("<HI", data, 28) if header >= 40 else (0, 0)
    raw_alpha = bits == 32 and compression == 0 and any(data[offset + 3::4])
    previous, BmpImagePlugin.USE_RAW_ALPHA = BmpImagePlugin.USE_RAW_ALPHA, raw_alpha
    try:
        image = Image.open(io.BytesIO(data))
        rgb = np.asarray(image.convert("RGBA" if image.mode == "RGBA" else "RGB"))
    finally:
        BmpImagePlugin.USE_RAW_ALPHA = previous
    return rgb[:, :, [2, 1, 0, 3][: rgb.shape[2]]]  # to BGR(A)
