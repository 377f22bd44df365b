"""Colour management end to end: real profiles in every container, rendered as thumbnails, compared with
LittleCMS's conversion of the whole original (Pillow's ImageCms) resized the same way.

Each case also checks that the comparison can fail: the same pixels with the profile ignored are far
from the reference (except where a profile is close to sRGB anyway, which is said per case).
"""

from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve.imaging import colour, icc, iccmake
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from tests.support.colour import cmyk_profile, managed, managed_16, profile, psnr, tagged, thumbnail
from tests.support.images import decode, photo

SOURCE = photo(480, 360, seed=3)
SIZE = (160, 120)
THRESHOLD = 35.0  # dB, the bar


def saturated(width: int = 480, height: int = 360) -> np.ndarray:
    """Every hue across, from full saturation at the top to gray at the bottom, brightness in waves:
    where wide gamuts differ most from sRGB, and smooth, so lossy outputs add little error of their own."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    hue = x / width * 180
    saturation = 255 * (1 - y / height) ** 0.5
    value = 150 + 100 * np.cos(x / 37) * np.sin(y / 29)
    hsv = np.dstack([hue, saturation, value]).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)


RGB_PROFILES = {
    "display-p3": (lambda: profile("DisplayP3.icm"), True),
    "prophoto": (lambda: profile("ProPhoto.icm"), True),
    "adobe-rgb-v4": (lambda: profile("AdobeRGB1998.icc"), True),
    "swapped-red-green-v4": (lambda: profile("SwappedRedAndGreen.icc"), True),
    "swapped-red-blue-v2": (lambda: iccmake.swapped_profile(version=2), True),
}


def rendered(data: bytes, **options) -> tuple[bytes, str]:
    result = render(data, Options(w=SIZE[0], **options), SETTINGS)
    return result.body, result.format


class _Settings:
    max_pixels = 10**8
    max_dimension = 8192
    max_animation_pixels = 10**8


SETTINGS = _Settings()


@pytest.mark.parametrize("format", ["jpeg", "png", "webp", "tiff", "avif"])
@pytest.mark.parametrize("name", list(RGB_PROFILES))
def test_rgb_profiles_are_converted_to_srgb(format: str, name: str) -> None:
    make, discriminates = RGB_PROFILES[name]
    data = tagged(saturated(), format, make())
    reference = thumbnail(managed(data), SIZE)
    body, _ = rendered(data, format="png")
    assert icc.embedded(body, "png") is None  # converted, so nothing to carry
    assert psnr(managed(body), reference) >= THRESHOLD
    ignored = thumbnail(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), SIZE)
    assert not discriminates or psnr(ignored, reference) < 30  # the comparison sees an ignored profile


@pytest.mark.parametrize("output", ["jpeg", "webp", "avif", "png"])
def test_every_output_format_is_right_in_a_browser(output: str) -> None:
    data = tagged(saturated(), "jpeg", profile("DisplayP3.icm"))
    reference = thumbnail(managed(data), SIZE)
    body, format = rendered(data, format=output, q=95)  # q: the colour is tested here, not the compression
    assert format == output and psnr(managed(body), reference) >= THRESHOLD


@pytest.mark.parametrize("format", ["jpeg", "png", "tiff"])
@pytest.mark.parametrize("make, discriminates", [
    (lambda: profile("Gray.icc"), False),                  # a real gray profile: a curve near sRGB's
    (lambda: iccmake.gray_profile(1.0), True),             # linear gray: mid-tones far brighter in sRGB
    (lambda: iccmake.gray_profile(1.0, version=4), True),
], ids=["gray-icc", "linear-v2", "linear-v4"])
def test_gray_profiles(format: str, make, discriminates: bool) -> None:
    gray = cv2.cvtColor(SOURCE, cv2.COLOR_BGR2GRAY)
    data = tagged(gray, format, make())
    reference = thumbnail(managed(data), SIZE)
    body, _ = rendered(data, format="png")
    image = decode(body)
    assert image.ndim == 2  # gray stays gray
    assert psnr(managed(body), reference) >= THRESHOLD
    assert not discriminates or psnr(thumbnail(gray, SIZE), reference) < 30


@pytest.mark.parametrize("format", ["jpeg", "tiff"])
@pytest.mark.parametrize("name", ["default_cmyk.icc", "ps_cmyk.icc"])  # SWOP v2 (a 187 KB LUT), and a v4 one
def test_cmyk_with_a_profile_goes_through_it(format: str, name: str) -> None:
    data = tagged(SOURCE, format, cmyk_profile(name), mode="CMYK")
    reference = thumbnail(managed(data), SIZE)
    body, _ = rendered(data, format="png")
    assert psnr(managed(body), reference) >= THRESHOLD
    naive = thumbnail(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, :, ::-1], SIZE)
    assert psnr(naive, reference) < 30  # the profile matters: SWOP is not (1 - C)(1 - K)


@pytest.mark.parametrize("adobe", [True, False])
def test_cmyk_without_a_profile_is_not_inverted(adobe: bool) -> None:
    """Adobe's convention (APP14 present: stored inverted) as Photoshop and Pillow write it, and a CMYK
    JPEG with the APP14 segment removed: both come out as the RGB they were made from, not a negative."""
    data = tagged(SOURCE, "jpeg", None, mode="CMYK")
    if not adobe:
        at = data.find(b"\xff\xee")
        data = data[:at] + data[at + 2 + int.from_bytes(data[at + 2:at + 4], "big"):]
    body, _ = rendered(data, format="png")
    assert psnr(decode(body), thumbnail(SOURCE, SIZE)) > 28


def test_keep_embeds_the_original_profile_and_leaves_the_pixels() -> None:
    p3 = profile("DisplayP3.icm")
    data = tagged(saturated(), "png", p3)
    for output in ("jpeg", "png", "webp", "avif", "tiff"):
        body, _ = rendered(data, format=output, icc="keep", q=95)
        assert icc.embedded(body, output) == p3, output
        assert psnr(managed(body), thumbnail(managed(data), SIZE)) >= THRESHOLD, output
    body, _ = rendered(data, format="png", icc="keep")
    assert psnr(decode(body), thumbnail(saturated(), SIZE)) > 45  # the stored values, untouched


def test_keep_cannot_carry_what_the_output_cannot_hold() -> None:
    """GIF and BMP have no profile; a grayscale output cannot hold an RGB profile: then sRGB it is."""
    data = tagged(saturated(), "png", profile("SwappedRedAndGreen.icc"))
    reference = thumbnail(managed(data), SIZE)
    for output in ("bmp", "gif"):
        body, _ = rendered(data, format=output, icc="keep")
        assert psnr(managed(body), reference) >= (THRESHOLD if output == "bmp" else 25), output  # GIF: 256 colours
    body, _ = rendered(data, format="png", icc="keep", grayscale=True)
    assert icc.embedded(body, "png") is None
    expected = cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY)
    assert psnr(decode(body), expected) >= THRESHOLD


def test_sixteen_bit_keeps_its_bits_and_carries_its_profile() -> None:
    deep = (saturated().astype(np.uint16) * 257)
    ok, data = cv2.imencodeWithMetadata(".png", deep, [cv2.IMAGE_METADATA_ICCP],
                                        [np.frombuffer(profile("DisplayP3.icm"), np.uint8)])
    data = data.tobytes()
    reference = thumbnail(managed_16(data), SIZE)
    body, _ = rendered(data, format="png")
    assert decode(body).dtype == np.uint16 and icc.embedded(body, "png") == profile("DisplayP3.icm")
    assert psnr(managed_16(body), reference) >= THRESHOLD
    body, _ = rendered(data, format="webp", q=95)  # 8-bit output: converted
    assert icc.embedded(body, "webp") is None and psnr(managed(body), reference) >= THRESHOLD


def _cicp_avif(image: np.ndarray, primaries: int, transfer: int) -> bytes:
    """A lossless AVIF whose `nclx` box says `primaries`/`transfer` (OpenCV writes 2/2, unspecified)."""
    data = bytearray(cv2.imencode(".avif", image, [cv2.IMWRITE_AVIF_QUALITY, 100])[1].tobytes())
    at = data.index(b"colrnclx") + 8
    data[at:at + 4] = primaries.to_bytes(2, "big") + transfer.to_bytes(2, "big")
    return bytes(data)


def _cicp_png(image: np.ndarray, primaries: int, transfer: int) -> bytes:
    data = cv2.imencode(".png", image)[1].tobytes()
    body = b"cICP" + bytes([primaries, transfer, 0, 1])
    chunk = len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return data[:33] + chunk + data[33:]  # after IHDR


@pytest.mark.parametrize("write", [_cicp_avif, _cicp_png], ids=["avif-nclx", "png-cicp"])
def test_cicp_display_p3_is_converted(write) -> None:
    """Display P3 named by CICP code points 12/13 and no ICC profile, as libavif and phones write it."""
    stored = saturated()
    # What the file means: its stored values in Display P3; the reference converts those with LittleCMS.
    reference = thumbnail(managed(tagged(stored, "png", iccmake.rgb_profile(iccmake.DISPLAY_P3))), SIZE)
    data = write(stored, 12, 13)
    format = "avif" if data[4:8] == b"ftyp" else "png"
    assert icc.cicp(data, format)[:2] == (12, 13) and icc.embedded(data, format) is None
    body, _ = rendered(data, format="png")
    assert psnr(managed(body), reference) >= THRESHOLD
    assert psnr(thumbnail(stored, SIZE), reference) < 32
    srgb = write(stored, 1, 13)
    assert psnr(decode(rendered(srgb, format="png")[0]), thumbnail(stored, SIZE)) > 45  # 1/13 is sRGB: untouched


def test_enlarging_converts_before_the_resize() -> None:
    data = tagged(saturated(120, 90), "png", iccmake.swapped_profile())
    result = render(data, Options(w=480, enlarge=True, format="png"), SETTINGS)
    reference = cv2.resize(managed(data), (480, 360), interpolation=cv2.INTER_CUBIC)
    assert psnr(decode(result.body), reference) >= 40


def test_alpha_survives_conversion() -> None:
    bgra = np.dstack([saturated(), np.tile(np.linspace(0, 255, 480, dtype=np.uint8), (360, 1))])
    data = tagged(bgra, "png", profile("DisplayP3.icm"))
    body, _ = rendered(data, format="png")
    out = decode(body)
    assert out.shape[2] == 4
    assert np.abs(out[:, :, 3].astype(int) - thumbnail(bgra[:, :, 3], SIZE)).max() <= 1


# -- the module's own contract ---------------------------------------------------------------------------

def test_srgb_is_recognised_by_behaviour_not_name() -> None:
    for srgb in (profile("sRGB-v4.icc"), iccmake.rgb_profile(), iccmake.rgb_profile(version=4, description="x")):
        assert colour.is_srgb(icc.Profile.of(srgb))
    for other in (profile("DisplayP3.icm"), iccmake.swapped_profile(), iccmake.rgb_profile(description="sRGB",
                                                                                            curve=2.2)):
        assert not colour.is_srgb(icc.Profile.of(other))
    image = SOURCE.copy()
    assert colour.to_srgb(image, icc.Profile.of(profile("sRGB-v4.icc"))) is image  # no work, no copy


def test_a_profile_that_does_not_match_the_pixels_is_ignored() -> None:
    gray = SOURCE[:, :, 0]
    assert colour.to_srgb(gray, icc.Profile.of(profile("DisplayP3.icm"))) is gray
    assert colour.to_srgb(SOURCE, icc.Profile.of(profile("Gray.icc")), "jpeg") is SOURCE
    garbage = icc.Profile("RGB", "RGB", "2.1", "")
    assert colour.to_srgb(SOURCE, icc.Profile(b"x" * 200, "RGB", "2.1", "")) is SOURCE and garbage


def test_transforms_are_cached_by_profile() -> None:
    p3 = icc.Profile.of(profile("DisplayP3.icm"))
    first = colour.transform(p3, "RGB")
    assert colour.transform(icc.Profile.of(bytes(p3.icc)), "RGB") is first
    assert colour.transform(p3, "RGBA") is not first


@pytest.mark.parametrize("output", ["jpeg", "png", "webp", "avif", "tiff"])
def test_outputs_carry_no_metadata_but_the_kept_profile(output: str) -> None:
    """A camera JPEG with EXIF (GPS position, camera serial number) and XMP: none of it goes out."""
    pil = Image.fromarray(saturated()[:, :, ::-1])
    exif = pil.getexif()
    exif[0x010F], exif[0xA431] = "CameraMaker", "SERIAL-12345"  # Make, BodySerialNumber
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 29.0)                  # GPSLatitude
    out = io.BytesIO()
    pil.save(out, "JPEG", exif=exif.tobytes(), icc_profile=profile("DisplayP3.icm"), quality=95,
             xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>SECRET-XMP</x:xmpmeta>")
    source = out.getvalue()
    assert b"SERIAL-12345" in source and b"SECRET-XMP" in source and b"CameraMaker" in source
    for mode in ("srgb", "keep"):
        body, _ = rendered(source, format=output, icc=mode)
        for secret in (b"SERIAL-12345", b"SECRET-XMP", b"CameraMaker", b"Exif\0\0", b"eXIf", b"<x:xmpmeta"):
            assert secret not in body, (mode, secret)
        with Image.open(io.BytesIO(body)) as opened:
            assert not {0x010F, 0x8769, 0x8825, 0xA431} & set(opened.getexif())  # (a TIFF's own tags are EXIF-like)
            assert "xmp" not in opened.info and "XML:com.adobe.xmp" not in opened.info
            assert (opened.info.get("icc_profile") or None) == (profile("DisplayP3.icm") if mode == "keep" else None)
