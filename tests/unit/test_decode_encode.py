import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from imgserve import formats
from imgserve.errors import Problem
from imgserve.imaging import decode as decoding
from imgserve.imaging import encode as encoding
from imgserve.imaging.probe import probe
from imgserve.options import Options
from tests.support.images import (
    BLUE,
    GREEN,
    RED,
    WHITE,
    close,
    color_at,
    encode,
    jpeg_with_orientation,
    photo,
    psnr,
    quadrants,
)


def decode(data: bytes, shrink: int = 1) -> np.ndarray:
    return decoding.decode(data, probe(data), shrink=shrink)


@pytest.mark.parametrize("image, ext, shape, dtype", [
    (photo(64, 48), ".png", (48, 64, 3), np.uint8),
    (photo(64, 48)[:, :, 0], ".png", (48, 64), np.uint8),
    (np.dstack([photo(64, 48), np.full((48, 64), 7, np.uint8)]), ".png", (48, 64, 4), np.uint8),
    (photo(64, 48).astype(np.uint16) * 257, ".png", (48, 64, 3), np.uint16),
    (photo(64, 48)[:, :, 0].astype(np.uint16) * 257, ".png", (48, 64), np.uint16),
    (photo(64, 48), ".webp", (48, 64, 3), np.uint8),
    (np.dstack([photo(64, 48), np.full((48, 64), 7, np.uint8)]), ".webp", (48, 64, 4), np.uint8),
    (photo(64, 48), ".tiff", (48, 64, 3), np.uint8),
    (photo(64, 48).astype(np.float32) / 255, ".tiff", (48, 64, 3), np.float32),
    (photo(64, 48), ".jpg", (48, 64, 3), np.uint8),
    (photo(64, 48)[:, :, 0], ".jpg", (48, 64), np.uint8),
    (np.full((1, 1), 9, np.uint8), ".png", (1, 1), np.uint8),          # one sample: not an empty image
])
def test_decode_keeps_channels_and_depth(image: np.ndarray, ext: str, shape: tuple, dtype: type) -> None:
    got = decode(encode(image, ext))
    assert got.shape == shape and got.dtype == dtype
    if ext in (".png", ".tiff"):
        assert np.array_equal(got, image)


def test_png_gray_alpha_and_palette_transparency_decode_with_alpha() -> None:
    for mode in ("LA", "P"):
        pil = Image.new(mode, (5, 4))
        if mode == "P":
            pil.info["transparency"] = 0
        out = io.BytesIO()
        pil.save(out, "PNG")
        assert decode(out.getvalue()).shape == (4, 5, 4)


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (30, 20), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    got = decode(out.getvalue())
    assert got.shape[:2] == (20, 30)
    assert close(color_at(got, 0.5, 0.5)[:3], RED)


def test_cmyk_jpeg_decodes_to_colour() -> None:
    pil = Image.fromarray(quadrants()[:, :, ::-1]).convert("CMYK")
    out = io.BytesIO()
    pil.save(out, "JPEG", quality=95)
    got = decode(out.getvalue())
    assert got.shape == (60, 80, 3)
    assert close(color_at(got, 0.25, 0.25), RED, 40) and close(color_at(got, 0.75, 0.75), WHITE, 40)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow_does(orientation: int) -> None:
    data = jpeg_with_orientation(quadrants(80, 60), orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))[:, :, ::-1]
    got = decode(data)
    assert got.shape == expected.shape
    for x, y in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close(color_at(got, x, y), color_at(expected, x, y))


@pytest.mark.parametrize("orientation, shape", [(1, (75, 100, 3)), (6, (100, 75, 3)), (8, (100, 75, 3))])
def test_shrink_on_load_then_orientation(orientation: int, shape: tuple) -> None:
    data = jpeg_with_orientation(quadrants(800, 600), orientation)
    got = decode(data, shrink=8)
    assert got.shape == shape
    full = decode(data)
    small = cv2.resize(full, shape[1::-1], interpolation=cv2.INTER_AREA)
    assert cv2.PSNR(small, got) > 30


