"""SSIM as Wang et al. (2004) define it: 11x11 Gaussian window, sigma 1.5, constants (0.01 L)^2 and
(0.03 L)^2, averaged over the image less a 5-pixel border. Shared by the tests and bench/thumbnails.py."""

from __future__ import annotations

import cv2
import numpy as np


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two single-channel images of the same size, 8-bit scale."""
    a, b = a.astype(np.float64), b.astype(np.float64)

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    index = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(index[5:-5, 5:-5].mean())


def rgb_and_luma(original: np.ndarray, data: bytes) -> tuple[float, float]:
    """(mean SSIM of R, G and B; SSIM of BT.601 luma) of an encoded image against the BGR pixels it was
    made from."""
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    rgb = float(np.mean([ssim(original[:, :, k], back[:, :, k]) for k in range(3)]))
    luma = ssim(cv2.cvtColor(original, cv2.COLOR_BGR2GRAY), cv2.cvtColor(back, cv2.COLOR_BGR2GRAY))
    return rgb, luma


def bytes_at(points: list[tuple[float, int]], target: float) -> float:
    """Bytes at SSIM `target`, from (ssim, bytes) over an encoder's qualities (log bytes, linear in SSIM).
    Below the lowest quality's SSIM, that quality's bytes (an upper bound); above the highest, NaN."""
    points = sorted(points)
    s = np.array([p[0] for p in points])
    logs = np.log([p[1] for p in points])
    return float(np.exp(np.interp(target, s, logs))) if target <= s[-1] else float("nan")
