"""Animated sources: every frame resized and filtered, timing and loop count kept, one frame on request,
a frames x pixels budget. Outputs are read back with Pillow (an independent decoder) frame by frame."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageSequence

from imgserve.errors import Problem
from imgserve.imaging import animation
from imgserve.imaging.pipeline import render
from imgserve.options import Options

W, H = 120, 80
DURATIONS = [100, 200, 300, 400, 500, 600]
COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40), (40, 200, 200), (200, 40, 200)]  # RGB


def frames_rgba(count: int = 6, hole: bool = False) -> list[np.ndarray]:
    """Flat colour per frame, a white square moving right; with `hole`, a transparent square in every frame."""
    out = []
    for i in range(count):
        frame = np.zeros((H, W, 4), np.uint8)
        frame[:, :, :3], frame[:, :, 3] = COLOURS[i % len(COLOURS)], 255
        frame[10:30, 10 + 15 * i:30 + 15 * i, :3] = 255
        if hole:
            frame[50:70, 50:70, 3] = 0
        out.append(frame)
    return out


def animated(format: str, count: int = 6, loops: int | None = 3, hole: bool = False, **options) -> bytes:
    """An animation written by Pillow (GIF, PNG as APNG, WebP, AVIF); `loops` as Pillow's `loop`."""
    images = [Image.fromarray(f, "RGBA") for f in frames_rgba(count, hole)]
    extra = {"loop": loops} if loops is not None else {}
    if format == "WEBP":
        options.setdefault("lossless", True)
    if format == "GIF":
        options.setdefault("disposal", 2 if hole else 1)
    out = io.BytesIO()
    images[0].save(out, format, save_all=True, append_images=images[1:], duration=DURATIONS[:count], **extra,
                   **options)
    return out.getvalue()


def read_back(data: bytes) -> tuple[list[np.ndarray], list[int], int | None]:
    """Frames as RGBA arrays, durations and Pillow's loop value, read by Pillow."""
    with Image.open(io.BytesIO(data)) as opened:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(opened):
            frames.append(np.asarray(frame.convert("RGBA")).copy())
            durations.append(frame.info.get("duration"))
        return frames, durations, opened.info.get("loop")


class Limits:
    max_pixels = 10**8
    max_dimension = 8192
    max_animation_pixels = 10**8


def run(data: bytes, limits=Limits(), **options):
    return render(data, Options(**options), limits)


@pytest.mark.parametrize("source, format, plays", [
    (lambda: animated("GIF", loops=2), "gif", 3),  # NETSCAPE stores repeats after the first play
    (lambda: animated("GIF", loops=0), "gif", 0),
    (lambda: animated("GIF", loops=None), "gif", 1),
    (lambda: animated("WEBP", loops=3), "webp", 3),
    (lambda: animated("PNG", loops=3), "png", 3),
    (lambda: animated("AVIF", loops=3, quality=90), "avif", 0),  # AVIF's loop count is not kept: forever
])
def test_timeline_from_the_headers(source, format: str, plays: int) -> None:
    found = animation.timeline(source(), format)
    assert found.frames == 6 and list(found.durations) == DURATIONS and found.loops == plays
    assert found.duration_ms == sum(DURATIONS)
    assert found.canvas in ((0, 0), (W, H))  # GIF and AVIF measure their frames; none reaches past W x H


