"""The smallest honest PNG form of an array: what `png_writer` writes so that every decoder gets exactly
these pixels back, in as few bytes as the pixels allow.

    all of B, G, R equal                    -> gray (with alpha when there is some)
    gray levels all on the 1/2/4-bit ramp   -> gray at 1, 2 or 4 bits (0/255 is 1-bit; PNG decoders
                                               scale n-bit samples to 8 bits by bit replication)
    at most 256 colours (alpha included)    -> palette, 1/2/4/8-bit indices, translucent entries
                                               first so that tRNS is short
    alpha all opaque                        -> no alpha
    16-bit samples                          -> 16-bit gray, gray + alpha, RGB or RGBA

The form follows from the pixels, not from the source's format, so a palette or 1-bit original keeps
its form through every step that makes no new colours (crop, rotate, flip, a pad in a colour it has,
grayscale) and loses it to those that do (resize, blur, sharpen, pixelate, flattening alpha), where
the result takes the smallest form it still has: a gray image stays gray.

Each check stops at the first band of rows that rules it out, so a photo pays a fraction of a
millisecond; an image that does have few colours pays a lookup per pixel, which a decoder that knows
the indices saves (`indexed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Form:
    pixels: np.ndarray                 # (h, w) samples or palette indices, or (h, w, 2|3|4) gray+alpha/BGR/BGRA
    palette: np.ndarray | None = None  # (n, 3) BGR uint8
    alpha: np.ndarray | None = None    # (n,) uint8, the palette entries' alpha
    bits: int = 8                      # bits per sample or index


def smallest(image: np.ndarray, indexed: tuple[np.ndarray, np.ndarray] | None = None, *,
             color: bool = False) -> Form:
    """`image`: BGR(A) or gray, uint8 or uint16. `indexed`: (indices, palette) with image ==
    palette[indices]. `color`: no gray form for colour pixels (an RGB profile goes with the PNG)."""
    if indexed is not None:
        indices, palette = indexed
        if indices.shape != image.shape[:2]:
            raise ValueError(f"indices of shape {indices.shape} for an image of shape {image.shape}")
        return from_palette(indices, palette, color=color)
    if image.ndim == 3 and image.shape[2] == 4 and _opaque(image):
        image = image[:, :, :3]
    gray = image.ndim == 3 and not color and _gray(image)
    if gray and image.shape[2] == 3:
        image = np.ascontiguousarray(image[:, :, 0])
    if image.ndim == 2:
        return gray_form(image) if image.dtype == np.uint8 else Form(np.ascontiguousarray(image))
    found = few_colors(image) if image.dtype == np.uint8 else None
    if found is not None:
        return found
    if gray:  # with alpha
        return Form(np.dstack((image[:, :, 0], image[:, :, 3])))
    return Form(np.ascontiguousarray(image))


def depth_for(top: int) -> int:
    """Bits for indices or samples up to `top`."""
    return 1 if top < 2 else 2 if top < 4 else 4 if top < 16 else 8


def _ramp(bits: int) -> np.ndarray:
    return (np.arange(1 << bits) * 255 // ((1 << bits) - 1)).astype(np.uint8)


def from_palette(indices: np.ndarray, palette: np.ndarray, *, color: bool = False) -> Form:
    """Indices into a BGR palette: a gray image when the palette used is all gray (its indices are
    the samples themselves when it is the n-bit ramp) and `color` does not forbid it, else a palette
    trimmed to the highest index used."""
    top = int(cv2.minMaxLoc(indices)[1])
    used = palette[: top + 1]
    bits = depth_for(top)
    if not color and (used == used[:, :1]).all():
        levels = np.ascontiguousarray(used[:, 0])
        if bits < 8 and np.array_equal(levels, _ramp(bits)[: top + 1]):
            return Form(indices, bits=bits)
        return gray_form(cv2.LUT(indices, np.pad(levels, (0, 255 - top))))
    return Form(indices, palette=np.ascontiguousarray(used), bits=bits)


def gray_form(gray: np.ndarray) -> Form:
    """8-bit gray -> gray at 1/2/4 bits when every level is on that ramp, else 8-bit gray. (A palette
    of a few grays not on a ramp would be smaller still, but it decodes as colour: gray stays gray.)"""
    levels = np.zeros(256, bool)
    rows = -(-FIRST_PIXELS[1] // gray.shape[1])
    for y in range(0, gray.shape[0], rows):  # band by band: most gray images leave the ramps in a few rows
        levels |= cv2.calcHist([gray[y:y + rows]], [0], None, [256], [0, 256]).ravel() > 0
        if levels[np.arange(256) % 17 != 0].any():  # off the 4-bit ramp, which holds the 1- and 2-bit ones
            return Form(gray)
    levels = np.flatnonzero(levels)
    for bits in (1, 2, 4):
        step = 255 // ((1 << bits) - 1)
        if not (levels % step).any():
            return Form(cv2.LUT(gray, (np.arange(256) // step).astype(np.uint8)), bits=bits)
    return Form(gray)


def _opaque(image: np.ndarray) -> bool:
    return cv2.minMaxLoc(image[:, :, 3])[0] == np.iinfo(image.dtype).max


def _gray(image: np.ndarray, band: int = 64) -> bool:
    """B == G == R everywhere; stops at the first band of rows where they differ."""
    for y in range(0, image.shape[0], band):
        part = image[y:y + band]
        b, g, r = part[:, :, 0], part[:, :, 1], part[:, :, 2]
        if cv2.countNonZero(cv2.absdiff(b, g)) or cv2.countNonZero(cv2.absdiff(g, r)):
            return False
    return True


def _keys(image: np.ndarray) -> np.ndarray:
    """BGR(A) uint8 -> one uint32 per pixel (alpha 255 for BGR)."""
    if image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    return np.ascontiguousarray(image).view(np.uint32)[:, :, 0]


LIMIT = 256
FIRST_PIXELS = (1 << 12, 1 << 16)  # a photo has more than 256 colours within the first of these pixels


def few_colors(image: np.ndarray) -> Form | None:
    """The palette form of a BGR(A) uint8 image with at most 256 colours (alpha included), else None.

    The first rows are counted with np.unique, growing to ~64 K pixels: a photo is ruled out there for
    well under a millisecond. Then each band of rows is looked up in a 2**24-entry table (the colour
    itself for BGR, a multiplicative hash checked against the colour for BGRA); a band with colours not
    seen yet adds them, until there are more than 256. Entries are in order of first appearance."""
    h, w = image.shape[:2]
    for pixels in FIRST_PIXELS:
        rows = min(h, -(-pixels // w))
        colors = np.unique(_keys(image[:rows]))
        if len(colors) > LIMIT:
            return None
        if rows == h:
            break
    alpha = image.shape[2] == 4
    table = np.zeros(1 << 24, np.uint16)  # 0: not seen; else 1 + the colour's entry (calloc: pages on demand)

    def slots(keys: np.ndarray) -> np.ndarray:
        return (keys * np.uint32(2654435761)) >> np.uint32(8) if alpha else keys & np.uint32(0xFFFFFF)

    known = np.zeros(0, np.uint32)
    indices = np.empty((h, w), np.uint8)
    band = max(1, (1 << 18) // w)
    for y in range(0, h, band):
        keys = _keys(image[y:y + band])
        slot = slots(keys)
        entry = table[slot]
        missing = entry == 0
        if alpha and known.size:  # a slot may hold another colour with the same hash
            missing |= known[np.maximum(entry, 1) - 1] != keys
        if missing.any():
            new = np.unique(keys[missing])
            new = new[~np.isin(new, known)]
            known = np.concatenate([known, new])
            if len(known) > LIMIT:
                return None
            new_slots = slots(new)
            if table[new_slots].any() or len(np.unique(new_slots)) < len(new_slots):
                return _sorted(image)  # two colours share a hash slot: rare, so done the slow way
            table[new_slots] = np.arange(len(known) - len(new), len(known)) + 1
            entry = table[slot]
        indices[y:y + band] = entry - 1
    return _palette_form(indices, known, alpha)


def _sorted(image: np.ndarray) -> Form | None:
    colors, inverse = np.unique(_keys(image), return_inverse=True)
    if len(colors) > LIMIT:
        return None
    return _palette_form(inverse.reshape(image.shape[:2]).astype(np.uint8), colors, image.shape[2] == 4)


def _palette_form(indices: np.ndarray, colors: np.ndarray, alpha: bool) -> Form:
    quads = colors.view(np.uint8).reshape(-1, 4)
    palette, opacity = quads[:, :3], quads[:, 3]
    if not alpha or (opacity == 255).all():
        return Form(indices, palette=np.ascontiguousarray(palette), bits=depth_for(len(colors) - 1))
    order = np.argsort(opacity == 255, kind="stable")  # translucent entries first: tRNS ends sooner
    remap = np.zeros(256, np.uint8)
    remap[order] = np.arange(len(order))
    return Form(cv2.LUT(indices, remap), palette=np.ascontiguousarray(palette[order]),
                alpha=np.ascontiguousarray(opacity[order]), bits=depth_for(len(colors) - 1))
