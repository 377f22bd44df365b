"""Waiting for a state, not for a time: tests coordinate threads and processes by what they can see.

A fixed sleep is either too short on a loaded machine (the test fails for nothing) or wasted on an
idle one. `wait_until` polls a condition and fails, saying what it waited for, only after `seconds`,
which is generous because it is only ever reached when something is wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PATIENCE = 20.0  # seconds: long enough for a loaded 2-core machine, reached only on a real failure


def wait_until(condition: Callable[[], object], what: str = "the condition", seconds: float = PATIENCE) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds:g} s waiting for {what}"
        time.sleep(0.002)
