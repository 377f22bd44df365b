"""The image endpoints: an original from the folder, an upload, a remote URL, all the same way.

Each view finds its original (and the overlay's, when one is asked for) through a source, then
`respond` does the rest, top to bottom: the ETag from the originals' identities and the normalised
options (no pixel work yet), a 304 when the client has it, else the result from the cache or
rendered under admission, sent with its headers.

Overlays: `overlay=<id>` names another original of the folder, on every endpoint (so a preset can
carry a watermark); /fetch may instead name a second remote image, `overlay_url=`, under the same
rules as `url`. Decoded overlays are kept in a byte-bounded cache keyed by their identity, so a
watermark on every image is decoded once, not once per render.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from flask import Response, g, request
from werkzeug.datastructures import MultiDict

from .. import __version__, signing
from ..errors import Problem, bad_option
from ..imaging.pipeline import Rendered, overlay_pixels, render
from ..options import OPTIONS, Options, parse
from ..sources import Original
from . import hints
from .caching import etag
from .conditional import caching_headers, fresh, not_modified
from .service import service

PLACING = ("overlay_gravity", "overlay_scale", "overlay_opacity", "overlay_margin")  # mean nothing alone


def image(id: str) -> Response:
    """`GET|HEAD /image/<id>`: an original from the folder (or the manifest), processed."""
    svc = service()
    options = request_options(hinted=True)
    with svc.folder.open(id) as original, overlay_of(options) as overlay:
        response = respond(original, options, svc.settings.cache_max_age, overlay=overlay)
    if svc.cache.max_bytes and response.status_code == 200:  # the repeat cache answers only from the result cache
        svc.repeats.remember(request.environ, [o for o in (original, overlay) if o], response.headers["ETag"],
                             response.headers.to_wsgi_list(), g.output_format)
    return response


def process() -> Response:
    """`POST /process`: the image in the body. Not for HTTP caches (`no-store`: a POST result is the
    client's own), but the ETag is a digest of the body and the options, so repeated uploads are served
    from the result cache."""
    svc = service()
    options = request_options()
    with svc.uploads.open(request) as original, overlay_of(options) as overlay:
        return respond(original, options, None, conditional=False, overlay=overlay)


def fetch() -> Response:
    """`GET /fetch?url=`: a remote original (sources/remote.py has the rules), then as /image."""
    svc = service()
    options = request_options(own=("url", "overlay_url"), hinted=True)
    urls = request.args.getlist("url")
    if len(urls) != 1:
        raise bad_option("url", "give the http(s) URL of one image, once")
    overlay_urls = request.args.getlist("overlay_url")
    if len(overlay_urls) > 1:
        raise bad_option("overlay_url", "give at most one overlay URL")
    with svc.remote.open(urls[0]) as original, overlay_of(options, *overlay_urls) as overlay:
        return respond(original, options, svc.settings.cache_max_age, overlay=overlay)


@contextmanager
def overlay_of(options: Options, url: str | None = None) -> Iterator[Original | None]:
    """The overlay's original, held open like the main one: from the folder (`overlay`), or remote
    (`overlay_url`, /fetch only); None without one. A missing overlay is the request's mistake: 400."""
    svc = service()
    if options.overlay is not None and url is not None:
        raise bad_option("overlay_url", "give overlay (an id) or overlay_url, not both")
    if url is not None:
        with svc.remote.open(url) as overlay:
            yield overlay
        return
    if options.overlay is None:
        for name in PLACING:
            if getattr(options, name) != OPTIONS[name].default:
                raise bad_option(name, "places an overlay: give overlay=<id> with it")
        yield None
        return
    try:
        svc.folder.locate(options.overlay)
    except Problem as problem:
        raise bad_option("overlay", f"no original {options.overlay!r} under the image root to lay on top: "
                                    f"{problem.detail}") from None
    with svc.folder.open(options.overlay) as overlay:
        yield overlay


def respond(original: Original, options: Options, max_age: int | None, *, conditional: bool = True,
            overlay: Original | None = None) -> Response:
    """The response for `original` processed by `options`: 304, or the image from the cache or rendered."""
    identities = [original.identity] + ([f"overlay\0{overlay.identity}"] if overlay else [])
    tag = etag(*identities, options.canonical(), __version__)
    headers = caching_headers(tag, _modified(original, overlay), max_age, vary=vary(options))
    if service().settings.client_hints:
        headers["Accept-CH"] = hints.ACCEPT_CH
    if conditional and fresh(request.environ, tag, headers.get("Last-Modified")):
        return not_modified(headers)
    limit = service().settings.max_source_bytes
    read_overlay = (overlay.identity, lambda: overlay.read(limit)) if overlay else None
    return image_response(produce(tag, lambda: original.read(limit), options, read_overlay), headers)


def _modified(original: Original, overlay: Original | None) -> float | None:
    """The later of the two, so If-Modified-Since sees a changed watermark; unknown if either is."""
    if overlay is None or original.modified is None or overlay.modified is None:
        return original.modified if overlay is None else None
    return max(original.modified, overlay.modified)


def vary(options: Options) -> tuple[str, ...]:
    """What, besides the URL, changed this response: Accept for format=auto, the client hints when on."""
    return (("Accept",) if options.negotiated else ()) + (hints.VARY if service().settings.client_hints else ())


def produce(key: str, read, options: Options, read_overlay=None) -> Rendered:
    """The one way every endpoint gets an image: from the result cache, or read (or drawn) and rendered
    in a processing slot, with the memory it needs reserved and a deadline. `read_overlay` is
    (identity, read) of the overlay's original: decoded once, then kept in the overlay cache."""
    svc = service()
    deadline = time.monotonic() + svc.settings.render_timeout
    gone = request.environ.get("waitress.client_disconnected", lambda: False)

    def make() -> Rendered:
        with svc.admission.slot(gone):
            overlay = None
            if read_overlay is not None:
                identity, load = read_overlay
                overlay, _ = svc.overlays.fetch(identity, lambda: overlay_pixels(load(), svc.settings,
                                                                                svc.admission.reserve))
            rendered = render(read(), options, svc.settings, deadline, svc.admission.reserve, overlay)
        svc.metrics.rendered(rendered.seconds)
        return rendered

    rendered, g.cache_hit = svc.cache.fetch(key, make)
    g.output_format = rendered.format
    return rendered


def request_options(own: tuple[str, ...] = (), *, hinted: bool = False) -> Options:
    """The request's signature checked (when signing is on), then its options parsed. `own` names the
    parameters an endpoint reads itself (`url`, `text`): signed like the rest, not parsed as options.
    `hinted`: client hints fill in dpr and w where the query leaves room (when IMGSERVE_CLIENT_HINTS is on)."""
    settings = service().settings
    params = list(request.args.items(multi=True))
    signing.verify(request.path, params, settings.signing_keys)
    args = MultiDict([(name, value) for name, value in params if name not in own]) if own else request.args
    options = parse(args, settings, accept=request.headers.get("Accept", ""))
    if hinted and settings.client_hints:
        options = hints.apply(options, args.keys(), request.headers, settings.max_dimension)
    return options


def image_response(rendered: Rendered, headers: Mapping[str, str]) -> Response:
    return Response(rendered.body, headers={**headers, "X-Content-Type-Options": "nosniff"},
                    content_type=rendered.mime_type)
