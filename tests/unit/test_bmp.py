"""Every BMP kind decoded and compared pixel by pixel with a reference decoder (Pillow)."""

import struct

import numpy as np
import pytest

from imgserve.errors import Problem
from imgserve.imaging import bmp
from imgserve.imaging.decode import decode as decode_image
from imgserve.imaging.probe import probe
from tests.support import bmp_factory
from tests.support.bmp_factory import reference


def ours(data: bytes) -> np.ndarray:
    return decode_image(data, probe(data))


@pytest.mark.parametrize("kind", bmp_factory.KINDS)
@pytest.mark.parametrize("size", [(13, 7), (1, 1), (32, 3), (3, 32)])
def test_every_kind_matches_the_reference_decoder(kind: str, size: tuple[int, int]) -> None:
    data = bmp_factory.write(kind, *size)
    expected = reference(data)
    got = ours(data)
    assert got.shape == expected.shape
    assert got.dtype == np.uint8
    assert np.array_equal(got, expected)


def test_sixteen_bit_channels_reach_full_white() -> None:
    """OpenCV shifts 5-bit values left, so white comes out 248; scaled, it is 255."""
    for kind, white in (("info-16", 0x7FFF), ("info-16-565", 0xFFFF)):
        data = bytearray(bmp_factory.write(kind, 4, 2))
        offset = struct.unpack_from("<I", data, 10)[0]
        data[offset:] = struct.pack("<H", white) * ((len(data) - offset) // 2)
        assert ours(bytes(data)).min() == 255


def test_core_header_gives_colour_not_one_channel() -> None:
    got = ours(bmp_factory.write("core-24", 5, 4))
    assert got.shape == (4, 5, 3)


def test_short_palette_indices_past_the_end_read_as_black() -> None:
    data = bytearray(bmp_factory.write("info-8-short-palette", 4, 1))  # 129 colours
    offset = struct.unpack_from("<I", data, 10)[0]
    data[offset:offset + 4] = bytes([0, 128, 129, 255])
    got = ours(bytes(data))
    assert got[0, 2].tolist() == [0, 0, 0] and got[0, 3].tolist() == [0, 0, 0]
    assert got[0, 1].tolist() != [0, 0, 0] or got[0, 0].tolist() != [0, 0, 0]


def corrupt(kind: str, at: int, fmt: str, *values: int) -> bytes:
    data = bytearray(bmp_factory.write(kind, 8, 8))
    struct.pack_into(fmt, data, at, *values)
    return bytes(data)


@pytest.mark.parametrize("data, fragment", [
    (corrupt("info-24", 28, "<H", 7), "bad bit count 7"),
    (corrupt("info-24", 28, "<H", 0), "bad bit count 0"),
    (corrupt("info-8", 46, "<I", 300), "bad palette size 300"),
    (corrupt("info-8", 46, "<I", 100_000), "bad palette size"),
    (corrupt("info-24", 18, "<i", 0), "bad size 0x8"),
    (corrupt("info-24", 18, "<i", -8), "bad size -8x8"),
    (corrupt("info-24", 22, "<i", 0), "bad size 8x0"),
    (corrupt("info-24", 14, "<I", 41), "unknown info header size 41"),
    (corrupt("info-24", 30, "<I", 4), "unsupported compression 4"),   # embedded JPEG
    (corrupt("info-24", 30, "<I", 1), "compression 1 with 24 bits"),
    (corrupt("info-8-rle", 22, "<i", -8), "top-down"),
    (corrupt("info-24", 10, "<I", 10_000), "offset 10000 is outside the file"),
    (corrupt("info-24", 10, "<I", 20), "offset 20 is outside the file"),
    (corrupt("info-16-565", 54, "<I", 0xF0F0), "bad bitfield mask 0xf0f0"),
    (corrupt("info-16-565", 54, "<I", 0x1F800), "bad bitfield mask 0x1f800"),
    (corrupt("v4-32-alpha", 54, "<3I", 0, 0, 0), "all colour masks are empty"),   # an alpha mask alone
    (bmp_factory.write("info-24", 8, 8)[:-10], "truncated"),
    (bmp_factory.write("info-8", 8, 8)[:60], "palette of 256 colours does not fit"),
    (bmp_factory.write("info-24", 8, 8)[:20], "header is truncated"),
])
def test_bad_bmps_are_415_with_the_reason(data: bytes, fragment: str) -> None:
    with pytest.raises(Problem) as caught:
        ours(data)
    assert caught.value.status == 415
    assert fragment in caught.value.detail


def test_huge_declared_size_is_refused_from_the_header_without_allocating() -> None:
    """3,000,000 x 8 declared, a few bytes given: refused before the 72 MB of pixels are allocated
    (NumPy reports its allocations to tracemalloc; the check cannot be broken by a loaded machine)."""
    import tracemalloc

    data = corrupt("info-24", 18, "<i", 3_000_000)  # like bmpsuite's reallybig.bmp: a header, few pixels
    tracemalloc.start()
    try:
        with pytest.raises(Problem) as caught:
            ours(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.status == 415 and "truncated" in caught.value.detail
    assert peak < 1 << 20, peak


@pytest.mark.parametrize("payload", [
    b"\xff\x01" * 40,                   # runs far past the end of each line
    b"\x00\x02\xff\xff" * 20,           # deltas jumping past the bitmap
    b"\x00\xff" + b"\x01" * 10,         # an absolute run longer than the data
    b"",                                # no data at all
])
def test_bad_rle_never_crashes(payload: bytes) -> None:
    good = bmp_factory.write("info-8-rle", 8, 8)
    offset = struct.unpack_from("<I", good, 10)[0]
    data = good[:offset] + payload
    try:
        image = ours(data)
    except Problem as problem:
        assert problem.status == 415
    else:
        assert image.shape == (8, 8, 3)


def test_header_info_is_what_the_decoder_uses() -> None:
    info = bmp.read_header(bmp_factory.write("v5-32-alpha-topdown", 5, 3))
    assert (info.width, info.height, info.top_down, info.bits, info.alpha) == (5, 3, True, 32, True)


def test_bi_rgb_fourth_byte_is_alpha_when_any_is_set() -> None:
    """32-bit BI_RGB: tools that store BGRA this way put alpha in the fourth byte; all-zero means opaque."""
    width, height = 4, 2
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:, :, :3] = (200, 100, 50)
    rows = pixels[::-1].tobytes()
    header = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54) + struct.pack(
        "<IiiHHIIiiII", 40, width, height, 1, 32, 0, len(rows), 2835, 2835, 0, 0)
    opaque = ours(header + rows)
    assert opaque.shape == (2, 4, 3) and probe(header + rows).channels == 3
    pixels[0, 0, 3], pixels[1, 3, 3] = 0, 7  # the rest stay 0: transparent
    pixels[0, 1:, 3] = 255
    data = header + pixels[::-1].tobytes()
    got = ours(data)
    assert probe(data).channels == 4 and got.shape == (2, 4, 4)
    assert got[:, :, 3].tolist() == [[0, 255, 255, 255], [0, 0, 0, 7]]
    assert (got[:, :, :3] == (200, 100, 50)).all()


