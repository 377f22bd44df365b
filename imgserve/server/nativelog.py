"""C libraries' console chatter (libpng's "libpng error: ...", libjpeg's "Corrupt JPEG data") into the log.

OpenCV's own logging can be silenced, but the codecs it links print straight to file descriptor 2.
`imgserve serve` points fd 2 at a pipe and logs each line at DEBUG, so the console shows the service's
one line per failure and nothing else, while Python's own stderr keeps going to the real console.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger("imgserve.native")


def capture_native_stderr() -> None:
    """Call once, before logging is configured (handlers bind to `sys.stderr` when made)."""
    console = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = os.fdopen(console, "w", buffering=1, encoding="utf-8", errors="replace")
    threading.Thread(target=_forward, args=(read_end,), name="native-stderr", daemon=True).start()


def _forward(read_end: int) -> None:
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                log.debug("decoder: %s", text)
