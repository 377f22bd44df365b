"""Every parser of untrusted bytes returns its answer or raises the one error type, on any input.

Fuzzed with the structure-aware strategies of tests/support/structured.py: TIFF directories, JPEG
segments, PNG chunks, RIFF chunks, GIF blocks and BMP headers written field by field with the values
parsers get wrong. IMGSERVE_FUZZ_EXAMPLES sets the examples per test (bench/attacks.py --fuzz runs a
long session and prints the counts).
"""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgserve import formats
from imgserve.errors import Problem
from imgserve.imaging import dc_scans, limits, probe
from imgserve.settings import Settings
from tests.support import structured

EXAMPLES = int(os.environ.get("IMGSERVE_FUZZ_EXAMPLES", "200"))
SETTINGS = Settings()
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


def valid(header: probe.Header) -> bool:
    return (header.format in formats.FORMATS and 1 <= header.width < 1 << 31 and 1 <= header.height < 1 << 31
            and header.channels in (1, 2, 3, 4) and header.bit_depth in (1, 2, 4, 8, 12, 14, 16, 24, 32, 64)
            and 1 <= header.orientation <= 8)


def probed(data: bytes) -> probe.Header | None:
    """probe's answer: a Header in range, or None for its 415. Anything else fails the test."""
    try:
        header = probe.probe(data)
    except Problem as problem:
        assert problem.status == 415, problem
        return None
    assert valid(header), header
    return header


@pytest.mark.parametrize("kind", structured.FORMATS)
def test_each_header_reader_returns_a_header_or_raises_value_error_and_probe_and_inspect_a_4xx(kind: str) -> None:
    @FUZZ
    @given(data=structured.FORMATS[kind]())
    def check(data: bytes) -> None:
        try:
            probe.READERS[kind](data)
        except ValueError:
            pass
        header = probed(data)
        if header is not None:  # and what the decoder would do: the structure walked past the header
            for shrink in (1, 8):
                try:
                    decoding = limits.inspect(data, header, SETTINGS, shrink)
                except Problem as problem:
                    assert problem.status in (415, 422), problem
                    continue
                assert decoding.bytes > 0 and min(decoding.scratch) >= 0 and decoding.channels in (1, 3, 4)

    check()


@FUZZ
@given(data=structured.tiff())
def test_exif_orientation_is_always_1_to_8(data: bytes) -> None:
    assert 1 <= probe.exif_orientation(data) <= 8


@FUZZ
@given(data=st.one_of(st.binary(max_size=40), structured.any_image()))
def test_sniffing_names_a_format_or_none(data: bytes) -> None:
    assert formats.sniff(data) in (None, *formats.FORMATS)


@FUZZ
@given(data=st.one_of(structured.jpeg(), structured.damaged(structured.progressive_jpeg())))
def test_dc_only_rewrite_returns_bytes_or_none(data: bytes) -> None:
    result = dc_scans.dc_only(data)
    assert result is None or (isinstance(result, bytes) and len(result) < len(data))


# The attacks of issue #19, row B1: each was a 500 (OverflowError, KeyError 0).

def _bigtiff(ifd: int) -> bytes:
    return b"II+\0" + struct.pack("<HHQ", 8, 0, ifd) + bytes(32)


def _tiff(entries: dict[int, int]) -> bytes:
    body = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", tag, 4, 1, value)
                                                      for tag, value in sorted(entries.items()))
    return b"II*\0" + struct.pack("<I", 8) + body + b"\0\0\0\0" + bytes(64)


def _jpeg_with_exif(exif: bytes) -> bytes:
    app1 = b"Exif\0\0" + exif
    sof = struct.pack(">BHHB", 8, 10, 20, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return (b"\xff\xd8\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 +
            b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9")


@pytest.mark.parametrize("data", [_bigtiff(1 << 63), _bigtiff((1 << 64) - 1), _bigtiff(1 << 40)],
                         ids=["ifd-2**63", "ifd-2**64-1", "ifd-2**40"])
def test_bigtiff_with_an_offset_past_any_file_is_a_415(data: bytes) -> None:
    assert probed(data) is None


def test_jpeg_whose_exif_is_bigtiff_with_a_huge_offset_keeps_orientation_1() -> None:
    header = probed(_jpeg_with_exif(_bigtiff(1 << 63)))
    assert header is not None and (header.width, header.height, header.orientation) == (20, 10, 1)


def test_tiff_with_zero_samples_per_pixel_is_a_415() -> None:
    assert probed(_tiff({256: 4, 257: 4, 258: 8, 277: 0})) is None
    assert probed(_tiff({256: 4, 257: 4, 258: 8, 277: 3})) is not None


def test_progressive_jpeg_with_a_zero_sampling_factor_is_decoded_whole_or_refused() -> None:
    """dc_scans divided by it (a ZeroDivisionError, so a 500 for any 1/8 thumbnail of such a file)."""
    data = bytearray(structured.progressive_jpeg())
    sof = data.index(b"\xff\xc2")
    data[sof + 11] = 0x01  # the first component's sampling: h=0, v=1
    assert dc_scans.dc_only(bytes(data)) is None


def test_png_palette_with_16_bits_is_a_415() -> None:
    ihdr = struct.pack(">IIBBBBB", 4, 4, 16, 3, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    assert probed(data) is None


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=structured.any_image(), w=st.sampled_from([None, 16, 300]))
def test_structured_files_render_or_get_a_4xx(data: bytes, w: int | None) -> None:
    """The whole render (decoders included) on the same structure-aware files, small enough to be quick."""
    from imgserve.imaging.pipeline import render
    from imgserve.options import Options

    try:
        rendered = render(data, Options(w=w), Settings(max_pixels=4_000_000))
    except Problem as problem:
        assert 400 <= problem.status < 500, problem
        return
    assert rendered.body and rendered.width >= 1
