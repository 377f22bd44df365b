"""The image in a request body (`POST /process`): raw `image/*` bytes, or multipart field `image`.

Everything stays in memory. The declared length is checked against `MAX_BODY_BYTES` before a byte
is read, and a body without a length (chunked) is cut off at the limit by Werkzeug's stream
(`MAX_CONTENT_LENGTH`). Werkzeug would spool multipart files over 500 KB to a temporary file;
`InMemoryRequest` keeps them in a BytesIO instead, which the limit keeps bounded.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import Problem
from . import Loaded

FIELD = "image"


class InMemoryRequest(Request):
    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> io.BytesIO:
        return io.BytesIO()


class Uploads:
    """Request bodies as a source: `open(request)` reads the image a client sent."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    @contextmanager
    def open(self, request: Request) -> Iterator[Loaded]:
        """The body's image, named in ETags by a digest of its bytes (an upload has no path or date)."""
        data = read(request, self.limit)
        yield Loaded("upload\0" + hashlib.blake2b(data, digest_size=16).hexdigest(), None, lambda: data)


def read(request: Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(f"the body is {request.content_length} bytes", limit)
    try:
        if request.mimetype.startswith("image/"):
            data = request.get_data(cache=False)
        elif request.mimetype == "multipart/form-data":
            data = _field(request)
        else:
            raise Problem(415, f"a body of type {request.mimetype or '(none given)'!r} is not accepted: send the "
                               "image's bytes with Content-Type image/* (image/png, image/jpeg, ...), or as the "
                               f"file field {FIELD!r} of a multipart/form-data body")
    except RequestEntityTooLarge:
        if request.content_length is None or request.content_length > limit:
            raise _too_large("the body is larger than that", limit) from None
        # a body within the limit: Werkzeug's form parser refused its parts, not its size
        raise Problem(413, f"the multipart body has more than {request.max_form_parts} parts, or a text field over "
                           f"{request.max_form_memory_size} bytes: send one part, the file field {FIELD!r} (or the "
                           "image's bytes as the body, with Content-Type image/*)") from None
    if not data:
        raise Problem(400, "the body is empty: send the image's bytes")
    return data


def _field(request: Request) -> bytes:
    files = request.files.getlist(FIELD)
    if not request.files and not request.form:
        raise Problem(400, "the multipart body has no part this server can read: check the boundary in its "
                           f"Content-Type, and send the image as the file field {FIELD!r}")
    if len(files) != 1:
        given = sorted(repr(name) for name in set(request.files) | set(request.form))  # names may be odd
        raise Problem(400, f"the multipart body needs exactly one file field {FIELD!r}; "
                           f"it has {len(files)} of them, and these fields: {', '.join(given) or 'none'}")
    return files[0].read()


def _too_large(what: str, limit: int) -> Problem:
    return Problem(413, f"{what}; this server accepts request bodies of at most {limit} bytes")
