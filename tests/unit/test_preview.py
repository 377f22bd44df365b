"""Placeholders: BlurHash against an independent implementation (the `blurhash` package), dominant colour and
the LQIP data URI checked by decoding them."""

import base64

import blurhash as reference
import cv2
import numpy as np
import pytest

from imgserve.imaging import preview
from tests.support.images import astronaut, decode, photo


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("size, components", [((32, 24), (4, 3)), ((24, 32), (3, 4)), ((7, 5), (1, 1)),
                                              ((32, 32), (9, 9)), ((1, 1), (4, 3))])
def test_blurhash_is_what_the_reference_encoder_writes(seed, size, components) -> None:
    image = cv2.resize(photo(320, 240, seed), size, interpolation=cv2.INTER_AREA)
    expected = reference.encode(image[:, :, ::-1].tolist(), *components)
    assert preview.blurhash(image, components) == expected


def test_blurhash_decodes_to_the_image_softened() -> None:
    image = cv2.resize(astronaut(), (32, 32), interpolation=cv2.INTER_AREA)
    decoded = np.array(reference.decode(preview.blurhash(image), 32, 32), np.float64)[:, :, ::-1]
    linear = lambda v: np.where(v / 255 <= 0.04045, v / 255 / 12.92, ((v / 255 + 0.055) / 1.055) ** 2.4)  # noqa: E731
    # the average is taken in linear light, so compare it there; the rest is a soft version of the image
    assert np.abs(linear(decoded).mean(axis=(0, 1)) - linear(image.astype(np.float64)).mean(axis=(0, 1))).max() < 0.03
    soft = cv2.GaussianBlur(image, (0, 0), 6).astype(np.float64)
    assert np.abs(decoded - soft).mean() < 30


def test_blurhash_of_gray_and_alpha_images() -> None:
    gray = np.full((8, 8), 128, np.uint8)
    assert preview.blurhash(gray) == reference.encode([[[128] * 3] * 8] * 8, 4, 3)
    clear = np.zeros((8, 8, 4), np.uint8)        # transparent: shown on white, as a page would
    assert preview.blurhash(clear) == reference.encode([[[255] * 3] * 8] * 8, 4, 3)


def test_the_dominant_colour_is_the_commonest_not_the_mean() -> None:
    image = np.zeros((10, 10, 3), np.uint8)
    image[:6] = (0, 0, 200)      # 60 % red (BGR)
    image[6:] = (200, 0, 0)      # 40 % blue
    assert preview.dominant(image) == "#c80000"   # the mean would be a purple no pixel has


def test_the_dominant_colour_weighs_alpha_and_reads_gray() -> None:
    image = np.zeros((10, 10, 4), np.uint8)
    image[:7] = (0, 255, 0, 10)      # 70 % of the pixels, nearly invisible
    image[7:] = (255, 0, 0, 255)
    assert preview.dominant(image) == "#0000ff"
    assert preview.dominant(np.zeros((4, 4, 4), np.uint8)) is None
    assert preview.dominant(np.full((4, 4), 0x33, np.uint8)) == "#333333"


def test_lqip_is_a_tiny_webp_of_the_image() -> None:
    image = cv2.resize(astronaut(), (32, 32), interpolation=cv2.INTER_AREA)
    uri = preview.lqip(image)
    assert uri.startswith("data:image/webp;base64,") and len(uri) < 600
    small = decode(base64.b64decode(uri.split(",", 1)[1]))
    assert small.shape == (16, 16, 3)
    assert np.abs(small.astype(int).mean(axis=(0, 1)) - image.mean(axis=(0, 1))).max() < 15
    alpha = np.dstack([image, np.full((32, 32), 100, np.uint8)])
    assert decode(base64.b64decode(preview.lqip(alpha).split(",", 1)[1])).shape == (16, 16, 4)


def test_summary_takes_any_depth() -> None:
    deep = (cv2.resize(astronaut(), (32, 32)).astype(np.uint16) * 257)
    assert preview.summary(deep) == preview.summary(cv2.resize(astronaut(), (32, 32)))
