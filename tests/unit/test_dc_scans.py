"""Progressive JPEGs decoded at 1/8 from their DC scans give exactly what the whole file gives."""

import io

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
    assert decode(data, header, shrink=4).shape == (300, 400, 3)
