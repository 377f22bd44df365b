"""Every source format decoded at the size the output needs, as faithful as a full decode + area resize.

The originals are made from a real photo (tests/support/originals.py) in every layout the decoders
take or hand on to OpenCV. The reference is OpenCV's own full decode, resized in float (premultiplied
where there is alpha): each fast path must stay within 35 dB PSNR of it, as seen over white.
"""

from __future__ import annotations

import io
import tracemalloc

import cv2
import numpy as np
import pytest

from imgserve.errors import Problem
from imgserve.imaging import decode, geometry, ops, shrink, tiff, webp
from imgserve.imaging.pipeline import render
from imgserve.imaging.probe import probe
from imgserve.options import Options
from imgserve.settings import Settings
from tests.support.images import BLUE, GREEN, RED, WHITE, close, color_at, quadrants
from tests.support.originals import ORIGINALS, original, psnr, reference


def pixels(data: bytes, options: Options) -> tuple[np.ndarray, np.ndarray, geometry.Plan]:
    """(what decode gave, the resized result) as the pipeline plans and runs them."""
    header = probe(data)
    plan = geometry.plan(*header.display_size, options, 8192, shrinkable=header.format == "jpeg")
    decoded = decode.decode(data, header, shrink=plan.shrink, least=plan.least)
    return decoded, ops.resize(ops.crop(decoded, _scaled(plan.crop, decoded, header.display_size)), plan.resize), plan


def _scaled(box, image, full):
    from imgserve.imaging.pipeline import _on_decoded

    return _on_decoded(box, image, full)


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_each_layout_is_reduced_while_decoding_and_stays_faithful(name: str) -> None:
    data = original(name)
    decoded, small, plan = pixels(data, Options(w=80))
    assert small.shape[:2] == (45, 80)
    if ORIGINALS[name][1]:  # taken by a reducer: never held at full size by decode
        assert decoded.shape[1::-1] == plan.least == (80, 45)
    else:
        assert decoded.shape[1::-1] == (640, 360)
    assert psnr(small, reference(data, (80, 45))) >= 35, name


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_each_layout_renders_reduced_in_its_default_output_format(name: str) -> None:
    """The whole render: a reduced decode reaches the encoder as the small image it is (a palette BMP's
    full-size indices were once handed to the PNG writer with it)."""
    data = original(name)
    rendered = render(data, Options(w=80, format="png"), Settings())
    out = cv2.imdecode(np.frombuffer(rendered.body, np.uint8), cv2.IMREAD_UNCHANGED)
    assert out.shape[:2] == (45, 80)
    assert psnr(out, reference(data, (80, 45))) >= 35, name


@pytest.mark.parametrize("name", ["png-rgba8", "webp-lossless-alpha", "webp-lossy", "tiff-lzw", "tiff-pyramid", "gif",
                                  "bmp-8", "bmp-24"])
def test_a_crop_after_the_reduction_stays_faithful(name: str) -> None:
    """cover cuts the source: decoders stop at 4x the output's scale, so rounding the cut to their pixel
    grid moves its edges by an eighth of an output pixel at most."""
    data = original(name)
    decoded, small, plan = pixels(data, Options(w=40, h=40, fit="cover"))
    assert plan.crop is not None and decoded.shape[1] < 640
    x, y, w, h = plan.crop
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    _, expected = cv2.imencode(".png", full[y:y + h, x:x + w])
    assert small.shape[:2] == (40, 40)
    assert psnr(small, reference(expected.tobytes(), (40, 40))) >= 35


def test_alpha_is_averaged_premultiplied_in_every_reducer() -> None:
    """The originals hide green under their transparent pixels: none of it may reach the edges."""
    for name in ("png-rgba8", "png-rgba16", "webp-lossless-alpha", "webp-lossy-alpha", "tiff-none-rgba",
                 "bmp-32-alpha", "gif-transparent"):
        _, small, _ = pixels(original(name), Options(w=80))
        small = small if small.dtype == np.uint8 else np.rint(small / 257).astype(np.uint8)
        visible = small[:, :, 3] > 8
        colour = small[:, :, :3].astype(float)
        greenish = colour[:, :, 1] - np.maximum(colour[:, :, 0], colour[:, :, 2])
        assert greenish[visible].max() < 100, name  # the photo's own greens stay well below pure green


def test_tiff_alpha_stays_straight() -> None:
    """OpenCV returns RGBA TIFFs premultiplied (semi-transparent pixels darkened); the TIFF reducer not."""
    from tests.support.originals import photo, with_alpha

    data = original("tiff-none-rgba")
    ours = decode.decode(data, probe(data))
    source = with_alpha(photo())
    partial = (source[:, :, 3] > 0) & (source[:, :, 3] < 255)
    assert np.abs(ours[partial].astype(int) - source[partial]).max() == 0