def test_tiff_orientation_is_applied_once() -> None:
    out = io.BytesIO()
    Image.fromarray(quadrants(80, 60)[:, :, ::-1]).save(out, "TIFF", tiffinfo={274: 3})  # rotated 180
    got = decode(out.getvalue())
    assert got.shape == (60, 80, 3)
    assert close(color_at(got, 0.25, 0.25), WHITE) and close(color_at(got, 0.75, 0.75), RED)


def test_pixel_limit_is_422_from_the_header() -> None:
    header = probe(encode(photo(100, 100), ".png"))
    decoding.check_pixels(header, 10_000)
    with pytest.raises(Problem) as caught:
        decoding.check_pixels(header, 9_999)
    assert caught.value.status == 422 and "100x100 = 10000 pixels" in caught.value.detail


@pytest.mark.parametrize("ext", [".png", ".webp", ".tiff", ".gif", ".jpg"])
def test_corrupt_bodies_are_415_or_an_image_never_an_exception(ext: str) -> None:
    if ext == ".gif":
        out = io.BytesIO()
        Image.new("RGB", (64, 48)).save(out, "GIF")
        data = out.getvalue()
    else:
        data = encode(photo(64, 48), ext)
    for cut in (len(data) // 4, len(data) // 2, len(data) - 3):
        for damaged in (data[:cut], data[:cut] + bytes(reversed(data[cut:]))):
            try:
                got = decode(damaged)
            except Problem as problem:
                assert problem.status == 415
            else:
                assert got.shape[:2] == (48, 64)


@pytest.mark.parametrize("format", ["jpeg", "png", "webp", "bmp", "tiff"])
def test_prepare_and_encode_every_format(format: str) -> None:
    image = np.dstack([quadrants(), np.full((60, 80), 255, np.uint8)])
    image[:, :, 3][:30] = 0  # top half transparent
    data = encoding.encode(encoding.prepare(image, format, (0, 0, 0, 255)), format, Options(q=90))
    got = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert got.shape[:2] == (60, 80)
    if formats.FORMATS[format].alpha:
        assert got.shape[2] == 4 and got[0, 0, 3] == 0 and got[59, 0, 3] == 255
    else:
        assert got.shape[2] == 3 and close(tuple(got[5, 5]), (0, 0, 0), 8)  # flattened onto black
    assert close(tuple(got[55, 5][:3]), BLUE, 12) and close(tuple(got[55, 75][:3]), WHITE, 12)


def test_depths_are_brought_to_what_the_encoder_takes() -> None:
    deep = np.full((4, 4, 3), 65535, np.uint16)
    deep[0, 0] = (0, 32768, 257)
    assert encoding.prepare(deep, "png", (255, 255, 255, 255)).dtype == np.uint16
    eight = encoding.prepare(deep, "jpeg", (255, 255, 255, 255))
    assert eight.dtype == np.uint8 and eight[0, 0].tolist() == [0, 128, 1] and eight[1, 1].tolist() == [255] * 3
    floats = np.full((2, 2, 3), 2.0, np.float32)
    floats[0, 0] = (-1, 0.5, 1)
    assert encoding.prepare(floats, "png", (0, 0, 0, 255))[0, 0].tolist() == [0, 32768, 65535]
    assert encoding.prepare(floats, "webp", (0, 0, 0, 255))[0, 0].tolist() == [0, 128, 255]
    assert encoding.prepare(floats, "tiff", (0, 0, 0, 255)).dtype == np.float32


def test_png_round_trip_is_lossless_in_16_bits() -> None:
    image = np.random.default_rng(1).integers(0, 65536, (9, 11, 4), dtype=np.uint16)
    data = encoding.encode(encoding.prepare(image, "png", (0, 0, 0, 0)), "png")
    assert np.array_equal(decoding.decode_array(data), image)


def test_default_formats() -> None:
    """Sources in a format browsers show keep it (a GIF stays a GIF: its animation survives); others become PNG."""
    sources = ("jpeg", "png", "webp", "avif", "gif", "bmp", "tiff", "heif")
    assert [formats.default_output(f) for f in sources] == ["jpeg", "png", "webp", "avif", "gif", "png", "png", "png"]


def test_quadrant_colours_survive_a_jpeg_round_trip() -> None:
    got = decode(encode(quadrants(), ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]))
    for (x, y), color in zip(((0.25, 0.25), (0.75, 0.25), (0.25, 0.75)), (RED, GREEN, BLUE)):
        assert close(color_at(got, x, y), color)