def rle4_codes(data: bytes) -> list[tuple[str, int, int]]:
    """The RLE4 stream of a file as (kind, count, byte): "one" and "two" encoded runs, "absolute" runs."""
    at, codes = struct.unpack_from("<I", data, 10)[0], []
    while at + 1 < len(data):
        count, value = data[at], data[at + 1]
        at += 2
        if count:
            codes.append(("one" if value >> 4 == value & 15 else "two", count, value))
        elif value >= 3:
            codes.append(("absolute", value, 0))
            at += -(-value // 2) + (-(-value // 2) % 2)
        elif value == 1:
            break
    return codes


@pytest.mark.parametrize("size", [(13, 7), (32, 3), (60, 2)])
def test_the_rle4_writer_uses_every_kind_of_code(size: tuple[int, int]) -> None:
    """So that the comparison with Pillow above covers runs of two alternating colours and absolute runs."""
    kinds = {kind for kind, _, _ in rle4_codes(bmp_factory.write("info-4-rle", *size))}
    assert kinds == {"one", "two", "absolute"}


def test_rle4_codes_written_by_hand() -> None:
    """Each RLE4 code, written out, against Pillow and against the pixels the format defines."""
    palette = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    rows = [  # bottom-up, 8 pixels wide
        b"\x08\x11",                          # 8 x colour 1
        b"\x05\x23\x03\x40",                  # 2,3,2,3,2 (two colours alternating), then 4,0,4
        b"\x00\x05\x12\x34\x00\x00\x03\x44",  # absolute 1,2,3,4,0 (padded to 16 bits), then 4,4,4
        b"\x00\x03\x41\x20\x00\x02\x02\x00\x03\x31",  # absolute 4,1,2; delta 2 right, 0 up; 3,1,3
    ]
    body = b"\x00\x00".join(rows) + b"\x00\x01"
    table = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    info = struct.pack("<IiiHHIIiiII", 40, 8, 4, 1, 4, 2, len(body), 2835, 2835, len(palette), 0)
    offset = 14 + len(info) + len(table)
    data = struct.pack("<2sIHHI", b"BM", offset + len(body), 0, 0, offset) + info + table + body
    indices = [[1] * 8, [2, 3, 2, 3, 2, 4, 0, 4], [1, 2, 3, 4, 0, 4, 4, 4], [4, 1, 2, 0, 0, 3, 1, 3]]
    expected = np.array([[palette[i][::-1] for i in row] for row in indices[::-1]], np.uint8)  # top-down, BGR
    assert np.array_equal(reference(data), expected)
    assert np.array_equal(ours(data), expected)


def test_ten_bit_bitfields_with_alpha_scale_each_field_to_eight_bits() -> None:
    """32-bit BMPs with masks other than 8-8-8(-8) (here 10-10-10-2, which Pillow does not read): each
    field is its masked bits scaled from 0..2^n-1 to 0..255, computed here from the raw words."""
    data = bmp_factory.write("v4-32-1010102", 13, 7)
    offset = struct.unpack_from("<I", data, 10)[0]
    words = np.frombuffer(data, "<u4", 13 * 7, offset).reshape(7, 13)[::-1]   # bottom-up rows
    fields = [(words >> shift) & ((1 << bits) - 1) for shift, bits in ((0, 10), (10, 10), (20, 10), (30, 2))]
    expected = np.dstack([f * 255 / ((1 << bits) - 1) for f, bits in zip(fields, (10, 10, 10, 2))])  # B, G, R, A
    got = ours(data)
    assert got.shape == (7, 13, 4) and got.dtype == np.uint8
    assert np.abs(got - expected).max() < 1   # within the rounding to whole levels


def test_an_empty_colour_mask_gives_a_zero_channel() -> None:
    """Bitfields may leave a colour out (here 16-bit with no red mask; _check_masks only refuses all
    three empty): that channel is 0 and the others are scaled as usual, computed here from the raw words."""
    data = bytearray(bmp_factory.write("info-16-565", 13, 7))
    struct.pack_into("<I", data, 54, 0)                                    # the red mask
    offset = struct.unpack_from("<I", data, 10)[0]
    stride = (13 * 2 + 3) // 4 * 4
    rows = np.frombuffer(bytes(data), np.uint8, stride * 7, offset).reshape(7, stride)[::-1]
    words = rows[:, :26].copy().view("<u2").astype(int)
    expected = np.dstack([(words & 0x1F) * 255 / 31, (words >> 5 & 0x3F) * 255 / 63, np.zeros_like(words)])
    got = ours(bytes(data))
    assert got.shape == (7, 13, 3) and got.dtype == np.uint8
    assert (got[:, :, 2] == 0).all() and np.abs(got - expected).max() < 1
