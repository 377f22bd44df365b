"""Client hints (IMGSERVE_CLIENT_HINTS=1): the browser says its device pixel ratio and the image's
layout width, and the server sizes the image for it.

`Sec-CH-DPR` gives `dpr` when the URL names none; `Sec-CH-Width` (or the older `Width`) gives `w` when
the URL names neither `w` nor `h` nor `scale` (it is already in device pixels, so the DPR is not
applied on top of it). Both are rounded up to a short ladder, so that a cache holds a few variants
of an image rather than one per device: DPR to 1, 1.5, 2, 3 or 4, the width to the next step of
WIDTHS (at most MAX_DIMENSION). Every image response then says `Vary` on the hints it honours and
announces them with `Accept-CH`. Browsers send hints to another origin only when the page delegates
them (docs/crops-and-overlays.md says how).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

DPRS = (1.0, 1.5, 2.0, 3.0, 4.0)
WIDTHS = (160, 240, 320, 480, 640, 800, 960, 1280, 1600, 1920, 2560, 3200, 3840, 5120, 6400, 7680, 8192)
ACCEPT_CH = "Sec-CH-DPR, Sec-CH-Width"
VARY = ("Sec-CH-DPR", "Sec-CH-Width", "Width")  # what changes a response: the hints read, legacy Width too
_NUMBER = re.compile(r"\s*([0-9]{1,5}(?:\.[0-9]{1,6})?)\s*")


def read(headers: Mapping[str, str], max_dimension: int) -> tuple[float | None, int | None]:
    """(DPR, width), each rounded up to its ladder, or None when absent or not a number."""
    dpr = _number(headers.get("Sec-CH-DPR"))
    width = _number(headers.get("Sec-CH-Width") or headers.get("Width"))
    rounded_dpr = next((d for d in DPRS if d >= dpr), DPRS[-1]) if dpr and dpr > 0 else None
    rounded_width = None
    if width and width >= 1:
        rounded_width = min(next((w for w in WIDTHS if w >= width), WIDTHS[-1]), max_dimension)
    return rounded_dpr, rounded_width


def apply(options: Any, given: Collection[str], headers: Mapping[str, str], max_dimension: int) -> Any:
    """The options with the hints filled in where the query (`given` names its parameters) left room."""
    dpr, width = read(headers, max_dimension)
    if width and not {"w", "h", "scale"} & set(given) and options.w is None and options.h is None \
            and options.scale is None:
        return replace(options, w=width)
    if dpr and "dpr" not in given and options.dpr == 1.0:
        return replace(options, dpr=dpr)
    return options


def key(environ: Mapping[str, str], max_dimension: int) -> tuple[float | None, int | None]:
    """The rounded hints of a WSGI request, for the repeat cache's key."""
    headers = {"Sec-CH-DPR": environ.get("HTTP_SEC_CH_DPR", ""), "Sec-CH-Width": environ.get("HTTP_SEC_CH_WIDTH", ""),
               "Width": environ.get("HTTP_WIDTH", "")}
    return read(headers, max_dimension)


def _number(text: str | None) -> float | None:
    match = _NUMBER.fullmatch(text or "")
    return float(match[1]) if match else None
