"""The image endpoints: an original from the folder, an upload, a remote URL, all the same way.

Each view finds its original through a source, then `respond` does the rest, top to bottom: the
ETag from the original's identity and the normalised options (no pixel work yet), a 304 when the
client has it, else the result from the cache or rendered under admission, sent with its headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Response, g, request
from werkzeug.datastructures import MultiDict

from .. import __version__, signing
from ..errors import Problem, bad_option
from ..imaging.pipeline import Rendered, render
from ..options import Options, parse
from ..sources import Original
from . import bodies
from .caching import etag
from .conditional import caching_headers, fresh, not_modified
from .service import service


def image(id: str) -> Response:
    """`GET|HEAD /image/<id>`: an original from the folder (or the manifest), processed."""
    svc = service()
    options = request_options()
    with svc.folder.open(id) as original:
        response = respond(original, options, svc.settings.cache_max_age)
    if svc.cache.max_bytes and response.status_code == 200:  # the repeat cache answers only from the result cache
        svc.repeats.remember(request.environ, original, response.headers["ETag"],
                             response.headers.to_wsgi_list(), g.output_format)
    return response


def process() -> Response:
    """`POST /process`: the image in the body. Not for HTTP caches (`no-store`: a POST result is the
    client's own), but the ETag is a digest of the body and the options, so repeated uploads are served
    from the result cache."""
    svc = service()
    options = request_options()
    with svc.uploads.open(request) as original:
        return respond(original, options, None, conditional=False)


def fetch() -> Response:
    """`GET /fetch?url=`: a remote original (sources/remote.py has the rules), then as /image."""
    svc = service()
    options = request_options(own=("url",))
    urls = request.args.getlist("url")
    if len(urls) != 1:
        raise bad_option("url", "give the http(s) URL of one image, once")
    with svc.remote.open(urls[0]) as original:
        return respond(original, options, svc.settings.cache_max_age)


def respond(original: Original, options: Options, max_age: int | None, *, conditional: bool = True) -> Response:
    """The response for `original` processed by `options`: 304, or the image from the cache or rendered."""
    tag = etag(original.identity, options.canonical(), __version__)
    headers = caching_headers(tag, original.modified, max_age, vary=options.negotiated)
    if conditional and fresh(request.environ, tag, headers.get("Last-Modified")):
        return not_modified(headers)
    limit = service().settings.max_source_bytes
    return image_response(produce(tag, lambda: original.read(limit), options), headers)


def produce(key: str, read, options: Options) -> Rendered:
    """The one way every endpoint gets an image: from the result cache, or read (or drawn) and rendered
    in a processing slot, with the memory it needs reserved and a deadline."""
    svc = service()
    deadline = svc.admission.deadline(svc.settings.render_timeout)
    gone = request.environ.get("waitress.client_disconnected", lambda: False)

    def make() -> Rendered:
        with svc.admission.slot(gone):
            try:
                rendered = render(read(), options, svc.settings, deadline, svc.admission.reserve)
            except Problem as problem:
                if problem.status == 503 and svc.admission.stopped:  # its deadline was brought forward
                    raise Problem(503, "the server is shutting down; retry on another instance",
                                  headers={"Retry-After": "1"}) from None
                raise
        svc.metrics.rendered(rendered.seconds)
        return rendered

    rendered, g.cache_hit = svc.cache.fetch(key, make)
    g.output_format = rendered.format
    return rendered


def request_options(own: tuple[str, ...] = ()) -> Options:
    """The request's signature checked (when signing is on), then its options parsed. `own` names the
    parameters an endpoint reads itself (`url`, `text`): signed like the rest, not parsed as options."""
    settings = service().settings
    params = list(request.args.items(multi=True))
    signing.verify_request(request.environ, settings.signing_keys)
    args = MultiDict([(name, value) for name, value in params if name not in own]) if own else request.args
    return parse(args, settings, accept=request.headers.get("Accept", ""))


def image_response(rendered: Rendered, headers: Mapping[str, str]) -> Response:
    """The image, sent without a copy per connection and held in the memory budget (bodies.py)."""
    response = Response(bodies.body(request.environ, rendered.body, service().admission.hold),
                        headers={**headers, "X-Content-Type-Options": "nosniff"}, content_type=rendered.mime_type,
                        direct_passthrough=True)
    response.content_length = len(rendered.body)
    return response
