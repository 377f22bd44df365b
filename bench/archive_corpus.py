"""A legacy archive in miniature: one BMP of every kind imgserve reads, made from real images.

    .venv/bin/python bench/archive_corpus.py      # writes bench/.cache/archive/<kind>.bmp, prints them

Photos and graphics come from Debian's MATE and Plasma wallpaper packages (bench/photos.py fetches
them into bench/.cache, never committed); A4 300 dpi text pages are drawn with Pillow and DejaVu
Serif (Debian's fonts-dejavu-core). The kinds: 1-bit dithered photo, 4-bit palette photo and
graphic (and its RLE4), 8-bit palette photo and graphic (and their RLE8), 8-bit gray photo (a
palette of grays), 16-bit 555 and 565, 24-bit photos (2560 and 5640 px) and graphic, 32-bit BGRA
with alpha (few and many colours), and text scans: 1-bit, 8-bit gray as scanned, 8-bit gray as
cleaned up. Each file is checked: Pillow and imgserve decode the same pixels from it.
"""

from __future__ import annotations

import io
import random
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from bench.photos import CACHE, unpacked  # noqa: E402

OUT = CACHE / "archive"
FONTS = Path("/usr/share/fonts/truetype/dejavu")


# -- a BMP writer for every kind (rows bottom-up, as most files have them) -----------------------------

