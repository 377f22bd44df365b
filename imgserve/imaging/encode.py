"""ndarray -> bytes, in memory, with OpenCV: what each format's encoder takes, and its parameters.

The format registry (formats.py) says which formats keep alpha and which sample depths each takes;
`prepare` brings an array to that, `encode` runs cv2.imencode with the registry's parameters, except
for PNG, which `png_writer` writes in the smallest form the pixels allow (OpenCV's PNG writer has no
palette, no 1/2/4-bit gray and a single filter strategy).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .. import formats
from ..options import WHITE, Options
from . import ops, png_writer


def prepare(image: np.ndarray, format: str, bg: tuple[int, int, int, int]) -> np.ndarray:
    """Make the array something `format` can hold: alpha flattened onto `bg` where it has none,
    samples brought to a depth it takes."""
    spec = formats.FORMATS[format]
    if not spec.alpha:
        image = ops.flatten(image, bg)
    return ops.to_depth(image, spec.depths)


def encode_array(image: np.ndarray, format: str = "png", quality: int = 80,
                 bg: tuple[int, int, int, int] = WHITE) -> bytes:
    """A BGR(A) or gray array (uint8, uint16, or float32 in 0..1) -> `format` bytes, made in memory.

    The same two steps the service runs on every output (`prepare`, then `encode`), so a client's
    PNG is exactly what the server would make: lossless, 16 bits kept. Formats without alpha get it
    flattened onto `bg` (RGBA); formats without 16 bits get the samples rounded to 8.
    """
    spec = formats.named(format)
    if spec is None or not spec.encodes:
        raise ValueError(f"format must be one of {', '.join(f.name for f in formats.outputs())}, got {format!r}")
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"expected a uint8, uint16 or float32 NumPy array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))) or 0 in image.shape:
        raise ValueError(f"expected gray (h, w), BGR (h, w, 3) or BGRA (h, w, 4) pixels, got shape {image.shape}")
    return encode(prepare(np.ascontiguousarray(image), spec.name, bg), spec.name, Options(q=quality))


def encode(image: np.ndarray, format: str, options: Any = Options(), *, png_effort: str = "default",
           indexed: tuple[np.ndarray, np.ndarray] | None = None) -> bytes:
    """A prepared array -> `format` bytes; `options` gives the encoder's settings (q, ...). For PNG,
    `png_effort` is IMGSERVE_PNG_EFFORT and `indexed` the decoder's (indices, palette) of these very pixels."""
    if format == "png":
        return png_writer.write(image, png_effort, indexed)
    spec = formats.FORMATS[format]
    ok, buffer = cv2.imencode(spec.extension, image, spec.encoder(options))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} {image.dtype} array as {format}")
    return buffer.tobytes()
