"""AVIF and HEIF input: headers read by our box reader (size before decoding, depth, alpha, rotation and
mirroring), pixels compared with the source they were made from; HEIF with and without pillow-heif."""

from __future__ import annotations

import builtins
import io

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve import formats
from imgserve.errors import Problem
from imgserve.imaging import icc, ops
from imgserve.imaging.decode import decode
from imgserve.imaging.pipeline import render
from imgserve.imaging.probe import probe
from imgserve.options import Options
from tests.support.colour import managed, profile, thumbnail
from tests.support.images import photo, quadrants

pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif (the heif extra, in the test extra) is missing")

SOURCE = photo(96, 64, seed=2)


class Limits:
    max_pixels = 10**8
    max_dimension = 8192
    max_animation_pixels = 10**8


def avif(image: np.ndarray, *params: int) -> bytes:
    return cv2.imencode(".avif", image, list(params))[1].tobytes()


def heic(image: np.ndarray, icc_profile: bytes | None = None, quality: int = 95) -> bytes:
    mode = "BGRA" if image.ndim == 3 and image.shape[2] == 4 else "BGR"
    if image.dtype == np.uint16:
        mode += ";16"
    heif = pillow_heif.from_bytes(mode=mode, size=image.shape[1::-1], data=np.ascontiguousarray(image).tobytes())
    out = io.BytesIO()
    heif.save(out, quality=quality, **({"icc_profile": icc_profile} if icc_profile else {}))
    return out.getvalue()


@pytest.mark.parametrize("data, facts", [
    (lambda: avif(SOURCE), ("avif", 96, 64, 3, 8)),
    (lambda: avif(np.dstack([SOURCE, SOURCE[:, :, 0]])), ("avif", 96, 64, 4, 8)),
    (lambda: avif(SOURCE.astype(np.uint16) * 4, cv2.IMWRITE_AVIF_DEPTH, 10), ("avif", 96, 64, 3, 10)),
    (lambda: avif(SOURCE.astype(np.uint16) * 16, cv2.IMWRITE_AVIF_DEPTH, 12), ("avif", 96, 64, 3, 12)),
    (lambda: heic(SOURCE), ("heif", 96, 64, 3, 8)),
    (lambda: heic(np.dstack([SOURCE, SOURCE[:, :, 0]])), ("heif", 96, 64, 4, 8)),
    (lambda: heic(SOURCE.astype(np.uint16) * 257), ("heif", 96, 64, 3, 10)),
], ids=["avif", "avif-alpha", "avif-10", "avif-12", "heic", "heic-alpha", "heic-10"])
def test_header_facts(data, facts: tuple) -> None:
    header = probe(data())
    assert (header.format, header.width, header.height, header.channels, header.bit_depth) == facts


def test_brands_decide_the_format() -> None:
    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = major + b"\0\0\0\0" + b"".join(compatible)
        return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body

    assert formats.sniff(ftyp(b"avif", b"mif1", b"miaf")) == "avif"
    assert formats.sniff(ftyp(b"mif1", b"avif")) == "avif"      # AVIF listed among the compatible brands
    assert formats.sniff(ftyp(b"avis", b"msf1")) == "avif"      # an AVIF sequence
    assert formats.sniff(ftyp(b"heic", b"mif1")) == "heif"
    assert formats.sniff(ftyp(b"mif1", b"heic")) == "heif"
    assert formats.sniff(ftyp(b"isom", b"mp41")) is None         # an MP4 video is not an image of ours
    with pytest.raises(Problem) as raised:
        probe(ftyp(b"avif", b"mif1") + b"\0\0\0\x10meta")        # no image properties at all
    assert raised.value.status == 415


@pytest.mark.parametrize("depth, scale", [(10, 4), (12, 16)])
def test_deep_avif_becomes_sixteen_bits(depth: int, scale: int) -> None:
    source = SOURCE.astype(np.uint16) * scale
    data = avif(source, cv2.IMWRITE_AVIF_DEPTH, depth, cv2.IMWRITE_AVIF_QUALITY, 100)
    image = decode(data, probe(data))
    assert image.dtype == np.uint16
    expected = SOURCE.astype(np.float64) * 257  # full scale, as for any 16-bit image
    assert np.abs(image - expected).max() <= 257 * 2


@pytest.mark.parametrize("orientation", range(1, 9))
def test_avif_rotation_and_mirroring_are_applied(orientation: int) -> None:
    """Pillow writes an EXIF orientation as irot/imir; OpenCV's decoder does not apply them, we do."""
    pil = Image.fromarray(quadrants(80, 60)[:, :, ::-1])
    exif = pil.getexif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    pil.save(out, "AVIF", exif=exif.tobytes(), quality=100)
    data = out.getvalue()
    header = probe(data)
    expected = ops.orient(quadrants(80, 60), orientation)
    assert header.orientation == orientation and header.display_size == expected.shape[1::-1]
    image = decode(data, header)
    assert image.shape == expected.shape and cv2.PSNR(image, expected) > 25  # a wrong turn: under 10 dB


def test_heic_decodes_and_its_profile_is_honoured() -> None:
    p3 = profile("DisplayP3.icm")
    data = heic(SOURCE, p3)
    assert icc.embedded(data, "heif") == p3
    image = decode(data, probe(data))
    assert image.shape == SOURCE.shape and cv2.PSNR(image, SOURCE) > 28  # HEVC 4:2:0 on a noisy image
    result = render(data, Options(w=48, format="png"), Limits())
    pil = Image.fromarray(SOURCE[:, :, ::-1])
    out = io.BytesIO()
    pil.save(out, "PNG", icc_profile=p3)
    reference = thumbnail(managed(out.getvalue()), (48, 32))
    assert cv2.PSNR(managed(result.body), reference) > 35  # ignoring the profile: 22 dB


def test_deep_heic_stays_deep() -> None:
    data = heic(SOURCE.astype(np.uint16) * 257)
    image = decode(data, probe(data))
    assert image.dtype == np.uint16 and cv2.PSNR(cv2.convertScaleAbs(image, alpha=1 / 257), SOURCE) > 28


def test_heic_without_the_extra_is_a_415_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = heic(SOURCE)
    real_import = builtins.__import__

    def no_heif(name, *args, **kwargs):
        if name == "pillow_heif":
            raise ImportError("No module named 'pillow_heif'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_heif)
    assert probe(data).width == 96  # the header is ours: the pixel limit and /info need no extra
    with pytest.raises(Problem) as raised:
        render(data, Options(w=10), Limits())
    assert raised.value.status == 415 and "pip install 'imgserve-server[heif]'" in raised.value.detail


@pytest.mark.parametrize("cut", [40, 200, 0.5])
def test_truncated_avif_and_heic_are_415(cut) -> None:
    for data in (avif(SOURCE), heic(SOURCE)):
        end = int(len(data) * cut) if isinstance(cut, float) else cut
        with pytest.raises(Problem) as raised:
            render(data[:end], Options(w=10), Limits())
        assert raised.value.status == 415
