"""crop, rotate, flip, grayscale, blur and sharpen, checked in the pixels on every endpoint that
processes an original: /image (a file), /process (the body) and /fetch (a remote), in the pipeline's
one documented order (crop, rotate, flip, resize, pad, grayscale, blur, sharpen)."""

from urllib.parse import quote

import numpy as np
import pytest

from tests.support import origin as o
from tests.support.images import close, color_at, decode, encode

# BGR mid tones, so that blur and sharpen have room on both sides of every edge
TL, TR, BL, BR = (40, 40, 200), (40, 200, 40), (200, 40, 40), (200, 200, 200)


def tones(width: int = 80, height: int = 60) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[: height // 2, : width // 2], image[: height // 2, width // 2:] = TL, TR
    image[height // 2:, : width // 2], image[height // 2:, width // 2:] = BL, BR
    return image


SOURCE = encode(tones())


@pytest.fixture(params=["image", "process", "fetch"])
def render(request, root, origin, fetch_client):
    """A function of a query string that returns the decoded image one endpoint made of SOURCE."""
    (root / "tones.png").write_bytes(SOURCE)
    origin.routes["/tones.png"] = o.image(SOURCE)

    def get(query: str) -> np.ndarray:
        if request.param == "image":
            response = fetch_client.get(f"/image/tones.png?{query}")
        elif request.param == "process":
            response = fetch_client.post(f"/process?{query}", data=SOURCE, content_type="image/png")
        else:
            response = fetch_client.get(f"/fetch?url={quote(origin.url('/tones.png'), safe='')}&{query}")
        assert response.status_code == 200, response.data
        return decode(response.data)

    return get


def corners(image: np.ndarray) -> list[tuple[int, ...]]:
    return [color_at(image, x, y) for x, y in ((0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9))]


@pytest.mark.parametrize("query, shape, expected", [
    ("rotate=90", (80, 60, 3), [BL, TL, BR, TR]),      # clockwise
    ("rotate=180", (60, 80, 3), [BR, BL, TR, TL]),
    ("rotate=270", (80, 60, 3), [TR, BR, TL, BL]),
    ("flip=h", (60, 80, 3), [TR, TL, BR, BL]),
    ("flip=v", (60, 80, 3), [BL, BR, TL, TR]),
    ("flip=hv", (60, 80, 3), [BR, BL, TR, TL]),
    ("crop=40,0,40,30", (30, 40, 3), [TR, TR, TR, TR]),
    ("crop=30,20,20,20", (20, 20, 3), [TL, TR, BL, BR]),
    # crop is in source pixels and comes first; rotate then flip act on what it kept
    ("crop=0,0,40,60&rotate=90", (40, 60, 3), [BL, TL, BL, TL]),
    ("crop=0,0,40,60&rotate=90&flip=h", (40, 60, 3), [TL, BL, TL, BL]),
    ("rotate=90&w=30", (40, 30, 3), [BL, TL, BR, TR]),   # w describes the output, after rotating
])
def test_geometry(render, query: str, shape: tuple, expected: list) -> None:
    image = render(query + "&format=png")
    assert image.shape == shape
    assert all(close(got, want, 3) for got, want in zip(corners(image), expected)), corners(image)


def test_grayscale(render) -> None:
    image = render("grayscale=1&format=png")
    assert image.shape == (60, 80)
    luma = [round(0.299 * c[2] + 0.587 * c[1] + 0.114 * c[0]) for c in (TL, TR, BL, BR)]
    assert all(close(got, (want,), 2) for got, want in zip(corners(image), luma))


def test_blur_softens_edges_only(render) -> None:
    image = render("blur=3&format=png").astype(int)
    assert image.shape == (60, 80, 3)
    assert close(tuple(image[5, 5]), TL, 2) and close(tuple(image[55, 75]), BR, 2)   # flat areas unchanged
    edge_red = image[15, 39:41, 2]            # across the TL|TR edge, red goes 200 -> 40
    assert (edge_red > 70).all() and (edge_red < 170).all()


def test_sharpen_overshoots_at_edges(render) -> None:
    image = render("sharpen=3&format=png").astype(int)
    assert close(tuple(image[5, 5]), TL, 2)
    assert image[15, 39, 2] > 215 and image[15, 40, 2] < 25   # beyond both sides of the 200 | 40 step
    plain = render("format=png").astype(int)
    assert plain[15, 39, 2] == 200 and plain[15, 40, 2] == 40


def test_filters_run_after_the_resize_in_output_pixels(render) -> None:
    """blur=2 on a 40-pixel-wide output spreads the edge over output pixels, not source pixels."""
    small = render("w=40&blur=2&format=png").astype(int)
    assert small.shape == (30, 40, 3)
    spread = np.count_nonzero((small[7, :, 2] > 50) & (small[7, :, 2] < 190))
    assert 5 <= spread <= 8   # blurring the source with sigma 2 before halving it would give 4


def test_grayscale_after_pad_keeps_the_padding_gray(render) -> None:
    image = render("w=100&h=100&fit=pad&bg=ff0000&grayscale=1&format=png")
    assert image.shape == (100, 100)
    assert close(color_at(image, 0.5, 0.02), (76,), 2)   # red padding, made gray: steps in one order