@pytest.mark.parametrize("data, format", [
    (cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "png"),
    (cv2.imencode(".webp", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "webp"),
    (cv2.imencode(".avif", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "avif"),
    (cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "jpeg"),
], ids=["png", "webp", "avif", "jpeg"])
def test_stills_are_stills(data: bytes, format: str) -> None:
    assert animation.timeline(data, format) == animation.STILL


@pytest.mark.parametrize("source", ["GIF", "WEBP", "PNG", "AVIF"])
@pytest.mark.parametrize("output", ["gif", "webp", "png", "avif"])
def test_every_frame_is_resized_and_timing_kept(source: str, output: str) -> None:
    data = animated(source, loops=3, **({"quality": 95} if source == "AVIF" else {}))
    result = run(data, w=60, format=output, flip="h")
    assert (result.format, result.width, result.height) == (output, 60, 40)
    frames, durations, _ = read_back(result.body)
    assert len(frames) == 6
    assert durations == DURATIONS
    plays = 0 if "AVIF" in (source, output.upper()) else 4 if source == "GIF" else 3  # Pillow's GIF loop=3: 4 plays
    assert animation.timeline(result.body, output).loops == plays
    for i, frame in enumerate(frames):
        expected = cv2.resize(cv2.flip(frames_rgba()[i], 1), (60, 40), interpolation=cv2.INTER_AREA)
        assert frame.shape == (40, 60, 4)
        assert cv2.PSNR(np.ascontiguousarray(frame[:, :, :3]), np.ascontiguousarray(expected[:, :, :3])) > 28, i


@pytest.mark.parametrize("output", ["gif", "webp", "png"])
def test_transparency_survives(output: str) -> None:
    result = run(animated("WEBP", hole=True), w=60, format=output)
    frames, _, _ = read_back(result.body)
    for frame in frames:
        assert frame[30, 30, 3] == 0 and frame[5, 5, 3] == 255  # the hole (50..70 at full size) and outside


def test_filters_apply_to_every_frame() -> None:
    frames, _, _ = read_back(run(animated("GIF"), w=60, format="webp", grayscale=True).body)
    for frame in frames:
        assert np.abs(frame[:, :, 0].astype(int) - frame[:, :, 2]).max() <= 2  # gray everywhere


@pytest.mark.parametrize("output", ["jpeg", "bmp", "tiff"])
def test_still_outputs_take_the_first_frame(output: str) -> None:
    result = run(animated("GIF"), format=output)
    image = cv2.imdecode(np.frombuffer(result.body, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(image[60, 100].astype(int) - COLOURS[0][::-1]).max() <= 12


@pytest.mark.parametrize("source", ["GIF", "WEBP", "PNG"])
def test_frame_takes_one_frame(source: str) -> None:
    data = animated(source)
    for n in (0, 3, 5):
        result = run(data, frame=n, format="png")
        image = cv2.imdecode(np.frombuffer(result.body, np.uint8), cv2.IMREAD_UNCHANGED)
        assert animation.timeline(result.body, "png") == animation.STILL
        assert np.abs(image[60, 100, :3].astype(int) - COLOURS[n][::-1]).max() <= 12, n
        assert (image[20, 15 + 15 * n, :3] > 240).all()  # the square is where frame n has it
    result = run(data, frame=2)  # the source's format, a single frame
    assert animation.timeline(result.body, result.format) == animation.STILL


def test_frame_past_the_end_is_a_400_naming_it() -> None:
    with pytest.raises(Problem) as raised:
        run(animated("GIF"), frame=6)
    assert raised.value.status == 400 and raised.value.extra["option"] == "frame" and "6 frames" in raised.value.detail
    with pytest.raises(Problem) as raised:
        run(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), frame=1)
    assert raised.value.status == 400 and "1 frame," in raised.value.detail
    assert run(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), frame=0).width == 8


def test_the_frames_budget_holds_before_decoding() -> None:
    class Tight(Limits):
        max_animation_pixels = 5 * W * H  # five of the six frames

    data = animated("GIF")
    with pytest.raises(Problem) as raised:
        run(data, Tight())
    assert raised.value.status == 422 and "6 frames" in raised.value.detail
    assert run(data, Tight(), frame=4).width == W          # frames 0..4 are decoded: within the budget
    assert run(data, Tight(), format="jpeg").width == W    # a still output needs frame 0 only
    with pytest.raises(Problem):
        run(data, Tight(), frame=5)


def test_a_truncated_gif_keeps_its_whole_frames() -> None:
    """OpenCV fails a truncated animated GIF outright; the frames that decoded whole are kept."""
    data = animated("GIF", count=6)
    ends = [data.find(b"\x21\xf9\x04", 20 + i) for i in range(len(data))]
    fourth = sorted({e for e in ends if e > 0})[3]  # the graphic control block before frame 3
    result = run(data[:fourth + 40], format="gif", w=60)
    frames, durations, _ = read_back(result.body)
    assert 3 <= len(frames) <= 4 and durations[:3] == DURATIONS[:3]
    with pytest.raises(Problem) as raised:
        run(data[:60], format="gif")
    assert raised.value.status == 415


def test_gif_output_quantises_faithfully() -> None:
    """Pillow's GIF writer, not OpenCV's (whose palette was 72 levels off on this kind of image)."""
    y, x = np.mgrid[0:80, 0:120]
    smooth = np.dstack([(x * 2).astype(np.uint8), (y * 3).astype(np.uint8), ((x + y) % 256).astype(np.uint8)])
    data = cv2.imencode(".png", smooth)[1].tobytes()
    result = run(data, format="gif")
    back = np.asarray(Image.open(io.BytesIO(result.body)).convert("RGB"))[:, :, ::-1]
    assert cv2.PSNR(np.ascontiguousarray(back), smooth) > 30


def test_a_frame_reaching_past_the_gif_screen_counts_against_the_limits() -> None:
    """Pillow grows the canvas to hold a frame that reaches past the logical screen: a 10x10 GIF whose
    second frame claims 3000x3000 would allocate 36 MB per canvas (65535x65535: 17 GB). The header
    walk finds the frame's extent first, and the pixel limit and the budget count it."""
    frames = [Image.new("RGB", (10, 10), "red"), Image.new("RGB", (10, 10), "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    data = bytearray(out.getvalue())
    descriptor = data.rindex(b"\x21\xf9\x04") + 8  # the last frame's, after its graphic control block
    assert data[descriptor] == 0x2C
    data[descriptor + 5:descriptor + 9] = (3000).to_bytes(2, "little") * 2
    assert animation.timeline(bytes(data), "gif").canvas == (3000, 3000)

    class Small(Limits):
        max_pixels = 1_000_000

    with pytest.raises(Problem) as raised:
        run(bytes(data), Small(), format="gif")
    assert raised.value.status == 422 and "3000x3000" in raised.value.detail
