"""The visible order of work for one image: probe, plan, decode, finish the plan, the steps, encode.

The plan is made from the header. A few options need the pixels to finish it: `FINISHES` runs them
on the decoded image, each returning the image and the job with its plan amended (trim cuts the
borders it finds and plans again; smart and face gravities move cover's cut to the subject).

`STEPS` is the list of pixel steps, run in its order by a short loop that checks the render's
deadline after each one: redact -> crop -> rotate -> flip -> resize -> colour -> pad -> grayscale ->
blur -> sharpen -> pixelate -> overlay, then alpha and depth for the output format. Redaction comes
first, on the decoded image, so that no output of any size or crop can hold more of a face than the
redacted source. Filters come after the resize so that their strength is in output pixels and their
cost is paid on the small image. So does the conversion from an embedded profile to sRGB, but before
padding and flattening (`bg` is an sRGB colour) and grayscale; when the resize enlarges, it runs
before it instead, on the smaller image. The overlay comes last, on top of everything. A new step is
one function in ops.py (pure ndarray -> ndarray) and one entry here, with the memory it takes in
memory.STEP_COSTS.

An animated source whose output format can hold animation runs the steps on every frame, decoded
one at a time (imaging/animation.py), and keeps its timing and loop count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import formats
from ..errors import Problem, bad_option
from ..options import FACE, GRAVITIES
from . import animation, attention, colour, decode, encode, faces, geometry, icc, limits, memory, ops
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
    what finishing the plan may need: the settings, the source (to decode it again) and its profile; the
    overlay (BGR(A), decoded) to compose on top; and the profile to convert from (None: nothing to
    convert), before the resize or after it."""
    options: Any
    plan: geometry.Plan
    header: Header
    settings: Any = None
    source: bytes | np.ndarray | None = None
    profile: icc.Profile | None = None
    overlay: np.ndarray | None = None
    convert: icc.Profile | None = None
    colour_first: bool = False


Step = Callable[[np.ndarray, Job], np.ndarray]
Finish = Callable[[np.ndarray, Job], tuple[np.ndarray, Job]]


def _on_decoded(box: geometry.Box | None, image: np.ndarray, full: tuple[int, int]) -> geometry.Box | None:
    """A box in full-size source pixels, on an image that was decoded smaller (shrink-on-load)."""
    height, width = image.shape[:2]
    if box is None or (width, height) == full:
        return box
    sx, sy = width / full[0], height / full[1]
    x, y = min(round(box[0] * sx), width - 1), min(round(box[1] * sy), height - 1)
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
    if _finer(trimmed.plan, job, image):
        eight = image.dtype == np.uint8 and job.header.bit_depth > 8
        image = _decode(job.source, job.header, trimmed.plan, job.profile, eight)
        trimmed = _trimmed(image, job) or trimmed
    return image, trimmed


def _finer(plan: geometry.Plan, job: Job, image: np.ndarray) -> bool:
    """Whether `plan` needs more pixels than were decoded for the job's: a smaller JPEG shrink, or (the
    formats reduced to Plan.least) a larger least than the image."""
    if job.header.format == "jpeg":
        return plan.shrink < job.plan.shrink
    needed = plan.least or job.header.display_size
    return image.shape[1] < needed[0] or image.shape[0] < needed[1]


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

def _colour(first: bool) -> Step:
    """The colour step, placed where the image is smaller: after the resize, or before an enlarging one."""
    return lambda image, job: (colour.to_srgb(image, job.convert, job.header.format)
                               if job.convert is not None and job.colour_first == first else image)


STEPS: tuple[tuple[str, Step], ...] = (
    ("redact", _redact),
    ("crop", lambda image, job: ops.crop(image, _on_decoded(job.plan.crop, image, job.header.display_size))),
    ("rotate", lambda image, job: ops.rotate(image, job.options.rotate)),
    ("flip", lambda image, job: ops.flip(image, job.options.flip)),
    ("colour before enlarging", _colour(True)),
    ("resize", lambda image, job: ops.resize(image, job.plan.resize)),
    ("colour", _colour(False)),
    ("pad", lambda image, job: ops.window(image, job.plan.pad, job.options.bg)),
    ("grayscale", lambda image, job: ops.grayscale(image, job.options.grayscale)),
    ("blur", lambda image, job: ops.blur(image, job.options.blur)),
    ("sharpen", lambda image, job: ops.sharpen(image, job.options.sharpen)),
    ("pixelate", lambda image, job: ops.pixelate(image, job.options.pixelate)),
    ("overlay", lambda image, job: ops.compose(image, job.overlay, GRAVITIES[job.options.overlay_gravity],
                                               job.options.overlay_scale, job.options.overlay_opacity,
                                               job.options.overlay_margin)),
)


