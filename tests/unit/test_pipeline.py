import numpy as np
import pytest

from imgserve.errors import Problem
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from tests.support.images import (
    BLUE,
    GREEN,
    RED,
    WHITE,
    close,
    color_at,
    decode,
    encode,
    jpeg_with_orientation,
    photo,
    quadrants,
)


def run(data: bytes, settings, **options) -> tuple[np.ndarray, str]:
    rendered = render(data, Options(**options), settings)
    image = decode(rendered.body)
    assert image.shape[:2] == (rendered.height, rendered.width)
    return image, rendered.format


@pytest.mark.parametrize("options, size", [
    ({}, (80, 60)),
    ({"w": 40}, (40, 30)),
    ({"w": 40, "h": 40}, (40, 30)),
    ({"w": 40, "h": 40, "fit": "cover"}, (40, 40)),
    ({"w": 40, "h": 40, "fit": "fill"}, (40, 40)),
    ({"w": 40, "h": 40, "fit": "pad"}, (40, 40)),
    ({"scale": 0.25}, (20, 15)),
    ({"w": 160, "enlarge": True}, (160, 120)),
    ({"rotate": 90}, (60, 80)),
])
def test_output_sizes(settings, options: dict, size: tuple) -> None:
    image, _ = run(encode(quadrants()), settings, **options)
    assert image.shape[1::-1] == size


def test_cover_keeps_the_gravity_side(settings) -> None:
    data = encode(quadrants(80, 40))
    east, _ = run(data, settings, w=20, h=20, fit="cover", gravity="east")
    west, _ = run(data, settings, w=20, h=20, fit="cover", gravity="west")
    assert close(color_at(east, 0.5, 0.2), GREEN) and close(color_at(east, 0.5, 0.8), WHITE)
    assert close(color_at(west, 0.5, 0.2), RED) and close(color_at(west, 0.5, 0.8), BLUE)


def test_pad_uses_the_background_colour(settings) -> None:
    image, _ = run(encode(quadrants(80, 40)), settings, w=80, h=80, fit="pad", bg=(0, 0, 0, 255))
    assert image.shape == (80, 80, 3)
    assert close(color_at(image, 0.5, 0.05), (0, 0, 0)) and close(color_at(image, 0.25, 0.3), RED)


def test_crop_then_rotate_then_flip_in_that_order(settings) -> None:
    # crop the top-left red and top-right green quarter strip, rotate 90 -> red on top; flip v -> green on top
    image, _ = run(encode(quadrants(80, 60)), settings, crop=(0, 0, 80, 30), rotate=90, flip="v")
    assert image.shape[:2] == (80, 30)
    assert close(color_at(image, 0.5, 0.2), GREEN) and close(color_at(image, 0.5, 0.8), RED)


def test_alpha_is_kept_for_png_and_flattened_for_jpeg(settings) -> None:
    bgra = np.dstack([quadrants(), np.full((60, 80), 0, np.uint8)])
    bgra[30:, :, 3] = 255
    png, fmt = run(encode(bgra), settings, w=40)
    assert fmt == "png" and png.shape == (30, 40, 4) and png[0, 0, 3] == 0 and png[29, 0, 3] == 255
    jpg, fmt = run(encode(bgra), settings, w=40, format="jpeg", bg=(0, 255, 0, 255))
    assert fmt == "jpeg" and jpg.shape == (30, 40, 3)
    assert close(color_at(jpg, 0.5, 0.1), GREEN) and close(color_at(jpg, 0.25, 0.9), BLUE)


def test_sixteen_bit_png_stays_sixteen_bit_as_png_and_becomes_eight_as_webp(settings) -> None:
    deep = (quadrants().astype(np.uint16) * 257)
    png, _ = run(encode(deep), settings)
    assert png.dtype == np.uint16 and np.array_equal(png, deep)
    webp, fmt = run(encode(deep), settings, format="webp", q=100)
    assert fmt == "webp" and webp.dtype == np.uint8 and close(color_at(webp, 0.25, 0.25), RED)


def test_exif_orientation_then_options(settings) -> None:
    data = jpeg_with_orientation(quadrants(80, 60), 6)  # shown rotated: 60 wide, 80 tall
    image, fmt = run(data, settings, w=30)
    assert fmt == "jpeg" and image.shape[:2] == (40, 30)
    assert close(color_at(image, 0.2, 0.2), BLUE, 30)


def test_formats_by_default_and_on_request(settings) -> None:
    for ext, default in ((".jpg", "jpeg"), (".png", "png"), (".webp", "webp"), (".bmp", "png"), (".tiff", "png")):
        _, fmt = run(encode(quadrants(), ext), settings)
        assert fmt == default
    for fmt in ("jpeg", "png", "webp", "bmp", "tiff"):
        image, got = run(encode(quadrants()), settings, format=fmt, w=20)
        assert got == fmt and image.shape[:2] == (15, 20)


def test_filters_apply(settings) -> None:
    gray, _ = run(encode(quadrants()), settings, grayscale=True)
    assert gray.ndim == 2
    plain, _ = run(encode(quadrants()), settings)
    blurred, _ = run(encode(quadrants()), settings, blur=4.0)
    assert np.abs(np.diff(blurred.astype(int), axis=1)).max() < np.abs(np.diff(plain.astype(int), axis=1)).max()


def test_limits(settings) -> None:
    from dataclasses import replace

    with pytest.raises(Problem) as caught:
        render(encode(photo(200, 100)), Options(), replace(settings, max_pixels=19_999))
    assert caught.value.status == 422
    image, _ = run(encode(photo(200, 100)), replace(settings, max_dimension=50))
    assert image.shape[:2] == (25, 50)


def test_a_passed_deadline_stops_the_render_between_stages(settings) -> None:
    import time

    with pytest.raises(Problem) as caught:
        render(encode(photo(200, 100)), Options(w=50), settings, deadline=time.monotonic() - 1)
    assert caught.value.status == 503 and "after decoding" in caught.value.detail
    assert render(encode(photo(200, 100)), Options(w=50), settings, deadline=time.monotonic() + 30).width == 50


def test_blur_and_sharpen_bounds_are_settings(settings) -> None:
    from dataclasses import replace

    from imgserve.options import parse

    with pytest.raises(Problem, match="blur: must be above 0 and at most 5"):
        parse({"blur": "6"}, replace(settings, max_blur=5.0))
    assert parse({"sharpen": "20"}, replace(settings, max_sharpen=20.0)).sharpen == 20.0
