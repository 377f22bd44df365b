"""Every option family reaches the pixels, checked against an independent reference.

Each request's answer is decoded with Pillow and compared, pixel by pixel, with what the option
means, computed here from the source with NumPy (tests/support/reference.py) or by hand: an exact
area average for a shrink, Keys' cubic for an enlargement, the Gaussian and unsharp definitions,
BT.601 luma, block means, composites over the background, array slicing for crops, turns and flips.
A filter that is wrong, missing, or applied in the wrong order or place fails here.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.support import reference as ref
from tests.support.images import encode, photo, psnr

SOURCE = photo(96, 64, seed=5)[:, :, ::-1]                          # RGB, 96 x 64, edges and noise
ALPHA = np.tile(np.linspace(0, 255, 96).round().astype(np.uint8), (64, 1))  # 0 on the left, 255 on the right
GRAY = SOURCE[:, :, 1].copy()


@pytest.fixture
def get(client, root):
    (root / "texture.png").write_bytes(encode(SOURCE[:, :, ::-1]))
    (root / "glass.png").write_bytes(encode(np.dstack([SOURCE[:, :, ::-1], ALPHA])))
    (root / "gray.png").write_bytes(encode(GRAY))

    def get(query: str, name: str = "texture.png") -> tuple[np.ndarray, bytes]:
        response = client.get(f"/image/{name}?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        image = Image.open(io.BytesIO(response.data))
        if image.mode in ("P", "1"):  # the smallest PNG form may be a palette: its colours, not its indices
            image = image.convert("RGBA" if image.has_transparency_data else "RGB")
        return np.asarray(image), response.data

    return get


def small(width: int = 48, height: int = 32) -> np.ndarray:
    return ref.area_average(SOURCE, width, height)


def padded(image: np.ndarray, box: tuple[int, int], at: tuple[int, int], bg: tuple[int, ...]) -> np.ndarray:
    canvas = np.empty((box[1], box[0], len(bg)), np.uint8)
    canvas[:] = bg
    x, y = at
    canvas[y:y + image.shape[0], x:x + image.shape[1], :3] = image
    if len(bg) == 4:
        canvas[y:y + image.shape[0], x:x + image.shape[1], 3] = 255
    return canvas


def composite(rgb: np.ndarray, alpha: np.ndarray, bg: tuple[int, int, int]) -> np.ndarray:
    a = alpha.astype(np.float64)[:, :, None] / 255
    return np.rint(rgb * a + np.array(bg, np.float64) * (1 - a)).astype(np.uint8)


CASES = {
    # size and fit
    "w=48": lambda: small(),
    "h=16": lambda: small(24, 16),
    "w=40": lambda: small(40, 27),                                   # 2.4x: fractional areas
    "scale=0.25": lambda: small(24, 16),
    "w=48&h=16&fit=fill": lambda: small(48, 16),
    "w=48&h=48": lambda: small(),                                    # contain
    "w=192": lambda: SOURCE,                                         # no enlarging unless asked
    "w=192&enlarge=1": lambda: ref.cubic(SOURCE, 192, 128),
    # cover keeps the part gravity names; the cut is made in the source, then shrunk
    "w=32&h=32&fit=cover": lambda: ref.area_average(SOURCE[:, 16:80], 32, 32),
    "w=32&h=32&fit=cover&gravity=west": lambda: ref.area_average(SOURCE[:, :64], 32, 32),
    "w=32&h=32&fit=cover&gravity=east": lambda: ref.area_average(SOURCE[:, 32:], 32, 32),
    "w=24&h=8&fit=cover&gravity=north": lambda: ref.area_average(SOURCE[:32], 24, 8),
    "w=24&h=8&fit=cover&gravity=south": lambda: ref.area_average(SOURCE[32:], 24, 8),
    # ... in the frame the viewer sees: after rotate and flip (the cut is mapped back to the source)
    "w=32&h=32&fit=cover&gravity=west&flip=h": lambda: ref.area_average(SOURCE[:, ::-1][:, :64], 32, 32),
    "w=32&h=32&fit=cover&gravity=east&flip=hv": lambda: ref.area_average(SOURCE[::-1, ::-1][:, 32:], 32, 32),
    "w=24&h=8&fit=cover&gravity=north&flip=v": lambda: ref.area_average(SOURCE[::-1][:32], 24, 8),
    "w=24&h=8&fit=cover&gravity=south&rotate=180": lambda: ref.area_average(SOURCE[::-1, ::-1][32:], 24, 8),
    "w=24&h=32&fit=cover&gravity=west&rotate=180": lambda: ref.area_average(SOURCE[::-1, ::-1][:, :48], 24, 32),
    "w=32&h=32&fit=cover&gravity=north&rotate=90": lambda: ref.area_average(np.rot90(SOURCE, -1)[:64], 32, 32),
    "w=32&h=32&fit=cover&gravity=south&rotate=270": lambda: ref.area_average(np.rot90(SOURCE, 1)[32:], 32, 32),
    "w=8&h=24&fit=cover&gravity=east&rotate=90": lambda: ref.area_average(np.rot90(SOURCE, -1)[:, 32:], 8, 24),
    "w=8&h=24&fit=cover&gravity=west&rotate=270&flip=h": lambda: ref.area_average(
        np.rot90(SOURCE, 1)[:, ::-1][:, :32], 8, 24),
    "w=32&h=16&fit=cover&gravity=south&rotate=90&flip=v": lambda: ref.area_average(
        np.rot90(SOURCE, -1)[::-1][64:], 32, 16),
    # pad places the contained image by gravity on bg
    "w=48&h=48&fit=pad&bg=ff0000": lambda: padded(small(), (48, 48), (0, 8), (255, 0, 0)),
    "w=48&h=48&fit=pad&bg=00f&gravity=north": lambda: padded(small(), (48, 48), (0, 0), (0, 0, 255)),
    "w=48&h=48&fit=pad&bg=123456&gravity=south": lambda: padded(small(), (48, 48), (0, 16), (0x12, 0x34, 0x56)),
    "w=96&h=32&fit=pad&bg=000&gravity=east": lambda: padded(small(), (96, 32), (48, 0), (0, 0, 0)),
    "w=96&h=32&fit=pad&bg=000&gravity=west": lambda: padded(small(), (96, 32), (0, 0), (0, 0, 0)),
    "w=48&h=48&fit=pad&bg=0000ff80": lambda: padded(small(), (48, 48), (0, 8), (0, 0, 255, 128)),
    # crop, rotate, flip
    "crop=10,5,50,40": lambda: SOURCE[5:45, 10:60],
    "crop=80,50,100,100": lambda: SOURCE[50:, 80:],                  # clipped to the source
    "crop=0,0,48,32&w=24": lambda: ref.area_average(SOURCE[:32, :48], 24, 16),
    "rotate=90": lambda: np.rot90(SOURCE, -1),
    "rotate=180": lambda: SOURCE[::-1, ::-1],
    "rotate=270": lambda: np.rot90(SOURCE, 1),
    "flip=h": lambda: SOURCE[:, ::-1],
    "flip=v": lambda: SOURCE[::-1],
    "flip=hv": lambda: SOURCE[::-1, ::-1],
    "rotate=90&flip=h": lambda: np.rot90(SOURCE, -1)[:, ::-1],       # turned, then mirrored
    # filters, in output pixels, after the resize
    "grayscale=1": lambda: ref.luma(SOURCE),
    "w=48&grayscale=1": lambda: ref.luma(small()),
    "w=48&blur=1.5": lambda: ref.gaussian_blur(small(), 1.5),
    "blur=3": lambda: ref.gaussian_blur(SOURCE, 3),
    "w=48&sharpen=1.5": lambda: ref.unsharp(small(), 1.5),
    "sharpen=0.5": lambda: ref.unsharp(SOURCE, 0.5),
    "pixelate=10": lambda: ref.block_means(SOURCE, 10),
    "w=48&pixelate=5": lambda: ref.block_means(small(), 5),
    # lossless output formats carry the same pixels
    "w=48&format=bmp": lambda: small(),
    "w=48&format=tiff": lambda: small(),
    "w=48&format=png": lambda: small(),
}
# At most 1 level apart (OpenCV's fixed-point taps; measured: 0 or 1 everywhere), 3 where a strong
# unsharp mask multiplies those rounding differences, and unbiased. A wrong filter, place or order is
# off by tens.
TOLERANCE = {"w=48&sharpen=1.5": 3}


@pytest.mark.parametrize("query", list(CASES))
def test_each_option_gives_the_pixels_it_means(get, query: str) -> None:
    got, _ = get(query)
    expected = CASES[query]()
    if got.ndim == 2 and expected.ndim == 3:  # colour pixels that are all gray may be written as gray
        got = np.repeat(got[:, :, None], 3, 2)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    difference = got.astype(int) - expected.astype(int)
    assert np.abs(difference).max() <= TOLERANCE.get(query, 1), (np.abs(difference).max(), difference.mean())
    assert abs(difference.mean()) < 0.2, difference.mean()  # no bias: rounding down would be -0.5


def test_a_wide_blur_is_close_to_the_true_gaussian(get) -> None:
    """Wide blurs are computed on a shrunk copy (ops.blur): close to the definition, not equal."""
    got, _ = get("blur=12")
    expected = ref.gaussian_blur(SOURCE, 12)
    assert psnr(got, expected) > 40 and np.abs(got.astype(int) - expected).max() <= 8


@pytest.mark.parametrize("query, bg", [("format=bmp", (255, 255, 255)), ("format=bmp&bg=00ff00", (0, 255, 0)),
                                       ("format=jpeg&q=100&bg=ff8000", (255, 128, 0))])
def test_alpha_is_flattened_onto_bg_for_formats_without_it(get, query: str, bg: tuple) -> None:
    got, _ = get(query, "glass.png")
    expected = composite(SOURCE, ALPHA, bg)
    if "jpeg" in query:  # compared in luma: JPEG halves the colour resolution by design
        assert psnr(ref.luma(got), ref.luma(expected)) > 50
    else:
        assert np.abs(got.astype(int) - expected).max() <= 1


def test_alpha_is_kept_where_the_format_has_it(get) -> None:
    got, _ = get("format=png", "glass.png")
    assert got.shape == (64, 96, 4) and np.array_equal(got[:, :, 3], ALPHA)
    opaque = ALPHA == 255
    assert np.abs(got[opaque][:, :3].astype(int) - SOURCE[opaque]).max() <= 1


@pytest.mark.parametrize("format", ["jpeg", "webp"])
def test_quality_orders_the_lossy_formats(get, format: str) -> None:
    """q is the quality: a higher q is closer to the reference and bigger. Compared in luma (both formats
    halve the colour resolution, whatever q): measured 45 dB at q=95, 31-33 dB at q=10."""
    expected = ref.luma(small())
    high, high_bytes = get(f"w=48&format={format}&q=95")
    low, low_bytes = get(f"w=48&format={format}&q=10")
    assert psnr(ref.luma(high), expected) > 42 and psnr(ref.luma(low), expected) < 35
    assert len(high_bytes) > 1.5 * len(low_bytes)
    assert Image.open(io.BytesIO(high_bytes)).format == format.upper()


def premultiplied_area(rgba: np.ndarray, width: int, height: int) -> np.ndarray:
    """Colour weighted by alpha, area-averaged, divided by the averaged alpha (ops.resize's meaning)."""
    work = rgba.astype(np.float64)
    work[:, :, :3] *= work[:, :, 3:4] / 255
    rows, cols = ref.area_weights(rgba.shape[0], height), ref.area_weights(rgba.shape[1], width)
    small = np.einsum("kj,ijc->ikc", cols, np.einsum("ij,jkc->ikc", rows, work))
    alpha = small[:, :, 3:4]
    small[:, :, :3] = np.divide(small[:, :, :3] * 255, alpha, out=np.zeros_like(small[:, :, :3]), where=alpha > 0)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def test_gray_stays_gray_on_a_gray_background(get) -> None:
    got, _ = get("w=48&h=48&fit=pad&bg=808080", "gray.png")
    expected = np.full((48, 48), 128, np.uint8)
    expected[8:40] = ref.area_average(GRAY, 48, 32)
    assert got.ndim == 2 and np.abs(got.astype(int) - expected).max() <= 1


def test_gray_on_a_colour_background_becomes_colour(get) -> None:
    got, _ = get("w=48&h=48&fit=pad&bg=ff0000", "gray.png")
    expected = padded(np.repeat(ref.area_average(GRAY, 48, 32)[:, :, None], 3, axis=2), (48, 48), (0, 8), (255, 0, 0))
    assert got.shape == (48, 48, 3) and np.abs(got.astype(int) - expected).max() <= 1


def test_gray_on_a_translucent_background_gains_alpha(get) -> None:
    got, _ = get("w=48&h=48&fit=pad&bg=00000080", "gray.png")
    expected = padded(np.repeat(ref.area_average(GRAY, 48, 32)[:, :, None], 3, axis=2), (48, 48), (0, 8),
                      (0, 0, 0, 128))
    assert got.shape == (48, 48, 4) and np.abs(got.astype(int) - expected).max() <= 1


def test_translucent_image_on_a_translucent_background_keeps_both_alphas(get) -> None:
    got, _ = get("w=48&h=48&fit=pad&bg=0000ff80", "glass.png")
    small = premultiplied_area(np.dstack([SOURCE, ALPHA]), 48, 32)
    expected = np.empty((48, 48, 4), np.uint8)
    expected[:] = (0, 0, 255, 128)
    expected[8:40] = small
    assert got.shape == (48, 48, 4)
    assert np.abs(got[:, :, 3].astype(int) - expected[:, :, 3]).max() <= 1

    def seen(image: np.ndarray) -> np.ndarray:
        """Colour times alpha: what shows over any background. Alpha is premultiplied in 8 bits while
        resizing (imaging/shrink.py), so a nearly transparent pixel's own colour is coarse (alpha 5:
        steps of 51) while what it contributes stays within a level."""
        return image[:, :, :3].astype(float) * image[:, :, 3:] / 255

    assert np.abs(seen(got) - seen(expected)).max() <= 2
