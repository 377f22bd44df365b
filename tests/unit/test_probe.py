import io
import struct

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
EXIF = Image.Exif()
EXIF[0x010F] = "camera"
EXIF = EXIF.tobytes()
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'  # as Photoshop and Lightroom put in TIFFs: tag 700, typed BYTE


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
    (pil_bytes(Image.new("RGB", (123, 45)), "TIFF", tiffinfo={700: XMP}), ("tiff", 123, 45, 3, 8)),  # a BYTE tag
    (pil_bytes(Image.new("RGB", (123, 45)), "TIFF", tiffinfo={700: XMP}, big_tiff=True), ("tiff", 123, 45, 3, 8)),
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


def tiff(order: str, entries: list[tuple[int, int, list[int]]], pixels: bytes) -> bytes:
    """A minimal uncompressed TIFF written field by field: (tag, type, values), type 3 SHORT or 4 LONG,
    in byte order `order` ("<" for II, ">" for MM); values that do not fit in 4 bytes go after the IFD."""
    def pack(kind: int, values: list[int]) -> bytes:
        return struct.pack(order + ("H" if kind == 3 else "I") * len(values), *values)

    entries = sorted([*entries, (273, 4, [0]), (279, 4, [len(pixels)])])
    extra_at = 8 + 2 + 12 * len(entries) + 4
    pixels_at = extra_at + sum(len(pack(k, v)) for _, k, v in entries if len(pack(k, v)) > 4)
    body, extra = b"", b""
    for tag, kind, values in entries:
        packed = pack(kind, [pixels_at] if tag == 273 else values)
        if len(packed) > 4:
            packed, extra = struct.pack(order + "I", extra_at + len(extra)), extra + packed
        body += struct.pack(order + "HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
    head = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8)
    return head + struct.pack(order + "H", len(entries)) + body + b"\0\0\0\0" + extra + pixels


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("kind, mode, fields", [
    ("rgb", "RGB", [(258, 3, [8, 8, 8]), (262, 3, [2]), (277, 3, [3])]),
    ("gray without SamplesPerPixel", "L", [(258, 3, [8]), (262, 3, [1])]),
    ("bilevel without BitsPerSample", "1", [(262, 3, [1])]),
    ("16-bit gray", "I;16", [(258, 3, [16]), (262, 3, [1]), (277, 3, [1])]),
])
@pytest.mark.parametrize("size_type", [3, 4])  # ImageWidth/ImageLength as SHORT or as LONG
def test_tiff_headers_of_either_byte_order_agree_with_pillow(order: str, kind: str, mode: str, fields: list,
                                                             size_type: int) -> None:
    width, height = 300, 7
    depth = {"RGB": 24, "L": 8, "1": 1, "I;16": 16}[mode]
    data = tiff(order, [(256, size_type, [width]), (257, size_type, [height]), (278, 3, [height]), *fields],
                bytes(-(-width * depth // 8) * height))
    reference = Image.open(io.BytesIO(data))
    assert reference.size == (width, height) and reference.mode.startswith(mode[0])
    header = probe(data)
    channels, bits = {"RGB": (3, 8), "L": (1, 8), "1": (1, 1), "I;16": (1, 16)}[mode]
    assert (header.format, header.width, header.height, header.channels, header.bit_depth) == \
        ("tiff", width, height, channels, bits)


@pytest.mark.parametrize("value, expected", [(6, 6), (8, 8), (0, 1), (9, 1), (65535, 1)])
def test_tiff_orientation_out_of_range_means_none(value: int, expected: int) -> None:
    data = tiff("<", [(256, 3, [4]), (257, 3, [2]), (258, 3, [8]), (262, 3, [1]), (274, 3, [value])], bytes(8))
    assert probe(data).orientation == expected


@pytest.mark.parametrize("data, facts", [
    (encode(BGR, ".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]), (123, 45, 3)),                # lossy: VP8
    (pil_bytes(Image.fromarray(BGR[:, :, ::-1]), "WEBP", quality=50), (123, 45, 3)),     # VP8, by libwebp
    (pil_bytes(Image.fromarray(BGR[:, :, ::-1]).resize((1, 1)), "WEBP", quality=50), (1, 1, 3)),
    (pil_bytes(Image.fromarray(BGR[:, :, ::-1]), "WEBP", lossless=True), (123, 45, 3)),  # VP8L
    (pil_bytes(Image.fromarray(BGRA[:, :, [2, 1, 0, 3]]), "WEBP", lossless=True), (123, 45, 4)),
    (pil_bytes(Image.fromarray(BGRA[:, :, [2, 1, 0, 3]]), "WEBP", quality=50), (123, 45, 4)),  # VP8X + ALPH
    (pil_bytes(Image.fromarray(BGR[:, :, ::-1]), "WEBP", quality=50, exif=EXIF), (123, 45, 3)),  # VP8X, opaque
])
def test_webp_of_every_kind_agrees_with_pillow(data: bytes, facts: tuple) -> None:
    header = probe(data)
    reference = Image.open(io.BytesIO(data))
    assert (header.width, header.height) == reference.size
    assert (header.format, header.width, header.height, header.channels) == ("webp", *facts)
    assert header.channels == len(reference.getbands())


@pytest.mark.parametrize("exif, expected", [
    ({0x010F: "camera"}, 1),          # EXIF without an orientation tag: as stored, not mirrored
    ({0x0112: 0}, 1), ({0x0112: 9}, 1), ({0x0112: 3}, 3),
])
def test_exif_orientation_missing_or_out_of_range_means_none(exif: dict, expected: int) -> None:
    pil = Image.fromarray(BGR[:, :, ::-1])
    tags = pil.getexif()
    for tag, value in exif.items():
        tags[tag] = value
    data = pil_bytes(pil, "JPEG", exif=tags.tobytes())
    assert probe(data).orientation == expected
