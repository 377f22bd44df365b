"""Pixels in an embedded profile's colours -> sRGB, with LittleCMS (through Pillow's ImageCms).

Browsers show untagged images as sRGB, so a thumbnail of a Display P3 or Adobe RGB photo must either
be converted to sRGB or carry its profile. Converting is the default (what imgproxy and weserv do);
`icc=keep` embeds the original profile instead (imaging/encode.py).

LittleCMS is reached through Pillow, which releases the GIL while it transforms. Pillow has no BGR
mode, so a BGR array goes in through the raw unpacker "BGR" and comes out through the packer "BGR":
two copies, at thumbnail size. A transform costs milliseconds to build (a CMYK lookup table, far
more), so it is built once per profile and kept, keyed by the profile's digest, in a small LRU. When
it is built, it is also tried on a lattice of 5,000 colours: a profile that maps them all within one
level is sRGB in all but name (names lie; MD5 IDs exist only in v4), and nothing is done for it.

Gray profiles are a tone curve: Pillow cannot build GRAY -> sRGB with a gray output, so the target is
a gray profile with sRGB's curve and the transform becomes a 256-entry table for cv2.LUT. A profile
whose colour space does not match the pixels (an RGB profile on a gray JPEG) is ignored, as browsers
ignore it. Samples deeper than 8 bits are not converted here (Pillow's LittleCMS binding has none):
the pipeline keeps them and their profile, or brings them to 8 bits first (docs/colour-and-formats.md).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageCms

from . import iccmake
from .icc import Profile

CACHE_ENTRIES = 64
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_SRGB_GRAY = ImageCms.ImageCmsProfile(io.BytesIO(iccmake.gray_profile(iccmake.SRGB_CURVE, version=4)))
# For matrix/TRC profiles perceptual is relative colorimetric; LUT profiles (CMYK) use their A2B0 table.
INTENT = ImageCms.Intent.PERCEPTUAL
# 17^3 colours and a gray ramp: what an sRGB profile must leave alone.
_LATTICE = np.stack(np.meshgrid(*[np.linspace(0, 255, 17).round().astype(np.uint8)] * 3, indexing="ij"),
                    -1).reshape(-1, 3)
_PROBE = np.concatenate([_LATTICE, np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1)])[None]
_RAW = {3: ("RGB", "BGR"), 4: ("RGBA", "BGRA")}


@dataclass(frozen=True)
class Transform:
    """What converting from one profile takes: a LittleCMS transform, a gray table, or nothing."""
    cms: Any = None               # ImageCms.ImageCmsTransform, for RGB(A) and CMYK
    table: np.ndarray | None = None  # (256,) uint8, for gray

    @property
    def identity(self) -> bool:
        return self.cms is None and self.table is None


NOTHING = Transform()
_cache: OrderedDict[tuple[bytes, str], Transform | None] = OrderedDict()
_lock = threading.Lock()


def transform(profile: Profile, mode: str) -> Transform | None:
    """The cached transform from `profile` for pixels in Pillow `mode` (RGB, RGBA, L, CMYK) to sRGB.
    None: the profile cannot describe such pixels, or LittleCMS refuses it; it is then ignored."""
    key = (hashlib.blake2b(profile.icc, digest_size=16).digest(), mode)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    built = _build(profile, mode)
    with _lock:
        _cache[key] = built
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return built


def _build(profile: Profile, mode: str) -> Transform | None:
    if profile.space != {"RGB": "RGB", "RGBA": "RGB", "L": "GRAY", "CMYK": "CMYK"}[mode]:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile.icc))
        if mode == "L":
            cms = ImageCms.buildTransform(source, _SRGB_GRAY, "L", "L", renderingIntent=INTENT)
            ramp = Image.fromarray(np.arange(256, dtype=np.uint8)[None])
            table = np.asarray(ImageCms.applyTransform(ramp, cms))[0].copy()
            return NOTHING if np.abs(table.astype(int) - np.arange(256)).max() <= 1 else Transform(table=table)
        cms = ImageCms.buildTransform(source, _SRGB, mode, "RGB" if mode == "CMYK" else mode, renderingIntent=INTENT)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    if mode != "CMYK":
        probe = Image.fromarray(_PROBE).convert(mode)
        out = np.asarray(ImageCms.applyTransform(probe, cms))[..., :3]
        if int(np.abs(out.astype(np.int16) - _PROBE).max()) <= 1:
            return NOTHING
    return Transform(cms=cms)


def is_srgb(profile: Profile | None) -> bool:
    """No profile, or one that behaves as sRGB: nothing to convert."""
    if profile is None:
        return True
    mode = {"RGB": "RGB", "GRAY": "L"}.get(profile.space)
    found = transform(profile, mode) if mode else None
    return found is not None and found.identity


def applies(profile: Profile, image: np.ndarray, format: str) -> bool:
    """Whether `profile` describes these pixels: RGB profiles colour images, gray profiles gray ones
    (and WebP's, which has no gray mode: encoders store gray as equal R, G and B)."""
    colour = image.ndim == 3
    return (profile.space == "RGB" and colour) or (profile.space == "GRAY" and (not colour or format == "webp"))


def to_srgb(image: np.ndarray, profile: Profile | None, format: str = "") -> np.ndarray:
    """BGR, BGRA or gray pixels described by `profile` -> the same layout in sRGB, uint8. The input
    comes back untouched when there is nothing to do. Deeper samples are rounded to 8 bits first."""
    if profile is None or not applies(profile, image, format):
        return image
    gray = profile.space == "GRAY"
    channels = 1 if image.ndim == 2 else image.shape[2]
    mode = "L" if gray else _RAW[channels][0]
    found = transform(profile, mode)
    if found is None or found.identity:
        return image
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=1 / 257) if image.dtype == np.uint16 else \
            cv2.convertScaleAbs(np.clip(image, 0, 1), alpha=255)
    if gray:
        table = found.table
        if channels == 4:
            return np.dstack([cv2.LUT(image[:, :, :3], table), image[:, :, 3]])
        return cv2.LUT(image, table)
    height, width = image.shape[:2]
    mode, raw = _RAW[channels]
    pixels = Image.frombuffer(mode, (width, height), np.ascontiguousarray(image), "raw", raw, 0, 1)
    ImageCms.applyTransform(pixels, found.cms, inPlace=True)  # RGBA -> RGBA carries alpha over
    return np.frombuffer(pixels.tobytes("raw", raw), np.uint8).reshape(height, width, channels)


