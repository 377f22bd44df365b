"""Small generated images and helpers to encode, decode and inspect them."""

from __future__ import annotations

import io

import cv2
import numpy as np

# Quadrant colours (BGR) of `quadrants()`: top-left red, top-right green, bottom-left blue, bottom-right white.
RED, GREEN, BLUE, WHITE = (0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255)


def quadrants(width: int = 80, height: int = 60) -> np.ndarray:
    """A BGR image whose orientation is obvious from four flat colours."""
    image = np.empty((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = RED
    image[: height // 2, width // 2:] = GREEN
    image[height // 2:, : width // 2] = BLUE
    image[height // 2:, width // 2:] = WHITE
    return image


def photo(width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """A smooth BGR image with edges and some texture. Not a photograph: a wrong resampling filter still
    scores 46 dB on it, so quality is tested on the real ones in tests/data/photos."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.dstack([128 + 100 * np.sin(x / 17 + k) * np.cos(y / 23 - k) for k in range(3)])
    for _ in range(6):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(5, max(6, width // 6))
        cv2.circle(image, (int(cx), int(cy)), int(r), tuple(float(v) for v in rng.integers(0, 256, 3)), -1)
    return np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)


def encode(image: np.ndarray, ext: str = ".png", params: list[int] | None = None) -> bytes:
    ok, data = cv2.imencode(ext, image, params or [])
    assert ok
    return data.tobytes()


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "response is not a decodable image"
    return image


def decode_color(data: bytes) -> np.ndarray:
    """`decode`, with gray given three equal channels: a PNG's colour type follows its pixels
    (imaging/png_form.py), so a gray drawing comes back as a gray PNG."""
    image = decode(data)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def jpeg_with_orientation(image: np.ndarray, orientation: int, quality: int = 95) -> bytes:
    """A JPEG whose EXIF says `orientation` (Pillow writes the EXIF block)."""
    from PIL import Image

    pil = Image.fromarray(image[:, :, ::-1])
    exif = pil.getexif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    pil.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def color_at(image: np.ndarray, x: float, y: float) -> tuple[int, ...]:
    """Colour at a fraction (x, y) of the image's width and height."""
    h, w = image.shape[:2]
    return tuple(int(v) for v in np.atleast_1d(image[min(int(y * h), h - 1), min(int(x * w), w - 1)]))


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return len(a) == len(b) and all(abs(int(p) - int(q)) <= tolerance for p, q in zip(a, b))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(a, b))


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[1] / "fixtures"


def astronaut() -> np.ndarray:
    """A real photo with one face (public domain, tests/fixtures/README.md): 512x512 BGR."""
    image = cv2.imread(str(FIXTURES / "astronaut.jpg"), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def backdrop(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, dull BGR background (a wall, a sky): little to draw the eye."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = [90 + 40 * x / width + 20 * y / height + 10 * k for k in range(3)]
    return np.clip(np.dstack(base) + rng.normal(0, 2, (height, width, 3)), 0, 255).astype(np.uint8)


def scene(width: int, height: int, box: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """A backdrop with a detailed subject (photo()'s texture and shapes) filling `box`."""
    image = backdrop(width, height, seed)
    x, y, w, h = box
    image[y:y + h, x:x + w] = photo(w, h, seed + 1)
    return image


def kept(box: tuple[int, int, int, int], cut: tuple[int, int, int, int]) -> float:
    """The share of `box` that `cut` holds (both x, y, w, h)."""
    ix = max(0, min(box[0] + box[2], cut[0] + cut[2]) - max(box[0], cut[0]))
    iy = max(0, min(box[1] + box[3], cut[1] + cut[3]) - max(box[1], cut[1]))
    return ix * iy / (box[2] * box[3])