def render(data: bytes | np.ndarray, options: Any, settings: Settings,
           deadline: float | Callable[[], float] | None = None,
           reserve: Callable[[int], AbstractContextManager] = lambda nbytes: nullcontext(),
           overlay: np.ndarray | None = None) -> Rendered:
    """Encoded bytes in, encoded bytes out. `data` may also be a BGR(A) image already drawn in memory
    (a placeholder), which has no header to probe and nothing to decode, and counts as a PNG source.
    `deadline` (time.monotonic(), or a function giving it: a shutdown may bring it forward) is checked
    after decoding and after every step: a single OpenCV
    call cannot be interrupted, but the input limits keep each one bounded. `reserve` is held, with the
    memory the image needs, from decoding to encoding (web.admission.Admission.reserve). `overlay` is
    the decoded image `options.overlay` names, composed on top."""
    started = time.perf_counter()
    if isinstance(data, np.ndarray):
        header = Header("png", data.shape[1], data.shape[0], ops.channels(data), data.dtype.itemsize * 8)
        profile, timeline = None, animation.STILL
    else:
        header = probe(data)
        decode.check_pixels(header, settings.max_pixels)
        profile, timeline = icc.profile(data, header.format), animation.timeline(data, header.format)
    format = output_format(header.format, options)
    first, count = _frames(timeline, options, format)
    _check_frames(header, timeline, first + count, settings)
    plan = geometry.plan(*header.display_size, options, settings.max_dimension,
                         shrinkable=header.format == "jpeg" and timeline.frames == 1)
    convert, embed = _colour_plan(profile, header, options, format)
    job = Job(options, plan, header, settings, data, profile, overlay, convert,
              colour_first=_pixels_before_resize(header, plan) < plan.resize[0] * plan.resize[1])
    finest = 1 if options.trim is not None else plan.shrink  # trim may need a finer decode
    if isinstance(data, np.ndarray):
        decoding = limits.Decoding(header.width, header.height, ops.channels(data), data.dtype.itemsize, ())
    else:
        decoding = limits.inspect(data, header, settings, finest)  # 422 for CPU bombs, before decoding
    held = data.nbytes if isinstance(data, np.ndarray) else len(data)
    need = memory.working_bytes(decoding, job, format, frames=count, animated=timeline.frames > 1)
    with reserve(held + need):
        images = []
        eight = formats.FORMATS[format].depths == (np.uint8,)  # deeper samples may be decoded to 8 bits
        for image in _source(data, header, plan, profile, timeline, first, count, eight):
            if not images:  # an animation's later frames are decoded between steps: counted as processing
                decoded, source = time.perf_counter(), image
                _check(deadline, "decoding")
                for name, finish in FINISHES:  # from the first frame, the plan of every frame
                    image, job = finish(image, job)
                    _check(deadline, name)
            images.append(_steps(image, job, deadline))
        images = [encode.prepare(image, format, options.bg) for image in images]
        if embed is not None and not _embeddable(embed, images[0], format):  # gray profile, colour padding
            images, embed = [colour.to_srgb(image, embed, header.format) for image in images], None
        processed = time.perf_counter()
        if len(images) > 1:
            durations = list(timeline.durations[first:first + len(images)]) or [100] * len(images)
            body = encode.encode_animation(images, durations, timeline.loops, format, options)
        else:
            untouched = (images[0] is source and format == "png" and not isinstance(data, np.ndarray)  # no step ran
                         and images[0].shape[:2] == (header.height, header.width))  # nor a reducing decoder
            body = encode.encode(images[0], format, options, embed.icc if embed else None,
                                 png_effort=settings.png_effort,
                                 indexed=decode.indexed(data, header) if untouched else None)
    seconds = {"decode": decoded - started, "process": processed - decoded,
               "encode": time.perf_counter() - processed}
    return Rendered(body, format, images[0].shape[1], images[0].shape[0], seconds)


def output_format(source: str, options: Any) -> str:
    """The format asked for, else the source's default; lossless=1 makes a lossy default PNG (a named
    lossy format with lossless=1 was refused while parsing)."""
    format = options.format or formats.default_output(source)
    if options.lossless and formats.FORMATS[format].lossless == "never":
        return formats.DEFAULT_OUTPUT
    return format


def _frames(timeline: animation.Timeline, options: Any, format: str) -> tuple[int, int]:
    """(first, count) of the frames to render: every one where the output keeps the animation, else one."""
    if options.frame is not None:
        if options.frame >= timeline.frames:
            raise bad_option("frame", f"the source has {timeline.frames} frame{'s' * (timeline.frames > 1)}, "
                                      f"numbered from 0; got {options.frame}")
        return options.frame, 1
    return 0, timeline.frames if formats.FORMATS[format].animates else 1


