"""Real colour profiles and an independent reference: LittleCMS (Pillow's ImageCms) on the whole original.

tests/data/icc holds small public-domain, CC0 and zlib profiles (SOURCES.md). Ghostscript's CMYK
profiles are AGPL and are not copied: `.ci/run` installs libgs-common, and `cmyk_profile` fails in
CI (REQUIRE_TEST_PACKAGES=1, set by .ci/run) when they are missing; elsewhere it skips, saying what
to install.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from tests.support import REPO

ICC = REPO / "tests" / "data" / "icc"
GHOSTSCRIPT = Path("/usr/share/color/icc/ghostscript")
SRGB = ImageCms.createProfile("sRGB")
PILLOW = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF", "avif": "AVIF", "gif": "GIF"}


def profile(name: str) -> bytes:
    return (ICC / name).read_bytes()


def cmyk_profile(name: str = "default_cmyk.icc") -> bytes:
    path = GHOSTSCRIPT / name
    if not path.exists():
        message = f"{path} is missing: apt-get install libgs-common (.ci/run does)"
        if os.environ.get("REQUIRE_TEST_PACKAGES"):
            pytest.fail(message)
        pytest.skip(message)
    return path.read_bytes()


def tagged(image: np.ndarray, format: str, icc: bytes | None, mode: str | None = None, **options) -> bytes:
    """BGR (or gray) pixels saved by Pillow as `format` with `icc` embedded; `mode` converts first (CMYK)."""
    pil = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)
                          if image.ndim == 3 else image)
    if mode:
        pil = pil.convert(mode)
    if format == "webp":
        options.setdefault("lossless", True)
    if format in ("jpeg", "avif"):
        options.setdefault("quality", 95)
    if icc is not None:
        options["icc_profile"] = icc
    out = io.BytesIO()
    pil.save(out, PILLOW[format], **options)
    return out.getvalue()


def managed(data: bytes) -> np.ndarray:
    """Encoded bytes -> BGR in sRGB as a colour-managed viewer shows them: through the embedded profile
    (LittleCMS), or as they are without one. 16-bit PNGs are read at 8 bits (Pillow's reading)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        icc = opened.info.get("icc_profile")
        if opened.mode in ("I;16", "I;16B", "I"):
            image = Image.fromarray((np.asarray(opened, np.uint32) >> 8).astype(np.uint8))
        elif opened.mode not in ("RGB", "L", "CMYK"):
            image = opened.convert("RGB")
        else:
            image = opened
        if icc:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            image = ImageCms.profileToProfile(image, source, SRGB, outputMode="RGB")
        else:
            image = image.convert("RGB")
    return np.asarray(image)[:, :, ::-1].copy()


def managed_16(data: bytes) -> np.ndarray:
    """A 16-bit PNG (OpenCV reads it whole) through its profile: rounded to 8 bits, then LittleCMS."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    eight = cv2.convertScaleAbs(image, alpha=1 / 257)
    with Image.open(io.BytesIO(data)) as opened:
        icc = opened.info.get("icc_profile")
    pil = Image.fromarray(eight[:, :, ::-1].copy())
    if icc:
        pil = ImageCms.profileToProfile(pil, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, outputMode="RGB")
    return np.asarray(pil)[:, :, ::-1].copy()


def thumbnail(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    if a.ndim == 2:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    if b.ndim == 2:
        b = cv2.cvtColor(b, cv2.COLOR_GRAY2BGR)
    return float(cv2.PSNR(a, b))
