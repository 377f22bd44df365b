"""Thumbnail quality on real photographs (tests/data/photos), against an exact area average.

The reference is computed here, independently of OpenCV: the photo decoded by Pillow at full size,
then each output pixel the mean of the source area it covers (fractional pixels weighted by the
part covered). That is what INTER_AREA means; a cubic or linear filter aliases on real detail, and
decoding smaller than 1.5x the output (geometry.SHRINK_MARGIN) leaves a near-identity resample that
blurs it. Thresholds sit between what the pipeline scores and what each regression scores
(docs/testing.md has the figures).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from imgserve.imaging.pipeline import render
from imgserve.options import Options
from tests.support import REPO
from tests.support.images import decode, encode, psnr
from tests.support.reference import area_average

PHOTOS = [REPO / "tests" / "data" / "photos" / name for name in ("boats.jpg", "dune.jpg", "moss.jpg")]


def pillow_bgr(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, :, ::-1]


def scores(data: bytes, full: np.ndarray, widths: tuple[int, ...], settings) -> dict[int, float]:
    found = {}
    for width in widths:
        thumb = decode(render(data, Options(w=width, format="png"), settings).body)
        assert thumb.shape[1] == width
        found[width] = round(psnr(thumb, area_average(full, width, thumb.shape[0])), 1)
    return found


def test_the_photos_are_there() -> None:
    assert [p.name for p in PHOTOS] == ["boats.jpg", "dune.jpg", "moss.jpg"]


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.stem)
def test_jpeg_thumbnails_shrunk_on_load_are_close_to_the_area_average(settings, path) -> None:
    """640 px wide: 75 px is decoded at 1/4 (160 px), 150 at 1/2 (320), 300 at full size. Measured: 38.4
    to 46.9 dB at 75 and 150 px, 79 at 300. Without the margin (decoded at 80, 160, 320 px) the worst is
    29.4 to 34.0 dB per photo; with a cubic filter, 27.5 to 32.2; with a linear one, 31.4 to 36.7."""
    data = path.read_bytes()
    found = scores(data, pillow_bgr(data), (75, 150, 300), settings)
    assert min(found.values()) >= 36, found


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.stem)
def test_thumbnails_of_lossless_sources_are_the_area_average(settings, path) -> None:
    """PNG is reduced while decoding (decode.REDUCERS: halvings, then one area step), at factors that
    are not whole numbers. Measured: 38.2 to 47.2 dB at 75 and 150 px, 64.7 or more at 213 and 400; with
    a cubic or linear filter in place of the area steps the worst width scores far lower (docs/testing.md)."""
    full = pillow_bgr(path.read_bytes())
    found = scores(encode(full), full, (75, 150, 213, 400), settings)
    assert min(found.values()) >= 36, found
