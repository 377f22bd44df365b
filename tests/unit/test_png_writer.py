"""The PNG writer: every form decodes to exactly the pixels given (libpng through OpenCV, and Pillow),
the form is the smallest honest one (read from IHDR), filters follow the spec, bytes against Pillow."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from imgserve.imaging import png_form, png_writer
from imgserve.imaging.png_writer import Rows, filter_rows, write

EFFORTS = tuple(png_writer.EFFORTS)
rng = np.random.default_rng(7)


def ihdr(png: bytes) -> tuple[int, int]:
    """(bit depth, colour type) as written."""
    assert png[:8] == png_writer.SIGNATURE and png[12:16] == b"IHDR"
    return png[24], png[25]


def chunks(png: bytes) -> list[bytes]:
    kinds, at = [], 8
    while at < len(png):
        length = struct.unpack_from(">I", png, at)[0]
        kind = png[at + 4:at + 8]
        assert struct.unpack_from(">I", png, at + 8 + length)[0] == zlib.crc32(png[at + 4:at + 8 + length])
        kinds.append(kind)
        at += 12 + length
    return kinds


def libpng(png: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def as_bgr(image: np.ndarray, channels: int) -> np.ndarray:
    """A decoder's array in `channels` channels (gray and palette outputs widened, opaque alpha added)."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 3 and channels == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    return image


def pillow(png: bytes) -> np.ndarray:
    """Pillow's decoding as BGR(A) uint8 (8-bit forms only)."""
    image = Image.open(io.BytesIO(png))
    rgba = np.asarray(image.convert("RGBA"))
    return rgba[:, :, [2, 1, 0, 3]]


def distinct(n: int) -> np.ndarray:
    """n different BGR colours, (n, 3)."""
    return rng.choice(1 << 24, n, replace=False).astype(np.uint32).view(np.uint8).reshape(-1, 4)[:, :3]


def colors(n: int, shape=(37, 29)) -> np.ndarray:
    """An image of exactly n colours."""
    indices = rng.integers(0, n, shape)
    indices.flat[:n] = np.arange(n)
    return distinct(n)[indices]


SMOOTH = cv2.GaussianBlur(rng.integers(0, 256, (61, 83, 3), np.uint8), (0, 0), 4)
GRAY = cv2.GaussianBlur(rng.integers(0, 256, (61, 83), np.uint8), (0, 0), 2)
ALPHA = rng.integers(0, 256, (61, 83), np.uint8)
WIDE16 = rng.integers(0, 65536, (19, 23, 3), np.uint16)

# image, expected (bit depth, colour type): 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
CASES = {
    "noise rgb": (rng.integers(0, 256, (33, 47, 3), np.uint8), (8, 2)),
    "smooth rgb": (SMOOTH, (8, 2)),
    "rgba": (np.dstack([SMOOTH, ALPHA]), (8, 6)),
    "opaque rgba is rgb": (np.dstack([SMOOTH, np.full(SMOOTH.shape[:2], 255, np.uint8)]), (8, 2)),
    "2 colours": (colors(2), (1, 3)),
    "3 colours": (colors(3), (2, 3)),
    "16 colours": (colors(16), (4, 3)),
    "17 colours": (colors(17), (8, 3)),
    "256 colours": (colors(256, (64, 64)), (8, 3)),
    "257 colours": (colors(257, (64, 64)), (8, 2)),
    "palette with alpha": (np.dstack([colors(5), rng.choice([0, 128, 255], (37, 29)).astype(np.uint8)]), (4, 3)),
    "black and white": ((rng.integers(0, 2, (41, 53)) * 255).astype(np.uint8), (1, 0)),
    "four grays on the ramp": ((rng.integers(0, 4, (41, 53)) * 85).astype(np.uint8), (2, 0)),
    "sixteen grays on the ramp": ((rng.integers(0, 16, (41, 53)) * 17).astype(np.uint8), (4, 0)),
    "grays off the ramp": ((rng.integers(0, 5, (41, 53)) * 13).astype(np.uint8), (8, 0)),
    "gray photo": (GRAY, (8, 0)),
    "gray as bgr": (cv2.cvtColor(GRAY, cv2.COLOR_GRAY2BGR), (8, 0)),
    "1-bit as bgr": (cv2.cvtColor((GRAY > 127).astype(np.uint8) * 255, cv2.COLOR_GRAY2BGR), (1, 0)),
    "gray with alpha": (np.dstack([GRAY, GRAY, GRAY, ALPHA]), (8, 4)),
    "rgb 16": (WIDE16, (16, 2)),
    "rgba 16": (np.dstack([WIDE16, WIDE16[:, :, :1]]), (16, 6)),
    "gray 16": (WIDE16[:, :, 0], (16, 0)),
    "gray 16 as bgr": (np.dstack([WIDE16[:, :, 1]] * 3), (16, 0)),
    "gray alpha 16": (np.dstack([WIDE16[:, :, 1]] * 3 + [WIDE16[:, :, 2]]), (16, 4)),
    "one pixel": (np.array([[[9, 8, 7]]], np.uint8), (1, 3)),
    "one gray column": (np.array([[0], [255], [255]], np.uint8), (1, 0)),
    "odd width 1-bit": ((rng.integers(0, 2, (5, 9)) * 255).astype(np.uint8), (1, 0)),
    "odd width 2-bit": ((rng.integers(0, 4, (5, 7)) * 85).astype(np.uint8), (2, 0)),
    "odd width 4-bit": ((rng.integers(0, 16, (5, 3)) * 17).astype(np.uint8), (4, 0)),
}


