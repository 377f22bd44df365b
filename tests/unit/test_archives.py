"""Legacy BMPs to PNG (issue #20): the pixels Pillow decodes from the BMP come back from our PNG, in
the compact form the source had for as long as no step made new colours."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve.imaging import bmp
from imgserve.imaging.decode import decode
from imgserve.imaging.pipeline import render
from imgserve.imaging.probe import probe
from imgserve.options import parse
from tests.support import bmp_factory
from tests.support.bmp_factory import reference

GRAY_TYPE, RGB_TYPE, PALETTE_TYPE = 0, 2, 3


def ihdr(png: bytes) -> tuple[int, int]:
    return png[24], png[25]


def pillow_bgr(data: bytes) -> np.ndarray:
    """BGRA as Pillow decodes any of the files (opaque alpha for formats without)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))[:, :, [2, 1, 0, 3]]


def bmp_pixels(data: bytes) -> np.ndarray:
    """BGRA of a BMP by the reference decoder (Pillow, with the raw-alpha rule imgserve follows)."""
    pixels = reference(data)
    return pixels if pixels.shape[2] == 4 else cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA)


def png(data: bytes, settings, format: str = "png", **options) -> bytes:
    query = {"format": format, **{name: str(value) for name, value in options.items()}}
    return render(data, parse(query, settings), settings).body


@pytest.mark.parametrize("kind", bmp_factory.KINDS + bmp_factory.GRAY_KINDS)
@pytest.mark.parametrize("size", [(29, 11), (1, 1), (3, 40)])
def test_every_bmp_kind_converts_to_the_same_pixels(kind: str, size: tuple[int, int], settings) -> None:
    data = bmp_factory.write(kind, *size, seed=3)
    out = png(data, settings)
    assert np.array_equal(pillow_bgr(out), bmp_pixels(data))  # both decoded by Pillow
    bits = int(kind.split("-")[1])
    if bits <= 8:
        assert ihdr(out)[1] in (GRAY_TYPE, PALETTE_TYPE)
        assert ihdr(out)[0] <= bits


@pytest.mark.parametrize("kind, form", [
    ("info-1-ramp", (1, GRAY_TYPE)), ("core-1-ramp", (1, GRAY_TYPE)), ("info-4-ramp", (4, GRAY_TYPE)),
    ("info-4-rle-ramp", (4, GRAY_TYPE)), ("info-8-ramp", (8, GRAY_TYPE)), ("info-8-grays", (8, GRAY_TYPE)),
    ("info-8-rle-grays", (8, GRAY_TYPE)), ("info-1", (1, PALETTE_TYPE)), ("info-4", (4, PALETTE_TYPE)),
    ("info-4-rle", (4, PALETTE_TYPE)), ("info-8", (8, PALETTE_TYPE)), ("v5-8-rle", (8, PALETTE_TYPE)),
    ("info-24", (8, RGB_TYPE)),
])
def test_palette_and_gray_bmps_keep_their_form(kind: str, form: tuple[int, int], settings) -> None:
    data = bmp_factory.write(kind, 64, 48)
    assert ihdr(png(data, settings)) == form


def test_a_palette_of_grays_decodes_to_one_channel() -> None:
    for kind in bmp_factory.GRAY_KINDS:
        data = bmp_factory.write(kind, 23, 9)
        gray = decode(data, probe(data))
        assert gray.ndim == 2, kind
        assert np.array_equal(gray, np.asarray(Image.open(io.BytesIO(data)).convert("L"))), kind


def test_rle_indices_are_pillows_for_every_index() -> None:
    for kind, count in (("info-8-rle", 256), ("info-4-rle", 16)):
        data = bytearray(bmp_factory.write(kind, count, 4, seed=5))
        info = bmp.read_header(bytes(data))
        indices = bmp.indices(bytes(data), info)
        pillow = np.asarray(Image.open(io.BytesIO(bytes(data))))  # P mode: the indices
        assert np.array_equal(indices, pillow)
        assert len(np.unique(indices)) > count * 0.5


