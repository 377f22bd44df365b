"""Progressive JPEGs decoded at 1/8 from their DC scans give exactly what the whole file gives."""

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from imgserve.imaging import dc_scans
from imgserve.imaging.decode import decode
from imgserve.imaging.probe import probe
from tests.support.images import photo


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
    smaller = dc_scans.dc_only(data)
    assert smaller is not None and len(smaller) < len(data)
    assert np.array_equal(eighth(smaller), eighth(data))


def test_grayscale_and_restart_intervals() -> None:
    for data in (progressive(777, 555, mode="L"), progressive(777, 555, restart_marker_blocks=7),
                 progressive(777, 555, "4:4:4", restart_marker_rows=1)):
        smaller = dc_scans.dc_only(data)
        assert smaller is not None and len(smaller) < len(data) // 2
        assert np.array_equal(eighth(smaller), eighth(data))


def test_big_metadata_segments_and_fill_bytes_keep_the_fast_path() -> None:
    """Segment lengths are unsigned 16-bit (T.81 B.1.1.4): a 40 KB ICC profile, as real photos carry,
    must not read as negative. Any marker may be preceded by 0xFF fill bytes (B.1.1.2). Either misread
    only gives up the rewrite (the file is then decoded whole), so the assertion is that it is done."""
    data = progressive(640, 480, icc_profile=bytes(40_000))
    assert struct.unpack_from(">H", data, data.index(b"\xff\xe2") + 2)[0] > 32767
    quantisation = data.index(b"\xff\xdb")
    data = data[:quantisation] + b"\xff" + data[quantisation:]                # one fill byte
    assert eighth(data) is not None
    smaller = dc_scans.dc_only(data)
    assert smaller is not None and len(smaller) < len(data) - 20_000   # the profile stays, most AC goes
    assert np.array_equal(eighth(smaller), eighth(data))