@pytest.mark.parametrize("effort", EFFORTS)
@pytest.mark.parametrize("name", CASES)
def test_every_form_decodes_to_the_same_pixels(name: str, effort: str) -> None:
    image, form = CASES[name]
    png = write(image, effort)
    assert ihdr(png) == form
    assert chunks(png)[0] == b"IHDR" and chunks(png)[-1] == b"IEND"
    channels = 1 if image.ndim == 2 else image.shape[2]
    expected = image if channels != 1 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    decoded = libpng(png)
    if decoded.ndim == 2 and image.ndim == 2:
        assert decoded.dtype == image.dtype and np.array_equal(decoded, image)
    else:
        got = as_bgr(decoded, max(channels, 3))
        assert got.dtype == image.dtype and np.array_equal(got, expected)
    if image.dtype == np.uint8:  # Pillow reads no 16-bit colour
        want = cv2.cvtColor(expected, cv2.COLOR_BGR2BGRA) if expected.shape[2] == 3 else expected
        assert np.array_equal(pillow(png), want)


def test_palette_is_trimmed_and_translucent_entries_come_first() -> None:
    bgr = colors(6)
    alpha = np.where(bgr[:, :, 0] == bgr[0, 0, 0], 0, 255).astype(np.uint8)
    png = write(np.dstack([bgr, alpha]))
    kinds = chunks(png)
    assert kinds.index(b"PLTE") < kinds.index(b"tRNS") < kinds.index(b"IDAT")
    at = png.index(b"PLTE") - 4
    assert struct.unpack_from(">I", png, at)[0] == 3 * 6
    at = png.index(b"tRNS") - 4
    assert struct.unpack_from(">I", png, at)[0] == 1 and png[at + 8] == 0  # one translucent entry, first


def test_decoders_indices_give_the_same_png_as_finding_the_colours() -> None:
    palette = distinct(40)
    indices = rng.integers(0, 40, (51, 77), np.uint8)
    image = palette[indices]
    hinted = write(image, indexed=(indices, palette))
    assert ihdr(hinted) == (8, 3)
    assert np.array_equal(as_bgr(libpng(hinted), 3), image)
    with pytest.raises(ValueError, match="shape"):
        write(image[:-1], indexed=(indices, palette))


def test_indices_into_a_gray_ramp_are_written_as_gray_samples() -> None:
    ramp = np.repeat(np.array([0, 85, 170, 255], np.uint8)[:, None], 3, 1)
    indices = rng.integers(0, 4, (20, 30), np.uint8)
    png = write(ramp[indices][:, :, 0], indexed=(indices, ramp))
    assert ihdr(png) == (2, 0)
    assert np.array_equal(libpng(png), ramp[indices][:, :, 0])


def test_colours_found_late_and_past_the_limit() -> None:
    """The colour table grows band by band: colours first seen at the bottom, and a 257th there."""
    tall = np.zeros((3000, 200, 3), np.uint8)
    tall[-1, :100] = distinct(100)
    assert ihdr(write(tall)) == (8, 3)
    assert np.array_equal(as_bgr(libpng(write(tall)), 3), tall)
    tall[-2, :200] = distinct(200)
    assert ihdr(write(tall, "fast")) == (8, 2)


def test_colour_lookup_agrees_with_sorting() -> None:
    """The hash-table lookup (BGRA) and the slow exact path give the same pixels."""
    image = np.dstack([colors(30, (64, 64)), rng.choice([0, 10, 255], (64, 64)).astype(np.uint8)])
    fast, slow = png_form.few_colors(image), png_form._sorted(image)
    for form in (fast, slow):
        palette = np.hstack([form.palette, form.alpha[:, None]])
        assert np.array_equal(palette[form.pixels.astype(int)], image)


# -- filters against the PNG specification, unfiltered by a plain Python reference -------------------

def unfilter(rows: np.ndarray, bpp: int) -> np.ndarray:
    out = np.zeros((rows.shape[0], rows.shape[1] - 1), np.int64)
    for y, row in enumerate(rows.astype(np.int64)):
        kind, data = row[0], row[1:]
        for x in range(len(data)):
            a = out[y, x - bpp] if x >= bpp else 0
            b = out[y - 1, x] if y else 0
            c = out[y - 1, x - bpp] if y and x >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            out[y, x] = (data[x] + pred) % 256
    return out.astype(np.uint8)


