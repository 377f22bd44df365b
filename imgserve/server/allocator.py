"""glibc's malloc set up for a process that renders images on a few threads at a time.

A render allocates and frees blocks of megabytes: the original's bytes, a decoded image, libjpeg's
coefficients (100 MB for a 5640x3172 progressive JPEG). Left to its defaults, glibc hurts twice:

- Each thread that contends for malloc gets an arena of its own (up to 8 per core), and an arena
  keeps what was freed in it: with waitress's hundred threads, peak RSS serving 24 photos to 8
  clients was 0.95-1.1 GB instead of 270-300 MB with one arena (two arenas: 380-390 MB for 2%).
  A render makes a few dozen allocations, so one arena's lock is not contended.
- The heap is handed back to the kernel whenever more than twice the (self-adjusting) mmap
  threshold is free at its top, and renders free that much at once: the next render faulted the
  same memory in again, zeroed page by page (1 850 minor faults per thumbnail in the server).
  Fixed thresholds keep blocks under 32 MiB (glibc's largest threshold) in the heap and keep up to
  256 MiB of it free for the next render. Measured with bench/http_bench.py's workloads, same run:
  thumbnails +16-18% req/s with p99 down by a quarter, BMP to PNG +16%, peak RSS unchanged
  (thumbnails 263-282 MB, BMP 365-385 MB). The price: after a burst, up to 256 MiB of freed memory
  may stay resident. Setting only the trim threshold would be worse than nothing: glibc then stops
  adjusting the mmap threshold, leaving it at 128 KiB, so every large block is mapped afresh.

Other allocators than glibc's are left alone.
"""

from __future__ import annotations

import ctypes

from ..imaging.memory import HEAP_BLOCK
from ..settings import MiB

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's malloc.h
# The mmap threshold is the one the memory account assumes (imaging/memory.py: blocks under it stay resident).
SETTINGS = ((M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, HEAP_BLOCK), (M_TRIM_THRESHOLD, 256 * MiB))


def tune() -> bool:
    """Apply SETTINGS to this process; whether glibc took them all."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all([mallopt(parameter, value) == 1 for parameter, value in SETTINGS])  # a list: every one is tried
