"""What a decoder may do, refused before it starts: issue #19 rows B2 (a tile) and B4 (scans, chunks).

Before, the scan bomb ran libjpeg for 20 s and the zTXt bomb libpng for 8.5 s past RENDER_TIMEOUT=5,
and the tile bomb allocated 1 GB per request: here each is refused from its structure, in
milliseconds, and real files of each kind still pass.
"""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from imgserve.errors import Problem
from imgserve.imaging import limits
from imgserve.imaging.pipeline import render
from imgserve.imaging.probe import probe
from imgserve.options import Options
from imgserve.settings import Settings
from tests.support import bombs
from tests.support.images import photo

SETTINGS = Settings()


def refused(data: bytes, **options) -> Problem:
    started = time.perf_counter()
    with pytest.raises(Problem) as caught:
        render(data, Options(**options), SETTINGS)
    assert time.perf_counter() - started < 0.5
    return caught.value


def _pil(image: Image.Image, format: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("w", [100, 2000, 8192])  # 1/8 (the DC-only rewrite), 1/4, full size
def test_a_jpeg_with_thousands_of_scans_is_refused_before_decoding(w: int) -> None:
    problem = refused(bombs.jpeg_scans(8192, 4000), w=w)
    assert problem.status == 422 and "more than 100 scans" in problem.detail and "IMGSERVE_MAX_SCANS" in problem.detail


def test_real_progressive_jpegs_pass_and_the_limit_is_a_setting() -> None:
    data = _pil(Image.fromarray(photo(64, 48)), "JPEG", progressive=True)
    assert render(data, Options(w=32), SETTINGS).width == 32
    assert render(bombs.jpeg_scans(64, 90), Options(w=32), SETTINGS).width == 32  # 90 extra scans: allowed
    with pytest.raises(Problem) as caught:
        render(data, Options(w=32), Settings(max_scans=5))
    assert caught.value.status == 422


def test_a_png_whose_text_chunks_inflate_to_gigabytes_is_refused() -> None:
    problem = refused(bombs.png_ztxt(300, 7_000_000), w=100)
    assert problem.status == 422 and "zTXt" in problem.detail


def _with_chunks(*chunks: bytes) -> bytes:
    png = _pil(Image.new("RGB", (16, 16), (1, 2, 3)), "PNG")
    at = png.rindex(b"IEND") - 4
    return png[:at] + b"".join(chunks) + png[at:]


def test_compressed_metadata_counts_every_kind_and_real_amounts_pass() -> None:
    zeros = zlib.compress(bytes(1 << 20))
    fine = _with_chunks(*[bombs._chunk(b"zTXt", b"k\0\0" + zeros)] * 10,  # 10 MiB in all: under 16
                        bombs._chunk(b"iCCP", b"icc\0\0" + zeros))
    assert render(fine, Options(w=8), SETTINGS).width == 8
    for kind, head in ((b"iCCP", b"icc\0\0"), (b"iTXt", b"k\0\1\0en\0\0"), (b"zTXt", b"k\0\0")):
        data = _with_chunks(*[bombs._chunk(kind, head + zeros)] * 17)
        assert refused(data, w=8).status == 422, kind
    uncompressed = _with_chunks(*[bombs._chunk(b"iTXt", b"k\0\0\0en\0\0" + bytes(1 << 20))] * 17)
    assert render(uncompressed, Options(w=8), SETTINGS).width == 8  # read as is: nothing to inflate


def test_more_than_a_thousand_metadata_chunks_are_refused() -> None:
    assert render(_with_chunks(*[bombs._chunk(b"tEXt", b"k\0v")] * 1000), Options(w=8), SETTINGS).width == 8
    assert refused(_with_chunks(*[bombs._chunk(b"tEXt", b"k\0v")] * 1001), w=8).status == 422


def test_a_tiff_declaring_a_tile_far_larger_than_the_image_is_refused() -> None:
    problem = refused(bombs.tiff_huge_tile(), w=10)
    assert problem.status == 415 and "tiles of 16384x16368 for a 16x16 image" in problem.detail
    header = probe(bombs.tiff_huge_tile(16, 16, (1024, 1024)))  # a tile of up to 1024x1024 is always fine
    assert limits.inspect(bombs.tiff_huge_tile(16, 16, (1024, 1024)), header, SETTINGS).scratch[1] >= 1024 * 1024 * 4


def test_jpeg_compressed_tiff_tiles_count_their_scans() -> None:
    data = _pil(Image.fromarray(photo(64, 48)), "TIFF", compression="jpeg")
    assert render(data, Options(w=32), SETTINGS).width == 32
    with pytest.raises(Problem) as caught:
        limits.inspect(data + b"\xff\xda" * 200, probe(data), SETTINGS)
    assert caught.value.status == 422


def test_decodings_say_what_the_decoder_returns() -> None:
    """The array's channels and sample size, as OpenCV's decoders really return them."""
    import cv2

    rgb = Image.fromarray(photo(40, 30))
    cases = [_pil(rgb.convert("P"), "PNG", transparency=0), _pil(rgb.convert("LA"), "PNG"),
             _pil(rgb, "PNG", transparency=(0, 0, 0)), _pil(rgb.convert("P"), "TIFF"),
             _pil(rgb.convert("CMYK"), "TIFF"),
             _pil(rgb.convert("P"), "GIF", transparency=0), _pil(rgb.convert("RGBA"), "WEBP", lossless=True),
             _pil(Image.fromarray(np.zeros((30, 40), np.float32)), "TIFF"), _pil(rgb.convert("CMYK"), "JPEG")]
    for data in cases:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        decoding = limits.inspect(data, probe(data), SETTINGS)
        assert decoding.bytes >= decoded.nbytes, (probe(data), decoded.shape, decoded.dtype, decoding)


def test_a_damaged_structure_is_a_415_not_a_500() -> None:
    data = bytearray(_pil(Image.new("RGB", (8, 8)), "TIFF"))
    struct.pack_into("<I", data, 4, 8)  # fine
    with pytest.raises(Problem) as caught:
        limits.inspect(bytes(data[:12]), probe(bytes(data)), SETTINGS)
    assert caught.value.status == 415
