"""GET /placeholder/<W>x<H>: exactly W×H, centred text that scales and stays inside, any format, cached."""

import time

import numpy as np
import pytest

from imgserve import create_app
from imgserve.signing import sign_url
from tests.support.http import problem
from tests.support.images import close, color_at, decode_color

GRAY, DARK = (204, 204, 204), (85, 85, 85)


def text_box(image: np.ndarray, background: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the pixels that are not the background."""
    differs = np.abs(image[:, :, :3].astype(int) - np.array(background)).max(axis=2) > 40
    ys, xs = np.nonzero(differs)
    assert len(xs), "no text was drawn"
    return xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


def get(client, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200, response.data
    return decode_color(response.data)


@pytest.mark.parametrize("width, height", [(300, 200), (64, 64), (1000, 120), (90, 700), (1, 1), (8, 3)])
def test_exact_size_default_colours_and_centred_text(client, width: int, height: int) -> None:
    response = client.get(f"/placeholder/{width}x{height}")
    assert response.headers["Content-Type"] == "image/png"
    image = decode_color(response.data)
    assert image.shape == (height, width, 3)
    assert close(tuple(image[0, 0]), GRAY, 0) and close(tuple(image[-1, -1]), GRAY, 0)
    if width < 40 or height < 20:
        return   # too small for readable text: plain background
    x, y, w, h = text_box(image, GRAY)
    assert x > 0 and y > 0 and x + w < width and y + h < height          # inside, with a margin
    assert abs((x + w / 2) - width / 2) <= 2 and abs((y + h / 2) - height / 2) <= 2   # centred
    assert w >= 0.6 * width or h >= 0.35 * height                        # and as large as fits
    assert np.abs(image.astype(int) - DARK).max(axis=2).min() <= 2      # the text is in fg


def test_default_text_uses_the_multiplication_sign(client) -> None:
    default = client.get("/placeholder/300x200").data
    assert client.get("/placeholder/300x200?text=300×200").data == default
    assert client.get("/placeholder/300x200?text=300x200").data != default


def test_text_scales_with_the_image(client) -> None:
    small = text_box(get(client, "/placeholder/100x50?text=Hello"), GRAY)
    large = text_box(get(client, "/placeholder/800x400?text=Hello"), GRAY)
    assert 7 <= large[2] / small[2] <= 9 and 7 <= large[3] / small[3] <= 9


@pytest.mark.parametrize("size, text", [("300x100", "W" * 40), ("120x900", "A caption"), ("300x30", "Ag"),
                                         ("400x60", "Ünïcödé, Привет, こんにちは")])
def test_long_and_unicode_text_stays_inside(client, size: str, text: str) -> None:
    width, height = map(int, size.split("x"))
    x, y, w, h = text_box(get(client, f"/placeholder/{size}?text={text}"), GRAY)
    assert x > 0 and y > 0 and x + w < width and y + h < height


def test_empty_text_is_a_plain_colour(client) -> None:
    image = get(client, "/placeholder/50x40?text=&bg=336699")
    assert (image == (0x99, 0x66, 0x33)).all()


def test_colours(client) -> None:
    image = get(client, "/placeholder/200x100?bg=f00&fg=00ff00&text=MMMM")
    assert close(color_at(image, 0, 0), (0, 0, 255), 0)
    assert ((image == (0, 255, 0)).all(axis=2)).sum() > 500     # solid glyph strokes in fg


def test_translucent_background_keeps_alpha_with_clean_edges(client) -> None:
    image = get(client, "/placeholder/200x100?bg=ffffff00&fg=000&text=HI")
    assert image.shape == (100, 200, 4)
    assert image[0, 0, 3] == 0 and image[:, :, 3].max() == 255
    alpha = image[:, :, 3].astype(int)
    colour = image[:, :, :3].astype(int)
    assert (colour[alpha > 0] <= 1).all()           # edge pixels are black at partial alpha, never white
    assert ((alpha > 0) & (alpha < 255)).any()       # antialiased
    flattened = get(client, "/placeholder/200x100?bg=ffffff00&fg=000&text=HI&format=jpeg")
    assert flattened.shape == (100, 200, 3) and close(color_at(flattened, 0, 0), (255, 255, 255), 2)


def test_translucent_colours_composite_as_pillow_does(client) -> None:
    """A coloured translucent bg and fg (the test above is black on transparent white, where a swapped
    channel order or a wrong alpha cannot show): the background is `bg` exactly, solid strokes are `fg`
    over `bg` as Pillow's alpha_composite makes it, and antialiased edges lie between the two."""
    from PIL import Image

    bg, fg = (0x33, 0x66, 0xCC, 0xCC), (0xFF, 0x99, 0x00, 0x80)
    image = get(client, "/placeholder/200x100?bg=3366cccc&fg=ff990080&text=MMMM")
    assert image.shape == (100, 200, 4)
    assert tuple(image[0, 0]) == (0xCC, 0x66, 0x33, 0xCC)                       # BGRA
    r, g, b, a = Image.alpha_composite(Image.new("RGBA", (1, 1), bg), Image.new("RGBA", (1, 1), fg)).getpixel((0, 0))
    solid = (np.abs(image.astype(int) - (b, g, r, a)) <= 1).all(axis=2)
    assert solid.sum() > 500
    assert image[:, :, 3].min() == bg[3] and image[:, :, 3].max() <= a + 1


@pytest.mark.parametrize("format, mime", [("jpeg", "image/jpeg"), ("webp", "image/webp"), ("bmp", "image/bmp"),
                                          ("tiff", "image/tiff"), ("png", "image/png"), ("avif", "image/avif"),
                                          ("gif", "image/gif")])
def test_any_output_format(client, format: str, mime: str) -> None:
    response = client.get(f"/placeholder/120x80?format={format}&q=90")
    assert response.headers["Content-Type"] == mime
    image = decode_color(response.data)
    assert image.shape == (80, 120, 3) and close(color_at(image, 0, 0), GRAY, 3)


def test_format_auto(client) -> None:
    response = client.get("/placeholder/120x80?format=auto", headers={"Accept": "image/webp"})
    assert response.headers["Content-Type"] == "image/webp" and response.headers["Vary"] == "Accept"


def test_cached_and_conditional(app, client) -> None:
    first = client.get("/placeholder/300x200?bg=123")
    assert first.headers["ETag"] and first.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get("/placeholder/300x200?bg=112233")
    assert again.headers["ETag"] == first.headers["ETag"] and app.extensions["imgserve"].cache.hits == 1
    assert client.get("/placeholder/300x200?bg=123", headers={"If-None-Match": first.headers["ETag"]}) \
        .status_code == 304
    assert client.get("/placeholder/300x201?bg=123").headers["ETag"] != first.headers["ETag"]
    head = client.head("/placeholder/300x200?bg=123")
    assert head.status_code == 200 and head.data == b"" and head.headers["Content-Length"] == str(len(first.data))


@pytest.mark.parametrize("url, option, fragment", [
    ("/placeholder/0x100", "width", "from 1 to 8192, got 0"),
    ("/placeholder/100x9000", "height", "from 1 to 8192, got 9000"),
    ("/placeholder/100", "size", "<width>x<height>"),
    ("/placeholder/100x", "size", ""),
    ("/placeholder/-5x10", "size", ""),
    ("/placeholder/1e3x10", "size", ""),
    ("/placeholder/100x100?text=" + "a" * 101, "text", "at most 100 characters"),
    ("/placeholder/100x100?text=a%0Ab", "text", "control characters"),
    ("/placeholder/100x100?bg=red", "bg", "hex colour"),
    ("/placeholder/100x100?fg=12345", "fg", "hex colour"),
    ("/placeholder/100x100?w=10", "w", "not an option of /placeholder"),
    ("/placeholder/100x100?blur=2", "blur", "not an option of /placeholder"),
    ("/placeholder/100x100?text=a&text=b", "text", "more than once"),
    ("/placeholder/100x100?format=heif", "format", "expected one of"),
])
def test_errors_name_the_bad_part(client, url: str, option: str, fragment: str) -> None:
    body = problem(client.get(url), 400)
    assert body["option"] == option and fragment in body["detail"]


def test_bounded_by_max_dimension_setting(root) -> None:
    client = create_app({"root": str(root), "max_dimension": "500"}).test_client()
    assert problem(client.get("/placeholder/501x10"), 400)["option"] == "width"
    assert decode_color(client.get("/placeholder/500x10").data).shape == (10, 500, 3)


def test_the_largest_placeholder_with_the_longest_text_is_quick(client) -> None:
    started = time.perf_counter()
    response = client.get("/placeholder/8192x8192?text=" + "W" * 100 + "&format=jpeg&q=50")
    assert response.status_code == 200 and decode_color(response.data).shape == (8192, 8192, 3)
    started_one = time.perf_counter()
    assert client.get("/placeholder/4000x4000?text=W&format=jpeg").status_code == 200   # one huge glyph
    assert started_one - started < 10 and time.perf_counter() - started_one < 5


def test_signed_when_signing_is_on(root) -> None:
    key = "k" * 32
    client = create_app({"root": str(root), "signing_keys": key}).test_client()
    problem(client.get("/placeholder/100x100?text=hi"), 403)
    assert decode_color(client.get(sign_url("/placeholder/100x100?text=hi", key)).data).shape == (100, 100, 3)
