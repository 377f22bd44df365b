"""WebP decoded by libwebp's advanced API, scaled while decoding.

libwebp can resample each row as it leaves the decoder (WebPDecoderOptions.use_scaling), so a
thumbnail of a 4096x4096 WebP never exists at full size (and below 3/4 of the size libwebp skips
the lossy in-loop deblocking filter by itself). No Python binding exposes these options, so the
library is called through ctypes (which releases the GIL for every call): Debian's libwebp7 where
installed, else the copy inside the imagecodecs wheel. Without either, `reduced` returns None and
decode.py falls back to OpenCV's full decode: slower, the same pixels to the eye (the tests run
both paths).

Only stills are decoded here (libwebp refuses animations with UNSUPPORTED_FEATURE: None, for the
caller to decode another way). Lossy images with alpha are left to the caller too: libwebp rescales
their colour (YUV planes) without weighting it by alpha, so hidden colour under transparent pixels
would bleed into edges; its lossless path rescales premultiplied colour, which is right.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os

import numpy as np

_ABI = 0x0209  # WEBP_DECODER_ABI_VERSION of libwebp 1.1+; libwebp checks only the major byte
_MODE_BGR, _MODE_BGRA = 2, 3
_LOSSLESS = 2  # WebPBitstreamFeatures.format: 0 mixed (animations), 1 lossy, 2 lossless


class _Features(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("has_alpha", ctypes.c_int),
                ("has_animation", ctypes.c_int), ("format", ctypes.c_int), ("pad", ctypes.c_uint32 * 5)]


class _RGBA(ctypes.Structure):
    _fields_ = [("rgba", ctypes.c_void_p), ("stride", ctypes.c_int), ("size", ctypes.c_size_t)]


class _YUVA(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in ("y", "u", "v", "a")] + [
        (name, ctypes.c_int) for name in ("y_stride", "u_stride", "v_stride", "a_stride")] + [
        (name, ctypes.c_size_t) for name in ("y_size", "u_size", "v_size", "a_size")]


class _Buffers(ctypes.Union):
    _fields_ = [("RGBA", _RGBA), ("YUVA", _YUVA)]


class _Output(ctypes.Structure):
    _fields_ = [("colorspace", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int),
                ("is_external_memory", ctypes.c_int), ("u", _Buffers), ("pad", ctypes.c_uint32 * 4),
                ("private_memory", ctypes.c_void_p)]


class _Options(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int) for name in (
        "bypass_filtering", "no_fancy_upsampling", "use_cropping", "crop_left", "crop_top", "crop_width",
        "crop_height", "use_scaling", "scaled_width", "scaled_height", "use_threads", "dithering_strength",
        "flip", "alpha_dithering_strength")] + [("pad", ctypes.c_uint32 * 5)]


class _Config(ctypes.Structure):
    _fields_ = [("input", _Features), ("output", _Output), ("options", _Options)]


def _candidates() -> list[str]:
    found = [ctypes.util.find_library("webp") or "libwebp.so.7"]
    try:
        import imagecodecs
    except ImportError:
        return found
    libs = os.path.join(os.path.dirname(os.path.dirname(imagecodecs.__file__)), "imagecodecs.libs")
    return found + sorted(glob.glob(os.path.join(libs, "libwebp-*.so*")))


def _load() -> ctypes.CDLL | None:
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            lib.WebPInitDecoderConfigInternal.argtypes = [ctypes.POINTER(_Config), ctypes.c_int]
            lib.WebPGetFeaturesInternal.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Features),
                                                    ctypes.c_int]
            lib.WebPDecode.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Config)]
            lib.WebPFreeDecBuffer.argtypes = [ctypes.POINTER(_Output)]
        except (OSError, AttributeError):
            continue
        config = _Config()
        if lib.WebPInitDecoderConfigInternal(ctypes.byref(config), _ABI):
            return lib
    return None


LIBRARY = _load()


def reduced(data: bytes, least: tuple[int, int] | None, eight: bool = False) -> tuple[np.ndarray, bool] | None:
    """(the still WebP in `data` as BGR(A) uint8 at `least` (w, h), or at full size if that is smaller
    or None; False: not RGB order), or None when this decoder does not take it (no library, lossy with
    alpha, animation, damage), so the caller decodes it another way and reports errors its usual way."""
    if LIBRARY is None:
        return None
    config = _Config()
    if not LIBRARY.WebPInitDecoderConfigInternal(ctypes.byref(config), _ABI):
        return None
    if LIBRARY.WebPGetFeaturesInternal(data, len(data), ctypes.byref(config.input), _ABI):
        return None
    features = config.input
    if features.has_animation or (features.has_alpha and features.format != _LOSSLESS):
        return None
    width, height = (features.width, features.height) if least is None else (
        min(least[0], features.width), min(least[1], features.height))
    options = config.options
    if (width, height) != (features.width, features.height):
        options.use_scaling, options.scaled_width, options.scaled_height = 1, width, height
    channels = 4 if features.has_alpha else 3
    image = np.empty((height, width, channels), np.uint8)
    output = config.output
    output.colorspace, output.is_external_memory = (_MODE_BGRA if features.has_alpha else _MODE_BGR), 1
    output.u.RGBA.rgba, output.u.RGBA.stride, output.u.RGBA.size = image.ctypes.data, width * channels, image.nbytes
    status = LIBRARY.WebPDecode(data, len(data), ctypes.byref(config))
    LIBRARY.WebPFreeDecBuffer(ctypes.byref(output))
    return None if status else (image, False)
