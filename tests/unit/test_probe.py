import io

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve.errors import Problem
from imgserve.imaging.probe import probe
from tests.support.images import encode, jpeg_with_orientation, photo

BGR = photo(123, 45)
GRAY = BGR[:, :, 0]
BGRA = np.dstack([BGR, GRAY])


def pil_bytes(image: Image.Image, format: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("data, facts", [
    (encode(BGR, ".jpg"), ("jpeg", 123, 45, 3, 8)),
    (encode(GRAY, ".jpg"), ("jpeg", 123, 45, 1, 8)),
    (encode(BGR, ".png"), ("png", 123, 45, 3, 8)),
    (encode(BGRA, ".png"), ("png", 123, 45, 4, 8)),
    (encode(GRAY.astype(np.uint16) * 257, ".png"), ("png", 123, 45, 1, 16)),
    (encode(BGR, ".webp"), ("webp", 123, 45, 3, 8)),
    (encode(BGR, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]), ("webp", 123, 45, 3, 8)),  # lossless: VP8L
    (encode(BGRA, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]), ("webp", 123, 45, 4, 8)),
    (pil_bytes(Image.new("RGBA", (123, 45)), "WEBP", quality=50), ("webp", 123, 45, 4, 8)),  # VP8X
    (encode(BGR, ".bmp"), ("bmp", 123, 45, 3, 8)),
    (encode(BGR, ".tiff"), ("tiff", 123, 45, 3, 8)),
    (encode(BGR.astype(np.uint16), ".tiff"), ("tiff", 123, 45, 3, 16)),
    (pil_bytes(Image.new("RGB", (123, 45)), "TIFF", big_tiff=True), ("tiff", 123, 45, 3, 8)),
    (pil_bytes(Image.new("P", (123, 45)), "GIF"), ("gif", 123, 45, 4, 8)),
])
def test_header_facts_without_decoding(data: bytes, facts: tuple) -> None:
    header = probe(data)
    assert (header.format, header.width, header.height, header.channels, header.bit_depth) == facts


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation(orientation: int) -> None:
    header = probe(jpeg_with_orientation(BGR, orientation))
    assert header.orientation == orientation
    assert header.display_size == ((45, 123) if orientation >= 5 else (123, 45))


def test_progressive_jpeg_is_flagged() -> None:
    data = pil_bytes(Image.new("RGB", (64, 32)), "JPEG", progressive=True)
    assert probe(data).progressive
    assert not probe(encode(BGR, ".jpg")).progressive


def test_tiff_orientation_tag() -> None:
    data = pil_bytes(Image.new("RGB", (64, 32)), "TIFF", tiffinfo={274: 6})
    assert probe(data).orientation == 6


@pytest.mark.parametrize("data", [
    b"", b"hello world", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.4", b"\x00" * 100,
    b"8BPS\x00\x01", b"\x00\x00\x00\x0cjP  \r\n\x87\n",  # Photoshop, JPEG 2000: not on the allowlist
])
def test_non_images_are_415(data: bytes) -> None:
    with pytest.raises(Problem) as caught:
        probe(data)
    assert caught.value.status == 415
    assert "not an image" in caught.value.detail


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".bmp", ".tiff"])
def test_truncated_headers_are_415(ext: str) -> None:
    data = encode(BGR, ext)
    for cut in (4, 12, 20):
        with pytest.raises(Problem) as caught:
            probe(data[:cut])
        assert caught.value.status == 415


def test_zero_sized_header_is_415() -> None:
    data = bytearray(encode(BGR, ".png"))
    data[16:20] = b"\0\0\0\0"
    with pytest.raises(Problem, match="empty image"):
        probe(bytes(data))
