"""Pure ndarray -> ndarray steps. No I/O, no Flask, no options parsing.

Arrays are OpenCV's: (h, w) gray or (h, w, 3) BGR or (h, w, 4) BGRA, uint8, uint16 or float32 (0..1).
Colours arrive as RGBA tuples (as written in URLs) and are reordered here. Every step returns its
input unchanged when asked to do nothing, so the pipeline can call them unconditionally.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import shrink

_ORIENT = {  # EXIF orientation -> (rotate code or None, flip code or None), applied in that order
    1: (None, None), 2: (None, 1), 3: (cv2.ROTATE_180, None), 4: (None, 0),
    5: (cv2.ROTATE_90_CLOCKWISE, 1), 6: (cv2.ROTATE_90_CLOCKWISE, None),
    7: (cv2.ROTATE_90_COUNTERCLOCKWISE, 1), 8: (cv2.ROTATE_90_COUNTERCLOCKWISE, None),
}
_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
_FLIP = {"h": 1, "v": 0, "hv": -1}


def channels(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def peak(image: np.ndarray) -> float:
    """The value that means "full" for this depth."""
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(image.dtype, 1.0)


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation so the image looks as its camera meant it."""
    rotation, flip_code = _ORIENT.get(orientation, (None, None))
    if rotation is not None:
        image = cv2.rotate(image, rotation)
    if flip_code is not None:
        image = cv2.flip(image, flip_code)
    return image


