"""Signed URLs: `s` = base64url(HMAC-SHA256(key, canonical path and query)), without padding.

The canonical string is what any client in any language can rebuild without knowing imgserve's
option rules: the URL path as the server receives it - percent-decoded exactly once, as bytes - then
percent-encoded again with only `/` and RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`)
left bare, `?`, and every query parameter except `s`, sorted by name then value (as bytes), each
name and value decoded once (`+` is a space) and percent-encoded with nothing but the unreserved
characters bare, joined as `name=value` with `&`. Escapes are upper-case hex.

Decoding once, over bytes, is what binds a signature to exactly one id: `/image/a%2541.png` and
`/image/aA.png` are different files and have different signatures, and ids that are not UTF-8 are
not folded together by a replacement character. Several keys may be configured (rotation): a
signature made with any of them is accepted, new ones are made with the first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, unquote_to_bytes, urlsplit

from .errors import Problem
from .options import SIGNATURE

Text = str | bytes
_SIGNATURE = SIGNATURE.encode()


def _bytes(text: Text) -> bytes:
    """Bytes as they go into a URL: text as UTF-8 (a file name's undecodable bytes, which Python
    carries as surrogates, as the bytes they were)."""
    return text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")


def canonical(path: Text, params: list[tuple[Text, Text]]) -> str:
    """The signed string for a path and parameters given decoded (as the server receives them)."""
    pairs = sorted((_bytes(k), _bytes(v)) for k, v in params)
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs if k != _SIGNATURE)
    return quote(_bytes(path), safe="/") + "?" + query


def signature(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_bytes(query: str) -> list[tuple[bytes, bytes]]:
    """A query string, as sent, split into decoded (name, value) byte strings the way WSGI frameworks
    split it (on `&`, blank values kept, `+` a space). Text is percent-decoded as Latin-1, which maps
    every byte to itself, so no byte is lost or replaced."""
    return [(k.encode("latin-1"), v.encode("latin-1"))
            for k, v in parse_qsl(query, keep_blank_values=True, encoding="latin-1", errors="strict")]


def sign_url(url: str, key: str) -> str:
    """`/image/x.jpg?w=300` -> `/image/x.jpg?w=300&s=...` (any existing `s` replaced). The URL is
    taken as it will be sent: percent-escapes in it are decoded once, as the server will. The result
    spells the path and query in canonical escaping, so it is a valid URL whatever `url` held."""
    parts = urlsplit(url)
    path = unquote_to_bytes(parts.path)  # characters outside ASCII go as UTF-8, as browsers send them
    params = [(k, v) for k, v in query_bytes(_bytes(parts.query).decode("latin-1")) if k != _SIGNATURE]
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    s = signature(key, canonical(path, params))
    return f"{quote(path, safe='/')}?{query + '&' if query else ''}s={s}"


def received(environ: dict) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The path and parameters of a WSGI request as signed: PATH_INFO is the path decoded once by
    the server, carried as Latin-1 text (PEP 3333); QUERY_STRING is as sent."""
    return environ.get("PATH_INFO", "").encode("latin-1"), query_bytes(environ.get("QUERY_STRING", ""))


def verify(path: Text, params: list[tuple[Text, Text]], keys: tuple[str, ...]) -> None:
    """403 unless `s` is a valid signature by one of `keys` (no keys: signing is off)."""
    if not keys:
        return
    given = [_bytes(v) for k, v in params if _bytes(k) == _SIGNATURE]
    message = canonical(path, params)
    if len(given) != 1:
        raise Problem(403, f"this server only serves signed URLs: add s=<signature of {message!r}> "
                           "(`imgserve sign` makes one)", signed=message)
    if not any(hmac.compare_digest(signature(key, message).encode(), given[0]) for key in keys):
        shown = given[0].decode("utf-8", "replace")
        raise Problem(403, f"signature {shown!r} does not match the string the server checked, {message!r}: "
                           "sign exactly that (path, then the other parameters sorted by name, percent-encoded) "
                           "with a current key", signed=message)


def verify_request(environ: dict, keys: tuple[str, ...]) -> None:
    """`verify` for a WSGI request, over the bytes it was received as."""
    if keys:
        verify(*received(environ), keys)
