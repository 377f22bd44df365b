"""Progressive JPEGs decoded at 1/8 from their DC scans give exactly what the whole file gives."""

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve import jpeg
from imgserve.codecs import decode
from imgserve.probe import probe
from tests.images import photo


def progressive(width: int, height: int, subsampling: str = "4:2:0", mode: str = "RGB", **kwargs) -> bytes:
    image = Image.fromarray(photo(width, height, seed=width)[:, :, ::-1])
    out = io.BytesIO()
    image.convert(mode).save(out, "JPEG", progressive=True, quality=90, subsampling=subsampling, **kwargs)
    return out.getvalue()


def eighth(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_8 | cv2.IMREAD_IGNORE_ORIENTATION)


@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:2", "4:2:0", "4:1:1"])
@pytest.mark.parametrize("size", [(640, 480), (1001, 667), (17, 9), (8, 8)])
def test_dc_scans_alone_give_the_same_eighth_scale_image(subsampling: str, size: tuple[int, int]) -> None:
    data = progressive(*size, subsampling=subsampling)
    smaller = jpeg.dc_only(data)
    if size[0] < 64:           # a handful of blocks: the added tables outweigh the AC data
        assert smaller is None
        return
    assert smaller is not None and len(smaller) < len(data)
    assert np.array_equal(eighth(smaller), eighth(data))


def test_grayscale_and_restart_intervals() -> None:
    for data in (progressive(777, 555, mode="L"), progressive(777, 555, restart_marker_blocks=7),
                 progressive(777, 555, "4:4:4", restart_marker_rows=1)):
        smaller = jpeg.dc_only(data)
        assert smaller is not None and len(smaller) < len(data) // 2
        assert np.array_equal(eighth(smaller), eighth(data))


def test_nothing_to_gain_or_nothing_understood_is_none() -> None:
    baseline = io.BytesIO()
    Image.new("RGB", (64, 64)).save(baseline, "JPEG")
    assert jpeg.dc_only(baseline.getvalue()) is None
    data = progressive(300, 200)
    assert jpeg.dc_only(data[: len(data) // 2]) is None      # truncated: no marker after a scan
    assert jpeg.dc_only(b"\xff\xd8\xff\xd9") is None
    assert jpeg.dc_only(b"\xff\xd8garbage") is None


def test_an_ac_table_shared_with_a_kept_scan_is_restored_after_the_empty_scan() -> None:
    """If a kept scan (4:2:0 chroma) uses the table id an emptied scan redefined, the file's own
    definition comes back right after the emptied scan."""
    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", 2 + len(body)) + body

    table = bytes([0] * 15 + [1]) + b"\x00"          # one symbol (EOB) of 16 bits: the file's own table
    sof = segment(0xC2, struct.pack(">BHHB", 8, 16, 16, 3) + bytes([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]))
    dht = segment(0xC4, bytes([0x10]) + table)
    luma_ac = segment(0xDA, bytes([1, 1, 0x00, 1, 63, 0])) + b"\x12\x34" * 500
    chroma_ac = segment(0xDA, bytes([1, 2, 0x00, 1, 63, 0])) + b"\x56\x78"
    data = b"\xff\xd8" + sof + dht + luma_ac + chroma_ac + b"\xff\xd9"
    out = jpeg.dc_only(data)
    assert out is not None
    assert b"\x12\x34" not in out and b"\x56\x78" in out           # luma AC emptied, chroma kept
    restored = out.index(dht, out.index(dht) + 1)                  # the file's table, defined again ...
    assert out.index(b"\x56\x78") > restored > out.index(b"\xff\xda\x00\x08\x01\x01")  # ... between the two


def test_the_decoder_uses_it_only_for_progressive_eighths() -> None:
    data = progressive(1600, 1200, "4:2:2")
    header = probe(data)
    assert header.progressive
    assert np.array_equal(decode(data, header, shrink=8), eighth(data))
    assert decode(data, header, shrink=4).shape == (300, 400, 3)
