"""Where the subject is, for gravity=smart and gravity=face: where cover's cut goes once pixels are seen.

The plan (geometry.py) is made from the header: it knows the size of the cut and the region it may
slide in, not where. `place` answers that on the decoded region, and the plan's cut is moved there, so
the rest of the pipeline (crop, resize) is exactly that of any other gravity.

Interest is measured on a copy of at most SMALL pixels (its cost does not grow with the source): half
edges (Sobel |gx| + |gy| of Lab lightness: detail) and one part spectral-residual saliency (Hou & Zhang,
2007: what stands out from the image's own statistics), each divided by its 99th percentile, then
blurred a little so the cut follows regions, not pixels. Chroma, skin tones and a centre prior were
measured too and did not help (docs/performance.md). Cover leaves one axis free, so the map is summed
into a profile along it and the cut goes where a tapered window (1 in the middle, 0.5 at its edges)
holds the most: among positions that hold a subject whole, the one that centres it wins; ties go to
the centre. For gravity=face, the faces found (grown by a margin) outweigh everything else: the cut
holds as many of them as fit.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..options import WHITE
from . import ops

Box = tuple[int, int, int, int]
SMALL = 128           # long side of the copy interest is measured on
WEIGHTS = (0.5, 1.0)  # edges, spectral residual
FACE_MARGIN = 0.25    # each face grown by this much on every side: hair, chin, a little air
FACE_WEIGHT = 10.0    # faces against the rest of the image's interest


def place(image: np.ndarray, size: tuple[int, int], faces: list[Box] | None = None) -> tuple[int, int]:
    """Where (x, y) a cut of `size` (w, h) inside `image` holds the most interest; `faces` (boxes in
    `image`'s pixels), when given, above all."""
    height, width = image.shape[:2]
    cut_w, cut_h = min(size[0], width), min(size[1], height)
    if (cut_w, cut_h) == (width, height):
        return 0, 0
    small = ops.to_depth(ops.flatten(ops.shrink_to(image, SMALL), WHITE), (np.uint8,))
    scale_x, scale_y = small.shape[1] / width, small.shape[0] / height
    heat = interest(small)
    if faces:
        heat = heat / max(float(heat.sum()), 1e-9) + FACE_WEIGHT * _face_map(faces, heat.shape, scale_x, scale_y)
    x = _best(heat.sum(axis=0), cut_w * scale_x) / scale_x if cut_w < width else 0
    y = _best(heat.sum(axis=1), cut_h * scale_y) / scale_y if cut_h < height else 0
    return min(max(0, round(x)), width - cut_w), min(max(0, round(y)), height - cut_h)


def interest(small: np.ndarray) -> np.ndarray:
    """A float32 map of how much each pixel of a small 8-bit image draws the eye, 0..1."""
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    lightness = cv2.cvtColor(small.astype(np.float32) * (1 / 255), cv2.COLOR_BGR2Lab)[:, :, 0] / 100
    edges = np.abs(cv2.Sobel(lightness, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(lightness, cv2.CV_32F, 0, 1))
    heat = (WEIGHTS[0] * _normal(edges) + WEIGHTS[1] * _normal(spectral_residual(lightness))) / sum(WEIGHTS)
    return cv2.GaussianBlur(heat, (0, 0), max(0.5, 0.02 * max(heat.shape)))


def spectral_residual(gray: np.ndarray) -> np.ndarray:
    """Saliency as what the log amplitude spectrum has beyond its local average, with the phase kept.
    The image is mirror-padded first: the transform treats it as periodic, and the jump between
    opposite edges would otherwise stand out as salient."""
    height, width = gray.shape
    pad_y, pad_x = height // 4, width // 4
    padded = cv2.copyMakeBorder(gray, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REFLECT)
    spectrum = cv2.dft(padded, flags=cv2.DFT_COMPLEX_OUTPUT)
    amplitude = cv2.magnitude(spectrum[:, :, 0], spectrum[:, :, 1]) + 1e-6
    log_amplitude = np.log(amplitude)
    residual = np.exp(log_amplitude - cv2.blur(log_amplitude, (3, 3))) / amplitude
    back = cv2.idft(spectrum * residual[:, :, None], flags=cv2.DFT_SCALE | cv2.DFT_COMPLEX_OUTPUT)
    saliency = cv2.magnitude(back[:, :, 0], back[:, :, 1]) ** 2
    saliency = cv2.GaussianBlur(saliency, (0, 0), max(1.0, 0.03 * max(height, width)))
    return saliency[pad_y:pad_y + height, pad_x:pad_x + width]


def _normal(values: np.ndarray) -> np.ndarray:
    top = float(np.percentile(values, 99))
    return np.minimum(values / top, 1.0).astype(np.float32) if top > 1e-9 else np.zeros_like(values, np.float32)


def _face_map(faces: list[Box], shape: tuple[int, ...], scale_x: float, scale_y: float) -> np.ndarray:
    """Each face, grown by FACE_MARGIN, as an equal share: a cut that holds more faces wins, whatever their sizes."""
    area = np.zeros(shape[:2], np.float32)
    for x, y, w, h in faces:
        x0, x1 = (x - FACE_MARGIN * w) * scale_x, (x + (1 + FACE_MARGIN) * w) * scale_x
        y0, y1 = (y - FACE_MARGIN * h) * scale_y, (y + (1 + FACE_MARGIN) * h) * scale_y
        c0, c1 = max(0, int(x0)), min(shape[1], max(int(np.ceil(x1)), int(x0) + 1))
        r0, r1 = max(0, int(y0)), min(shape[0], max(int(np.ceil(y1)), int(y0) + 1))
        if c1 > c0 and r1 > r0:
            area[r0:r1, c0:c1] += 1.0 / ((c1 - c0) * (r1 - r0))
    return area / max(len(faces), 1)


def _best(profile: np.ndarray, window: float) -> float:
    """Start of the tapered window of `window` samples with the most `profile` under it; ties: the centre."""
    size = max(1, min(len(profile), round(window)))
    if size >= len(profile):
        return 0.0
    taper = 0.5 + 0.5 * np.sin(np.pi * (np.arange(size) + 0.5) / size)
    scores = np.correlate(profile.astype(np.float64), taper, mode="valid")
    best = scores.max()
    ties = np.flatnonzero(scores >= best - 1e-6 * max(1.0, abs(best)))
    return float(ties[np.argmin(np.abs(ties - (len(profile) - size) / 2))])