@pytest.mark.parametrize("layout", [
    {"compression": "lzw", "predictor": True, "rowsperstrip": 16},
    {"compression": "zlib", "rowsperstrip": 5, "byteorder": ">"},
    {"compression": "zlib", "tile": (32, 48)},
])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("gray", [False, True])
def test_compressed_tiffs_are_reduced_a_band_at_a_time(layout: dict, depth: int, gray: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A thumbnail of a compressed TIFF never holds it at full size (a 5640x3172 16-bit one is 107 MB):
    each band of strips or tiles is averaged down as soon as libtiff has decoded it. Odd sizes, strips
    and tiles that do not divide the image, either byte order: the pixels are the ones a full decode
    reduced by shrink.py gives."""
    from tests.support.originals import _tiff, deep, photo

    image = cv2.resize(photo(), (2566, 1438), interpolation=cv2.INTER_CUBIC)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if gray else image
    image = deep(image) if depth == 16 else image
    data = _tiff(image, **layout)
    header = probe(data)
    tracemalloc.start()
    decoded = decode.decode(data, header, least=(80, 45))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < image.nbytes / 2  # a quarter-size result and a band or two (a full decode: image.nbytes)
    assert decoded.dtype == image.dtype and decoded.shape[1::-1] == (80, 45)
    assert psnr(decoded, reference(data, (80, 45))) >= 35
    monkeypatch.setattr(tiff, "BAND_ROWS", header.height)  # one band would be the whole image: decoded whole
    assert np.array_equal(decoded, decode.decode(data, header, least=(80, 45)))


def test_a_last_band_shorter_than_a_block_leaves_no_row_unwritten(monkeypatch: pytest.MonkeyPatch) -> None:
    """1027 rows at 1/8: the last band is 3 rows, fewer than a block, and is dropped; every row of the
    result still comes from a band (the result array starts uninitialised)."""
    from tests.support.originals import _tiff, photo

    image = cv2.resize(photo(), (1283, 1027), interpolation=cv2.INTER_CUBIC)
    data = _tiff(image, compression="lzw", predictor=True, rowsperstrip=16)
    header = probe(data)
    class Marked:  # numpy for tiff.py, but its empty arrays hold a marker
        def __getattr__(self, name):
            return getattr(np, name)

        def empty(self, shape, dtype):
            return np.full(shape, 77, dtype)

    monkeypatch.setattr(tiff, "np", Marked())
    banded, rgb = tiff.reduced(data, (80, 64))
    monkeypatch.undo()
    banded = cv2.cvtColor(banded, cv2.COLOR_RGB2BGR) if rgb else banded
    assert banded.shape[:2] == (1027 // 8, 1283 // 8)
    assert not (banded == 77).all(axis=(1, 2)).any()  # no row left as it was made
    monkeypatch.setattr(tiff, "BAND_ROWS", header.height)
    whole = shrink.shrink(decode.decode(data, header), banded.shape[1::-1])  # not quite the same blocks: close
    assert psnr(banded, whole) >= 40


def _png16(image: np.ndarray, idat_sizes: tuple[int, ...]) -> bytes:
    """A 16-bit gray, RGB or RGBA PNG written here, not by a library: row y filtered with type y % 5
    (None, Sub, Up, Average, Paeth: every kind of dependence on the row above and the pixel to the
    left), deflated, and cut into IDAT chunks of `idat_sizes` bytes (the last one repeating)."""
    import struct
    import zlib

    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    rgb = image if channels == 1 else image[:, :, [2, 1, 0, 3][:channels]]
    x = np.ascontiguousarray(rgb).astype(">u2").view(np.uint8).reshape(height, -1).astype(np.int32)
    bpp = 2 * channels
    a = np.pad(x, ((0, 0), (bpp, 0)))[:, :-bpp]
    b = np.pad(x, ((1, 0), (0, 0)))[:-1]
    c = np.pad(b, ((0, 0), (bpp, 0)))[:, :-bpp]
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    predictions = [np.zeros_like(x), a, b, (a + b) // 2, paeth]
    kinds = np.arange(height) % 5
    filtered = np.choose(kinds[:, None], predictions)
    rows = np.hstack([kinds[:, None], (x - filtered) % 256]).astype(np.uint8)
    stream = zlib.compress(rows.tobytes(), 1)
    chunks, at, sizes = [], 0, list(idat_sizes)
    while at < len(stream):
        size = sizes.pop(0) if len(sizes) > 1 else sizes[0]
        chunks.append(stream[at:at + size])
        at += size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, {1: 0, 3: 2, 4: 6}[channels], 0, 0, 0)
    return b"".join([b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header), *[chunk(b"IDAT", part) for part in chunks],
                     chunk(b"IEND", b"")])


@pytest.mark.parametrize("eight", [False, True])
@pytest.mark.parametrize(("channels", "idat_sizes"), [(1, (1 << 30,)), (3, (8192,)), (4, (3, 1000, 7777))])
def test_sixteen_bit_pngs_are_reduced_a_band_at_a_time(channels: int, idat_sizes: tuple[int, ...], eight: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A thumbnail of a 16-bit gray, RGB or RGBA PNG never holds it at full size (a 5120x2880 RGB
    photo is 88 MB of pixels): each band of rows is inflated, unfiltered and averaged down on its own
    (alpha premultiplied; in 8 bits when the output keeps 8). Every filter type, odd sizes, IDAT
    chunks that split rows and the zlib stream anywhere: the pixels are exactly those of the image
    the PNG was written from, put through the same steps whole. (32-row bands: 1027 rows end with a
    band of 3, less than a box of 8, dropped as the halvings drop it.)"""
    from imgserve.imaging import png
    from tests.support.originals import deep, photo, with_alpha

    monkeypatch.setattr(png, "BAND_ROWS", 32)
    image = {1: cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY), 3: photo(), 4: with_alpha(photo())}[channels]
    image = deep(cv2.resize(image, (1283, 1027), interpolation=cv2.INTER_CUBIC))
    data = _png16(image, idat_sizes)
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), image)  # as written
    tracemalloc.start()
    decoded = decode.decode(data, probe(data), least=(80, 64), eight=eight)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < image.nbytes / 2  # a band or two and the result (a full decode: image.nbytes)
    whole = cv2.convertScaleAbs(image, alpha=1 / 257) if eight else image
    averaged = np.float32 if channels == 4 and not eight else whole.dtype  # 16-bit alpha: float, premultiplied
    boxes = np.empty((1027 // 8, 1283 // 8, *image.shape[2:]), averaged)
    shrink.boxes_into(whole, 8, boxes, premultiply=channels == 4)  # 8: the largest 2**k keeping 2x least
    boxes = shrink.unpremultiply(boxes, whole.dtype) if channels == 4 else boxes
    assert decoded.dtype == whole.dtype and np.array_equal(decoded, shrink.shrink(boxes, (80, 64)))
    assert psnr(decoded, reference(data, (80, 64))) >= 35  # the bar for every reduced decode


def test_damaged_sixteen_bit_pngs_are_a_415_or_an_image_as_opencv_decides() -> None:
    """Bytes changed anywhere or the file cut short: each band is a PNG built from what the damaged
    file says, so libpng, zlib-ng or OpenCV must refuse it (a 415), never raise anything else; and a
    file OpenCV refuses whole (a wrong CRC, a wrong zlib checksum) is never served banded."""
    import random
    import struct
    import zlib

    from tests.support.originals import deep, photo, with_alpha

    rng = random.Random(21)
    layouts = [_png16(deep(photo()), (5000,)), _png16(deep(with_alpha(photo())), (20000,)),
               _png16(deep(cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY)), (1 << 30,))]
    settings = Settings()
    for _ in range(200):
        data = bytearray(rng.choice(layouts))
        for _ in range(rng.choice([1, 2, 4])):
            data[rng.randrange(33, len(data))] = rng.randrange(256)
        data = bytes(data[:rng.randrange(40, len(data))] if rng.random() < 0.2 else data)
        whole = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        try:
            render(data, Options(w=40, format="png"), settings)
        except Problem as problem:
            assert problem.status in (415, 422), problem.detail
        else:
            assert whole is not None
    data = layouts[2]  # one IDAT: its CRC just before IEND's 12 bytes, the zlib checksum just before that
    wrong_crc = data[:-16] + bytes([data[-16] ^ 1]) + data[-15:]
    wrong_adler = bytearray(data)
    wrong_adler[-20] ^= 1
    wrong_adler[-16:-12] = struct.pack(">I", zlib.crc32(bytes(wrong_adler[data.index(b"IDAT"):-16])))
    for broken in (wrong_crc, bytes(wrong_adler)):
        assert cv2.imdecode(np.frombuffer(broken, np.uint8), cv2.IMREAD_UNCHANGED) is None
        with pytest.raises(Problem) as refused:
            render(broken, Options(w=40, format="png"), settings)
        assert refused.value.status == 415


def test_damaged_tiffs_read_a_band_at_a_time_are_a_4xx_or_an_image() -> None:
    """Bytes changed in the directory, the strip or tile tables or the compressed data, or the file cut
    short: each band's file is built from what the damaged directory says, and libtiff or OpenCV must
    refuse it (a 415 or 422), never raise anything else. (8000 such files: none did.)"""
    import random

    from tests.support.originals import _tiff, deep, photo

    image = cv2.resize(photo(), (320, 600), interpolation=cv2.INTER_AREA)
    layouts = [_tiff(image, compression="lzw", predictor=True, rowsperstrip=8),
               _tiff(deep(image), compression="zlib", rowsperstrip=5, byteorder=">"),
               _tiff(image, compression="zlib", tile=(32, 48))]
    rng = random.Random(20)
    settings = Settings()
    for _ in range(300):
        data = bytearray(rng.choice(layouts))
        for _ in range(rng.choice([1, 2, 4, 8])):
            data[min(len(data) - 1, rng.randrange(8, 400) if rng.random() < 0.5 else rng.randrange(len(data)))] = \
                rng.randrange(256)
        data = data[:rng.randrange(len(data))] if rng.random() < 0.2 else data
        try:
            render(bytes(data), Options(w=40, format="png"), settings)
        except Problem as problem:
            assert problem.status in (415, 422), problem.detail


@pytest.mark.parametrize("name", sorted(ORIGINALS))
def test_a_render_lets_go_of_the_source_bytes(name: str) -> None:
    """Nothing a decoder leaves behind may refer to the source's bytes: objects that refer to each other
    live until Python's cyclic collector runs, and a server rendering large TIFFs grew to 1.4 GB on
    sources kept alive that way by tifffile's. So this counts references with the collector off."""
    import gc
    import sys

    data = original(name)
    gc.collect()
    gc.disable()
    try:
        before = sys.getrefcount(data)
        render(data, Options(w=80, format="png"), Settings())
        render(data, Options(w=640, format="webp"), Settings())
        assert sys.getrefcount(data) == before
    finally:
        gc.enable()


def test_png_layouts_libspng_takes_come_out_exactly_as_opencv_decodes_them() -> None:
    for name in ("png-rgb8", "png-rgba8", "png-gray8", "png-palette", "png-rgba16"):
        data = original(name)
        ours = decode.decode(data, probe(data))
        theirs = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name


def test_webp_without_libwebp_falls_back_to_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    data = original("webp-lossy")
    monkeypatch.setattr(webp, "LIBRARY", None)
    decoded, small, _ = pixels(data, Options(w=80))
    assert decoded.shape[:2] == (360, 640)  # OpenCV's full decode
    assert psnr(small, reference(data, (80, 45))) >= 35


def test_libwebp_is_found() -> None:
    """Debian's libwebp7 or the copy inside imagecodecs: without it WebP thumbnails are the slow path."""
    assert webp.LIBRARY is not None


def test_the_libwebp_inside_imagecodecs_serves_when_the_system_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = [path for path in webp._candidates() if "imagecodecs.libs" in path]
    assert bundled, "imagecodecs ships no libwebp: a machine without Debian's libwebp7 would use OpenCV"
    monkeypatch.setattr(webp, "_candidates", lambda: ["libwebp-that-is-not-there.so", *bundled])
    monkeypatch.setattr(webp, "LIBRARY", webp._load())
    data = original("webp-lossless-alpha")
    decoded, small, _ = pixels(data, Options(w=80))
    assert webp.LIBRARY is not None and decoded.shape[:2] == (45, 80)
    assert psnr(small, reference(data, (80, 45))) >= 35


@pytest.mark.parametrize("orientation, shape", [(3, (45, 80)), (6, (80, 45)), (8, (80, 45))])
def test_tiff_orientation_is_applied_once_to_the_reduced_image(orientation: int, shape: tuple) -> None:
    import tifffile

    out = io.BytesIO()
    tifffile.imwrite(out, cv2.cvtColor(quadrants(640, 360), cv2.COLOR_BGR2RGB), photometric="rgb",
                     extratags=[(274, 3, 1, orientation, True)])
    data = out.getvalue()
    decoded, small, _ = pixels(data, Options(w=shape[1]))
    assert small.shape[:2] == shape and decoded.shape[:2] == shape
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # OpenCV applies tag 274
    expected = cv2.resize(full, shape[::-1], interpolation=cv2.INTER_AREA)
    for x, y in ((0.2, 0.2), (0.8, 0.2), (0.2, 0.8), (0.8, 0.8)):
        assert close(color_at(small, x, y), color_at(expected, x, y)), (orientation, x, y)


@pytest.mark.parametrize("top_down", [False, True])
def test_bmp_rows_come_out_the_right_way_up(top_down: bool) -> None:
    from tests.support.originals import _top_down

    data = cv2.imencode(".bmp", quadrants(640, 360))[1].tobytes()
    data = _top_down(data) if top_down else data
    _, small, _ = pixels(data, Options(w=80))
    assert close(color_at(small, 0.2, 0.2), RED) and close(color_at(small, 0.8, 0.2), GREEN)
    assert close(color_at(small, 0.2, 0.8), BLUE) and close(color_at(small, 0.8, 0.8), WHITE)


def test_shrink_never_holds_a_premultiplied_copy_of_the_whole_source() -> None:
    image = np.random.default_rng(1).integers(0, 256, (2000, 3000, 4), dtype=np.uint8)
    image[:, :, 3] = 200
    tracemalloc.start()
    small = shrink.shrink(image, (300, 200))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert small.shape == (200, 300, 4)
    assert peak < image.nbytes * 0.4  # the half-size first step (a quarter) and bands of a few MB


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shrink_matches_area_averaging_at_every_depth(dtype, channels: int) -> None:
    from tests.support.originals import photo, with_alpha

    base = {1: cv2.cvtColor(photo(), cv2.COLOR_BGR2GRAY), 3: photo(), 4: with_alpha(photo())}[channels]
    image = base.astype(np.float32) * {np.uint8: 1, np.uint16: 257, np.float32: 1 / 255}[dtype]
    image = image.astype(dtype)
    got = shrink.shrink(image, (83, 47))  # 7.7x: two halvings, then a non-integer area step
    assert got.dtype == image.dtype and got.shape[:2] == (47, 83)
    as8 = (got.astype(np.float64) * {np.uint8: 1, np.uint16: 1 / 257, np.float32: 255}[dtype])
    as8 = np.clip(np.rint(as8), 0, 255).astype(np.uint8)
    assert psnr(as8, reference(cv2.imencode(".png", base)[1].tobytes(), (83, 47))) >= 40


def test_whole_renders_of_every_format_stay_faithful_at_the_output() -> None:
    """Through render() and a lossless output, decoded back: what a client gets."""
    settings = Settings.load({}, root=".")
    for name in ("png-rgb8", "webp-lossy", "tiff-lzw", "gif", "bmp-8"):
        data = original(name)
        body = render(data, Options(w=80, format="png"), settings).body
        got = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
        assert got.shape[:2] == (45, 80) and psnr(got, reference(data, (80, 45))) >= 35, name


@pytest.mark.parametrize("name", ["png-rgb8", "webp-lossy", "tiff-lzw", "tiff-jpeg-strips", "gif", "bmp-8"])
def test_damaged_originals_are_415_never_an_exception(name: str) -> None:
    data = original(name)
    header = probe(data)
    for cut in (len(data) // 3, len(data) - 5):
        broken = data[:cut] + bytes(reversed(data[cut:]))
        try:
            image = decode.decode(broken, header, least=(80, 45))
        except Problem as problem:
            assert problem.status == 415
        else:
            assert image.size > 0


@pytest.mark.parametrize("name", ["png-rgba16", "png-rgb16", "tiff-rgb16"])
def test_sixteen_bit_sources_come_out_in_eight_bits_only_for_eight_bit_outputs(name: str) -> None:
    data = original(name)
    header = probe(data)
    deep = decode.decode(data, header, least=(80, 45))
    assert deep.dtype == np.uint16  # a PNG or TIFF output keeps them
    shallow = decode.decode(data, header, least=(80, 45), eight=True)
    assert shallow.dtype == np.uint8
    assert psnr(ops.resize(shallow, (80, 45)), reference(data, (80, 45))) >= 40
    settings = Settings.load({}, root=".")
    assert cv2.imdecode(np.frombuffer(render(data, Options(w=80, format="png"), settings).body, np.uint8),
                        cv2.IMREAD_UNCHANGED).dtype == np.uint16


@pytest.mark.parametrize("name", ["png-rgb8", "webp-lossy", "tiff-pyramid", "tiff-jpeg-strips", "gif", "bmp-24"])
def test_a_rotation_after_a_reduced_decode_lands_on_the_right_size(name: str) -> None:
    """w applies after rotate=90: the decoders are asked for the source's size turned back."""
    data = original(name)
    body = render(data, Options(w=45, rotate=90, format="png"), Settings.load({}, root=".")).body
    got = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    expected = cv2.rotate(reference(data, (80, 45)), cv2.ROTATE_90_CLOCKWISE)
    assert got.shape[:2] == (80, 45) and psnr(got, expected) >= 35
