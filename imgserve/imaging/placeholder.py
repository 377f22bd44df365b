"""Generated placeholders (`GET /placeholder/<W>x<H>`): a flat `bg` with `text` centred in `fg`.

Text is drawn with OpenCV 5's built-in Unicode font (`cv2.FontFace`); the Hershey fonts draw ASCII
only, so they could not even write the default "W×H". The font size is found by measuring the text
once at a reference size and scaling it to fill at most `WIDTH_SHARE` of the width and `HEIGHT_SHARE`
of the height, so the text grows with the image and never leaves it; text that would be smaller than
`MIN_FONT` pixels is left out. The text is short (web/placeholders.py bounds it), and its size is
bounded by the image, itself bounded by MAX_DIMENSION: the worst case (one glyph 4096 px high on
8192x8192) draws in about 0.1 s.

Drawing is done as coverage: the text is rendered once into a one-channel mask the size of its box,
which is cropped to its ink and centred, and each coverage value is mapped through a 256-entry
palette of `fg` composited over `bg`, so translucent colours get correct alpha at the antialiased
edges (OpenCV's own putText on BGRA does not blend alpha).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..options import color_hex

WIDTH_SHARE, HEIGHT_SHARE = 0.8, 0.5
MIN_FONT = 6
REFERENCE = 100
DEFAULT_BG = (204, 204, 204, 255)  # #ccc, as placehold.it
DEFAULT_FG = (85, 85, 85, 255)     # #555


@dataclass(frozen=True)
class Placeholder:
    width: int
    height: int
    text: str
    bg: tuple[int, int, int, int]  # RGBA
    fg: tuple[int, int, int, int]

    @property
    def identity(self) -> str:
        return f"placeholder\0{self.width}x{self.height}\0{self.text}\0{color_hex(self.bg)}\0{color_hex(self.fg)}"

    def draw(self) -> np.ndarray:
        """BGR, or BGRA when `bg` is translucent, uint8."""
        colours = palette(self.bg, self.fg)
        canvas = np.empty((self.height, self.width, colours.shape[1]), np.uint8)
        canvas[:] = colours[0]
        face = cv2.FontFace("sans")
        size = font_size(self.text, self.width, self.height, face)
        if size:
            ink = _ink(self.text, face, size)
            h, w = min(ink.shape[0], self.height), min(ink.shape[1], self.width)
            top, left = (self.height - h) // 2, (self.width - w) // 2
            canvas[top:top + h, left:left + w] = colours[ink[:h, :w]]
        return canvas


def _ink(text: str, face: Any, size: int) -> np.ndarray:
    """The text's coverage, cropped to the pixels it inks: centring the ink, not the font's line box
    (which reserves room for accents and descenders), is what looks centred."""
    x, y, w, h = cv2.getTextSize((0, 0), text, (0, 0), face, size)
    margin = 2 + size // 20  # glyphs may reach a little past the measured box
    coverage = np.zeros((h + 2 * margin, w + 2 * margin), np.uint8)
    cv2.putText(coverage, text, (margin - x, margin - y), (255,), face, size)
    ix, iy, iw, ih = cv2.boundingRect(coverage)
    return coverage[iy:iy + ih, ix:ix + iw]


def font_size(text: str, width: int, height: int, face: Any) -> int:
    """Pixels per em that make `text` fill its share of the box, or 0 if that is too small to read."""
    if not text:
        return 0
    _, _, w, h = cv2.getTextSize((0, 0), text, (0, 0), face, REFERENCE)
    if w <= 0 or h <= 0:
        return 0
    size = int(REFERENCE * min(WIDTH_SHARE * width / w, HEIGHT_SHARE * height / h))
    for _ in range(3):  # glyph metrics do not scale exactly linearly: step down until the box fits
        if size < MIN_FONT:
            return 0
        _, _, w, h = cv2.getTextSize((0, 0), text, (0, 0), face, size)
        if w <= WIDTH_SHARE * width and h <= HEIGHT_SHARE * height:
            return size
        size = int(size * 0.95)
    return size if size >= MIN_FONT else 0


def palette(bg: tuple[int, int, int, int], fg: tuple[int, int, int, int]) -> np.ndarray:
    """256 BGR(A) colours: `fg` over `bg` at each coverage 0..255 (straight alpha, "over" operator)."""
    coverage = np.arange(256, dtype=np.float64)[:, None] / 255
    fa, ba = fg[3] / 255, bg[3] / 255
    a = coverage * fa
    alpha = a + ba * (1 - a)
    rgb = (np.array(fg[:3]) * a + np.array(bg[:3]) * ba * (1 - a)) / np.where(alpha > 0, alpha, 1)
    colours = np.hstack([rgb[:, ::-1], alpha * 255]) if bg[3] < 255 else rgb[:, ::-1]
    return np.clip(np.rint(colours), 0, 255).astype(np.uint8)