@pytest.mark.parametrize("how", ["none", "sub", "up", "paeth", "adaptive", "adaptive3"])
@pytest.mark.parametrize("bpp", [1, 2, 3, 4, 8])
def test_filters_invert_by_the_spec(how: str, bpp: int) -> None:
    width = 5 * bpp
    smooth = SMOOTH[:6, :width, 0].repeat(3, axis=1)[:, :width]
    raw = np.ascontiguousarray(np.concatenate([rng.integers(0, 256, (6, width), np.uint8),
                                               np.full((3, width), 200, np.uint8), smooth]))
    filtered = filter_rows(Rows.of_bytes(raw, bpp), how)
    assert np.array_equal(unfilter(filtered, bpp), raw)


def test_filters_in_bands_match_one_pass(monkeypatch) -> None:
    raw = np.ascontiguousarray(SMOOTH.reshape(61, -1))
    whole = filter_rows(Rows.of_bytes(raw, 3), "paeth")
    monkeypatch.setattr(png_writer, "BAND_BYTES", 500)  # two rows a band
    assert np.array_equal(filter_rows(Rows.of_bytes(raw, 3), "paeth"), whole)
    assert np.array_equal(unfilter(whole, 3), raw)


# -- bytes against Pillow's default PNG ---------------------------------------------------------------

def text_page(width: int = 1240, height: int = 1754) -> np.ndarray:
    """A page of black text on white, as a 1-bit scan holds it (0 or 255)."""
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    words = "legacy archive bitmap palette conversion report invoice account delivery section".split()
    for y in range(80, height - 80, 22):
        draw.text((80, y), " ".join(words[(y + k) % len(words)] for k in range(12)), fill=0)
    return (np.asarray(page) >= 128).astype(np.uint8) * 255


def pillow_png(image: Image.Image) -> int:
    out = io.BytesIO()
    image.save(out, "PNG")
    return len(out.getvalue())


def test_text_scan_and_palette_graphic_at_most_pillows_bytes() -> None:
    page = text_page()
    ours = write(page)
    assert ihdr(ours) == (1, 0)
    assert len(ours) <= 1.02 * pillow_png(Image.fromarray(page).convert("1"))
    graphic = np.zeros((600, 800), np.uint8)
    for _ in range(40):
        cv2.circle(graphic, (int(rng.integers(0, 800)), int(rng.integers(0, 600))), int(rng.integers(10, 120)),
                   int(rng.integers(0, 24)), -1)
    palette = rng.integers(0, 256, (24, 3), np.uint8)
    ours = write(palette[graphic])
    assert ihdr(ours)[1] == 3
    pil = Image.fromarray(graphic, "P")
    pil.putpalette(palette[:, ::-1].tobytes())
    assert len(ours) <= 1.02 * pillow_png(pil)


@pytest.mark.parametrize("name", ["smooth rgb", "rgba", "rgb 16", "gray alpha 16", "odd width 2-bit", "3 colours"])
def test_rows_converted_band_by_band_match(name: str, monkeypatch) -> None:
    """BGR -> RGB, big-endian samples and packing happen per band of rows: a few rows a band."""
    image = CASES[name][0]
    monkeypatch.setattr(png_writer, "BAND_BYTES", 200)
    monkeypatch.setattr(png_writer, "WHOLE_BYTES", 0)  # the trial samples bands too
    png = write(image)
    decoded = libpng(png)
    channels = 1 if image.ndim == 2 else image.shape[2]
    if image.ndim == 2:
        assert np.array_equal(decoded, image)
    else:
        assert np.array_equal(as_bgr(decoded, channels), image)


@pytest.mark.parametrize("profile_name, image, form", [
    ("sRGB-v4.icc", cv2.cvtColor(GRAY, cv2.COLOR_GRAY2BGR), (8, 3)),  # RGB profile: gray pixels as a palette
    ("sRGB-v4.icc", (rng.integers(0, 2, (20, 30, 1)) * 255).astype(np.uint8).repeat(3, 2), (1, 3)),  # a palette
    ("sRGB-v4.icc", SMOOTH, (8, 2)),
])
def test_an_rgb_profile_keeps_the_png_in_colour(profile_name: str, image: np.ndarray, form) -> None:
    from tests.support.colour import profile

    icc = profile(profile_name)
    png = write(image, icc=icc)
    assert ihdr(png) == form
    assert chunks(png).index(b"iCCP") < chunks(png).index(b"IDAT")
    with Image.open(io.BytesIO(png)) as opened:
        assert opened.info["icc_profile"] == icc
    assert np.array_equal(as_bgr(libpng(png), 3), image)


def test_a_gray_profile_goes_with_gray_pixels() -> None:
    from tests.support.colour import profile

    icc = profile("Gray.icc")
    png = write(GRAY, icc=icc)
    assert ihdr(png) == (8, 0)
    with Image.open(io.BytesIO(png)) as opened:
        assert opened.info["icc_profile"] == icc
