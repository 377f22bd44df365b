"""`GET /srcset/<id>?widths=&sizes=&alt=&<options>`: the markup a page needs to show an original well.

A `<picture>` with one `<source>` per modern format the server encodes (AVIF when the format registry
has it, then WebP), each a `srcset` of /image URLs at the given widths, and an `<img>` fallback in
the source's own web format with `width`/`height` (so the page reserves the space: no layout shift),
`loading="lazy"`, and a placeholder painted under it (the dominant colour and a tiny data-URI image).
With `Accept: application/json` the same comes as JSON, with a BlurHash too.

The other options apply to every candidate (a crop, gravity, a watermark); `w` (the largest width,
default the image's own) and `h` (with `w`: the aspect ratio) set the box, each candidate keeping its
aspect. `format`, `dpr` and `scale` are the markup's to choose, so they are refused. Under signing, the
/srcset URL itself must be signed, like /info, since the URLs it returns are signed: otherwise anyone
could have the server sign any options. Presets-only servers cannot vary widths, so /srcset is a 400.

URLs are path-absolute (`/image/...`): the markup does not depend on the Host a client sent, and a
page on another origin prefixes its imgserve origin.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from flask import Response, g, request
from markupsafe import escape
from werkzeug.datastructures import MultiDict

from .. import __version__, formats, signing
from ..errors import Problem, bad_option
from ..imaging import geometry, preview
from ..imaging.decode import decode_array
from ..imaging.facts import read_header
from ..options import OPTIONS, Options, integer, parse
from .caching import etag
from .conditional import caching_headers, fresh, not_modified
from .images import overlay_of, produce
from .service import service

OWN = ("widths", "sizes", "alt")
REFUSED = ("format", "dpr", "scale")
MAX_WIDTHS = 16
MAX_TEXT = 500
LADDER = (160, 320, 480, 640, 960, 1280, 1600, 1920, 2560, 3840)  # widths when none are given
MODERN = ("avif", "webp")  # <source> types, best first; each listed when the server encodes it


def srcset(id: str) -> Response:
    svc = service()
    settings = svc.settings
    params = list(request.args.items(multi=True))
    signing.verify(request.path, params, settings.signing_keys)
    if settings.presets_only:
        raise Problem(400, "this server only serves presets, which cannot vary the width a srcset needs")
    own = {name: _once(name) for name in OWN}
    for name in REFUSED:
        if name in request.args:
            raise bad_option(name, f"/srcset chooses {name} for each candidate itself")
    options = parse(MultiDict([(k, v) for k, v in params if k not in OWN]), settings)
    options = replace(options, dpr=1.0, scale=None, format=None)  # a preset's too: the markup chooses them
    sizes, alt = _text("sizes", own["sizes"] or "100vw"), _text("alt", own["alt"] or "")
    as_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    with svc.folder.open(id) as original, overlay_of(options) as overlay:
        identities = [original.identity] + ([overlay.identity] if overlay else [])
        tag = etag(*identities, "srcset", id, options.canonical(), own["widths"] or "", sizes, alt,
                   "json" if as_json else "html", __version__)
        headers = caching_headers(tag, original.modified, settings.cache_max_age, vary=("Accept",))
        if fresh(request.environ, tag, headers.get("Last-Modified")):
            return not_modified(headers)
        header, _ = read_header(original, settings.max_source_bytes)
        box = geometry.plan(*header.display_size, options, settings.max_dimension).size
        widths = _widths(own["widths"], box[0], options.enlarge, settings.max_dimension)
        shown = placeholder(original, options, box, settings)
    markup = build(id, options, box, widths, header.format, header.channels in (2, 4), sizes, alt, shown,
                   settings.signing_keys[0] if settings.signing_keys else None)
    if as_json:
        response = Response(json.dumps(markup), content_type="application/json")
    else:
        response = Response(markup["html"], content_type="text/html; charset=utf-8")
    response.headers.update(headers)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def build(id: str, options: Options, box: tuple[int, int], widths: list[int], source_format: str, alpha: bool,
          sizes: str, alt: str, placeholder: dict[str, Any], key: str | None) -> dict[str, Any]:
    """The markup, and its parts for JSON: each <source>'s type and candidates, the <img>'s attributes."""
    fallback = formats.default_output(source_format)
    if fallback in MODERN:  # a WebP original still needs a fallback every browser shows
        fallback = "png" if alpha else "jpeg"
    encodable = {f.name for f in formats.outputs()}
    sources = [{"type": formats.FORMATS[name].mime, "srcset": _candidates(id, options, box, widths, name, key)}
               for name in MODERN if name in encodable and name != fallback]
    candidates = _candidates(id, options, box, widths, fallback, key)
    middle = candidates[len(candidates) // 2]["url"]
    style = ""
    if placeholder.get("dominant"):
        style = (f"background-color:{placeholder['dominant']};background-image:url({placeholder['lqip']});"
                 "background-size:cover")
    img = {"src": middle, "srcset": _attribute(candidates), "sizes": sizes, "width": box[0], "height": box[1],
           "alt": alt, "loading": "lazy", "decoding": "async", "style": style}
    lines = ["<picture>"]
    for source in sources:
        lines.append(f'  <source type="{source["type"]}" srcset="{escape(_attribute(source["srcset"]))}" '
                     f'sizes="{escape(sizes)}">')
    shown = {name: value for name, value in img.items() if value != "" or name == "alt"}  # alt="" is meaningful
    lines.append("  <img " + " ".join(f'{name}="{escape(value)}"' for name, value in shown.items()) + ">")
    lines.append("</picture>")
    return {"html": "\n".join(lines) + "\n", "width": box[0], "height": box[1], "sizes": sizes,
            "sources": sources, "img": {**img, "srcset": candidates, "type": formats.FORMATS[fallback].mime},
            "placeholder": placeholder}


def _candidates(id: str, options: Options, box: tuple[int, int], widths: list[int], format: str,
                key: str | None) -> list[dict[str, Any]]:
    result = []
    for width in widths:
        height = max(1, round(width * box[1] / box[0])) if options.h is not None else None
        query = replace(options, w=width, h=height, format=format).canonical()
        url = f"/image/{quote(id, safe='/')}?{query}"
        result.append({"url": signing.sign_url(url, key) if key else url, "width": width})
    return result


def _attribute(candidates: list[dict[str, Any]]) -> str:
    return ", ".join(f"{c['url']} {c['width']}w" for c in candidates)


def _widths(text: str | None, widest: int, enlarge: bool, max_dimension: int) -> list[int]:
    """The candidates' widths: those given (each 1..MAX_DIMENSION, at most MAX_WIDTHS), or the ladder;
    none wider than the image can be made (unless enlarge), and the image's own width always there."""
    if text is None:
        chosen = [w for w in LADDER if w < widest] + [widest]
    else:
        parts = text.split(",")
        if len(parts) > MAX_WIDTHS:
            raise bad_option("widths", f"at most {MAX_WIDTHS} widths, got {len(parts)}")
        try:
            chosen = [integer(part, 1, max_dimension) for part in parts]
        except ValueError as error:
            raise bad_option("widths", f"comma-separated widths in pixels: {error}") from None
        if not enlarge:
            chosen = [min(w, widest) for w in chosen]
    return sorted(set(chosen))


def placeholder(original, options: Options, box: tuple[int, int], settings) -> dict[str, Any]:
    """Made from a WIDTH-pixel rendering with the same options (so it shows the same crop, and redacted
    faces stay redacted), in a processing slot and through the result cache like any render."""
    width = min(preview.WIDTH, box[0])
    height = max(1, round(width * box[1] / box[0])) if options.h is not None else None
    small = replace(options, w=width, h=height, format="png", overlay=None,
                    **{name: OPTIONS[name].default for name in OPTIONS if name.startswith("overlay_")})
    tag = etag(original.identity, small.canonical(), __version__)
    rendered = produce(tag, lambda: original.read(settings.max_source_bytes), small)
    g.pop("output_format", None)  # the access line is about this response, not the rendering inside it
    return preview.summary(decode_array(rendered.body))


def _once(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise bad_option(name, "given more than once")
    return values[0] if values else None


def _text(name: str, text: str) -> str:
    if len(text) > MAX_TEXT or any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise bad_option(name, f"at most {MAX_TEXT} characters, without control characters")
    return text
