"""Animated GIF, WebP, PNG (APNG) and AVIF: the timeline from the headers, frames one at a time, and
animations written back.

`timeline` reads frame count, durations and loop count without decoding, so the frames x pixels
budget holds before any frame is decoded. `frames` decodes with Pillow, one full canvas at a time
(disposal and blending done), so a render holds one source frame and the small output frames, never
the whole decoded animation (OpenCV's imdecodeanimation decodes every frame at once and fails
outright on a truncated GIF; docs/performance.md has the memory figures). A truncated animation
keeps the frames that decoded whole. WebP, AVIF and APNG are written by OpenCV's imencodeanimation;
GIF by Pillow, whose palettes are far more faithful than OpenCV's GIF encoder's (performance.md).

Loop counts are plays, as OpenCV counts them: 0 forever, n the number of times shown. GIF stores
"repeats after the first" in its NETSCAPE block (absent: play once); WebP and APNG store plays.
AVIF keeps none through OpenCV, so an AVIF animation loops forever.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..errors import Problem
from . import isobmff

log = logging.getLogger(__name__)
Image.MAX_IMAGE_PIXELS = None  # the pixel limit and the frames budget are checked before Pillow runs
MAX_FRAMES = isobmff.MAX_FRAMES
_PILLOW = {"gif": "GIF", "webp": "WEBP", "png": "PNG", "avif": "AVIF"}


@dataclass(frozen=True)
class Timeline:
    frames: int
    durations: tuple[int, ...] = ()  # ms per frame, as stored
    loops: int = 0                   # plays; 0: forever
    canvas: tuple[int, int] = (0, 0)  # the largest frame's far edges: a GIF frame may reach past the
    # logical screen, and Pillow then grows the canvas to hold it, so the pixel limits must count that

    @property
    def duration_ms(self) -> int:
        return sum(self.durations)


STILL = Timeline(1)


def timeline(data: bytes, format: str) -> Timeline:
    """Frames, durations and loops from the headers; STILL for anything not animated. A damaged or
    truncated header counts the frames seen: the decoder decides what is left of them."""
    reader = _READERS.get(format)
    if reader is None:
        return STILL
    try:
        return reader(memoryview(data))
    except (struct.error, IndexError, ValueError):
        return STILL


def _gif(data) -> Timeline:
    """Image descriptors counted, with the delay of the graphic control block before each. A file cut
    short counts the frames it starts: browsers show what arrived, and so does `frames`."""
    width, height, width_flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + (3 << ((width_flags & 7) + 1) if width_flags & 0x80 else 0)
    durations, delay, loops = [], 0, 1
    try:
        while at < len(data) and len(durations) < MAX_FRAMES:
            block = data[at]
            if block == 0x3B:  # trailer
                break
            if block == 0x21:  # extension: label, then sub-blocks
                label, at = data[at + 1], at + 2
                if label == 0xF9 and data[at] >= 4:  # graphic control: the next frame's delay, in 1/100 s
                    delay = struct.unpack_from("<H", data, at + 2)[0] * 10
                elif label == 0xFF and bytes(data[at + 1:at + 12]) == b"NETSCAPE2.0" and data[at + 12] >= 3:
                    repeats = struct.unpack_from("<H", data, at + 14)[0]
                    loops = 0 if repeats == 0 else repeats + 1
                at = _skip_sub_blocks(data, at)
            elif block == 0x2C:  # image descriptor, local colour table, LZW code size, image data
                durations.append(delay)
                left, top, frame_width, frame_height, flags = struct.unpack_from("<HHHHB", data, at + 1)
                width, height = max(width, left + frame_width), max(height, top + frame_height)
                delay = 0
                at += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
                at = _skip_sub_blocks(data, at)
            else:
                break  # not a GIF block: what came before is all there is
    except (IndexError, struct.error):
        pass
    return Timeline(len(durations), tuple(durations), loops, (width, height)) if len(durations) > 1 else STILL


def _skip_sub_blocks(data, at: int) -> int:
    while data[at]:
        at += data[at] + 1
    return at + 1


def _webp(data) -> Timeline:
    if bytes(data[12:16]) != b"VP8X" or not data[20] & 0x02:  # the animation flag
        return STILL
    at, durations, loops = 12, [], 0
    while at + 8 <= len(data) and len(durations) < MAX_FRAMES:
        kind, length = struct.unpack_from("<4sI", data, at)
        if kind == b"ANIM":
            loops = struct.unpack_from("<H", data, at + 12)[0]
        elif kind == b"ANMF":
            durations.append(int.from_bytes(data[at + 20:at + 23], "little"))
        at += 8 + length + (length & 1)
    return Timeline(len(durations), tuple(durations), loops) if len(durations) > 1 else STILL


def _png(data) -> Timeline:
    at, frames, loops, durations = 8, 0, 0, []
    while at + 12 <= len(data) and len(durations) < MAX_FRAMES:
        length, kind = struct.unpack_from(">I4s", data, at)
        if kind == b"acTL":
            frames, loops = struct.unpack_from(">II", data, at + 8)
        elif kind == b"fcTL":
            numerator, denominator = struct.unpack_from(">HH", data, at + 8 + 20)
            durations.append(round(numerator * 1000 / (denominator or 100)))
        elif kind == b"IEND" or (kind == b"IDAT" and not frames):
            break
        at += 12 + length
    if frames <= 1:
        return STILL
    return Timeline(min(frames, MAX_FRAMES), tuple(durations[:frames]), loops)


def _avif(data) -> Timeline:
    facts = isobmff.facts(bytes(data))
    if len(facts.durations) < 2:
        return STILL
    return Timeline(len(facts.durations), facts.durations, 0, facts.frame_size)


_READERS = {"gif": _gif, "webp": _webp, "png": _png, "avif": _avif}


def frames(data: bytes, format: str, first: int, count: int) -> Iterator[np.ndarray]:
    """Frames `first` .. `first + count - 1` (as `timeline` counts them) as full BGRA canvases, decoded
    one at a time (the earlier ones are decoded too where a frame is drawn over them). Stops at the
    first frame that does not decode whole; a 415 when not even one does."""
    given = 0
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW[format]]) as opened:
            for index in range(first, first + count):
                opened.seek(index)
                canvas = np.asarray(opened.convert("RGBA"))
                given += 1
                yield cv2.cvtColor(canvas, cv2.COLOR_RGBA2BGRA)
    except (OSError, EOFError, ValueError, IndexError, SyntaxError, struct.error) as error:
        if given:
            log.info("a %s stopped decoding after %d frames: %s", format, given, error)
            return
        raise Problem(415, f"the {format.upper()} animation could not be decoded (truncated or corrupt)") from None
    if not given:
        raise Problem(415, f"the {format.upper()} has no frame {first}")


def encode(frames: list[np.ndarray], durations: list[int], loops: int, format: str, params: list[int]) -> bytes:
    """BGRA frames of one size -> an animated `format` file (GIF, WebP, AVIF, PNG as APNG)."""
    if format == "gif":
        return write_gif(frames, durations, loops)
    animation = cv2.Animation()
    animation.frames = frames
    animation.durations = durations
    animation.loop_count = loops
    ok, buffer = cv2.imencodeanimation("." + ("png" if format == "png" else format), animation, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {len(frames)} frames as an animated {format}")
    return buffer.tobytes()


def write_gif(frames: list[np.ndarray], durations: list[int], loops: int = 0) -> bytes:
    """BGR(A) or gray frames -> GIF, through Pillow: each frame its own 255-colour palette, by fast octree
    (Pillow's default, median cut, costs far more for little: performance.md), plus one transparent
    index where alpha is below half (GIF's transparency is all or nothing)."""
    images = [_paletted(frame) for frame in frames]
    out = io.BytesIO()
    extra = {"loop": loops - 1 if loops > 1 else 0} if loops != 1 else {}
    if len(images) > 1:
        extra.update(save_all=True, append_images=images[1:], duration=durations, disposal=2)
    images[0].save(out, "GIF", optimize=False, **extra)
    return out.getvalue()


TRANSPARENT = 255  # the palette index left for transparent pixels


def _paletted(frame: np.ndarray) -> Image.Image:
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    rgb = cv2.cvtColor(frame[:, :, :3], cv2.COLOR_BGR2RGB)
    image = Image.fromarray(rgb).quantize(TRANSPARENT, Image.Quantize.FASTOCTREE)
    if frame.shape[2] == 4 and frame[:, :, 3].min() < 128:
        indices = np.asarray(image).copy()
        indices[frame[:, :, 3] < 128] = TRANSPARENT
        palette = image.getpalette()[: 3 * TRANSPARENT]
        image = Image.fromarray(indices, "P")
        image.putpalette(palette + [0] * (768 - len(palette)))
        image.info["transparency"] = TRANSPARENT
    return image
