"""Reference computations for pixel checks, independent of OpenCV: NumPy from the definitions.

Each is what an operation means, written directly (and slowly): an exact area average, a Gaussian
blur from its kernel, Keys' cubic convolution. Tests compare the service's pixels with these, so a
wrong filter, a step in the wrong order or a lost step shows up as a difference. Arrays are (h, w)
or (h, w, c) in any channel order: nothing here mixes channels.
"""

from __future__ import annotations

import numpy as np


def _per_channel(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64)[:, :, None] if image.ndim == 2 else image.astype(np.float64)


def _back(work: np.ndarray, like: np.ndarray) -> np.ndarray:
    out = np.clip(np.rint(work), 0, 255).astype(np.uint8)
    return out[:, :, 0] if like.ndim == 2 else out


def area_weights(source: int, output: int) -> np.ndarray:
    """(output, source) matrix: output pixel i is the mean over [i, i+1) * source/output, source
    pixels weighted by the part of them that interval covers."""
    scale = source / output
    weights = np.zeros((output, source))
    for i in range(output):
        low, high = i * scale, (i + 1) * scale
        for j in range(int(low), min(source, int(np.ceil(high)))):
            weights[i, j] = min(high, j + 1) - max(low, j)
    return weights / scale


def cubic_weights(source: int, output: int, a: float = -0.75) -> np.ndarray:
    """(output, source) matrix of Keys' cubic convolution (a = -0.75, OpenCV's and Photoshop's
    choice), pixel centres aligned, edge pixels repeated beyond the border."""
    def kernel(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        return np.where(x <= 1, (a + 2) * x**3 - (a + 3) * x**2 + 1,
                        np.where(x < 2, a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a, 0.0))

    weights = np.zeros((output, source))
    for i in range(output):
        centre = (i + 0.5) * source / output - 0.5
        base = int(np.floor(centre))
        for j in range(base - 1, base + 3):
            weights[i, min(max(j, 0), source - 1)] += kernel(centre - j)
    return weights


def _apply(work: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return np.einsum("kj,ijc->ikc", cols, np.einsum("ij,jkc->ikc", rows, work))


def _separable(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return _back(_apply(_per_channel(image), rows, cols), image)


def area_average(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return _separable(image, area_weights(image.shape[0], height), area_weights(image.shape[1], width))


def cubic(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return _separable(image, cubic_weights(image.shape[0], height), cubic_weights(image.shape[1], width))


def gaussian_weights(size: int, sigma: float) -> np.ndarray:
    """(size, size) matrix of a Gaussian blur (to 4 sigma), borders mirrored without repeating the
    edge pixel (dcb|abcd|cba)."""
    radius = int(np.ceil(4 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    weights = np.zeros((size, size))
    for i in range(size):
        for offset, tap in zip(range(-radius, radius + 1), taps):
            j = i + offset
            while not 0 <= j < size:
                j = -j if j < 0 else 2 * (size - 1) - j
            weights[i, j] += tap
    return weights


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return _separable(image, gaussian_weights(image.shape[0], sigma), gaussian_weights(image.shape[1], sigma))


def unsharp(image: np.ndarray, amount: float, sigma: float = 1.0) -> np.ndarray:
    """image + amount * (image - blurred): the detail a Gaussian removes, added back."""
    work = _per_channel(image)
    soft = _apply(work, gaussian_weights(image.shape[0], sigma), gaussian_weights(image.shape[1], sigma))
    return _back(work + amount * (work - soft), image)


def block_means(image: np.ndarray, size: int) -> np.ndarray:
    """Each size x size block from the top left (the last ones may be narrower) filled with its mean."""
    work = _per_channel(image)
    out = np.empty_like(work)
    for y in range(0, work.shape[0], size):
        for x in range(0, work.shape[1], size):
            out[y:y + size, x:x + size] = work[y:y + size, x:x + size].mean(axis=(0, 1))
    return _back(out, image)


def luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma from RGB, as JPEG, Pillow and OpenCV define grey."""
    return np.clip(np.rint(rgb[:, :, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)
