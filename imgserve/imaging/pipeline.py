"""The visible order of work for one image: probe, plan, decode, finish the plan, the steps, encode.

The plan is made from the header. A few options need the pixels to finish it: `FINISHES` runs them
on the decoded image, each returning the image and the job with its plan amended (trim cuts the
borders it finds and plans again; smart and face gravities move cover's cut to the subject).

`STEPS` is the list of pixel steps, run in its order by a short loop that checks the render's
deadline after each one: redact -> crop -> rotate -> flip -> resize -> pad -> grayscale -> blur ->
sharpen -> pixelate -> overlay, then alpha and depth for the output format. Redaction comes first,
on the decoded image, so that no output of any size or crop can hold more of a face than the
redacted source; filters come after the resize so that their strength is in output pixels and their
cost is paid on the small image; the overlay comes last, on top of everything. A new step is one
function in ops.py (pure ndarray -> ndarray) and one entry here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import formats
from ..errors import Problem
from ..options import FACE, GRAVITIES
from . import attention, decode, encode, faces, geometry, ops
from .probe import Header, probe

if TYPE_CHECKING:
    from ..settings import Settings


@dataclass(frozen=True)
class Rendered:
    body: bytes
    format: str
    width: int
    height: int
    seconds: dict[str, float] = field(default_factory=dict, compare=False)  # decode, process, encode

    @property
    def mime_type(self) -> str:
        return formats.FORMATS[self.format].mime


@dataclass(frozen=True)
class Job:
    """What every step of one render may read: the options, the plan made from the header, the header;
    and what finishing the plan may need: the settings, the source (to decode it again) and the overlay."""
    options: Any
    plan: geometry.Plan
    header: Header
    settings: Any = None
    source: bytes | np.ndarray | None = None
    overlay: np.ndarray | None = None  # BGR(A), decoded, to compose on top


Step = Callable[[np.ndarray, Job], np.ndarray]
Finish = Callable[[np.ndarray, Job], tuple[np.ndarray, Job]]


def _on_decoded(box: geometry.Box | None, image: np.ndarray, full: tuple[int, int]) -> geometry.Box | None:
    """A box in full-size source pixels, on an image that was decoded smaller (shrink-on-load)."""
    height, width = image.shape[:2]
    if box is None or (width, height) == full:
        return box
    sx, sy = width / full[0], height / full[1]
    x, y = min(int(box[0] * sx), width - 1), min(int(box[1] * sy), height - 1)
    return x, y, max(1, min(round(box[2] * sx), width - x)), max(1, min(round(box[3] * sy), height - y))


def _trim(image: np.ndarray, job: Job) -> tuple[np.ndarray, Job]:
    """Cut uniform borders off the crop region (the whole source by default), then plan again as if
    `crop` had named what is left. The decode was shrunk for the untrimmed size; when what is left
    needs more pixels, it is decoded again at the finer scale (render reserved the memory for that)
    and the borders are found again on it, to the finer pixel."""
    if job.options.trim is None:
        return image, job
    trimmed = _trimmed(image, job)
    if trimmed is None:
        return image, job
    if trimmed.plan.shrink < job.plan.shrink:
        image = decode.decode(job.source, job.header, shrink=trimmed.plan.shrink)
        trimmed = _trimmed(image, job) or trimmed
    return image, trimmed


def _trimmed(image: np.ndarray, job: Job) -> Job | None:
    full = job.header.display_size
    region = geometry.crop_region(*full, job.options.crop)
    seen = _on_decoded(region, image, full)
    box = ops.content_box(ops.crop(image, seen), job.options.trim)
    if box is None or box[2:] == seen[2:]:  # all border, or none: nothing to cut
        return None
    sx, sy = full[0] / image.shape[1], full[1] / image.shape[0]
    x0, y0 = region[0] + int(box[0] * sx), region[1] + int(box[1] * sy)
    x1 = min(region[0] + region[2], region[0] + int(np.ceil((box[0] + box[2]) * sx)))
    y1 = min(region[1] + region[3], region[1] + int(np.ceil((box[1] + box[3]) * sy)))
    options = replace(job.options, crop=(x0, y0, max(1, x1 - x0), max(1, y1 - y0)))
    plan = geometry.plan(*full, options, job.settings.max_dimension, shrinkable=job.header.format == "jpeg")
    return replace(job, options=options, plan=plan)


def _anchor(image: np.ndarray, job: Job) -> tuple[np.ndarray, Job]:
    """gravity=smart|face: cover's cut moved, inside the region it may slide in, to the subject."""
    plan = job.plan
    if plan.free is None or plan.crop is None:
        return image, job
    full = job.header.display_size
    region = ops.crop(image, _on_decoded(plan.free, image, full))
    sx, sy = image.shape[1] / full[0], image.shape[0] / full[1]
    found = None
    if job.options.gravity == FACE:
        try:
            found = faces.detect(region)
        except faces.Unavailable:
            pass  # logged once; the subject is still worth finding
    x, y = attention.place(region, (round(plan.crop[2] * sx), round(plan.crop[3] * sy)), found)
    fx, fy, fw, fh = plan.free
    x = min(max(fx, fx + round(x / sx)), fx + fw - plan.crop[2])
    y = min(max(fy, fy + round(y / sy)), fy + fh - plan.crop[3])
    return image, replace(job, plan=replace(plan, crop=(x, y, plan.crop[2], plan.crop[3])))


