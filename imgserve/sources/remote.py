"""Remote originals (`GET /fetch?url=`): an http(s) image read into memory, never to disk, and never
from a place that only the server's own position in its network can reach.

The rules, in the order they are applied to the URL and to every redirect it leads to:

- Only `http` and `https`, and no user name or password in the URL.
- The host:port must be listed in IMGSERVE_REMOTE_ALLOW. An entry without a port allows the scheme's
  default port (80/443) and public addresses only; an entry that names the port (`images.lan:8080`)
  also allows loopback, private and link-local addresses: that is how an internal host is allowed on
  purpose, and the only way.
- The name is resolved once (within the fetch's deadline), every address it resolves to is checked,
  and the socket connects to a checked address while the Host header, TLS SNI and the certificate
  check use the name. So a DNS answer that changes between the check and the connection (DNS
  rebinding) cannot point the connection anywhere else.
- Redirects are followed by hand, at most IMGSERVE_REMOTE_MAX_REDIRECTS, each hop checked as above.
- The body is read in chunks against the byte cap (413). One deadline covers the whole fetch (504):
  every read waits at most until it, and a watchdog shuts the socket when it passes, so a server that
  stalls, or drips its headers or body a byte at a time, is cut off on time. A body that does not
  start like an image is a 502 as soon as its first bytes arrive.
- At most IMGSERVE_REMOTE_MAX_DOWNLOADS fetches run at once; past that, 503 with Retry-After at once.
  Each may hold up to MAX_SOURCE_BYTES while it reads, so this is what bounds their memory (renders
  are bounded by admission.py once the bytes are in).

Caching: the remote's ETag and Last-Modified are remembered per URL; a URL seen before is revalidated
with a conditional GET, and a 304 means the result cache can serve what it made from the same bytes.
The identity of a remote original (and so the ETag of what we make from it) is its URL and those
validators, or its URL and a digest of the bytes when the remote sends neither.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import quote, urljoin, urlsplit

from cachetools import LRUCache

from .. import __version__, formats
from ..errors import Problem, bad_option
from ..settings import authority, normal_host
from . import Loaded

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024
SNIFF_BYTES = 12        # enough for probe.sniff to tell every format it knows
REMEMBERED_URLS = 4096  # validators kept for revalidation, least recently used dropped
RESOLVERS = 4           # threads for name lookups, so a lookup can be given up at the deadline
# Cloud metadata services; all but Alibaba's are link-local or private already, named for the message.
METADATA = frozenset(map(ip_address, ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")))
METADATA_REASON = "cloud metadata"
NAT64 = ip_network("64:ff9b::/96")
_URL_SAFE = "/%:@!$&'()*+,;=-._~?"  # what may stay as it is in a request target; the rest is %-encoded


def _to_add(scheme: str, host: str, port: int) -> str:
    """What to add to IMGSERVE_REMOTE_ALLOW to allow host:port: the host alone where the port is the
    scheme's default, with the port for an address only such an entry allows; nothing for a metadata
    service, which no image URL should name."""
    try:
        reason = refused(host)
    except ValueError:  # a name: its addresses are checked when it is resolved
        reason = None
    if reason == METADATA_REASON:
        return f"; {host} is a {reason} address, which no image URL should name"
    entry = authority(host) if port == DEFAULT_PORTS[scheme] and reason is None else authority(host, port)
    return (f": add {entry} to it to fetch from there (entries are matched as written: a name does not allow its "
            "addresses, nor an address its names)")


def refused(address: str) -> str | None:
    """Why an address is not public (loopback, private, ...), or None if it is. IPv6 forms that embed
    an IPv4 address (mapped, 6to4, NAT64) are judged by that address too."""
    ip = ip_address(address)
    candidates: list[IPv4Address | IPv6Address] = [ip]
    if isinstance(ip, IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        candidates = ([embedded] if embedded else []) + candidates
    for candidate in candidates:
        if candidate in METADATA:
            return METADATA_REASON
        for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved", "private"):
            if getattr(candidate, f"is_{kind}"):
                return kind.replace("_", "-")
        if not candidate.is_global:
            return "non-public"
    return None


@dataclass(frozen=True)
class Validators:
    etag: str | None
    last_modified: str | None

    def identity(self, url: str) -> str:
        return f"remote\0{url}\0{self.etag or ''}\0{self.last_modified or ''}"

    @property
    def modified(self) -> float | None:
        try:
            return parsedate_to_datetime(self.last_modified).timestamp() if self.last_modified else None
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    exact: bool  # the allow list names this port: non-public addresses are allowed too


class Remote:
    def __init__(self, allow: tuple[str, ...], *, max_bytes: int, timeout: float, connect_timeout: float,
                 max_redirects: int, max_downloads: int, tls: ssl.SSLContext | None = None) -> None:
        self.allow = frozenset(allow)
        self.max_downloads = max_downloads
        self._downloads = threading.BoundedSemaphore(max_downloads)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_redirects = max_redirects
        self.tls = tls or ssl.create_default_context()
        self._known: LRUCache[str, Validators] = LRUCache(REMEMBERED_URLS)
        self._lock = threading.Lock()
        self._resolver = ThreadPoolExecutor(RESOLVERS, thread_name_prefix="imgserve-resolve")

    @contextmanager
    def open(self, url: str) -> Iterator[Loaded]:
        """The image at `url`, read whole into memory now (or revalidated, when seen before)."""
        yield self._load(url)

    def _load(self, url: str) -> Loaded:
        if not self.allow:
            raise Problem(403, "this server does not fetch remote images: IMGSERVE_REMOTE_ALLOW is empty; list the "
                               "hosts /fetch may read there (host or host:port, comma-separated)")
        with self._lock:
            known = self._known.get(url)
        headers, body = self._get(url, known)
        if body is None and known:  # 304: the bytes we made results from are still current
            return Loaded(known.identity(url), known.modified, lambda: self._get(url, None)[1] or b"")
        body = body or b""
        validators = Validators(headers.get("ETag"), headers.get("Last-Modified"))
        with self._lock:
            if validators.etag or validators.last_modified:
                self._known[url] = validators
            else:
                self._known.pop(url, None)
        if validators.etag or validators.last_modified:
            return Loaded(validators.identity(url), validators.modified, lambda: body)
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        return Loaded(f"remote\0{url}\0{digest}", None, lambda: body)

    def _get(self, url: str, conditional: Validators | None) -> tuple[http.client.HTTPMessage, bytes | None]:
        """The final response's headers and body (None for a 304 to a conditional request)."""
        if not self._downloads.acquire(blocking=False):
            raise Problem(503, f"{self.max_downloads} remote images are being read already, the most "
                               "IMGSERVE_REMOTE_MAX_DOWNLOADS allows; try again shortly", headers={"Retry-After": "1"})
        try:
            return self._follow(url, conditional)
        finally:
            self._downloads.release()

    def _follow(self, url: str, conditional: Validators | None) -> tuple[http.client.HTTPMessage, bytes | None]:
        deadline = time.monotonic() + self.timeout
        for hop in range(self.max_redirects + 1):
            try:
                target = self._target(url)
                addresses = self._addresses(target, deadline)
            except Problem as problem:
                if not hop:
                    raise
                raise Problem(403 if problem.status == 400 else problem.status,
                              f"the remote redirected to {url!r}: {problem.detail}") from None
            connection = _Connection(target, addresses, self.tls)
            watchdog = threading.Timer(max(deadline - time.monotonic(), 0), connection.abort)
            watchdog.daemon = True
            watchdog.start()
            try:
                response = self._request(connection, target, conditional, deadline)
                if response.status in REDIRECTS:
                    location = response.getheader("Location")
                    if not location:
                        raise Problem(502, f"{target.url} answered {response.status} without a Location")
                    url = urljoin(target.url, location.strip())
                    continue
                return response.headers, self._body(response, connection, target, deadline, conditional)
            except (OSError, http.client.HTTPException) as error:
                if isinstance(error, TimeoutError) or time.monotonic() >= deadline:
                    raise Problem(504, f"{target.url} did not finish within {self.timeout:g} s") from None
                if isinstance(error, ssl.SSLError):
                    raise Problem(502, f"TLS with {target.host} failed: {error.reason or error}") from None
                raise Problem(502, f"reading {target.url} failed: {error or type(error).__name__}") from None
            finally:
                watchdog.cancel()
                connection.close()
        raise Problem(502, f"more than {self.max_redirects} redirects; the last one led to {url!r}")

    def _target(self, url: str) -> _Target:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as error:
            raise bad_option("url", f"not a valid URL ({error})") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            given = f"{scheme}:" if scheme else "a URL without a scheme"
            raise bad_option("url", f"only http and https URLs can be fetched, not {given}")
        if parts.username is not None or parts.password is not None:
            raise bad_option("url", "URLs with a user name or password are not fetched")
        try:
            host = normal_host(parts.hostname or "")
        except ValueError as error:
            raise bad_option("url", str(error) if parts.hostname else "the URL has no host") from None
        port = port or DEFAULT_PORTS[scheme]
        exact = authority(host, port) in self.allow
        if not exact and not (port == DEFAULT_PORTS[scheme] and authority(host) in self.allow):
            raise Problem(403, f"{authority(host, port)} is not in IMGSERVE_REMOTE_ALLOW{_to_add(scheme, host, port)}")
        path = quote(parts.path or "/", safe=_URL_SAFE)
        path += f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else ""
        return _Target(f"{scheme}://{authority(host, port)}{path}", scheme, host, port, path, exact)

    def _addresses(self, target: _Target, deadline: float) -> list[str]:
        """Every address the host resolves to, each checked unless the allow list names this host:port."""
        lookup = self._resolver.submit(socket.getaddrinfo, target.host, target.port, type=socket.SOCK_STREAM)
        try:
            found = lookup.result(timeout=_left(deadline))
        except TimeoutError:
            raise Problem(504, f"looking up {target.host} took longer than {self.timeout:g} s") from None
        except OSError as error:
            raise Problem(502, f"{target.host} could not be resolved ({error.strerror or error})") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses if not target.exact else ():
            reason = refused(address)
            if reason:
                hint = "" if reason == METADATA_REASON else (
                    " unless IMGSERVE_REMOTE_ALLOW names the host with its port: add "
                    f"{authority(target.host, target.port)} to allow it on purpose")
                raise Problem(403, f"{target.host} resolves to {address}, a {reason} address, which this server "
                                   f"does not fetch from{hint}")
        return addresses

    def _request(self, connection: _Connection, target: _Target, conditional: Validators | None,
                 deadline: float) -> http.client.HTTPResponse:
        connection.timeout = min(self.connect_timeout, _left(deadline))
        connection.connect()
        connection.raw.settimeout(_left(deadline))
        headers = {"User-Agent": f"imgserve/{__version__}", "Accept": "image/*"}
        if conditional and conditional.etag:
            headers["If-None-Match"] = conditional.etag
        if conditional and conditional.last_modified:
            headers["If-Modified-Since"] = conditional.last_modified
        connection.request("GET", target.path, headers=headers)
        return connection.getresponse()

    def _body(self, response: http.client.HTTPResponse, connection: _Connection, target: _Target,
              deadline: float, conditional: Validators | None) -> bytes | None:
        status = f"{response.status} {response.reason}".strip()
        if response.status == 304 and conditional:
            return None
        if response.status in (404, 410):
            raise Problem(404, f"the remote has no such image: {target.url} answered {status}")
        if response.status != 200:
            raise Problem(502, f"{target.url} answered {status}")
        declared = response.getheader("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(target, f"declares {declared} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            connection.raw.settimeout(_left(deadline))
            chunk = response.read1(CHUNK)
            if not chunk:
                break
            if size < SNIFF_BYTES <= size + len(chunk) and not formats.sniff(b"".join(chunks) + chunk):
                raise self._not_an_image(target, response)
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large(target, "sent more")
            chunks.append(chunk)
        _left(deadline)  # the watchdog may have ended the body early
        if declared.isdigit() and size != int(declared):
            raise Problem(502, f"{target.url} closed the connection after {size} of {declared} bytes")
        body = b"".join(chunks)
        if not formats.sniff(body):
            raise self._not_an_image(target, response)
        return body

    def _too_large(self, target: _Target, what: str) -> Problem:
        return Problem(413, f"{target.url} {what}; this server reads remote images of at most {self.max_bytes} bytes")

    def _not_an_image(self, target: _Target, response: http.client.HTTPResponse) -> Problem:
        kind = response.getheader("Content-Type") or "no Content-Type"
        return Problem(502, f"{target.url} did not send an image ({kind}); this server reads {formats.listed()}")


class _Connection(http.client.HTTPConnection):
    """HTTP or HTTPS to an address that has been checked, speaking to the host by its name: the Host
    header, TLS SNI and the certificate's host name check all use `target.host`, the socket goes to
    one of `addresses`, and no second lookup can change that."""

    def __init__(self, target: _Target, addresses: list[str], tls: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port)
        self.addresses = addresses
        self.tls = tls if target.scheme == "https" else None
        self.default_port = DEFAULT_PORTS[target.scheme]  # the Host header leaves the default port out
        self.raw: socket.socket | None = None  # kept: http.client forgets `sock` once a response owns it

    def connect(self) -> None:
        error: OSError = OSError(f"{self.host} has no address")
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as failed:
                error = failed
        else:
            raise error
        if self.tls:
            try:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = self.raw = sock

    def abort(self) -> None:
        """End whatever read is blocked on this connection (the deadline passed, from another thread).
        The plain socket's shutdown, so a TLS session's state is not touched from this thread."""
        if self.raw is not None:
            try:
                socket.socket.shutdown(self.raw, socket.SHUT_RDWR)
            except OSError:
                pass


def _left(deadline: float) -> float:
    """Seconds until the deadline; TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left
