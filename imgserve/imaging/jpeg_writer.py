"""JPEG written by libjpeg-turbo through Pillow, with quantisation tables of imgserve's own.

libjpeg's tables are the JPEG standard's examples (ITU T.81 Annex K), shaped for the eye at a
viewing distance: fine steps for low frequencies, coarse ones for high. Measured on thumbnails by
SSIM and by PSNR, a flatter shape keeps more for each byte. So the tables here are Annex K's
multiplied by exp(TILT * (r - 1/2)), r being a coefficient's distance from DC (0 at DC, 1 at the
highest frequency), chroma's by exp(CHROMA_TILT * (r - 1/2)), and both by LEVEL; the DC steps stay
Annex K's, so an 8x8 block's mean is as finely stepped as before (no new banding in skies). `q`
scales them as libjpeg scales its own.

The shape (TILT, CHROMA_TILT) was chosen by bytes at equal SSIM on 11 photos outside the W1 set,
LEVEL so that q80 reaches libjpeg's q80 SSIM there. On the 24 W1 photos at 300 px, q80 then gives
0.944x the bytes of libjpeg's q80 with optimised Huffman tables, at a higher mean SSIM (RGB and
luma), and 0.90x the bytes at equal PSNR (docs/performance.md, "JPEG tables").
OpenCV's encoder takes no tables; Pillow's does (a dependency since issue #17), for 0.15 ms more
per 300 px thumbnail. 4:2:0 chroma and optimised Huffman tables, as imgserve wrote before.
"""

from __future__ import annotations

import functools
import io

import cv2
import numpy as np
from PIL import Image

TILT, CHROMA_TILT, LEVEL = -2.0, -0.5, 0.95

# ITU T.81 Annex K, tables K.1 and K.2, in natural (row by row) order
_LUMA = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
                  14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
                  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                  49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], float).reshape(8, 8)
_CHROMA = np.full((8, 8), 99.0)
_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


@functools.cache
def tables(quality: int, tilt: float = TILT, chroma_tilt: float = CHROMA_TILT, level: float = LEVEL,
           keep_dc: bool = True) -> list[list[int]]:
    """[luma, chroma] steps for `quality` (1..100, as libjpeg clamps it), scaled as libjpeg's
    jpeg_quality_scaling scales its own, in integers (the other arguments are for bench/jpeg_tables.py,
    which chose them)."""
    u, v = np.mgrid[0:8, 0:8]
    r = np.hypot(u, v) / np.hypot(7, 7)
    quality = min(100, max(1, quality))
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    steps = []
    for table, t in ((_LUMA, tilt), (_CHROMA, chroma_tilt)):
        shaped = table * np.exp(t * (r - 0.5)) * level
        if keep_dc:
            shaped[0, 0] = table[0, 0]
        steps.append(np.clip(np.floor((shaped * scale + 50) / 100), 1, 255).astype(int).ravel().tolist())
    return steps


def write(image: np.ndarray, quality: int, progressive: bool = False, icc: bytes | None = None) -> bytes:
    """A gray or BGR uint8 array -> JPEG bytes."""
    gray = image.ndim == 2
    picture = Image.fromarray(image if gray else cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    out = io.BytesIO()
    picture.save(out, "JPEG", qtables=tables(quality)[:1] if gray else tables(quality), subsampling="4:2:0",
                 optimize=True, progressive=progressive, icc_profile=icc)
    return out.getvalue()