def crop(image: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    if box is None:
        return image
    x, y, w, h = box
    return image[y:y + h, x:x + w]


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    return cv2.rotate(image, _ROTATE[degrees]) if degrees else image


def flip(image: np.ndarray, mode: str) -> np.ndarray:
    return cv2.flip(image, _FLIP[mode]) if mode else image


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area averaging when shrinking (no aliasing; shrink.py does it in the cheap order), bicubic
    when growing on either side.

    Colour under transparent pixels is meaningless, so BGRA is resized premultiplied (as libvips and
    sharp do); otherwise dark or garish fringes bleed into the edges of logos.
    """
    height, width = image.shape[:2]
    if (width, height) == tuple(size):
        return image
    if size[0] <= width and size[1] <= height:
        return shrink.shrink(image, size)
    if channels(image) == 4 and image[:, :, 3].min() < peak(image):
        return _unpremultiply(cv2.resize(_premultiply(image), size, interpolation=cv2.INTER_CUBIC), image.dtype)
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)


def _premultiply(image: np.ndarray) -> np.ndarray:
    """uint8 goes to uint16 as colour x alpha and alpha x 255: exact, and half the memory of float32."""
    if image.dtype == np.uint8:
        work = image.astype(np.uint16)
        work[:, :, :3] *= work[:, :, 3:4]
        work[:, :, 3] *= 255
        return work
    work = image.astype(np.float32)
    work[:, :, :3] *= work[:, :, 3:4] / peak(image)
    return work


def _unpremultiply(work: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Back from premultiplied, a band of rows at a time, each in float32 and rounded in place: in one
    piece, enlarging 5000x5000 to 8192x8192 held float copies of the whole output (3.7 GB)."""
    exact = work.dtype == np.uint16  # from the uint8 path above
    scale = 255.0 if exact else {np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)
    out = np.empty(work.shape, dtype)
    for top in range(0, work.shape[0], UNPREMULTIPLY_ROWS):
        band = work[top:top + UNPREMULTIPLY_ROWS].astype(np.float32)
        alpha, colour = band[:, :, 3:4], band[:, :, :3]
        colour *= scale  # unmasked: a masked multiply cost a third more time; where alpha is 0 the
        np.divide(colour, alpha, out=colour, where=alpha > 0)  # colour is invisible, whatever it is
        if exact:
            alpha /= 255.0
        out[top:top + UNPREMULTIPLY_ROWS] = _to_dtype(band, dtype)
    return out


UNPREMULTIPLY_ROWS = 256  # a band of an 8192-wide image in float32 is 32 MiB


def _to_dtype(work: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`work` (a float array the caller no longer needs: it is rounded in place) as `dtype`."""
    if np.dtype(dtype) == np.float32:
        return work
    top = 255 if np.dtype(dtype) == np.uint8 else 65535
    np.rint(work, out=work)
    np.clip(work, 0, top, out=work)
    return work.astype(dtype)


def window(image: np.ndarray, box: tuple[int, int, int, int] | None,
           bg: tuple[int, int, int, int]) -> np.ndarray:
    """The `box` (x, y, w, h) of the image; parts outside the image are filled with `bg` (RGBA)."""
    if box is None:
        return image
    x, y, w, h = box
    height, width = image.shape[:2]
    if (x, y, w, h) == (0, 0, width, height):
        return image
    inside = image[max(y, 0):min(y + h, height), max(x, 0):min(x + w, width)]
    top, left = max(-y, 0), max(-x, 0)
    bottom, right = h - top - inside.shape[0], w - left - inside.shape[1]
    if not (top or left or bottom or right):
        return inside
    inside = _room_for(inside, bg)
    return cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_CONSTANT,
                              value=color(bg, inside))


def _room_for(image: np.ndarray, bg: tuple[int, int, int, int]) -> np.ndarray:
    """Add the channels a background colour needs: colour for a non-gray bg, alpha for a translucent one."""
    if channels(image) == 1 and len(set(bg[:3])) > 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if bg[3] < 255 and channels(image) != 4:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA if channels(image) == 1 else cv2.COLOR_BGR2BGRA)
    return image


def color(rgba: tuple[int, int, int, int], image: np.ndarray) -> tuple[float, ...]:
    """An RGBA tuple (0..255) as a value for this image's channels and depth."""
    r, g, b, a = (v / 255 * peak(image) for v in rgba)
    return {1: (r,), 3: (b, g, r), 4: (b, g, r, a)}[channels(image)]


def grayscale(image: np.ndarray, enabled: bool) -> np.ndarray:
    """Luma only; alpha is kept (as BGRA with equal colour channels, since encoders lack gray+alpha)."""
    if not enabled or channels(image) == 1:
        return image
    if channels(image) == 4:
        gray = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
        return cv2.merge((gray, gray, gray, image[:, :, 3]))
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur. A direct kernel costs time in proportion to sigma (50 on 4 MP: 1.6 s), so wide
    blurs run on a copy shrunk to keep sigma at 4 and are scaled back: the result is smooth anyway."""
    if not sigma:
        return image
    if sigma <= 2 * _SMALL_SIGMA:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    factor = _SMALL_SIGMA / sigma
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), _SMALL_SIGMA), (width, height), interpolation=cv2.INTER_CUBIC)


_SMALL_SIGMA = 4.0


def sharpen(image: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask: add back `amount` times the detail a 1-pixel Gaussian removes."""
    if not amount:
        return image
    soft = cv2.GaussianBlur(image, (0, 0), 1.0)
    return cv2.addWeighted(image, 1.0 + amount, soft, -amount, 0)


def pixelate(image: np.ndarray, size: int | None) -> np.ndarray:
    """Blocks of `size` x `size` pixels from the top left (the last row and column of blocks may be
    narrower), each the exact average of its pixels; with alpha, colours are averaged weighted by
    alpha, so what is under transparent pixels does not bleed into the block."""
    if not size or size < 2:
        return image
    height, width = image.shape[:2]
    rows, cols = np.arange(0, height, size), np.arange(0, width, size)
    counts = np.outer(np.diff(rows, append=height), np.diff(cols, append=width)).astype(np.float64)
    work = image.astype(np.float64)
    if channels(image) == 4:
        work[:, :, :3] *= work[:, :, 3:4]
    sums = np.add.reduceat(np.add.reduceat(work, rows, axis=0), cols, axis=1)
    if channels(image) == 4:
        alpha = sums[:, :, 3:4]
        np.divide(sums[:, :, :3], alpha, out=sums[:, :, :3], where=alpha > 0)
        sums[:, :, 3] /= counts
    else:
        sums /= counts if sums.ndim == 2 else counts[:, :, None]
    blocks = _to_dtype(sums, image.dtype) if image.dtype != np.float32 else sums.astype(np.float32)
    return np.repeat(np.repeat(blocks, np.diff(rows, append=height), axis=0), np.diff(cols, append=width), axis=1)


def flatten(image: np.ndarray, bg: tuple[int, int, int, int]) -> np.ndarray:
    """Composite BGRA over an opaque `bg` colour, for outputs without alpha."""
    if channels(image) != 4:
        return image
    top = peak(image)
    alpha = image[:, :, 3:4].astype(np.float32) / top
    if alpha.min() == 1.0:
        return np.ascontiguousarray(image[:, :, :3])
    backdrop = np.array(color(bg, image)[:3], np.float32)
    mixed = image[:, :, :3].astype(np.float32)  # blended in place: a 4-channel float copy per term was 52 B/px
    mixed *= alpha
    np.subtract(1.0, alpha, out=alpha)
    mixed += backdrop * alpha
    return _to_dtype(mixed, image.dtype)


def to_depth(image: np.ndarray, allowed: tuple[type, ...]) -> np.ndarray:
    """Bring 16-bit or float pixels to the deepest dtype an encoder takes, rounding, never wrapping."""
    if image.dtype in [np.dtype(a) for a in allowed]:
        return image
    if np.uint16 in allowed:  # float -> uint16
        return _to_dtype(np.clip(image, 0, 1) * 65535.0, np.uint16)
    if image.dtype == np.uint16:
        return cv2.convertScaleAbs(image, alpha=1 / 257)
    return cv2.convertScaleAbs(np.clip(image, 0, 1), alpha=255)


def shrink_to(image: np.ndarray, long_side: int) -> np.ndarray:
    """A copy whose long side is at most `long_side`, for analysis (saliency, faces), never for output.
    INTER_AREA has a fast path for exact halves; one odd factor straight from a large image costs
    several times more, so the image is halved while it is at least twice too large, then resized once."""
    while max(image.shape[:2]) >= 2 * long_side and min(image.shape[:2]) >= 2:
        image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    height, width = image.shape[:2]
    if max(height, width) > long_side:
        factor = long_side / max(height, width)
        image = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
    return image


def content_box(image: np.ndarray, threshold: int) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of what is not border, or None when the whole image is border. The border colour is
    the per-channel median of the four corners (one stained corner does not decide it); a pixel is
    border while every channel, alpha included, is within `threshold` (0..255 scale) of it. Isolated
    specks (scanner dust) are opened away first, so they do not hold a border in place."""
    height, width = image.shape[:2]
    corners = np.array([image[0, 0], image[0, -1], image[-1, 0], image[-1, -1]], np.float64).reshape(4, -1)
    border = np.median(corners, axis=0)
    limit = threshold * peak(image) / 255
    whole = image.dtype != np.float32
    planes = image.reshape(height, width, -1)
    far = np.zeros((height, width), bool)
    for index, value in enumerate(border):  # one plane at a time, compared in its own type: no float copy
        low, high = value - limit, value + limit
        if whole:
            low, high = int(np.ceil(low - 1e-9)), int(np.floor(high + 1e-9))
        plane = planes[:, :, index]
        far |= (plane < low) | (plane > high)
    mask = far.view(np.uint8)
    if min(height, width) >= 3:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    points = cv2.findNonZero(mask)
    if points is None:
        return None
    return tuple(int(v) for v in cv2.boundingRect(points))


def compose(image: np.ndarray, overlay: np.ndarray | None, anchor: tuple[float, float] = (1.0, 1.0),
            scale: float | None = None, opacity: float = 1.0, margin: int = 0) -> np.ndarray:
    """`overlay` (BGR(A) or gray, any depth) over `image`, its alpha respected and times `opacity`.

    Its size: `scale` times the image's box (contained in it, aspect kept), or its own size when
    `scale` is None; never more than the room inside `margin`. Its place: `anchor` (x, y in 0..1) of
    that room, `margin` pixels from the edges it is anchored to. Over a transparent image, the result
    is the "over" operator: colours weighted by alpha, alpha = a + b(1 - a). A gray image becomes BGR
    when the overlay has colour. Returns a new array; `image` is left as it was."""
    if overlay is None:
        return image
    height, width = image.shape[:2]
    mx, my = min(margin, (width - 1) // 2), min(margin, (height - 1) // 2)
    room_w, room_h = width - 2 * mx, height - 2 * my
    oh, ow = overlay.shape[:2]
    want_w, want_h = (scale * width, scale * height) if scale else (ow, oh)
    factor = min(want_w / ow, want_h / oh, room_w / ow, room_h / oh)
    size = (max(1, min(room_w, round(ow * factor))), max(1, min(room_h, round(oh * factor))))
    mark = resize(overlay, size)
    x, y = mx + round((room_w - size[0]) * anchor[0]), my + round((room_h - size[1]) * anchor[1])
    if channels(image) == 1 and channels(mark) > 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    image = image.copy()
    colour, alpha = _layers(mark, channels(image))
    alpha *= opacity
    roi = image[y:y + size[1], x:x + size[0]]
    base = roi.astype(np.float32) / peak(image)
    base = base.reshape(*base.shape[:2], -1)
    if channels(image) == 4:
        below = base[:, :, 3:4]
        out_alpha = alpha + below * (1 - alpha)
        mixed = colour * alpha + base[:, :, :3] * below * (1 - alpha)
        np.divide(mixed, out_alpha, out=mixed, where=out_alpha > 0)
        result = np.concatenate([mixed, out_alpha], axis=2)
    else:
        result = colour * alpha + base * (1 - alpha)
    roi[...] = _to_dtype(result * peak(image), image.dtype).reshape(roi.shape)
    return image


def _layers(mark: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
    """(colour with the channels of a `wanted`-channel image less alpha, alpha), float32 in 0..1, (h, w, c)."""
    work = mark.astype(np.float32) / peak(mark)
    work = work.reshape(*work.shape[:2], -1)
    alpha = work[:, :, 3:4].copy() if work.shape[2] == 4 else np.ones((*work.shape[:2], 1), np.float32)
    colour = work[:, :, :3] if work.shape[2] >= 3 else np.repeat(work, 3, axis=2)
    if wanted == 1:
        colour = cv2.cvtColor(np.ascontiguousarray(colour), cv2.COLOR_BGR2GRAY)[:, :, None]
    return colour, alpha