@pytest.mark.parametrize("image", [
    photo(40, 30),
    photo(40, 30)[:, :, 1],
    np.dstack([photo(40, 30), np.linspace(0, 255, 1200).reshape(30, 40).astype(np.uint8)]),
    photo(40, 30).astype(np.uint16) * 257 + 3,
    photo(40, 30)[:, :, 0].astype(np.uint16) * 251,
    np.dstack([photo(40, 30), photo(40, 30, seed=1)[:, :, 0]]).astype(np.uint16) * 257,
], ids=["bgr8", "gray8", "bgra8", "bgr16", "gray16", "bgra16"])
def test_encode_array_png_round_trip_is_lossless(image: np.ndarray) -> None:
    data = encoding.encode_array(image)              # PNG is the default
    assert data.startswith(b"\x89PNG")
    back = decoding.decode_array(data)
    assert back.dtype == image.dtype and back.shape == image.shape and np.array_equal(back, image)


@pytest.mark.parametrize("format, magic", [("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF"), ("tiff", b"II*\0"),
                                           ("bmp", b"BM")])
def test_encode_array_lossy_and_other_formats(format: str, magic: bytes) -> None:
    image = quadrants().astype(np.uint16) * 257   # 16 bits: rounded to 8 where the format has no 16 bits
    data = encoding.encode_array(image, format, quality=95)
    assert data.startswith(magic)
    back = decoding.decode_array(data)
    assert back.shape == (60, 80, 3)
    assert close(color_at(back, 0.25, 0.25), RED if back.dtype == np.uint8 else tuple(v * 257 for v in RED), 12 * 257)
    assert close(color_at(back, 0.75, 0.75), WHITE if back.dtype == np.uint8 else (65535,) * 3, 12 * 257)


def test_encode_array_flattens_alpha_onto_bg_for_jpeg() -> None:
    clear = np.zeros((20, 20, 4), np.uint8)
    back = decoding.decode_array(encoding.encode_array(clear, "jpeg", bg=(0, 0, 255, 255)))
    assert back.shape == (20, 20, 3) and close(color_at(back, 0.5, 0.5), BLUE)


@pytest.mark.parametrize("image, format, message", [
    (np.zeros((4, 4, 2), np.uint8), "png", "shape"),
    (np.zeros((4, 4, 3), np.int32), "png", "uint8, uint16 or float32"),
    (np.zeros((0, 4, 3), np.uint8), "png", "shape"),
    (np.zeros((4, 4, 3), np.uint8), "heif", "format"),
    (b"\x89PNG", "png", "NumPy array"),
])
def test_encode_array_refuses_what_it_cannot_encode(image, format: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encoding.encode_array(image, format)


def test_encode_array_honours_quality_and_takes_a_single_channel_axis() -> None:
    image = photo(120, 90)
    high, low = (encoding.encode_array(image, "jpeg", quality=q) for q in (95, 20))
    assert len(high) > 1.5 * len(low)
    assert psnr(decoding.decode_array(high), image) > psnr(decoding.decode_array(low), image) + 3
    gray = encoding.encode_array(image[:, :, 1:2], "png")          # (h, w, 1): one channel, as gray
    assert np.array_equal(decoding.decode_array(gray), image[:, :, 1])
