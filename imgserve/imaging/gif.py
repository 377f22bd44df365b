"""The first frame of a GIF, decoded by Pillow to palette indices and reduced without expanding them.

OpenCV 5's GIF reader takes 2.5 times as long as Pillow's on photo-sized GIFs, and hands out colour
pixels: 18 Mpx x 3 bytes of them for a 5640x3172 GIF, where the indices are 1 byte each. Pillow
gives the indices and the palette; shrink.shrink_indexed reduces one lookup plane per channel.
A transparent index becomes alpha (BGRA out); otherwise BGR. Animated GIFs are taken here only for
their first frame, as Pillow composes it on the logical screen.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from . import shrink


def reduced(data: bytes, least: tuple[int, int] | None, eight: bool = False) -> tuple[np.ndarray, bool] | None:
    """(BGR(A) uint8 at `least` (w, h), full size when None; False: not RGB order), or None when Pillow
    cannot read it, for OpenCV to try and to report damage its usual way."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the pixel limit is ours, checked
            picture = Image.open(io.BytesIO(data), formats=["GIF"])
            picture.load()
            indices, palette = _indexed(picture)
    except Exception:  # noqa: BLE001 - OSError, SyntaxError, DecompressionBombError...: OpenCV decides
        return None
    height, width = indices.shape
    size = least if least is not None and least[0] <= width and least[1] <= height else (width, height)
    return shrink.shrink_indexed(indices, palette, size), False


def _indexed(picture) -> tuple[np.ndarray, np.ndarray]:
    """(indices, BGR or BGRA palette) of a frame in mode P or L (Pillow reads gray palettes as L)."""
    if picture.mode not in ("P", "L"):
        raise ValueError(f"unexpected GIF mode {picture.mode}")
    indices = np.asarray(picture)
    if picture.mode == "L":
        palette = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    else:
        palette = np.array(picture.getpalette("RGB"), np.uint8).reshape(-1, 3)[:, ::-1]
    transparent = picture.info.get("transparency")
    if isinstance(transparent, int) and 0 <= transparent < 256:
        opaque = np.full((256, 4), 255, np.uint8)
        opaque[:len(palette), :3] = palette
        opaque[transparent, 3] = 0
        palette = opaque
    return indices, np.ascontiguousarray(palette)
