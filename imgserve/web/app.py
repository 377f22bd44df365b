"""The Flask app: its route table, and what every request gets (timing, an access line, problem+json).

`ROUTES` is the one list of what the server answers; each view lives in the module of its family
(images, info, placeholders, health, metrics, openapi, page). In front of Flask sits the repeat cache
(repeat_cache.py), which answers repeated image URLs from the result cache without routing them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import RequestRedirect

from ..errors import PROBLEM_JSON, Problem
from ..settings import Settings, unknown_variables
from ..sources.upload import InMemoryRequest
from . import images, info, logs, metrics, openapi, operations, page, placeholders, srcset
from .repeat_cache import RepeatCache
from .service import EXTENSION, Service, service

log = logging.getLogger("imgserve")

# (rule, view, methods); every GET also answers HEAD
ROUTES: list[tuple[str, Callable[..., Response], tuple[str, ...]]] = [
    ("/image/<path:id>", images.image, ("GET",)),
    ("/process", images.process, ("POST",)),
    ("/fetch", images.fetch, ("GET",)),
    ("/placeholder/<size>", placeholders.placeholder, ("GET",)),
    ("/info/<path:id>", info.info, ("GET",)),
    ("/srcset/<path:id>", srcset.srcset, ("GET",)),
    ("/healthz", operations.healthz, ("GET",)),
    ("/readyz", operations.readyz, ("GET",)),
    ("/metrics", operations.metrics, ("GET",)),
    ("/openapi.json", openapi.openapi, ("GET",)),
    ("/", page.index, ("GET",)),
    ("/ui/sign", page.sign, ("GET",)),
]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The WSGI app. Settings come from `IMGSERVE_*`; `test_config` overrides them by name."""
    settings = Settings.load(**(test_config or {}))
    logs.ensure_handler(settings.log_format)
    if test_config is None:  # configured by the environment alone, as under `waitress-serve --call`
        for warning in unknown_variables(os.environ):
            log.warning(warning)
    app = Flask(__name__)
    # Werkzeug answers `/image//x` (and `/image/%2fx`, decoded the same) with a 308 to the merged path,
    # built from the Host header: a redirect anyone can point elsewhere. Paths are matched as sent.
    app.url_map.merge_slashes = False
    app.request_class = InMemoryRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions[EXTENSION] = svc = Service(settings)
    for rule, view, methods in ROUTES:
        app.add_url_rule(rule, f"{view.__module__.rpartition('.')[2]}.{view.__name__}", view, methods=list(methods))
    app.before_request(start_clock)
    app.after_request(account)
    app.register_error_handler(Problem, problem_response)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
    app.wsgi_app = svc.repeats = RepeatCache(app.wsgi_app, svc)  # repeated URLs, answered before Flask
    return app


def start_clock() -> None:
    g.started = time.perf_counter()


def account(response: Response) -> Response:
    """Every response, errors included, gets one access line and is counted once by its route."""
    seconds = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.url_rule.rule if request.url_rule else metrics.UNMATCHED
    sent = 0 if request.method == "HEAD" or response.status_code in (204, 304) else response.content_length or 0
    service().account(request.environ, endpoint, response.status_code, sent, seconds,
                      cache_hit=g.get("cache_hit"), format=g.get("output_format"), detail=g.get("problem"))
    return response


def problem_response(problem: Problem) -> Response:
    g.problem = problem.detail  # logged once, on the request's access line
    response = Response(problem.body(), status=problem.status, content_type=PROBLEM_JSON)
    response.headers.update(problem.headers)
    return response


def http_error(error: HTTPException) -> Response:
    """Routing errors (404, 405, ...) in the same problem+json shape as everything else, saying what
    this server does answer. Never a redirect: Werkzeug builds its Location from the Host header."""
    if isinstance(error, RequestRedirect) or error.code == 404:
        return problem_response(Problem(404, unknown_route(request.path)))
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(sorted(set(error.valid_methods or ()) - {"OPTIONS"}))
        return problem_response(Problem(405, f"{request.method} is not allowed on {request.path}; it answers "
                                             f"{allowed}", headers={"Allow": allowed}))
    headers = {k: v for k, v in error.get_headers() if k.lower() not in ("content-type", "location")}
    return problem_response(Problem(error.code or 500, error.description or error.name, headers=headers))


def unknown_route(path: str) -> str:
    """A 404's detail for a path that matches no route: what is wrong with it, and what would be right."""
    family, _, rest = path.lstrip("/").partition("/")
    if family in ("image", "info") and not rest.strip("/"):
        return (f"/{family}/ needs the id of an original after it, its path under the image root, like "
                f"/{family}/photos/rotated.jpg")
    if family in ("image", "info"):
        return (f"no original {rest!r}: an id is a path under the image root, without a leading slash or empty "
                "segments, like photos/rotated.jpg")
    if ".." in path.split("/"):
        return f"no such path {path!r}: '..' segments name nothing here; ask for the path itself"
    answered = ", ".join(f"{methods[0]} {rule.replace('<path:id>', '<id>').replace('<size>', '<W>x<H>')}"
                         for rule, _, methods in ROUTES)
    return f"no such path {path!r}; this server answers {answered} and /static/ for the page's files"


def unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return problem_response(Problem(500, "the server failed to handle this request; its log has the details"))