def test_nothing_to_gain_or_nothing_understood_is_none() -> None:
    baseline = io.BytesIO()
    Image.new("RGB", (64, 64)).save(baseline, "JPEG")
    assert dc_scans.dc_only(baseline.getvalue()) is None
    data = progressive(300, 200)
    assert dc_scans.dc_only(data[: len(data) // 2]) is None      # truncated: no marker after a scan
    assert dc_scans.dc_only(b"\xff\xd8\xff\xd9") is None
    assert dc_scans.dc_only(b"\xff\xd8garbage") is None


def test_scans_it_keeps_are_left_as_they_were() -> None:
    """4:2:0 chroma is decoded 2x2 at 1/8, so its AC scans stay, byte for byte."""
    data = progressive(640, 480, "4:2:0")
    out = dc_scans.dc_only(data)
    scans = [b"\xff\xda" + scan.split(b"\xff\xc4")[0].split(b"\xff\xd9")[0] for scan in data.split(b"\xff\xda")[1:]]
    chroma_ac = [scan for scan in scans if scan[5] in (2, 3) and scan[7] > 0]  # one component, Ss > 0
    luma_ac = [scan for scan in scans if scan[5] == 1 and scan[4] == 1 and scan[7] > 0]
    assert chroma_ac and all(scan in out for scan in chroma_ac)
    assert luma_ac and not any(scan in out for scan in luma_ac)


def test_the_decoder_uses_it_only_for_progressive_eighths() -> None:
    data = progressive(1600, 1200, "4:2:2")
    header = probe(data)
    assert header.progressive
    assert np.array_equal(decode(data, header, shrink=8), eighth(data))
    for shrink, flag in ((4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2), (1, cv2.IMREAD_COLOR)):
        whole = cv2.imdecode(np.frombuffer(data, np.uint8), flag | cv2.IMREAD_IGNORE_ORIENTATION)
        assert np.array_equal(decode(data, header, shrink=shrink), whole)     # their IDCTs read the AC


def up(a: int, b: int) -> int:  # a / b, rounded up
    return -(-a // b)


def emptied_scans(data: bytes) -> dict[int, int]:
    """Reads the AC scans the rewrite wrote, by the JPEG spec (T.81 G.1.2.2, F.1.2.3, B.2.4.4) rather
    than by the rewriter's code: for each, the component and how many blocks its end-of-band runs
    cover. Fails on anything a strict decoder would warn about: a run that crosses a restart, a restart
    marker out of sequence or missing, padding that is not all ones, bytes left before a marker."""
    height, width = struct.unpack_from(">HH", data, data.index(b"\xff\xc2") + 5)
    count = data[data.index(b"\xff\xc2") + 9]
    sof = data.index(b"\xff\xc2") + 10
    sampling = {data[sof + 3 * i]: (data[sof + 3 * i + 1] >> 4, data[sof + 3 * i + 1] & 15) for i in range(count)}
    h_max, v_max = max(h for h, _ in sampling.values()), max(v for _, v in sampling.values())
    found, at = {}, 0
    while (at := data.find(b"\xff\xda\x00\x08\x01", at + 1)) >= 0:
        dri = data.rfind(b"\xff\xdd", 0, at)                # the restart interval in force for this scan
        interval = struct.unpack_from(">H", data, dri + 4)[0] if dri >= 0 else 0
        component, ss, se = data[at + 5], data[at + 7], data[at + 8]
        if (ss, se) != (1, 63) or data[at + 6] & 15 != 0 or data[at + 9] != 0:
            continue
        h, v = sampling[component]
        blocks = up(up(width * h, h_max), 8) * up(up(height * v, v_max), 8)
        stream, at = data[at + 10:], at + 10
        bits, position, covered, expected_restart = "", 0, 0, 0
        per_interval = interval or blocks
        while covered < blocks:
            in_interval = 0
            while in_interval < min(per_interval, blocks - covered):
                while len(bits) < 30 and not (stream[position] == 0xFF and stream[position + 1] != 0):
                    byte = stream[position]                          # up to the next marker: 0xFF 0x00 is
                    bits += f"{byte:08b}"                            # a stuffed 0xFF data byte
                    position += 2 if byte == 0xFF else 1
                r = int(bits[:4], 2)
                assert r < 15, "no such code in the end-of-band table"
                run = (1 << r) + (int(bits[4:4 + r], 2) if r else 0)
                bits = bits[4 + r:]
                in_interval += run
            assert in_interval == min(per_interval, blocks - covered), "a run crosses a restart or the end"
            assert set(bits[: len(bits) % 8]) <= {"1"}, "padding is not all ones"
            bits = bits[len(bits) % 8:]
            assert bits == "", "bytes left over before the marker"
            covered += in_interval
            if covered < blocks:
                assert stream[position:position + 2] == bytes([0xFF, 0xD0 + expected_restart % 8]), "restart"
                position += 2
                expected_restart += 1
        assert stream[position] == 0xFF and stream[position + 1] not in range(0xD0, 0xD8)
        found[component] = covered
    return found


def blocks_flat(channel: np.ndarray) -> bool:
    h, w = (s - s % 8 for s in channel.shape)
    tiles = channel[:h, :w].reshape(h // 8, 8, w // 8, 8).astype(int)
    return bool((tiles.max(axis=(1, 3)) == tiles.min(axis=(1, 3))).all())


@pytest.mark.parametrize("subsampling, options, size", [
    ("4:4:4", {}, (203, 101)), ("4:2:0", {}, (203, 101)), ("4:4:4", {"restart_marker_blocks": 7}, (203, 101)),
    ("4:2:0", {"restart_marker_rows": 1}, (203, 101)),
    ("4:2:0", {}, (2100, 1100)),   # 36 300 luma blocks: runs of 32 767, whose bits make 0xFF bytes to stuff
])
def test_the_emptied_scans_are_valid_and_say_every_ac_coefficient_is_zero(subsampling: str, options: dict,
                                                                         size: tuple[int, int]) -> None:
    """At 1/8 the emptied scans are never looked at, and libjpeg only warns about a broken one, so the
    comparison above cannot tell a correct scan from garbage. Here the scans are read by the spec
    (emptied_scans: every block covered, restarts in sequence, padding and stuffing right), and the
    file decoded at full size by another decoder (Pillow, in YCbCr, no colour conversion) must be flat
    in every 8x8 block of a component whose AC scans were replaced: all 63 AC coefficients zero."""
    data = progressive(*size, subsampling=subsampling, **options)
    rewritten = dc_scans.dc_only(data)
    assert rewritten is not None
    image = Image.open(io.BytesIO(rewritten))
    image.draft("YCbCr", image.size)
    ycbcr = np.asarray(image.convert("YCbCr") if image.mode != "YCbCr" else image)
    assert image.mode == "YCbCr" and ycbcr.shape == (size[1], size[0], 3)
    assert blocks_flat(ycbcr[:, :, 0])                      # luma is decoded 1x1 at 1/8: its AC went
    assert set(emptied_scans(rewritten)) == ({1, 2, 3} if subsampling == "4:4:4" else {1})
    assert blocks_flat(ycbcr[:, :, 1]) == (subsampling == "4:4:4")   # 4:2:0 chroma keeps its AC
