"""What a page shows while an image loads: its dominant colour, a BlurHash, and a tiny data-URI image.

All three are made from a small rendering of the image (WIDTH pixels wide, made by the pipeline like
any output, so they match the crop the page will show), so their cost does not depend on the source.

BlurHash (the format of blurha.sh) is a few DCT coefficients of the image in linear light, written in
base 83: 20-30 characters that a page decodes into a soft gradient. The encoder is small and exact to
the format's description, so it is written here rather than taken as a dependency (the test suite
checks it against an independent implementation, the `blurhash` package). The LQIP is the image at
LQIP_WIDTH pixels as a WebP data URI (a few hundred bytes; alpha kept). The dominant colour is the
mean of the most common colour bin (4 bits per channel, weighted by alpha): unlike the mean of the
whole image, it is a colour the image actually has.
"""

from __future__ import annotations

import base64
import math

import cv2
import numpy as np

from . import ops
from .encode import encode_array

WIDTH = 32        # the rendering all three are made from
LQIP_WIDTH = 16
LQIP_QUALITY = 50
COMPONENTS = (4, 3)  # BlurHash components across and down: the format's usual choice for a landscape image
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def summary(image: np.ndarray) -> dict[str, str | None]:
    """The three placeholders of a small BGR(A) or gray image (uint8, uint16 or float32)."""
    image = ops.to_depth(image, (np.uint8,))
    return {"dominant": dominant(image), "blurhash": blurhash(image), "lqip": lqip(image)}


def blurhash(image: np.ndarray, components: tuple[int, int] = COMPONENTS) -> str:
    """The BlurHash of an 8-bit image (alpha is flattened onto white first, as a page would show it)."""
    rgb = _rgb(image)
    height, width = rgb.shape[:2]
    cx, cy = components
    linear = _to_linear(rgb)
    basis_x = np.cos(np.pi * np.outer(np.arange(cx), np.arange(width)) / width)    # (cx, width)
    basis_y = np.cos(np.pi * np.outer(np.arange(cy), np.arange(height)) / height)  # (cy, height)
    factors = np.einsum("jy,ix,yxc->jic", basis_y, basis_x, linear) / (width * height)
    factors[1:] *= 2
    factors[0, 1:] *= 2
    factors = factors.reshape(cx * cy, 3)  # y outer, x inner: the order the format writes them in
    dc, ac = factors[0], factors[1:]
    text = _base83((cx - 1) + (cy - 1) * 9, 1)
    if len(ac):
        quantised = int(max(0, min(82, math.floor(float(np.abs(ac).max()) * 166 - 0.5))))
        top = (quantised + 1) / 166
        text += _base83(quantised, 1)
    else:
        top = 1.0
        text += _base83(0, 1)
    r, g, b = (_to_srgb(float(v)) for v in dc)
    text += _base83((r << 16) + (g << 8) + b, 4)
    for value in ac:
        q = [int(max(0, min(18, math.floor(math.copysign(abs(v / top) ** 0.5, v) * 9 + 9.5)))) for v in value]
        text += _base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2)
    return text


def dominant(image: np.ndarray) -> str | None:
    """`#rrggbb` of the most common colour (alpha-weighted), or None for a wholly transparent image."""
    work = image.reshape(-1, ops.channels(image)).astype(np.float64)
    weight = work[:, 3] / 255 if work.shape[1] == 4 else np.ones(len(work))
    colour = np.repeat(work, 3, axis=1) if work.shape[1] == 1 else work[:, :3]
    if weight.sum() <= 0:
        return None
    bins = (colour // 16).astype(np.int64)
    index = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    best = np.argmax(np.bincount(index, weights=weight, minlength=4096))
    members = index == best
    b, g, r = (int(round(v)) for v in np.average(colour[members], axis=0, weights=weight[members]))
    return f"#{r:02x}{g:02x}{b:02x}"


def lqip(image: np.ndarray) -> str:
    """A data URI of the image at LQIP_WIDTH pixels wide, as WebP (alpha kept)."""
    height, width = image.shape[:2]
    small = ops.resize(image, (min(width, LQIP_WIDTH), max(1, round(height * min(width, LQIP_WIDTH) / width))))
    data = encode_array(small, "webp", quality=LQIP_QUALITY)
    return "data:image/webp;base64," + base64.b64encode(data).decode()


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(ops.flatten(image, (255, 255, 255, 255)), cv2.COLOR_BGR2RGB)


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    v = rgb.astype(np.float64) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    return int(v * 12.92 * 255 + 0.5) if v <= 0.0031308 else int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[value // 83 ** (length - 1 - i) % 83] for i in range(length))
