"""`GET /placeholder/<W>x<H>?text=&bg=&fg=`: a generated image (imaging/placeholder.py draws it).

The size, text and colours are parsed here; `format` and `q` are ordinary options. Like every image
response it has an ETag made before any drawing, and it is cached like a render.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from .. import __version__
from ..errors import Problem, bad_option
from ..imaging.placeholder import DEFAULT_BG, DEFAULT_FG, Placeholder
from ..options import SIGNATURE, parse_color
from .caching import etag
from .conditional import caching_headers, fresh, not_modified
from .images import image_response, produce, request_options
from .service import service

PARAMS = ("text", "bg", "fg")               # read here; format and q are ordinary options
ACCEPTED = PARAMS + ("format", "q", SIGNATURE)
MAX_TEXT = 100
_SIZE = re.compile(r"([0-9]{1,9})x([0-9]{1,9})")


def placeholder(size: str) -> Response:
    svc = service()
    if svc.settings.presets_only:  # its size is the client's choice, so no preset could bound its cost
        raise Problem(403, "/placeholder is off on this server: it only serves presets (IMGSERVE_PRESETS_ONLY=1); "
                           "use /image/<id>?preset=<name>")
    options = request_options(own=PARAMS)
    drawing = parse(size, request.args, svc.settings.max_dimension)
    tag = etag(drawing.identity, options.canonical(), __version__)
    headers = caching_headers(tag, None, svc.settings.cache_max_age, vary=("Accept",) if options.negotiated else ())
    if fresh(request.environ, tag):
        return not_modified(headers)
    return image_response(produce(tag, drawing.draw, options), headers)


def parse(size: str, args: Any, max_dimension: int) -> Placeholder:
    """`<W>x<H>` and the query; 400 naming the part that is wrong."""
    match = _SIZE.fullmatch(size)
    if not match:
        raise bad_option("size", f"expected <width>x<height> in pixels, like 300x200, got {size!r}")
    width, height = (int(v) for v in match.groups())
    for name, value in (("width", width), ("height", height)):
        if not 1 <= value <= max_dimension:
            raise bad_option(name, f"must be from 1 to {max_dimension}, got {value}")
    for name, values in args.lists():
        if name not in ACCEPTED:
            raise bad_option(name, f"not an option of /placeholder, which takes {', '.join(ACCEPTED[:-1])}")
        if len(values) != 1:
            raise bad_option(name, "given more than once")
    text = args.get("text", f"{width}×{height}")
    if len(text) > MAX_TEXT:
        raise bad_option("text", f"at most {MAX_TEXT} characters, got {len(text)}")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise bad_option("text", "control characters (line breaks, tabs, ...) cannot be drawn")
    return Placeholder(width, height, text, _color(args, "bg", DEFAULT_BG), _color(args, "fg", DEFAULT_FG))


def _color(args: Any, name: str, default: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    if name not in args:
        return default
    try:
        return parse_color(args[name])
    except ValueError as error:
        raise bad_option(name, str(error)) from None
