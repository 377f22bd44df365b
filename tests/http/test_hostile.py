"""Hostile input: a table of generated files with the status each must get, and a fuzz test.

Bad input never gets a 5xx, never raises out of the pipeline, never takes long, and never leaves
anything on disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgserve.errors import Problem
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from tests.support import bmp_factory, hostile
from tests.support.costs import Costs
from tests.support.images import encode, photo


def encode_with_profile(image) -> bytes:
    """A JPEG carrying a swapped-channel profile: colour management runs on every mutation of it."""
    from imgserve.imaging import iccmake

    ok, data = cv2.imencodeWithMetadata(".jpg", image, [cv2.IMAGE_METADATA_ICCP],
                                        [np.frombuffer(iccmake.swapped_profile(), np.uint8)])
    return data.tobytes()

CASES = hostile.cases()


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 30 and len({name for name, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name, data, status", CASES, ids=[name for name, _, _ in CASES])
def test_hostile_file_gets_its_status(client, root: Path, name: str, data: bytes, status: int, monkeypatch) -> None:
    (root / name).write_bytes(data)
    before = sorted(p for p in root.parent.rglob("*"))
    costs = Costs(root, monkeypatch)
    started = time.perf_counter()
    response = client.get(f"/image/{name}?w=64")
    assert time.perf_counter() - started < 5.0  # bounded; a decoded bomb takes minutes (5 s: a loaded machine)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 422:  # a bomb or lying header: refused from the header, no decoder ran
        assert costs["decodes"] == 0
    if status == 200:
        image = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert image is not None and max(image.shape[:2]) <= 64
    else:
        body = response.get_json()
        assert response.headers["Content-Type"] == "application/problem+json"
        assert body["status"] == status and len(body["detail"]) > 10
    assert sorted(p for p in root.parent.rglob("*")) == before  # nothing written


SEEDS = [
    encode(photo(48, 32), ".jpg"),
    encode(photo(48, 32), ".png"),
    encode(np.dstack([photo(48, 32), photo(48, 32)[:, :, 0]]), ".png"),
    encode(photo(48, 32), ".webp"),
    encode(photo(48, 32), ".tiff"),
    hostile.cases()[[n for n, _, _ in CASES].index("animated.gif")][1],
    hostile.cases()[[n for n, _, _ in CASES].index("animated.webp")][1],
    encode(photo(48, 32), ".avif"),
    hostile.cases()[[n for n, _, _ in CASES].index("cmyk.jpg")][1],
    encode_with_profile(photo(48, 32)),
    *(bmp_factory.write(kind, 9, 7) for kind in ("info-8-rle", "info-4-rle", "info-16-565", "core-24", "v5-32-alpha")),
]
EXAMPLES = int(os.environ.get("IMGSERVE_FUZZ_EXAMPLES", "600"))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "header"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "header" and len(data) > 64:  # a random 32-bit value where sizes and offsets live
            at = draw(st.integers(0, 60))
            data[at:at + 4] = draw(st.integers(0, 2**32 - 1)).to_bytes(4, draw(st.sampled_from(["little", "big"])))
    return bytes(data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(), options=st.sampled_from([Options(w=16), Options(w=20, h=20, fit="cover", format="png"),
                                                 Options(format="webp", rotate=90)]))
@pytest.mark.slow
def test_fuzzed_input_gives_an_image_or_a_4xx(settings_for_fuzz, data: bytes, options: Options) -> None:
    try:
        rendered = render(data, options, settings_for_fuzz)
    except Problem as problem:
        assert 400 <= problem.status < 500, problem
        return
    image = cv2.imdecode(np.frombuffer(rendered.body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.shape[:2] == (rendered.height, rendered.width)


@pytest.fixture(scope="module")
def settings_for_fuzz(tmp_path_factory):
    from imgserve.settings import Settings

    return Settings.load({}, root=str(tmp_path_factory.mktemp("fuzz")), max_pixels="4000000")
