"""ndarray -> bytes, in memory, with OpenCV: what each format's encoder takes, and its parameters.

The format registry (formats.py) says which formats keep alpha and which sample depths each takes;
`prepare` brings an array to that, `encode` runs cv2.imencode with the registry's parameters (GIF
goes through Pillow: imaging/animation.py says why; a still PNG through `png_writer`, which writes
the smallest form the pixels allow: OpenCV's PNG writer has no palette, no 1/2/4-bit gray and a
single filter strategy; JPEG through `jpeg_writer`, whose tables OpenCV cannot set). Outputs carry
no metadata but, with icc=keep, the source's ICC profile: no EXIF, no GPS position, no camera serial number.
"""

from __future__ import annotations

import struct
from typing import Any

import cv2
import numpy as np

from .. import formats
from ..options import WHITE, Options
from . import animation, jpeg_writer, ops, png_writer


def prepare(image: np.ndarray, format: str, bg: tuple[int, int, int, int]) -> np.ndarray:
    """Make the array something `format` can hold: alpha flattened onto `bg` where it has none,
    samples brought to a depth it takes."""
    spec = formats.FORMATS[format]
    if not spec.alpha:
        image = ops.flatten(image, bg)
    return ops.to_depth(image, spec.depths)


def encode_array(image: np.ndarray, format: str = "png", quality: int = 80,
                 bg: tuple[int, int, int, int] = WHITE) -> bytes:
    """A BGR(A) or gray array (uint8, uint16, or float32 in 0..1) -> `format` bytes, made in memory.

    The same two steps the service runs on every output (`prepare`, then `encode`), so a client's
    PNG is exactly what the server would make: lossless, 16 bits kept. Formats without alpha get it
    flattened onto `bg` (RGBA); formats without 16 bits get the samples rounded to 8.
    """
    spec = formats.named(format)
    if spec is None or not spec.encodes:
        raise ValueError(f"format must be one of {', '.join(f.name for f in formats.outputs())}, got {format!r}")
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"expected a uint8, uint16 or float32 NumPy array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))) or 0 in image.shape:
        raise ValueError(f"expected gray (h, w), BGR (h, w, 3) or BGRA (h, w, 4) pixels, got shape {image.shape}")
    return encode(prepare(np.ascontiguousarray(image), spec.name, bg), spec.name, Options(q=quality))


def encode(image: np.ndarray, format: str, options: Any = Options(), icc: bytes | None = None, *,
           png_effort: str = "default", indexed: tuple[np.ndarray, np.ndarray] | None = None) -> bytes:
    """A prepared array -> `format` bytes; `options` gives the encoder's settings (q, ...); `icc`, a
    profile to embed (for formats whose row says they can). For PNG, `png_effort` is
    IMGSERVE_PNG_EFFORT and `indexed` the decoder's (indices, palette) of these very pixels."""
    if format == "png":
        return png_writer.write(image, png_effort, indexed, icc)
    if format == "jpeg":
        return jpeg_writer.write(image, options.q, options.progressive, icc)
    spec = formats.FORMATS[format]
    if format == "gif":
        return animation.write_gif([image], [])
    if icc and format == "tiff":  # OpenCV's TIFF encoder takes no profile: add the tag to what it wrote
        return tiff_with_icc(encode(image, format, options), icc)
    if icc:
        ok, buffer = cv2.imencodeWithMetadata(spec.extension, image, [cv2.IMAGE_METADATA_ICCP],
                                              [np.frombuffer(icc, np.uint8)], spec.encoder(options))
    else:
        ok, buffer = cv2.imencode(spec.extension, image, spec.encoder(options))
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} {image.dtype} array as {format}")
    return buffer.tobytes()


def encode_animation(frames: list[np.ndarray], durations: list[int], loops: int, format: str,
                     options: Any = Options()) -> bytes:
    """Prepared frames of one size -> an animated `format` file, each frame made BGRA."""
    frames = [_bgra(frame) for frame in frames]
    return animation.encode(frames, durations, loops, format, formats.FORMATS[format].encoder(options))


def _bgra(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = ops.to_depth(image, (np.uint8,))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGRA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2BGRA) if image.shape[2] == 3 else image


def tiff_with_icc(data: bytes, icc: bytes) -> bytes:
    """A classic TIFF with an InterColorProfile tag (34675) added to its first directory: the profile
    and a copy of the directory with the new entry go at the end, and the header points to the copy;
    nothing already written moves, so every offset in the file stays true."""
    order = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack_from(order + "I", data, 4)[0]
    count = struct.unpack_from(order + "H", data, ifd)[0]
    entries = [data[ifd + 2 + 12 * i:ifd + 14 + 12 * i] for i in range(count)]
    next_ifd = data[ifd + 2 + 12 * count:ifd + 6 + 12 * count]
    body = bytearray(data) + b"\0" * (len(data) & 1)
    icc_at = len(body)
    body += icc + b"\0" * (len(icc) & 1)
    entries.append(struct.pack(order + "HHII", 34675, 7, len(icc), icc_at))
    entries.sort(key=lambda entry: struct.unpack_from(order + "H", entry)[0])  # tags in ascending order
    new_ifd = len(body)
    body += struct.pack(order + "H", len(entries)) + b"".join(entries) + next_ifd
    struct.pack_into(order + "I", body, 4, new_ifd)
    return bytes(body)
