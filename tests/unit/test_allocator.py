"""allocator.tune: big blocks freed by one render are reused by the next without new page faults."""

import platform
import subprocess
import sys

import pytest

# Three 12 MiB blocks alive at once, then freed, as a render frees its original, decoded image and
# scratch: the minor page faults of the third such round, after two to settle glibc's thresholds.
ROUNDS = """
import resource, sys
from imgserve.server import allocator
if sys.argv[1] == "tuned":
    assert allocator.tune()
def render_like():
    blocks = [b"x" * (12 << 20) for _ in range(3)]
    del blocks
render_like(); render_like()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
render_like()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

PAGES_PER_ROUND = 3 * (12 << 20) // 4096


def faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_freed_blocks_stay_for_the_next_render():
    tuned, untuned = faults("tuned"), faults("default")
    assert tuned < PAGES_PER_ROUND // 10
    assert untuned > PAGES_PER_ROUND // 2  # glibc's defaults hand the heap back and fault it in again

