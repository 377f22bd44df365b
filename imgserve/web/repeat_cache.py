"""Repeated URLs answered before Flask: the repeat cache.

Much of an image service's traffic repeats URLs (a page's thumbnails, every visitor of a popular
page). Once the result is cached, what is left is the work of finding it again: parsing the options,
resolving the id safely, building headers - 200 us in Flask, five times a bare Flask route. So when
`GET /image/<id>` sends an image, the view tells this layer what it learned under the request's path,
query string and the format its Accept header negotiates: which file, the identity it had, the ETag
and the headers. A later GET or HEAD of that URL stats the file and, if it is unchanged and its
result is still in the result cache, is answered here - 200, or 304 for a matching If-None-Match -
logged and counted like any other request.

Everything else goes the full way, which records the URL again: a changed or missing file, an evicted
result, a request conditional on a date alone, and any entry older than REMEMBER_SECONDS, so that an
extension-less id sees a file that would now be preferred. Signatures were checked on the full way, and `s` is part
of the key, so nothing unsigned gets in. An overlay's file is checked like the original's, and with
client hints on, the rounded hints are part of the key, as the Accept class is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cachetools import LRUCache

from ..options import negotiate
from ..sources.folder import Original
from . import hints
from .conditional import NOT_MODIFIED_HEADERS, fresh

REMEMBER_SECONDS = 5.0
ENTRIES = 10_000
ENDPOINT = "/image/<path:id>"


@dataclass(frozen=True)
class Known:
    files: tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) of the original and any overlay,
    # resolved: each stat must still say the same
    tag: str                         # the result's key in the result cache
    headers: list[tuple[str, str]]   # exactly what the full way sent
    format: str
    until: float


def key(environ: dict, max_dimension: int | None = None) -> tuple | None:
    """What identifies a repeatable request, or None for requests this layer leaves alone.
    `max_dimension` is given when client hints are on: their rounded values are then part of it."""
    if environ["REQUEST_METHOD"] not in ("GET", "HEAD") or not environ.get("PATH_INFO", "").startswith("/image/"):
        return None
    if "HTTP_IF_MODIFIED_SINCE" in environ and "HTTP_IF_NONE_MATCH" not in environ:
        return None  # dates are compared on the full way (If-None-Match, when given, decides alone)
    # The format Accept negotiates is always part of the key: `format=auto` may come from a preset,
    # out of sight here.
    found = environ["PATH_INFO"], environ.get("QUERY_STRING", ""), negotiate(environ.get("HTTP_ACCEPT", ""))
    return found if max_dimension is None else (*found, hints.key(environ, max_dimension))


class RepeatCache:
    """WSGI middleware in front of the Flask app; `service` holds the result cache and the accounting."""

    def __init__(self, app: Callable, service) -> None:
        self.app = app
        self.service = service
        self._known: LRUCache = LRUCache(ENTRIES)
        self._lock = threading.Lock()
        self.hits = 0

    def remember(self, environ: dict, originals: list[Original], tag: str, headers: list[tuple[str, str]],
                 format: str) -> None:
        found = self._key(environ)
        if found is not None:
            files = tuple((o.path, o.mtime_ns, o.size) for o in originals)
            with self._lock:
                self._known[found] = Known(files, tag, headers, format, time.monotonic() + REMEMBER_SECONDS)

    def _key(self, environ: dict) -> tuple | None:
        settings = self.service.settings
        return key(environ, settings.max_dimension if settings.client_hints else None)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        found = self._key(environ)
        known = self._still_true(found) if found else None
        if known is not None and fresh(environ, known.tag):  # as the full way decides
            start_response("304 Not Modified", [(k, v) for k, v in known.headers if k in NOT_MODIFIED_HEADERS])
            self.hits += 1
            self.service.account(environ, ENDPOINT, 304, 0, time.perf_counter() - started)
            return []
        rendered = self.service.cache.get(known.tag) if known is not None else None
        if rendered is None:
            return self.app(environ, start_response)
        start_response("200 OK", known.headers)
        self.hits += 1
        head = environ["REQUEST_METHOD"] == "HEAD"
        self.service.account(environ, ENDPOINT, 200, 0 if head else len(rendered.body),
                             time.perf_counter() - started, cache_hit=True, format=known.format)
        return [] if head else [rendered.body]

    def _still_true(self, found: tuple) -> Known | None:
        """The remembered answer for this URL, if it is recent and none of its files has changed."""
        with self._lock:
            known = self._known.get(found)
        if known is None or time.monotonic() > known.until:
            return None
        for path, mtime_ns, size in known.files:
            try:
                info = os.stat(path)
            except OSError:
                return None
            if (info.st_mtime_ns, info.st_size) != (mtime_ns, size):
                return None
        return known
