"""The JPEG writer's own quantisation tables: written as computed, DC as libjpeg's, and fewer bytes
than libjpeg's tables for the same fidelity (SSIM) on photos it was not tuned on."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve.imaging import jpeg_writer
from tests.support.ssim import bytes_at, rgb_and_luma

PHOTOS = sorted((Path(__file__).resolve().parent.parent / "data/photos").glob("*.jpg"))


def thumbnail(path: Path, width: int = 300) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    return cv2.resize(image, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)


def libjpeg(image: np.ndarray, q: int) -> bytes:
    """libjpeg's own tables (Annex K), through OpenCV, with optimised Huffman tables as the writer has."""
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q, cv2.IMWRITE_JPEG_OPTIMIZE, 1])[1].tobytes()


@pytest.mark.parametrize("q", [1, 30, 50, 80, 95, 100])
def test_the_file_carries_the_writers_tables_and_libjpegs_dc_steps(q: int) -> None:
    image = thumbnail(PHOTOS[0])
    ours = Image.open(io.BytesIO(jpeg_writer.write(image, q)))
    theirs = Image.open(io.BytesIO(libjpeg(image, q)))
    assert [list(ours.quantization[k]) for k in (0, 1)] == jpeg_writer.tables(q)
    for k in (0, 1):  # an 8x8 block's mean is stepped as finely as libjpeg steps it: no new banding
        assert ours.quantization[k][0] == theirs.quantization[k][0]
    assert ours.layers == 3 and ours.layer[1][1:3] == (1, 1) and ours.layer[0][1:3] == (2, 2)  # 4:2:0


def test_untilted_tables_are_libjpegs_at_every_quality_and_out_of_range_qualities_are_clamped() -> None:
    """The scaling is libjpeg's to the step, integer division included: untilted, the tables are the
    ones libjpeg writes, so the DC steps kept from them are libjpeg's at every quality."""
    image = thumbnail(PHOTOS[0], 64)
    for q in range(1, 101):
        theirs = Image.open(io.BytesIO(libjpeg(image, q))).quantization
        assert jpeg_writer.tables(q, 0.0, 0.0, 1.0, False) == [list(theirs[0]), list(theirs[1])], q
        assert [t[0] for t in jpeg_writer.tables(q)] == [theirs[0][0], theirs[1][0]], q
    assert jpeg_writer.tables(0) == jpeg_writer.tables(-5) == jpeg_writer.tables(1)
    assert jpeg_writer.tables(101) == jpeg_writer.tables(100)
    assert Image.open(io.BytesIO(jpeg_writer.write(image, 0))).size == (64, image.shape[0])


def test_fewer_bytes_than_libjpegs_tables_at_equal_ssim() -> None:
    """Per photo (the test photos, none of which the tables were tuned on), the writer's bytes where it
    reaches the SSIM of libjpeg's q80, summed: below 0.97x libjpeg's, by RGB and by luma SSIM."""
    ours, theirs = [0.0, 0.0], 0
    for path in PHOTOS:
        image = thumbnail(path)
        reference = libjpeg(image, 80)
        target = rgb_and_luma(image, reference)
        theirs += len(reference)
        points = [(len(data), *rgb_and_luma(image, data)) for q in range(60, 100, 4)
                  for data in [jpeg_writer.write(image, q)]]
        for k in (0, 1):
            ours[k] += bytes_at([(p[1 + k], p[0]) for p in points], target[k])
    assert ours[0] / theirs < 0.97 and ours[1] / theirs < 0.97, (ours[0] / theirs, ours[1] / theirs)


def test_q80_is_at_least_as_faithful_as_libjpegs_q80_for_fewer_bytes() -> None:
    ours, theirs = [], []
    for path in PHOTOS:
        image = thumbnail(path)
        for found, data in ((ours, jpeg_writer.write(image, 80)), (theirs, libjpeg(image, 80))):
            found.append((len(data), *rgb_and_luma(image, data)))
    ours_, theirs_ = np.array(ours), np.array(theirs)
    assert ours_[:, 0].sum() < theirs_[:, 0].sum()
    assert ours_[:, 1].mean() >= theirs_[:, 1].mean() and ours_[:, 2].mean() >= theirs_[:, 2].mean()


def test_gray_stays_one_channel_and_progressive_is_progressive() -> None:
    gray = cv2.cvtColor(thumbnail(PHOTOS[0]), cv2.COLOR_BGR2GRAY)
    data = jpeg_writer.write(gray, 85, progressive=True)
    picture = Image.open(io.BytesIO(data))
    assert picture.mode == "L" and picture.info.get("progressive") == 1
    assert cv2.PSNR(np.asarray(picture), gray) > 35
