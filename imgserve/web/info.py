"""`GET /info/<id>`: JSON facts about an original, from its header (imaging/facts.py)."""

from __future__ import annotations

from flask import Response, jsonify, request

from .. import __version__, signing
from ..errors import bad_option
from ..imaging.facts import facts, read_header
from ..options import SIGNATURE
from .caching import etag
from .conditional import caching_headers, fresh, not_modified
from .service import service


def info(id: str) -> Response:
    """Signed like /image when signing is on: otherwise it would tell anyone which ids exist, which
    signing otherwise keeps to those given a URL."""
    svc = service()
    signing.verify_request(request.environ, svc.settings.signing_keys)
    for name in request.args:
        if name != SIGNATURE:
            raise bad_option(name, "/info takes no options")
    with svc.folder.open(id) as original:
        tag = etag(original.identity, "info", id, __version__)  # the body names the id as asked
        headers = caching_headers(tag, original.modified, svc.settings.cache_max_age, vary=False)
        if fresh(request.environ, tag, headers["Last-Modified"]):
            return not_modified(headers)
        header = read_header(original, svc.settings.max_source_bytes)
        body = {"id": id, **facts(header, original.size, original.modified)}
    response = jsonify(body)
    response.headers.update(headers)
    return response
