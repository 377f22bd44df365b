"""A Python client for imgserve: `Client("http://host:8080").get("photos/rotated.jpg", w=300)`.

Pixels cross this API as OpenCV arrays: BGR, BGRA or gray, uint8 or uint16. `process()` sends an
array as a PNG made in memory by the service's own encoder (lossless, 16 bits and alpha kept), and
`as_array=True` decodes the answer with the service's own decoder, so the client and the server
cannot disagree about pixels. An error status raises `ImgserveError`, which carries the server's
problem+json. Given a key, the client signs every URL exactly as the server checks it.

requests is an extra (`pip install 'imgserve-server[client]'`), not a core dependency: a server never
needs it (remote fetches use the standard library), so deployments of the service do not carry it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import numpy as np

from . import DISTRIBUTION, formats
from .errors import PROBLEM_JSON
from .imaging.decode import decode_array
from .imaging.encode import encode_array
from .options import text as option_text
from .signing import sign_url

try:
    import requests
except ImportError as error:  # pragma: no cover - depends on how imgserve was installed
    raise ImportError(f"imgserve.client needs requests: pip install '{DISTRIBUTION}[client]'") from error


class ImgserveError(Exception):
    """The server answered with an error: its `status`, `detail`, and the whole problem+json body."""

    def __init__(self, status: int, detail: str, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.problem = problem

    @classmethod
    def of(cls, response: requests.Response) -> ImgserveError:
        if response.headers.get("Content-Type", "").startswith(PROBLEM_JSON):
            problem = response.json()
        else:  # from something in front of the app (a proxy, or waitress refusing a huge body)
            problem = {"status": response.status_code, "title": response.reason, "detail": response.text.strip()}
        return cls(response.status_code, str(problem.get("detail", response.reason)), problem)


class Client:
    def __init__(self, base_url: str, *, key: str | None = None, timeout: float = 60.0,
                 session: requests.Session | None = None) -> None:
        """`base_url` may include a path prefix (a proxy's mount point); `key` signs the URLs."""
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.session = session or requests.Session()

    def get(self, id: str, *, as_array: bool = False, **options: Any) -> bytes | np.ndarray:
        """An original from the server's root, processed: `get("a.jpg", w=300, format="webp")`."""
        return self._image(self._send("GET", "/image/" + quote(id, safe="/"), options), as_array)

    def process(self, image: bytes | np.ndarray, *, as_array: bool = False, **options: Any) -> bytes | np.ndarray:
        """`image` (encoded bytes, or a BGR/BGRA/gray uint8/uint16 array, sent as PNG) processed by the server."""
        if isinstance(image, np.ndarray):
            data, mime = encode_array(image, "png"), "image/png"
        else:
            data = bytes(image)
            known = formats.FORMATS.get(formats.sniff(data) or "")
            mime = known.mime if known else "application/octet-stream"
        response = self._send("POST", "/process", options, files={"image": ("image", data, mime)})
        return self._image(response, as_array)

    def fetch(self, url: str, *, as_array: bool = False, **options: Any) -> bytes | np.ndarray:
        """A remote image the server may read (IMGSERVE_REMOTE_ALLOW), processed."""
        return self._image(self._send("GET", "/fetch", {"url": url, **options}), as_array)

    def info(self, id: str, *, placeholder: bool = False) -> dict[str, Any]:
        """Facts about an original: width, height, channels, bit depth, format, bytes, modified, ...;
        with `placeholder=True` also its placeholder (dominant colour, BlurHash, LQIP), which costs a decode."""
        params = {"placeholder": "1"} if placeholder else {}
        return self._send("GET", "/info/" + quote(id, safe="/"), params).json()

    def srcset(self, id: str, *, widths: list[int] | None = None, sizes: str | None = None, alt: str | None = None,
               **options: Any) -> dict[str, Any]:
        """The responsive markup for an original (`["html"]`: a ready <picture>) and its parts:
        `srcset("a.jpg", widths=[320, 640], sizes="50vw", fit="cover", w=640, h=480)`."""
        params = {"widths": ",".join(map(str, widths)) if widths else None, "sizes": sizes, "alt": alt, **options}
        response = self._send("GET", "/srcset/" + quote(id, safe="/"), params, headers={"Accept": "application/json"})
        return response.json()

    def url(self, path: str, params: dict[str, Any]) -> str:
        """The full URL for `path` and `params`, signed when the client has a key."""
        query = "&".join(f"{quote(name, safe='')}={quote(option_text(name, value), safe='')}"
                         for name, value in params.items() if value is not None)
        target = f"{path}?{query}" if query else path
        return self.base_url + (sign_url(target, self.key) if self.key else target)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, params: dict[str, Any], **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.url(path, params), timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise ImgserveError.of(response)
        return response

    @staticmethod
    def _image(response: requests.Response, as_array: bool) -> bytes | np.ndarray:
        return decode_array(response.content) if as_array else response.content


