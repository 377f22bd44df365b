"""ops.compose (overlays), ops.content_box (trim) and ops.shrink_to, against hand-made references and Pillow."""

import numpy as np
import pytest
from PIL import Image

from imgserve.imaging import ops
from tests.support.images import photo


def logo(width: int = 40, height: int = 20, alpha: int = 255) -> np.ndarray:
    """A BGRA mark: a red left half, a blue right half, a transparent 4 px frame around both."""
    mark = np.zeros((height, width, 4), np.uint8)
    mark[4:-4, 4:width // 2] = (0, 0, 255, alpha)
    mark[4:-4, width // 2:-4] = (255, 0, 0, alpha)
    return mark


def test_an_opaque_mark_lands_where_the_anchor_and_margin_say() -> None:
    base = np.full((100, 200, 3), 200, np.uint8)
    out = ops.compose(base, logo(), anchor=(1.0, 1.0), margin=10)
    # bottom right, 10 px in: the mark covers x 150..190, y 70..90; its frame stays transparent
    assert tuple(out[80, 160]) == (0, 0, 255) and tuple(out[80, 180]) == (255, 0, 0)
    assert tuple(out[71, 151]) == (200, 200, 200)      # the transparent frame shows the base
    changed = np.argwhere((out != base).any(axis=2))
    assert changed.min(axis=0).tolist() == [74, 154] and changed.max(axis=0).tolist() == [85, 185]
    assert np.array_equal(base, np.full((100, 200, 3), 200, np.uint8))  # the input is left alone


@pytest.mark.parametrize("anchor, corner", [((0.0, 0.0), (0, 0)), ((0.5, 0.5), (80, 40)), ((1.0, 0.0), (160, 0))])
def test_anchors_without_margin(anchor, corner) -> None:
    base = np.zeros((100, 200, 3), np.uint8)
    mark = np.full((20, 40, 3), 255, np.uint8)
    out = ops.compose(base, mark, anchor=anchor)
    ys, xs = np.nonzero(out[:, :, 0])
    assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (*corner, 40, 20)


def test_scale_is_relative_to_the_output_and_keeps_the_aspect() -> None:
    base = np.zeros((100, 200, 3), np.uint8)
    mark = np.full((20, 40, 3), 255, np.uint8)
    out = ops.compose(base, mark, anchor=(0.0, 0.0), scale=0.5)  # fits 100x50: 100x50 (2:1)
    ys, xs = np.nonzero(out[:, :, 0])
    assert (xs.max() + 1, ys.max() + 1) == (100, 50)
    huge = np.full((1000, 1000, 3), 255, np.uint8)  # larger than the room: shrunk into it
    ys, xs = np.nonzero(ops.compose(base, huge, margin=5)[:, :, 0])
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (105, 5, 195, 95)


def test_translucent_mark_over_an_opaque_image_matches_the_formula() -> None:
    base = photo(120, 80)
    mark = np.dstack([photo(120, 80, seed=3), np.linspace(0, 255, 120 * 80).reshape(80, 120).astype(np.uint8)])
    out = ops.compose(base, mark, anchor=(0, 0), opacity=0.5).astype(np.float64)
    a = mark[:, :, 3:4] / 255 * 0.5
    expected = mark[:, :, :3] * a + base * (1 - a)
    assert np.abs(out - expected).max() <= 0.51


def test_over_a_transparent_image_is_the_over_operator_as_pillow_does_it() -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (60, 80, 4), dtype=np.uint8)
    mark = rng.integers(0, 256, (60, 80, 4), dtype=np.uint8)
    out = ops.compose(base, mark, anchor=(0, 0))
    rgba = lambda bgra: Image.fromarray(bgra[:, :, [2, 1, 0, 3]])  # noqa: E731
    reference = np.asarray(Image.alpha_composite(rgba(base), rgba(mark)))[:, :, [2, 1, 0, 3]]
    alpha_seen = reference[:, :, 3] > 8  # colour under near-zero alpha is rounding noise in both
    assert np.abs(out[:, :, 3].astype(int) - reference[:, :, 3]).max() <= 1
    assert np.abs(out[alpha_seen].astype(int) - reference[alpha_seen]).max() <= 2


@pytest.mark.parametrize("base, mark, channels", [
    (np.full((50, 50), 100, np.uint8), np.full((10, 10, 3), (0, 0, 255), np.uint8), 3),  # colour mark: gray -> BGR
    (np.full((50, 50), 100, np.uint8), np.full((10, 10), 255, np.uint8), 1),
    (np.full((50, 50, 3), 100, np.uint16), np.full((10, 10, 4), 255, np.uint8), 3),      # depths differ
    (np.full((50, 50, 3), 0.4, np.float32), np.full((10, 10, 3), 65535, np.uint16), 3),
])
def test_layouts_and_depths_meet(base, mark, channels) -> None:
    out = ops.compose(base, mark, anchor=(0, 0))
    assert out.dtype == base.dtype and ops.channels(out) == channels
    assert float(out.reshape(50, 50, -1)[5, 5].max()) == ops.peak(base)  # the mark at full strength
    assert float(out.reshape(50, 50, -1)[30, 30].max()) == float(base.reshape(50, 50, -1)[30, 30].max())


def test_margins_larger_than_the_image_still_compose() -> None:
    out = ops.compose(np.zeros((5, 5, 3), np.uint8), np.full((10, 10, 3), 255, np.uint8), margin=100)
    assert out.shape == (5, 5, 3) and out.max() == 255


@pytest.mark.parametrize("threshold", [0, 10])
def test_content_box_finds_what_is_not_border(threshold) -> None:
    page = np.full((300, 200, 3), 245, np.uint8)
    page[40:250, 30:170] = photo(140, 210)
    page[0, 0] = (200, 20, 20)   # one stained corner: the median of the four decides the border colour
    page[290, 10] = (0, 0, 0)    # a speck of dust does not hold a border in place
    assert ops.content_box(page, threshold) == (30, 40, 140, 210)


def test_content_box_threshold_counts_near_colours_as_border() -> None:
    page = np.full((100, 100, 3), 240, np.uint8)
    page[10:90, :20] = 232       # a scanner's shading along the left edge, 8 levels off
    page[40:60, 40:60] = 0
    assert ops.content_box(page, 0) == (0, 10, 60, 80)
    assert ops.content_box(page, 10) == (40, 40, 20, 20)


def test_content_box_of_a_uniform_image_is_none_and_alpha_counts() -> None:
    assert ops.content_box(np.full((20, 30, 3), 7, np.uint8), 0) is None
    clear = np.zeros((40, 40, 4), np.uint8)
    clear[10:20, 5:30, 3] = 255
    assert ops.content_box(clear, 0) == (5, 10, 25, 10)
    deep = np.full((40, 40), 60000, np.uint16)
    deep[10:30, 10:20] = 60000 - 20 * 257   # 20 levels off in 8-bit terms
    assert ops.content_box(deep, 10) == (10, 10, 10, 20) and ops.content_box(deep, 30) is None


@pytest.mark.parametrize("shape, long_side, expected", [
    ((4000, 6000, 3), 128, (85, 128)), ((100, 50), 128, (100, 50)), ((1, 5000, 3), 480, (1, 480)),
    ((3000, 2, 3), 100, (100, 1)),
])
def test_shrink_to(shape, long_side, expected) -> None:
    image = np.zeros(shape, np.uint8)
    assert ops.shrink_to(image, long_side).shape[:2] == expected


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (1, 5, 4), (5, 1), (2, 2, 3)])
def test_content_box_of_tiny_images(shape) -> None:
    """Found by schemathesis: a 1x1 plane once reached OpenCV's scalar overloads and raised."""
    image = np.zeros(shape, np.uint8)
    assert ops.content_box(image, 0) is None
    if image.shape[0] * image.shape[1] > 2:
        image[image.shape[0] // 2, image.shape[1] // 2] = 9   # not a corner: content
        x, y, w, h = ops.content_box(image, 0)
        assert (x, y) == (image.shape[1] // 2, image.shape[0] // 2) and (w, h) == (1, 1)