def _redact(image: np.ndarray, job: Job) -> np.ndarray:
    if not job.options.redact:
        return image
    try:
        return faces.redact(image)
    except faces.Unavailable:
        raise Problem(503, "redact=faces cannot be honoured: face detection is not available on this server "
                           "(its operator must reinstall imgserve's face model); no unredacted image is served",
                      headers={"Retry-After": "600"}) from None


FINISHES: tuple[tuple[str, Finish], ...] = (
    ("trim", _trim),
    ("anchor", _anchor),
)

STEPS: tuple[tuple[str, Step], ...] = (
    ("redact", _redact),
    ("crop", lambda image, job: ops.crop(image, _on_decoded(job.plan.crop, image, job.header.display_size))),
    ("rotate", lambda image, job: ops.rotate(image, job.options.rotate)),
    ("flip", lambda image, job: ops.flip(image, job.options.flip)),
    ("resize", lambda image, job: ops.resize(image, job.plan.resize)),
    ("pad", lambda image, job: ops.window(image, job.plan.pad, job.options.bg)),
    ("grayscale", lambda image, job: ops.grayscale(image, job.options.grayscale)),
    ("blur", lambda image, job: ops.blur(image, job.options.blur)),
    ("sharpen", lambda image, job: ops.sharpen(image, job.options.sharpen)),
    ("pixelate", lambda image, job: ops.pixelate(image, job.options.pixelate)),
    ("overlay", lambda image, job: ops.compose(image, job.overlay, GRAVITIES[job.options.overlay_gravity],
                                               job.options.overlay_scale, job.options.overlay_opacity,
                                               job.options.overlay_margin)),
)


def render(data: bytes | np.ndarray, options: Any, settings: Settings, deadline: float | None = None,
           reserve: Callable[[int], AbstractContextManager] = lambda nbytes: nullcontext(),
           overlay: np.ndarray | None = None) -> Rendered:
    """Encoded bytes in, encoded bytes out. `data` may also be a BGR(A) image already drawn in memory
    (a placeholder), which has no header to probe and nothing to decode, and counts as a PNG source.
    `deadline` (time.monotonic()) is checked after decoding and after every step: a single OpenCV
    call cannot be interrupted, but the input limits keep each one bounded. `reserve` is held, with the
    memory the image needs, from decoding to encoding (web.admission.Admission.reserve). `overlay` is
    the decoded image `options.overlay` names, composed on top."""
    started = time.perf_counter()
    if isinstance(data, np.ndarray):
        header = Header("png", data.shape[1], data.shape[0], ops.channels(data), data.dtype.itemsize * 8)
    else:
        header = probe(data)
        decode.check_pixels(header, settings.max_pixels)
    plan = geometry.plan(*header.display_size, options, settings.max_dimension,
                         shrinkable=header.format == "jpeg")
    held = data.nbytes if isinstance(data, np.ndarray) else len(data)
    finest = 1 if options.trim is not None else plan.shrink  # trim may need a finer decode
    with reserve(held + decode.working_bytes(header, finest, plan.size)):
        image = data if isinstance(data, np.ndarray) else decode.decode(data, header, shrink=plan.shrink)
        decoded = time.perf_counter()
        _check(deadline, "decoding")
        job = Job(options, plan, header, settings, data, overlay)
        for name, finish in FINISHES:
            image, job = finish(image, job)
            _check(deadline, name)
        for name, step in STEPS:
            image = step(image, job)
            _check(deadline, name)
        format = options.format or formats.default_output(header.format)
        image = encode.prepare(image, format, options.bg)
        processed = time.perf_counter()
        body = encode.encode(image, format, options)
    seconds = {"decode": decoded - started, "process": processed - decoded,
               "encode": time.perf_counter() - processed}
    return Rendered(body, format, image.shape[1], image.shape[0], seconds)


def overlay_pixels(data: bytes, settings: Settings,
                   reserve: Callable[[int], AbstractContextManager] = lambda nbytes: nullcontext()) -> np.ndarray:
    """An overlay's original decoded as a viewer shows it, no larger than MAX_DIMENSION on its long side
    (no output is larger), for `ops.compose`; the memory of the full decode is reserved while it runs."""
    header = probe(data)
    decode.check_pixels(header, settings.max_pixels)
    with reserve(decode.working_bytes(header, 1, (0, 0))):
        return np.ascontiguousarray(ops.shrink_to(decode.decode(data, header), settings.max_dimension))


def _check(deadline: float | None, stage: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise Problem(503, f"the image took too long to render (over the limit after {stage}); "
                           "ask for a smaller output or try again", headers={"Retry-After": "1"})
