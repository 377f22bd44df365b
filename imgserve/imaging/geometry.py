"""Resize math: from a source size and the options to every box and size the pipeline will use.

All of it is decided from the header before any pixel is decoded, which is what lets the decoder
shrink on load and what makes the sizes easy to test exhaustively (tests/unit/test_geometry.py).

`cover` is planned as a crop of the source followed by a resize straight to the output size, so
the resize never produces pixels that are then thrown away (and a 1x1000 source covering 8192x1
never allocates 8192x8192000 pixels on the way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import bad_option
from ..options import GRAVITIES, Options

Box = tuple[int, int, int, int]  # x, y, w, h
Size = tuple[int, int]           # w, h
SHRINK_FACTORS = (8, 4, 2)       # what libjpeg can scale by while decoding
# Shrink on load only while the decode stays at least this many times the output size, so INTER_AREA
# still averages several pixels into each output pixel. With 1x, a near-identity resample after
# libjpeg's scaling measured 30 dB PSNR against a full decode + INTER_AREA on 24 real photos; with
# 1.5x, 36.3 dB or more at 150, 300, 640 and 1024 px wide (2x: 38 dB, for a third less throughput).
# bench/pipeline.py prints the figure.
SHRINK_MARGIN = 1.5
# Decoders that reduce to any size (Plan.least) reduce the whole source, and a crop then falls on their
# pixel grid, rounded by up to half a pixel. At 4x the output's scale that moves its edges by an eighth
# of an output pixel: on the test photo, 50x50 covers measured 44-52 dB against a crop of the full
# decode + INTER_AREA, where 1.5x gave 32-41 dB. The last resample from 4x costs little.
CROP_MARGIN = 4.0


@dataclass(frozen=True)
class Plan:
    crop: Box | None  # part of the oriented source to keep, in source pixels: the crop option, then cover's cut
    resize: Size      # size of the kept part after rotate and flip are applied
    pad: Box | None   # output box around the resized image (fit=pad), offsets <= 0
    shrink: int = 1   # decode at 1/shrink (JPEG); `crop` is then scaled with it
    free: Box | None = None  # gravity smart/face: the region cover's cut may slide in, once the pixels are seen
    least: Size | None = None  # the smallest the whole source may be decoded at, as displayed (decoders
    # that reduce while decoding stop there): the output's scale, CROP_MARGIN times that when a crop
    # follows; None: at full size

    @property
    def size(self) -> Size:
        return self.pad[2:] if self.pad else self.resize


def plan(width: int, height: int, options: Options, max_dimension: int, *, shrinkable: bool = False) -> Plan:
    """Sizes for a source of `width` x `height` (as displayed). `shrinkable`: the decoder can shrink on load."""
    options = with_dpr(options, max_dimension)
    x, y, cw, ch = crop_region(width, height, options.crop)
    turned = options.rotate in (90, 270)
    rw, rh = (ch, cw) if turned else (cw, ch)
    resize, out = _fit(rw, rh, options)
    if max(out) > max_dimension:  # only reachable without a box: enlarge, or a huge source kept whole
        factor = max_dimension / max(out)
        resize = out = (max(1, min(max_dimension, round(out[0] * factor))),
                        max(1, min(max_dimension, round(out[1] * factor))))
    ax, ay = anchor(options.gravity)
    pad = free = None
    if out[0] < resize[0] or out[1] < resize[1]:  # cover: cut the source instead of the resized image
        factor = max(options.w / rw, options.h / rh)
        factor = factor if options.enlarge else min(factor, 1.0)
        cut_w, cut_h = max(1, min(rw, round(out[0] / factor))), max(1, min(rh, round(out[1] / factor)))
        cut = (round((rw - cut_w) * ax), round((rh - cut_h) * ay), cut_w, cut_h)
        region = (x, y, cw, ch)
        cx, cy, cw, ch = _unturn(cut, rw, rh, options.rotate, options.flip)
        x, y = x + cx, y + cy
        if isinstance(options.gravity, tuple):  # a focal point, in the source's frame: centred, then kept inside
            x, y = _centred(options.gravity[0] * width, cw, region[0], region[2]), \
                _centred(options.gravity[1] * height, ch, region[1], region[3])
        elif options.gravity not in GRAVITIES:  # smart, face: centred until the pixels say where
            free = region
        resize = out
    elif out != resize:
        pad = (round((resize[0] - out[0]) * ax), round((resize[1] - out[1]) * ay), *out)
    shrink = 1
    need_w, need_h = (resize[1], resize[0]) if turned else resize
    if shrinkable:
        shrink = next((s for s in SHRINK_FACTORS
                       if cw // s >= SHRINK_MARGIN * need_w and ch // s >= SHRINK_MARGIN * need_h), 1)
    crop = None if (x, y, cw, ch) == (0, 0, width, height) else (x, y, cw, ch)
    return Plan(crop, resize, pad, shrink, free, _least(width, height, cw, ch, need_w, need_h, crop is not None))


def _least(width: int, height: int, cw: int, ch: int, need_w: int, need_h: int, cropped: bool) -> Size | None:
    """The whole source at the scale that brings its `cw` x `ch` part to `need_w` x `need_h`."""
    if need_w >= cw or need_h >= ch:
        return None
    if not cropped:
        return need_w, need_h
    least = math.ceil(width * need_w / cw * CROP_MARGIN), math.ceil(height * need_h / ch * CROP_MARGIN)
    return None if least[0] >= width or least[1] >= height else least


def anchor(gravity: str | tuple[float, float]) -> tuple[float, float]:
    """(x, y) in 0..1: where the kept (cover) or placed (pad) part sits. A focal point places like an
    anchor for pad; smart and face are centred until the pixels are seen."""
    if isinstance(gravity, tuple):
        return gravity
    return GRAVITIES.get(gravity, (0.5, 0.5))


def with_dpr(options: Options, max_dimension: int) -> Options:
    """w and h times the device pixel ratio, each at most MAX_DIMENSION; nothing else changes (scale
    is already relative, and without a box there is nothing to multiply)."""
    if options.dpr == 1 or (options.w is None and options.h is None):
        return options
    times = lambda side: None if side is None else max(1, min(max_dimension, round(side * options.dpr)))  # noqa: E731
    return replace(options, w=times(options.w), h=times(options.h))


def _centred(centre: float, size: int, start: int, extent: int) -> int:
    """The start of `size` pixels centred on `centre`, kept inside [start, start + extent)."""
    return min(max(round(centre - size / 2), start), start + extent - size)


def crop_region(width: int, height: int, crop: Box | None) -> Box:
    """The crop option clipped to the source; 400 when nothing of it lies inside."""
    if crop is None:
        return 0, 0, width, height
    x, y, w, h = crop
    if x >= width or y >= height:
        raise bad_option("crop", f"the region {x},{y},{w},{h} lies outside the {width}x{height} source")
    return x, y, min(w, width - x), min(h, height - y)


def _unturn(box: Box, width: int, height: int, rotate: int, flip: str) -> Box:
    """A box given in the rotated-then-flipped frame (`width` x `height`), in the frame before both."""
    x, y, w, h = box
    if "h" in flip:
        x = width - x - w
    if "v" in flip:
        y = height - y - h
    if rotate == 90:   # clockwise: the unrotated frame is height x width
        return y, width - x - w, h, w
    if rotate == 270:
        return height - y - h, x, h, w
    if rotate == 180:
        return width - x - w, height - y - h, w, h
    return x, y, w, h


def _fit(sw: int, sh: int, o: Options) -> tuple[Size, Size]:
    """(resize size, output size) for a source of sw x sh."""
    if o.scale is not None:
        size = (max(1, round(sw * o.scale)), max(1, round(sh * o.scale)))
        return size, size
    if o.w is None and o.h is None:
        return (sw, sh), (sw, sh)
    both = o.w is not None and o.h is not None
    if o.fit == "fill" and both:
        size = (o.w, o.h) if o.enlarge else (min(o.w, sw), min(o.h, sh))
        return size, size
    if o.fit == "cover" and both:
        resize = _scaled(sw, sh, max(o.w / sw, o.h / sh), o, cover=True)
        return resize, (min(o.w, resize[0]), min(o.h, resize[1]))
    resize = _scaled(sw, sh, min(r for r in (o.w and o.w / sw, o.h and o.h / sh) if r), o, cover=False)
    if o.fit == "pad" and both:
        return resize, (o.w, o.h)
    return resize, resize


def _scaled(sw: int, sh: int, factor: float, o: Options, *, cover: bool) -> Size:
    """Source size times `factor` (at most 1 unless enlarging). The side that set the factor meets its
    box exactly; rounding never takes the other past (contain) or short of (cover) its own."""
    if factor >= 1 and not o.enlarge:
        return sw, sh
    w, h = max(1, round(sw * factor)), max(1, round(sh * factor))
    if o.w is not None and factor == o.w / sw:
        w = o.w
    if o.h is not None and factor == o.h / sh:
        h = o.h
    if cover:
        return max(w, o.w), max(h, o.h)
    return min(w, o.w or w), min(h, o.h or h)
