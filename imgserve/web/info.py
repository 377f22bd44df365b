"""`GET /info/<id>`: JSON facts about an original, from its header (imaging/facts.py): the first 64 KiB,
no decoding. With `?placeholder=1`, also the placeholders a page paints while it loads (dominant
colour, BlurHash, LQIP: imaging/preview.py), made from a small rendering in a processing slot, which
costs a decode: so it is asked for, not always paid. An original that probes but cannot be rendered
(corrupt, over MAX_PIXELS) still gets its facts, with `"placeholder": null`."""

from __future__ import annotations

from flask import Response, jsonify, request

from .. import __version__, signing
from ..errors import Problem, bad_option
from ..imaging.facts import facts, read_header
from ..options import SIGNATURE, Options
from .caching import etag
from .conditional import caching_headers, fresh, not_modified
from .service import service
from .srcset import placeholder

PLACEHOLDER = "placeholder"


def info(id: str) -> Response:
    """Signed like /image when signing is on: otherwise it would tell anyone which ids exist, which
    signing otherwise keeps to those given a URL."""
    svc = service()
    signing.verify(request.path, list(request.args.items(multi=True)), svc.settings.signing_keys)
    for name in request.args:
        if name not in (SIGNATURE, PLACEHOLDER):
            raise bad_option(name, "/info takes no options but placeholder=1")
    wanted = request.args.get(PLACEHOLDER, "0")
    if wanted not in ("0", "1") or len(request.args.getlist(PLACEHOLDER)) > 1:
        raise bad_option(PLACEHOLDER, "expected 0 or 1, once")
    with svc.folder.open(id) as original:
        tag = etag(original.identity, "info", id, wanted, __version__)  # the body names the id as asked
        headers = caching_headers(tag, original.modified, svc.settings.cache_max_age)
        if fresh(request.environ, tag, headers["Last-Modified"]):
            return not_modified(headers)
        header, data = read_header(original, svc.settings.max_source_bytes)
        body = {"id": id, **facts(header, data, original.size, original.modified)}
        if wanted == "0":
            return _json(body, headers)
        try:
            body["placeholder"] = placeholder(original, Options(), header.display_size, svc.settings)
        except Problem as problem:
            if problem.status >= 500:  # busy: the client should ask again, not cache a null
                raise
            body["placeholder"] = None
    return _json(body, headers)


def _json(body: dict, headers: dict[str, str]) -> Response:
    response = jsonify(body)
    response.headers.update(headers)
    return response
