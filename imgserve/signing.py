"""Signed URLs: `s` = base64url(HMAC-SHA256(key, canonical path and query)), without padding.

The canonical string is what any client in any language can rebuild without knowing imgserve's
option rules: the URL path (percent-decoded, then re-encoded with only `/` left bare), `?`, and
every query parameter except `s`, sorted by name then value, each name and value percent-encoded
(RFC 3986, nothing left bare) and joined as `name=value` with `&`. Several keys may be configured
(rotation): a signature made with any of them is accepted, new ones are made with the first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .errors import Problem
from .options import SIGNATURE


def canonical(path: str, params: list[tuple[str, str]]) -> str:
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(params) if k != SIGNATURE)
    return quote(unquote(path), safe="/") + "?" + query


def signature(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_url(url: str, key: str) -> str:
    """`/image/x.jpg?w=300` -> `/image/x.jpg?w=300&s=...` (any existing `s` replaced)."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != SIGNATURE]
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    s = signature(key, canonical(parts.path, params))
    return f"{parts.path}?{query + '&' if query else ''}s={s}"


def verify(path: str, params: list[tuple[str, str]], keys: tuple[str, ...]) -> None:
    """403 unless `s` is a valid signature by one of `keys` (no keys: signing is off)."""
    if not keys:
        return
    given = [v for k, v in params if k == SIGNATURE]
    message = canonical(path, params)
    if len(given) != 1:
        raise Problem(403, f"this server only serves signed URLs: add s=<signature of {message!r}> "
                           "(`imgserve sign` makes one)", signed=message)
    # bytes, not str: compare_digest raises on non-ASCII text, and a client may send any
    if not any(hmac.compare_digest(signature(key, message).encode(), given[0].encode()) for key in keys):
        raise Problem(403, f"signature {given[0]!r} does not match the string the server checked, {message!r}: "
                           "sign exactly that (path, then the other parameters sorted by name, percent-encoded) "
                           "with a current key", signed=message)