def cmyk_to_srgb(cmyk: np.ndarray, profile: Profile | None) -> np.ndarray:
    """(h, w, 4) ink amounts (0: no ink; Pillow undoes Adobe's inversion) -> BGR. Through the CMYK
    profile when there is a usable one, else the naive (1 - C)(1 - K) browsers use without one."""
    found = transform(profile, "CMYK") if profile is not None else None
    height, width = cmyk.shape[:2]
    if found is not None and found.cms is not None:
        pixels = Image.frombuffer("CMYK", (width, height), np.ascontiguousarray(cmyk), "raw", "CMYK", 0, 1)
        converted = ImageCms.applyTransform(pixels, found.cms)
        return np.frombuffer(converted.tobytes("raw", "BGR"), np.uint8).reshape(height, width, 3)
    ink = 255 - cmyk.astype(np.uint16)
    rgb = (ink[:, :, :3] * ink[:, :, 3:] + 127) // 255
    return np.ascontiguousarray(rgb[:, :, ::-1]).astype(np.uint8)


def decode_cmyk(data: bytes, profile: Profile | None, shrink: int = 1) -> np.ndarray | None:
    """A CMYK JPEG or TIFF -> BGR in sRGB, through its profile; None when Pillow does not see CMYK
    pixels. JPEGs are decoded at 1/`shrink` with libjpeg's scaled IDCT (Image.draft)."""
    with Image.open(io.BytesIO(data)) as opened:
        if opened.mode != "CMYK":
            return None
        if shrink > 1 and opened.format == "JPEG":
            opened.draft("CMYK", (-(-opened.width // shrink), -(-opened.height // shrink)))
        opened.load()
        return cmyk_to_srgb(np.asarray(opened), profile)