@pytest.mark.parametrize("options, kept", [
    ({}, True),
    ({"crop": "3,2,40,30"}, True),
    ({"rotate": 90}, True),
    ({"flip": "h"}, True),
    ({"w": 80, "h": 80, "fit": "pad", "bg": "00ff00"}, True),   # one colour more
    ({"w": 32}, False),                                          # resize: new colours
    ({"blur": 2.0}, False),
])
def test_the_compact_form_lasts_until_a_step_makes_colours(options, kept, settings) -> None:
    data = bmp_factory.write("info-4", 64, 48)
    out = png(data, settings, **options)
    assert (ihdr(out)[1] == PALETTE_TYPE) is kept
    expected = png(data, settings, format="tiff", **options)  # TIFF: OpenCV's own writer
    assert np.array_equal(pillow_bgr(out), pillow_bgr(expected))


def test_untouched_palette_bmps_keep_the_decoders_indices(settings, monkeypatch) -> None:
    """No colour search for a palette BMP converted as it is (the decoder's indices are used), and
    one as soon as a step may have changed the pixels."""
    from imgserve.imaging import png_form

    searched = []
    search = png_form.few_colors
    monkeypatch.setattr(png_form, "few_colors", lambda image: searched.append(image.shape) or search(image))
    for kind in ("info-8", "info-4-rle", "v5-8-rle", "info-1"):
        data = bmp_factory.write(kind, 40, 30)
        assert np.array_equal(pillow_bgr(png(data, settings)), bmp_pixels(data))
    assert searched == []
    png(bmp_factory.write("info-8", 40, 30), settings, flip="h")
    assert searched == [(30, 40, 3)]


def test_gray_stays_gray_through_a_resize(settings) -> None:
    data = bmp_factory.write("info-8-ramp", 64, 48)
    out = png(data, settings, w=40)
    assert ihdr(out) == (8, GRAY_TYPE)
    colour = png(bmp_factory.write("info-8", 64, 48), settings, w=40, grayscale=1)
    assert ihdr(colour)[1] == GRAY_TYPE


def test_effort_setting_changes_bytes_not_pixels(settings) -> None:
    from dataclasses import replace
    data = bmp_factory.write("info-24", 200, 120)
    bodies = {effort: png(data, replace(settings, png_effort=effort)) for effort in ("fast", "default", "max")}
    for body in bodies.values():
        assert np.array_equal(pillow_bgr(body), bmp_pixels(data))
    assert len(set(bodies.values())) > 1


def test_a_gray_palette_with_an_rgb_profile_is_still_converted_through_it(settings) -> None:
    """A V5 BMP with an embedded RGB profile: its palette of grays decodes to BGR, so the colour step
    converts it to sRGB as it did before gray palettes decoded to gray (LittleCMS as the reference)."""
    import struct

    from PIL import ImageCms

    from tests.support.colour import profile

    icc = profile("AdobeRGB1998.icc")
    data = bytearray(bmp_factory.write("v5-8-ramp", 32, 16))
    struct.pack_into("<I", data, 70, 0x4D424544)                  # bV5CSType: PROFILE_EMBEDDED
    struct.pack_into("<II", data, 14 + 112, len(data) - 14, len(icc))  # profile offset (from the info header), size
    data = bytes(data) + icc
    out = png(data, settings)
    rgb = Image.open(io.BytesIO(data)).convert("RGB")
    expected = ImageCms.profileToProfile(rgb, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                                         ImageCms.createProfile("sRGB"), outputMode="RGB")
    got = np.asarray(Image.open(io.BytesIO(out)).convert("RGB")).astype(int)
    assert np.abs(got - np.asarray(expected).astype(int)).max() <= 1
    assert np.abs(got - np.asarray(rgb).astype(int)).max() > 2  # AdobeRGB's grays are not sRGB's
