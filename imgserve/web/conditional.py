"""Caching headers and conditional GET, one way for every view and for the repeat cache.

A response's validators (ETag, Last-Modified) are known before any pixel work: the ETag is a digest
of the original's identity and the normalised options. So a client's If-None-Match or
If-Modified-Since is answered with a 304 for the price of opening (or stat-ing) the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from flask import Response
from werkzeug.http import is_resource_modified

NOT_MODIFIED_HEADERS = ("ETag", "Cache-Control", "Last-Modified", "Vary")  # what a 304 repeats (RFC 9110 15.4.5)


def caching_headers(tag: str, modified: float | None, max_age: int | None, *,
                    vary: Sequence[str] = ()) -> dict[str, str]:
    """ETag, Cache-Control (`no-store` when `max_age` is None), Vary (the request headers that changed
    the response), and Last-Modified when known."""
    headers = {"ETag": tag, "Cache-Control": "no-store" if max_age is None else f"public, max-age={max_age}"}
    if modified is not None:
        headers["Last-Modified"] = datetime.fromtimestamp(int(modified), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    if vary:
        headers["Vary"] = ", ".join(vary)
    return headers


def fresh(environ: dict, tag: str, last_modified: str | None = None) -> bool:
    """Whether the client's copy is current: If-None-Match decides when given, else If-Modified-Since."""
    return not is_resource_modified(environ, etag=tag, last_modified=last_modified)


def not_modified(headers: dict[str, str]) -> Response:
    return Response(status=304, headers={k: v for k, v in headers.items() if k in NOT_MODIFIED_HEADERS})