def _rows(rows: np.ndarray) -> bytes:
    h, n = rows.shape
    out = np.zeros((h, -(-n // 4) * 4), np.uint8)
    out[:, :n] = rows
    return out[::-1].tobytes()


def _runs(row: list[int], longest: int):
    """(value, count) runs of a row, each at most `longest` long."""
    start = 0
    while start < len(row):
        end = start + 1
        while end < len(row) and end - start < longest and row[end] == row[start]:
            end += 1
        yield row[start], end - start
        start = end


def _absolute(out: bytearray, values: list[int], bits: int) -> None:
    """Absolute runs for `values` (single pixels as runs of 1 when fewer than 3), padded to 16 bits."""
    for start in range(0, len(values), 254):
        part = values[start:start + 254]
        if len(part) < 3:
            for value in part:
                out.extend((1, value if bits == 8 else value << 4))
            continue
        out.extend((0, len(part)))
        if bits == 8:
            data = bytes(part)
        else:
            padded = part + [0] * (len(part) & 1)
            data = bytes(padded[k] << 4 | padded[k + 1] for k in range(0, len(padded), 2))
        out.extend(data + b"\0" * (len(data) & 1))


def _rle(indices: np.ndarray, bits: int) -> bytes:
    """RLE8/RLE4: encoded runs for repeats (3+ for 8 bits, 4+ for 4), absolute runs between them."""
    out = bytearray()
    least = 3 if bits == 8 else 4
    for row in indices[::-1].tolist():
        literal: list[int] = []
        for value, count in _runs(row, 255):
            if count >= least:
                _absolute(out, literal, bits)
                literal = []
                out.extend((count, value if bits == 8 else value << 4 | value))
            else:
                literal.extend([value] * count)
        _absolute(out, literal, bits)
        out.extend((0, 0))
    out[-2:] = b"\0\1"  # the last end of line becomes the end of the bitmap
    return bytes(out)


def write_bmp(pixels: np.ndarray, bits: int, palette: np.ndarray | None = None, rle: bool = False,
              masks: str | None = None) -> bytes:
    """`pixels`: indices (h, w) for 1/4/8 bits with an RGB `palette`; RGB (h, w, 3) for 16/24 bits
    (16: 5-5-5, or masks='565' as BI_BITFIELDS); RGBA (h, w, 4) for 32 bits (V4 header, alpha mask)."""
    h, w = pixels.shape[:2]
    compression, extra, header, colors = 0, b"", 40, 0
    if bits <= 8:
        table = np.zeros((len(palette), 4), np.uint8)
        table[:, :3] = palette[:, ::-1]
        extra, colors = table.tobytes(), len(palette)
        if rle:
            compression, data = (1 if bits == 8 else 2), _rle(pixels, bits)
        elif bits == 8:
            data = _rows(pixels)
        elif bits == 4:
            padded = np.pad(pixels, ((0, 0), (0, w & 1)))
            data = _rows(padded[:, 0::2] << 4 | padded[:, 1::2])
        else:
            data = _rows(np.packbits(pixels.astype(bool), axis=1))
    elif bits == 16:
        r, g, b = (pixels[:, :, k].astype(np.uint16) for k in range(3))
        if masks == "565":
            value, compression = (r >> 3) << 11 | (g >> 2) << 5 | b >> 3, 3
            extra = struct.pack("<3I", 0xF800, 0x07E0, 0x001F)
        else:
            value = (r >> 3) << 10 | (g >> 3) << 5 | b >> 3
        data = _rows(value.astype("<u2").view(np.uint8).reshape(h, w * 2))
    elif bits == 24:
        data = _rows(np.ascontiguousarray(pixels[:, :, ::-1]).reshape(h, w * 3))
    else:
        header, compression = 108, 3
        data = _rows(np.ascontiguousarray(pixels[:, :, [2, 1, 0, 3]]).reshape(h, w * 4))
    info = struct.pack("<IiiHHIIiiII", header, w, h, 1, bits, compression, len(data), 11811, 11811, colors, 0)
    if header == 108:
        info += struct.pack("<4I", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"BGRs" + b"\0" * 48
    offset = 14 + len(info) + len(extra)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + extra + data


# -- the images -----------------------------------------------------------------------------------------

def _open(path: Path, mode: str = "RGB") -> Image.Image:
    return Image.open(path).convert(mode)


def _flatten(image: Image.Image, bg: tuple[int, int, int]) -> Image.Image:
    base = Image.new("RGB", image.size, bg)
    base.paste(image, mask=image.getchannel("A"))
    return base


def _palette(image: Image.Image, n: int) -> np.ndarray:
    flat = np.array(image.getpalette()[: 3 * n], np.uint8).reshape(-1, 3)
    return np.vstack([flat, np.zeros((n - len(flat), 3), np.uint8)])


WORDS = ("the of and to in is that for it as was with be by on not this are or from at which have an they "
         "were there been one all their has would when if so no will more can other about image service legacy "
         "archive bitmap palette conversion compression report invoice account customer delivery reference "
         "section paragraph appendix figure table").split()


def text_page(seed: int = 1) -> Image.Image:
    """An A4 page at 300 dpi (2480x3508) of 11 pt serif text, anti-aliased, black on white."""
    rnd = random.Random(seed)
    page = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(page)
    body = ImageFont.truetype(str(FONTS / "DejaVuSerif.ttf"), 46)
    draw.text((300, 300), "Quarterly report: legacy archive conversion",
              font=ImageFont.truetype(str(FONTS / "DejaVuSerif-Bold.ttf"), 70), fill=0)
    y = 480
    while y < 3508 - 300:
        y += 55 if rnd.random() < 0.08 else 0  # a paragraph break
        line = ""
        while draw.textlength(trial := (line + " " + rnd.choice(WORDS)).strip(), font=body) <= 1880:
            line = trial
        draw.text((300, y), line, font=body, fill=0)
        y += 56
    return page


def scanned(page: Image.Image, seed: int = 2) -> np.ndarray:
    """The page as a gray scanner sees it: a little blur, off-white paper with noise."""
    rng = np.random.default_rng(seed)
    ink = np.asarray(page.filter(ImageFilter.GaussianBlur(0.8)), np.float32) / 255
    paper = 238 + rng.normal(0, 2.5, ink.shape)
    return np.clip(np.round(30 + (paper - 30) * ink), 0, 255).astype(np.uint8)


def build() -> dict[str, bytes]:
    mate = unpacked("mate-backgrounds") / "usr/share/backgrounds/mate"
    two_wings, dune = _open(mate / "nature/TwoWings.jpg"), _open(mate / "nature/Dune.jpg")
    garden, storm = _open(mate / "nature/Garden.jpg"), _open(mate / "nature/Storm.jpg")
    elephants = _open(mate / "abstract/Elephants_5640x3172.jpg")
    arc = _open(mate / "abstract/Arc-Colors-Transparent-Wallpaper.png", "RGBA")
    gulp = _open(mate / "abstract/Gulp.png", "RGBA")
    waves = _flatten(_open(mate / "abstract/Waves.png", "RGBA"), (25, 80, 110))
    arc_flat = _flatten(arc, (40, 44, 52))  # drawn for a desktop colour under it
    grays = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)
    black_white = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    q16 = garden.quantize(16, dither=Image.Dither.FLOYDSTEINBERG)
    w16 = waves.quantize(16, dither=Image.Dither.NONE)
    q256 = dune.quantize(256, dither=Image.Dither.FLOYDSTEINBERG)
    g256 = arc_flat.quantize(256, dither=Image.Dither.NONE)
    page = text_page()
    files = {
        "bw1_dither": write_bmp(np.asarray(two_wings.convert("1"), np.uint8), 1, black_white),
        "pal4_photo": write_bmp(np.asarray(q16), 4, _palette(q16, 16)),
        "pal4_graphic": write_bmp(np.asarray(w16), 4, _palette(w16, 16)),
        "rle4_graphic": write_bmp(np.asarray(w16), 4, _palette(w16, 16), rle=True),
        "pal8_photo": write_bmp(np.asarray(q256), 8, _palette(q256, 256)),
        "rle8_photo": write_bmp(np.asarray(q256), 8, _palette(q256, 256), rle=True),
        "pal8_graphic": write_bmp(np.asarray(g256), 8, _palette(g256, 256)),
        "rle8_graphic": write_bmp(np.asarray(g256), 8, _palette(g256, 256), rle=True),
        "gray8_photo": write_bmp(np.asarray(two_wings.convert("L")), 8, grays),
        "rgb555_photo": write_bmp(np.asarray(storm), 16),
        "rgb565_photo": write_bmp(np.asarray(storm), 16, masks="565"),
        "rgb24_photo2560": write_bmp(np.asarray(two_wings), 24),
        "rgb24_photo5640": write_bmp(np.asarray(elephants), 24),
        "rgb24_graphic": write_bmp(np.asarray(arc_flat), 24),
        "bgra32_graphic": write_bmp(np.asarray(arc), 32),
        "bgra32_many": write_bmp(np.asarray(gulp), 32),
        "a4_text_1bit": write_bmp((np.asarray(page) >= 128).astype(np.uint8), 1, black_white),
        "a4_text_gray": write_bmp(scanned(page), 8, grays),
        "a4_text_gray_clean": write_bmp(np.asarray(page), 8, grays),
    }
    return files


def corpus() -> list[Path]:
    """The corpus's files, built once into bench/.cache/archive."""
    if not (OUT / "done").exists():
        from imgserve.imaging.decode import decode_array

        OUT.mkdir(parents=True, exist_ok=True)
        for name, data in build().items():
            pillow = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))[:, :, [2, 1, 0, 3]]
            ours = decode_array(data)
            ours = ours if ours.ndim == 3 else np.dstack([ours] * 3)
            ours = ours if ours.shape[2] == 4 else np.dstack([ours, np.full(ours.shape[:2], 255, np.uint8)])
            if not np.array_equal(ours, pillow):
                raise SystemExit(f"{name}: imgserve and Pillow decode different pixels")
            (OUT / f"{name}.bmp").write_bytes(data)
        (OUT / "done").write_text("")
    return sorted(OUT.glob("*.bmp"))


if __name__ == "__main__":
    for path in corpus():
        print(f"{path.stat().st_size / 1024:10,.0f} KB  {path.name}")
