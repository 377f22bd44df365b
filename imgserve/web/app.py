"""The Flask side: glue from a request to sources, options, pipeline and cache, and back.

A request for `/image/<id>` reads top to bottom in `image()`: parse the options, open the original,
compute the ETag from what is known before any pixel work, answer 304 if the client has it, else
take the result from the cache or render it, and send the bytes with their caching headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from flask import Blueprint, Flask, Response, current_app, g, make_response, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import is_resource_modified

from .. import __version__, signing
from ..errors import PROBLEM_JSON, Problem, bad_option
from ..imaging import placeholder
from ..imaging.pipeline import Rendered, render
from ..options import SIGNATURE, Options, parse
from ..settings import Settings, SettingsError
from ..sources import upload as uploads
from ..sources.folder import Folder
from ..sources.remote import Remote
from . import health, info, logs, metrics, openapi, page
from .admission import Admission
from .caching import ResultCache, etag
from .repeat_cache import HotPath

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("imgserve")
bp = Blueprint("imgserve", __name__)


class Service:
    """What one app instance holds: its settings, its originals and its result cache."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.folder = Folder(settings.root, settings.manifest)
        except (OSError, ValueError) as error:
            raise SettingsError(f"IMGSERVE_MANIFEST: {error}") from None
        self.cache: ResultCache[Rendered] = ResultCache(settings.cache_bytes, lambda r: len(r.body))
        self.admission = Admission(settings.max_in_flight, settings.max_queue, settings.queue_wait,
                                   settings.max_memory)
        self.metrics = metrics.Metrics(self)
        self.remote = Remote(settings.remote_allow, max_bytes=settings.max_source_bytes,
                             timeout=settings.remote_timeout, connect_timeout=settings.remote_connect_timeout,
                             max_redirects=settings.remote_max_redirects,
                             max_downloads=settings.remote_max_downloads)
        for name, query in settings.presets.items():
            try:
                parse(MultiDict(parse_qsl(query, keep_blank_values=True)), replace(settings, presets_only=False))
            except Problem as problem:
                raise SettingsError(f"IMGSERVE_PRESETS: preset {name!r}: {problem.detail}") from None


    def account(self, environ: dict, endpoint: str, status: int, sent: int, seconds: float, **fields: Any) -> None:
        """One access line and the request metrics, for the Flask app and the hot path alike."""
        self.metrics.request(endpoint, status, seconds)
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        query = environ.get("QUERY_STRING", "")
        logs.access(environ["REQUEST_METHOD"], quote(path, safe="/:@!$&'()*+,;=~") + (f"?{query}" if query else ""),
                    status, sent, seconds, **fields)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The WSGI app. Settings come from `IMGSERVE_*`; `test_config` overrides them by name."""
    settings = Settings.load(**(test_config or {}))
    logs.ensure_handler(settings.log_format)
    app = Flask(__name__)
    app.request_class = uploads.InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["imgserve"] = svc = Service(settings)
    app.wsgi_app = svc.hot = HotPath(app.wsgi_app, svc)  # repeated URLs, answered before Flask
    app.register_blueprint(bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(page.bp)
    return app


def service() -> Service:
    return current_app.extensions["imgserve"]


@bp.get("/image/<path:id>")
def image(id: str) -> Response:
    svc = service()
    settings = svc.settings
    options = request_options()
    with svc.folder.open(id) as original:
        tag = etag(original.identity, options.canonical(), __version__)
        headers = caching_headers(tag, original.modified, settings.cache_max_age, vary=options.negotiated)
        if not is_resource_modified(request.environ, etag=tag, last_modified=headers["Last-Modified"]):
            return Response(status=304, headers=headers)
        rendered = produce(tag, lambda: original.read(settings.max_source_bytes), options)
    response = image_response(rendered, headers)
    if svc.cache.max_bytes:  # the hot path answers only from the result cache
        svc.hot.remember(request.environ, original, tag, response.headers.to_wsgi_list(), rendered.format)
    return response


@bp.post("/process")
def process() -> Response:
    """The image in the body, processed. Not for HTTP caches (`no-store`: a POST result is the client's
    own), but the ETag is a digest of the body and the options, so repeated uploads are served from the
    result cache."""
    svc = service()
    options = request_options()
    upload = uploads.read(request, svc.settings.max_body_bytes)
    tag = etag(upload.identity, options.canonical(), __version__)
    rendered = produce(tag, lambda: upload.data, options)
    headers = {"ETag": tag, "Cache-Control": "no-store", **({"Vary": "Accept"} if options.negotiated else {})}
    return image_response(rendered, headers)


@bp.get("/fetch")
def fetch() -> Response:
    """A remote original (remote.py has the rules), then as /image: ETag before pixel work, cache, render."""
    svc = service()
    options = request_options(own=("url",))
    urls = request.args.getlist("url")
    if len(urls) != 1:
        raise bad_option("url", "give the http(s) URL of one image, once")
    source = svc.remote.open(urls[0])
    tag = etag(source.identity, options.canonical(), __version__)
    headers = caching_headers(tag, source.modified, svc.settings.cache_max_age, vary=options.negotiated)
    if not is_resource_modified(request.environ, etag=tag, last_modified=headers.get("Last-Modified")):
        return Response(status=304, headers=headers)
    return image_response(produce(tag, source.read, options), headers)


@bp.get("/info/<path:id>")
def facts(id: str) -> Response:
    """JSON facts about an original, from its header. Signed like /image when signing is on: otherwise
    it would tell anyone which ids exist, which signing otherwise keeps to those given a URL."""
    svc = service()
    signing.verify(request.path, list(request.args.items(multi=True)), svc.settings.signing_keys)
    for name in request.args:
        if name != SIGNATURE:
            raise bad_option(name, "/info takes no options")
    with svc.folder.open(id) as original:
        tag = etag(original.identity, "info", id, __version__)  # the body names the id as asked
        headers = caching_headers(tag, original.modified, svc.settings.cache_max_age, vary=False)
        if not is_resource_modified(request.environ, etag=tag, last_modified=headers["Last-Modified"]):
            return Response(status=304, headers=headers)
        header = info.read_header(original, svc.settings.max_source_bytes)
        body = {"id": id, **info.facts(header, original.size, original.modified)}
    response = make_response(body)
    response.headers.update(headers)
    return response


@bp.get("/placeholder/<size>")
def placeholder_image(size: str) -> Response:
    svc = service()
    options = request_options(own=placeholder.PARAMS)
    drawing = placeholder.parse(size, request.args, svc.settings.max_dimension)
    tag = etag(drawing.identity, options.canonical(), __version__)
    headers = caching_headers(tag, None, svc.settings.cache_max_age, vary=options.negotiated)
    if not is_resource_modified(request.environ, etag=tag):
        return Response(status=304, headers=headers)
    return image_response(produce(tag, drawing.draw, options), headers)


def produce(key: str, read: Callable[[], bytes | np.ndarray], options: Options) -> Rendered:
    """The one way every endpoint gets an image: from the result cache, or read (or drawn) and rendered."""
    svc = service()
    deadline = time.monotonic() + svc.settings.render_timeout

    gone = request.environ.get("waitress.client_disconnected", lambda: False)

    def make() -> Rendered:
        with svc.admission.slot(gone):
            rendered = render(read(), options, svc.settings, deadline, svc.admission.reserve)
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
    signing.verify(request.path, params, settings.signing_keys)
    args = MultiDict([(name, value) for name, value in params if name not in own]) if own else request.args
    return parse(args, settings, accept=request.headers.get("Accept", ""))


def caching_headers(tag: str, modified: float | None, max_age: int, *, vary: bool) -> dict[str, str]:
    """ETag, Cache-Control, Vary, and Last-Modified when the source has a modification time."""
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    if modified is not None:
        headers["Last-Modified"] = datetime.fromtimestamp(int(modified), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    if vary:
        headers["Vary"] = "Accept"
    return headers


def image_response(rendered: Rendered, headers: Mapping[str, str]) -> Response:
    return Response(rendered.body, headers={**headers, "X-Content-Type-Options": "nosniff"},
                    content_type=rendered.mime_type)


@bp.before_app_request
def start_clock() -> None:
    g.started = time.perf_counter()


@bp.after_app_request
def account(response: Response) -> Response:
    """Every response, errors included, gets one access line and is counted once by its route."""
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.url_rule.rule if request.url_rule else metrics.UNMATCHED
    sent = 0 if request.method == "HEAD" or response.status_code in (204, 304) else response.content_length or 0
    service().account(request.environ, endpoint, response.status_code, sent, seconds,
                      cache_hit=g.get("cache_hit"), format=g.get("output_format"), detail=g.get("problem"))
    return response


@bp.app_errorhandler(Problem)
def problem_response(problem: Problem) -> Response:
    g.problem = problem.detail  # logged once, on the request's access line
    response = Response(problem.body(), status=problem.status, content_type=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Routing errors (404, 405, ...) in the same problem+json shape as everything else."""
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem_response(Problem(error.code or 500, error.description or error.name, headers=headers))


@bp.app_errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return problem_response(Problem(500, "the server failed to handle this request; its log has the details"))
