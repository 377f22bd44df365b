"""The visible order of work for one image: probe, plan, decode, the steps, encode.

`STEPS` is the list of pixel steps, run in its order by a short loop that checks the render's
deadline after each one: crop -> rotate -> flip -> resize -> pad -> grayscale -> blur -> sharpen ->
pixelate, then alpha and depth for the output format. Filters come after the resize so that their
strength is in output pixels and their cost is paid on the small image. A new step is one function
in ops.py (pure ndarray -> ndarray) and one entry here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import formats
from ..errors import Problem
from . import decode, encode, geometry, ops
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
    """What every step of one render may read: the options, the plan made from the header, the header."""
    options: Any
    plan: geometry.Plan
    header: Header


Step = Callable[[np.ndarray, Job], np.ndarray]


def _on_decoded(box: geometry.Box | None, image: np.ndarray, full: tuple[int, int]) -> geometry.Box | None:
    """A box in full-size source pixels, on an image that was decoded smaller (shrink-on-load)."""
    height, width = image.shape[:2]
    if box is None or (width, height) == full:
        return box
    sx, sy = width / full[0], height / full[1]
    x, y = min(round(box[0] * sx), width - 1), min(round(box[1] * sy), height - 1)
    return x, y, max(1, min(round(box[2] * sx), width - x)), max(1, min(round(box[3] * sy), height - y))


STEPS: tuple[tuple[str, Step], ...] = (
    ("crop", lambda image, job: ops.crop(image, _on_decoded(job.plan.crop, image, job.header.display_size))),
    ("rotate", lambda image, job: ops.rotate(image, job.options.rotate)),
    ("flip", lambda image, job: ops.flip(image, job.options.flip)),
    ("resize", lambda image, job: ops.resize(image, job.plan.resize)),
    ("pad", lambda image, job: ops.window(image, job.plan.pad, job.options.bg)),
    ("grayscale", lambda image, job: ops.grayscale(image, job.options.grayscale)),
    ("blur", lambda image, job: ops.blur(image, job.options.blur)),
    ("sharpen", lambda image, job: ops.sharpen(image, job.options.sharpen)),
    ("pixelate", lambda image, job: ops.pixelate(image, job.options.pixelate)),
)


def render(data: bytes | np.ndarray, options: Any, settings: Settings, deadline: float | None = None,
           reserve: Callable[[int], AbstractContextManager] = lambda nbytes: nullcontext()) -> Rendered:
    """Encoded bytes in, encoded bytes out. `data` may also be a BGR(A) image already drawn in memory
    (a placeholder), which has no header to probe and nothing to decode, and counts as a PNG source.
    `deadline` (time.monotonic()) is checked after decoding and after every step: a single OpenCV
    call cannot be interrupted, but the input limits keep each one bounded. `reserve` is held, with the
    memory the image needs, from decoding to encoding (web.admission.Admission.reserve)."""
    started = time.perf_counter()
    if isinstance(data, np.ndarray):
        header = Header("png", data.shape[1], data.shape[0], ops.channels(data), data.dtype.itemsize * 8)
    else:
        header = probe(data)
        decode.check_pixels(header, settings.max_pixels)
    format = options.format or formats.default_output(header.format)
    plan = geometry.plan(*header.display_size, options, settings.max_dimension,
                         shrinkable=header.format == "jpeg")
    held = data.nbytes if isinstance(data, np.ndarray) else len(data)
    with reserve(held + decode.working_bytes(header, plan.shrink, plan.size)):
        if isinstance(data, np.ndarray):
            image = data
        else:
            image = decode.decode(data, header, shrink=plan.shrink, least=plan.least,
                                  eight=formats.FORMATS[format].depths == (np.uint8,))
        decoded = time.perf_counter()
        _check(deadline, "decoding")
        job = Job(options, plan, header)
        for name, step in STEPS:
            image = step(image, job)
            _check(deadline, name)
        image = encode.prepare(image, format, options.bg)
        processed = time.perf_counter()
        body = encode.encode(image, format, options)
    seconds = {"decode": decoded - started, "process": processed - decoded,
               "encode": time.perf_counter() - processed}
    return Rendered(body, format, image.shape[1], image.shape[0], seconds)


def _check(deadline: float | None, stage: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise Problem(503, f"the image took too long to render (over the limit after {stage}); "
                           "ask for a smaller output or try again", headers={"Retry-After": "1"})
