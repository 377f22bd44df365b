"""The memory one render needs, from the header and the plan, before anything is decoded.

Admission reserves this from MAX_MEMORY, so it must not be less than what the render really takes:
a low estimate lets two renders that each "fit" take three times the budget (a 5000x5000 PNG with
alpha enlarged to 8192: estimated 798 MiB, used 3.7 GB). So it is not a rule of thumb but the
pipeline walked through in shapes: the decoder's array and scratch (limits.inspect: palettes
expanded, alpha added, tiles, coefficient buffers, OpenCV's own copy), EXIF orientation's copies,
each entry of pipeline.STEPS with every array it allocates (`STEP_COSTS`, one rule per step, next
to the code of ops.py it describes), then `encode.prepare` and the encoder with its output.

What is counted is resident memory, not live bytes. glibc keeps blocks under HEAP_BLOCK in its heap
once touched (server/allocator.py sets it so, for speed), and a freed block is reused only by a
block that fits in it: so within one render, every allocation under HEAP_BLOCK is counted as if it
were never freed, and larger ones (mapped, given back when freed) only while they are alive.

tests/unit/test_memory.py measures real renders in a subprocess (peak RSS growth) over every format
and every family of options and checks that this is never less: measured/estimated was 0.18-0.97,
median 0.58, before MARGIN (docs/limits.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .. import formats
from . import ops
from .limits import ROWS, Decoding

if TYPE_CHECKING:
    from .pipeline import Job  # read: header, plan, options, profile, convert, colour_first, overlay

HEAP_BLOCK = 32 << 20  # glibc's mmap threshold as allocator.tune() sets it
ENCODED_SLACK = 1.25   # an encoding of incompressible pixels may be a little larger than they are
FIXED = 2 << 20        # encoder state and tables, whatever the image
MARGIN = 1.1           # for what the model does not see: OpenCV's thread count, library versions
ANALYSIS = 64 << 20    # face detection or saliency on a copy of at most 640 px: YuNet's blobs, our copies

@dataclass(frozen=True)
class Array:
    """An array a render holds, and the buffer it is a view of (a crop keeps its source alive)."""
    width: int
    height: int
    channels: int
    sample: int
    base: int = 0  # bytes of the buffer underneath when this is a view, else 0

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def bytes(self) -> int:
        return self.pixels * self.channels * self.sample

    @property
    def plane(self) -> int:
        """One channel of it."""
        return self.pixels * self.sample

    @property
    def held(self) -> int:
        """What stays allocated while this array is: its own bytes, or the buffer it views."""
        return max(self.bytes, self.base)

    def sized(self, width: int, height: int, channels: int | None = None, sample: int | None = None) -> Array:
        return Array(width, height, self.channels if channels is None else channels,
                     self.sample if sample is None else sample)


Cost = Callable[[Array, "Job"], tuple[Array, list[int]]]  # -> (the result, every block allocated making it)


class Account:
    """Resident memory through a render: blocks under HEAP_BLOCK stay, larger ones while alive."""

    def __init__(self) -> None:
        self.heap = 0   # small blocks allocated so far
        self.peak = 0

    def step(self, held: int, allocations: list[int]) -> None:
        """A step that reads an array holding `held` bytes and allocates `allocations` (its result among
        them), all alive until it returns."""
        mapped = held if held >= HEAP_BLOCK else 0  # a small input is in the heap already
        self.heap += sum(a for a in allocations if a < HEAP_BLOCK)
        self.peak = max(self.peak, self.heap + mapped + sum(a for a in allocations if a >= HEAP_BLOCK))


def working_bytes(decoding: Decoding, job: Job, format: str, frames: int = 1, animated: bool = False) -> int:
    """The most memory resident at once while rendering (the source's bytes aside: the caller holds them):
    `job` as pipeline.render makes it before decoding; `frames` rendered, whose output is kept (BGRA)
    until encoded together; `animated`: decoded frame by frame through Pillow (animation.frames)."""
    header = job.header
    account = Account()
    image = Array(decoding.width, decoding.height, decoding.channels, decoding.sample)
    account.step(0, [image.bytes, *decoding.scratch, *_other_decoder(image, job, animated)])
    if animated:
        image = image.sized(image.width, image.height, 4, 1)
    if header.format == "jpeg" and header.orientation != 1:  # decode.decode applies EXIF orientation
        copies = 2 if header.orientation in (5, 7) else 1  # rotated, then flipped, while the decoded lives
        turned = image.sized(image.height, image.width) if header.orientation >= 5 else image
        account.step(image.held, [image.bytes] * copies)
        image = turned
    account.step(image.held, _finishing(image, job))
    for cost in STEP_COSTS.values():  # in pipeline.STEPS's order (tests/unit/test_memory.py)
        result, allocations = cost(image, job)
        account.step(image.held, allocations)
        image = result
    prepared, allocations = _prepare(image, format)
    account.step(image.held, allocations)
    kept = prepared.sized(prepared.width, prepared.height, 4, 1).bytes * (frames - 1)
    if frames > 1:  # the frames made BGRA, then the encoder's own copies of each (measured: three, APNG)
        account.step(prepared.held, [kept, kept, kept, kept, *_encoding(prepared, format)])
    else:
        account.step(prepared.held, _encoding(prepared, format))
    return int(account.peak * MARGIN) + FIXED + kept


def decoding_bytes(decoding: Decoding) -> int:
    """What decoding alone holds at its peak: the array and the decoder's scratch."""
    return int((decoding.bytes + sum(decoding.scratch)) * MARGIN) + FIXED


def _finishing(image: Array, job: Job) -> list[int]:
    """pipeline.FINISHES: trim compares each plane with the border (three boolean masks a plane, each
    a heap block that stays), then an opening; smart and face gravities look at a small copy."""
    allocations = [image.pixels] * (3 * image.channels + 4) if job.options.trim is not None else []
    if job.options.trim is not None:  # cv2.findNonZero: the points left, as int32 pairs
        allocations.append(image.pixels * 8)
    if job.plan.free is not None:
        allocations.append(ANALYSIS)
    return allocations


def _other_decoder(image: Array, job: Job, animated: bool) -> list[int]:
    """Decoders besides OpenCV's: Pillow for animations (its frame, RGBA, our copy, BGRA) and for
    CMYK with a profile (CMYK, the converted RGBX, its bytes; the array is a view of them)."""
    if animated:
        return [image.pixels, image.pixels * 4 * 3]
    profile = job.profile
    if profile is not None and getattr(profile, "space", None) == "CMYK" and job.header.format in ("jpeg", "tiff"):
        return [image.pixels * 4, image.pixels * 4, image.pixels * 3]
    return []


# -- the steps of pipeline.STEPS, in its order -----------------------------------------------------

def _new(out: Array) -> list[int]:
    """A result array, and what OpenCV allocates beside it while making it (measured up to a quarter
    of it: its threads' stripes, the heap's rounding)."""
    return [out.bytes, out.bytes // 4]


def _filter(image: Array) -> int:
    """A separable filter's row buffers, in float, one set per OpenCV thread (up to a sixth of the
    image measured, for float32; a quarter counted)."""
    return image.pixels * image.channels


def _crop(image: Array, job: Job) -> tuple[Array, list[int]]:
    """A view: nothing new, but the decoded buffer stays alive under it until a step copies."""
    if job.plan.crop is None:
        return image, []
    full_w, full_h = job.header.display_size
    _, _, w, h = job.plan.crop
    width, height = min(image.width, -(-w * image.width // full_w)), min(image.height, -(-h * image.height // full_h))
    return replace(image.sized(width, height), base=image.held), []


def _copy_if(changes: Callable[[Job], bool], turns: Callable[[Job], bool] = lambda job: False) -> Cost:
    """A step that returns a new array of the same samples (rotate, flip), or its input."""
    def cost(image: Array, job: Job) -> tuple[Array, list[int]]:
        if not changes(job):
            return image, []
        out = image.sized(image.height, image.width) if turns(job) else image.sized(image.width, image.height)
        return out, _new(out)

    return cost


def _resize(image: Array, job: Job) -> tuple[Array, list[int]]:
    width, height = job.plan.resize
    if (image.width, image.height) == (width, height):
        return image, []
    out = image.sized(width, height)
    if image.channels != 4:
        return out, [*_new(out), ROWS * max(image.width, width) * image.channels * 4]
    # ops.resize with alpha: premultiplied (uint16 for 8-bit samples, else float32, with a copy of the
    # alpha plane for the in-place product), resized, then unpremultiplied into the result a band of
    # rows at a time (float32, one-channel masks, rounded in place, cast: the band's size, twice)
    wide = 2 if image.sample == 1 else 4
    band = out.sized(width, min(height, ops.UNPREMULTIPLY_ROWS), 4, 4).bytes
    return out, [image.pixels * 4 * wide, image.pixels * wide, *_new(out.sized(width, height, 4, wide)),
                 *_new(out), band, band, band // 2]


def _pad(image: Array, job: Job) -> tuple[Array, list[int]]:
    box = job.plan.pad
    if box is None or tuple(box) == (0, 0, image.width, image.height):
        return image, []
    _, _, w, h = box
    channels = image.channels
    bg = job.options.bg
    if channels == 1 and len(set(bg[:3])) > 1:
        channels = 3
    if bg[3] < 255 and channels != 4:
        channels = 4
    room = []  # ops._room_for: gray to BGR, then to BGRA, each a copy
    if image.channels == 1 and channels >= 3:
        room.append(image.pixels * 3 * image.sample)
    if channels == 4 and image.channels != 4:
        room.append(image.pixels * 4 * image.sample)
    out = image.sized(w, h, channels)
    return out, [*room, *_new(out)]


def _grayscale(image: Array, job: Job) -> tuple[Array, list[int]]:
    if not job.options.grayscale or image.channels == 1:
        return image, []
    if image.channels == 4:  # luma, the alpha plane made contiguous, merged back (with a plane of its own)
        out = image.sized(image.width, image.height, 4)
        return out, [image.plane, image.plane, image.plane, *_new(out)]
    gray = image.sized(image.width, image.height, 1)
    return gray, _new(gray)


def _blur(image: Array, job: Job) -> tuple[Array, list[int]]:
    if not job.options.blur:
        return image, []
    out = image.sized(image.width, image.height)
    return out, [*_new(out), _filter(image), out.bytes // 4]  # and a wide blur's shrunk copies


def _sharpen(image: Array, job: Job) -> tuple[Array, list[int]]:
    if not job.options.sharpen:
        return image, []
    out = image.sized(image.width, image.height)
    return out, [out.bytes, *_new(out), _filter(image)]  # the blurred copy, and the weighted sum


def _pixelate(image: Array, job: Job) -> tuple[Array, list[int]]:
    size = job.options.pixelate
    if not size or size < 2:
        return image, []
    work = image.pixels * image.channels * 8  # float64
    overlap = image.pixels * 8 if image.channels == 4 else 0  # colour *= alpha in place copies alpha first
    block_rows = -(-image.height // size) * image.width * image.channels * 8
    out = image.sized(image.width, image.height)
    repeated_rows = image.height * -(-image.width // size) * image.channels * image.sample
    return out, [work, overlap, block_rows, repeated_rows, *_new(out)]


def _redact(image: Array, job: Job) -> tuple[Array, list[int]]:
    """faces.redact: detection on a small copy, then a copy of the image with faces pixelated (a face
    is a part of it: pixelate's float64 work counted on the whole, as if it were all face)."""
    if not job.options.redact:
        return image, []
    out = image.sized(image.width, image.height)
    return out, [ANALYSIS, out.bytes, image.pixels * image.channels * 8 // 4]


def _colour(first: bool) -> Cost:
    """colour.to_srgb: 8 bits first where deeper, a contiguous copy handed to LittleCMS (converted in
    place), its bytes back."""
    def cost(image: Array, job: Job) -> tuple[Array, list[int]]:
        if job.convert is None or job.colour_first != first:
            return image, []
        out = image.sized(image.width, image.height, sample=1)
        return out, [out.bytes, out.bytes, out.bytes]

    return cost


def _overlay(image: Array, job: Job) -> tuple[Array, list[int]]:
    """ops.compose: the overlay resized, the image copied (made BGR if gray), and the blend in float32
    over the overlay's area, which may be all of it: the base, two products, the sum, the result."""
    if job.overlay is None:
        return image, []
    channels = 3 if image.channels == 1 and job.overlay.ndim == 3 else image.channels
    out = image.sized(image.width, image.height, channels)
    mark = image.pixels * 4 * job.overlay.dtype.itemsize
    blend = image.pixels * 4 * 4
    return out, [mark, out.bytes, *_new(out), blend, blend, blend, blend, blend, image.pixels * 4]


STEP_COSTS: dict[str, Cost] = {
    "redact": _redact,
    "crop": _crop,
    "rotate": _copy_if(lambda job: bool(job.options.rotate), lambda job: job.options.rotate in (90, 270)),
    "flip": _copy_if(lambda job: bool(job.options.flip)),
    "colour before enlarging": _colour(True),
    "resize": _resize,
    "colour": _colour(False),
    "pad": _pad,
    "grayscale": _grayscale,
    "blur": _blur,
    "sharpen": _sharpen,
    "pixelate": _pixelate,
    "overlay": _overlay,
}


# -- encode.prepare and the encoder ------------------------------------------------------------------

def _prepare(image: Array, format: str) -> tuple[Array, list[int]]:
    spec = formats.FORMATS[format]
    allocations = []
    if not spec.alpha and image.channels == 4:  # ops.flatten: alpha, the colour as float32, blended in place
        allocations += [image.pixels * 4, image.pixels * 12, image.pixels * 4, image.pixels * 12]
        image = image.sized(image.width, image.height, 3)
        allocations += _new(image)
    allowed = {np.dtype(t).itemsize for t in spec.depths}
    if image.sample not in allowed:  # ops.to_depth: float to uint16 where it fits, else to uint8; clipped,
        out = image.sized(image.width, image.height, sample=2 if image.sample == 4 and 2 in allowed else 1)
        allocations += [image.bytes, image.bytes, *_new(out)]  # scaled, then cast
        image = out
    return image, allocations


def _encoding(image: Array, format: str) -> list[int]:
    """The encoder's working memory, its output buffer (it grows by doubling: up to twice the
    encoding), and that buffer copied to bytes. Gray goes to libwebp as BGR: the pixel counts cover it."""
    encoded = int(image.bytes * ENCODED_SLACK) + (64 << 10)
    internal = ROWS * image.width * image.channels * image.sample * 4
    if format == "webp":
        internal += image.pixels * 12  # libwebp: the picture as ARGB and YUV, and the lossless encoder's hashes
    elif format == "avif":
        internal += image.pixels * 16  # libavif: the picture as YUV(A) at 16 bits, and the AV1 encoder's frames
    elif format == "gif":
        internal += image.pixels * 16  # Pillow: the image as RGB(A) (4 bytes a pixel), quantized, its octree
    elif format == "jpeg":
        internal += image.pixels * 7  # jpeg_writer: the RGB copy, and Pillow's image (4 bytes a pixel)
    elif format == "png":  # png_form: the colours as BGRA keys, indices, the colour table's touched pages;
        internal += image.pixels * 5 + image.bytes * 3 + (8 << 20)  # png_writer: filtered rows, candidates
    return [internal, encoded, encoded, encoded]
