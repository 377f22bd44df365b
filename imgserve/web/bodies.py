"""Response bodies sent without a copy per connection, and counted in the memory budget while held.

waitress copies whatever the app returns into each connection's output buffer, and keeps it there
until the client has read it: ten clients that ask for the same cached 201 MB result and never read
held 1.97 GB. A body given as a file (`wsgi.file_wrapper`) is instead read from as the socket takes
it, so every connection shares the one bytes object. From the moment a response is made until the
last connection sending it has sent it (or closed), its body is counted in MAX_MEMORY
(Admission.hold), once however many connections send it: renders then wait for that memory like
for any other, and a client that does not read is closed after IDLE_TIMEOUT.

Bodies under STREAM_BYTES are copied as before: at most that much per connection, and thumbnails
keep the shortest path.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

from werkzeug.wsgi import wrap_file

STREAM_BYTES = 64 * 1024
BLOCK = 256 * 1024  # what a WSGI server without a file wrapper reads at a time


class HeldBody(io.BytesIO):
    """The bytes of one response (BytesIO shares them until written to, so this is no copy), which
    gives its place in the memory budget back when closed."""

    def __init__(self, body: bytes, release: Callable[[], None]) -> None:
        super().__init__(body)
        self._release = release

    def close(self) -> None:
        if not self.closed:
            self._release()
        super().close()


def body(environ: dict, data: bytes, hold: Callable[[bytes], Callable[[], None]]) -> Iterable[bytes]:
    """`data` as a WSGI response iterable: a file the server reads from as it sends, held in the
    budget by `hold` (Admission.hold) until closed, or for small bodies the bytes themselves."""
    if len(data) < STREAM_BYTES:
        return [data]
    return wrap_file(environ, HeldBody(data, hold(data)), BLOCK)