def _check_frames(header: Header, timeline: animation.Timeline, frames: int, settings: Settings) -> None:
    """Every frame up to the last one rendered is decoded (later frames are drawn over earlier ones), each
    on a canvas that holds the largest frame."""
    width, height = max(header.width, timeline.canvas[0]), max(header.height, timeline.canvas[1])
    if (width, height) != (header.width, header.height):
        decode.check_pixels(replace(header, width=width, height=height), settings.max_pixels)
    budget = settings.max_animation_pixels
    if frames > 1 and frames * width * height > budget:
        raise Problem(422, f"the animation has {frames} frames of {width}x{height} = {frames * width * height} "
                           f"pixels to decode; this server decodes at most {budget} (take one with frame=<n>, "
                           "or ask for a still format such as jpeg)")


def _source(data: bytes | np.ndarray, header: Header, plan: geometry.Plan, profile: icc.Profile | None,
            timeline: animation.Timeline, first: int, count: int, eight: bool) -> Iterator[np.ndarray]:
    """The decoded source: an image drawn in memory, frames of an animation (one at a time), or a still."""
    if isinstance(data, np.ndarray):
        return iter([data])
    if timeline.frames > 1:
        return animation.frames(data, header.format, first, count)
    return iter([_decode(data, header, plan, profile, eight)])


def _steps(image: np.ndarray, job: Job, deadline: float | None) -> np.ndarray:
    for name, step in STEPS:
        image = step(image, job)
        _check(deadline, name)
    return image


def _decode(data: bytes, header: Header, plan: geometry.Plan, profile: icc.Profile | None,
            eight: bool = False) -> np.ndarray:
    """A still image, reduced while decoding where the plan and the format allow (`eight`: the output
    keeps 8 bits); CMYK with a CMYK profile through LittleCMS (OpenCV would ignore the profile)."""
    if profile is not None and profile.space == "CMYK" and header.format in ("jpeg", "tiff"):
        try:
            image = colour.decode_cmyk(data, profile, plan.shrink)
        except (OSError, ValueError, SyntaxError) as error:
            raise Problem(415, f"the {header.format.upper()} CMYK data could not be decoded: {error}") from None
        if image is not None:
            return ops.orient(image, header.orientation) if header.format == "jpeg" else image
    return decode.decode(data, header, shrink=plan.shrink, least=plan.least, eight=eight)


def _colour_plan(profile: icc.Profile | None, header: Header, options: Any,
                 format: str) -> tuple[icc.Profile | None, icc.Profile | None]:
    """(profile to convert from in the colour step, profile to embed in the output). A profile is
    embedded when icc=keep asks for it, or when the samples are deeper than 8 bits and stay so (LittleCMS
    through Pillow converts 8 bits only); else it is converted. CMYK is converted while decoding."""
    if profile is None or profile.space not in ("RGB", "GRAY"):
        return None, None
    spec = formats.FORMATS[format]
    deep = header.bit_depth > 8 and spec.depths != (np.uint8,)
    carried = spec.icc and not (options.grayscale and profile.space == "RGB")
    if carried and (options.icc == "keep" or (deep and not colour.is_srgb(profile))):
        return None, profile
    return profile, None


def _embeddable(profile: icc.Profile, image: np.ndarray, format: str) -> bool:
    if profile.space == "GRAY":
        return image.ndim == 2 and format in ("jpeg", "png", "tiff")
    return image.ndim == 3


def _pixels_before_resize(header: Header, plan: geometry.Plan) -> float:
    width, height = plan.crop[2:] if plan.crop else header.display_size
    return width * height / plan.shrink ** 2


def overlay_pixels(data: bytes, settings: Settings,
                   reserve: Callable[[int], AbstractContextManager] = lambda nbytes: nullcontext()) -> np.ndarray:
    """An overlay's original decoded as a viewer shows it, no larger than MAX_DIMENSION on its long side
    (no output is larger), for `ops.compose`; the memory of the full decode is reserved while it runs."""
    header = probe(data)
    decode.check_pixels(header, settings.max_pixels)
    profile = icc.profile(data, header.format)
    decoding = limits.inspect(data, header, settings)
    with reserve(memory.decoding_bytes(decoding) + 3 * decoding.bytes):  # and a smaller copy, converted
        image = ops.shrink_to(_decode(data, header, geometry.Plan(None, header.display_size, None), profile),
                              settings.max_dimension)
        if profile is not None and profile.space in ("RGB", "GRAY"):  # composed onto sRGB pixels
            image = colour.to_srgb(image, profile, header.format)
        return np.ascontiguousarray(image)


def _check(deadline: float | Callable[[], float] | None, stage: str) -> None:
    if deadline is not None and time.monotonic() > (deadline() if callable(deadline) else deadline):
        raise Problem(503, f"the image took too long to render (over the limit after {stage}); "
                           "ask for a smaller output or try again", headers={"Retry-After": "1"})
