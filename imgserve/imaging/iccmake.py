"""Small matrix/TRC ICC profiles built in Python: for sources that name their colours by CICP code points
(an AVIF's `nclx` box, a PNG's cICP chunk) instead of embedding a profile, and for the gray target.

A matrix/TRC profile is a tone curve per channel and the 3x3 matrix to XYZ (D50); that is all a
Display P3 or BT.2020 profile is, so it is built exactly from the primaries and the curve of ITU-T
H.273 rather than shipped as files. `order` permutes the colorants, which the tests use to make a
profile that swaps channels (an image tagged with it looks wrong wherever the profile is ignored).

Layouts: ICC.1:2001-04 (v2) and ICC.1:2010 (v4): a 128-byte header, the tag table, tags 4-byte aligned.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import numpy as np

D50 = (0.9642, 1.0, 0.8249)
D65 = (0.3127, 0.3290)  # white points as CIE xy
Primaries = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
SRGB: Primaries = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
DISPLAY_P3: Primaries = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
BT2020: Primaries = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
ADOBE_RGB: Primaries = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
# Tone curves as ICC parametric curves (type 3: Y = (aX + b)^g for X >= d, else cX), or a plain gamma.
SRGB_CURVE = ("para", 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
BT709_CURVE = ("para", 1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081)  # the inverse of BT.709's OETF

_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _s15(value: float) -> bytes:
    return struct.pack(">i", int(round(value * 65536)))


def adaptation(white: tuple[float, float]) -> np.ndarray:
    """Bradford chromatic adaptation from `white` to D50 (what the `chad` tag holds)."""
    source, target = _BRADFORD @ _xyz(*white), _BRADFORD @ np.array(D50)
    return np.linalg.inv(_BRADFORD) @ np.diag(target / source) @ _BRADFORD


def colorants(primaries: Primaries, white: tuple[float, float]) -> np.ndarray:
    """RGB -> XYZ (D50): its columns are what rXYZ, gXYZ and bXYZ hold."""
    p = np.column_stack([_xyz(*xy) for xy in primaries])
    return adaptation(white) @ (p * np.linalg.solve(p, _xyz(*white)))


def _tag_xyz(values: Sequence[float]) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in values)


def _tag_curve(curve) -> bytes:
    if isinstance(curve, (int, float)):  # a pure gamma: curveType with one u8Fixed8 entry
        return b"curv\0\0\0\0" + struct.pack(">IH", 1, int(round(curve * 256))) + b"\0\0"
    g, a, b, c, d = curve[1:]
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + b"".join(_s15(v) for v in (g, a, b, c, d))


def _tag_text(text: str, version: int, kind: str) -> bytes:
    if version >= 4:  # multiLocalizedUnicodeType with one en-US record
        encoded = text.encode("utf-16-be")
        return b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded
    if kind == "desc":  # v2 textDescriptionType: ASCII, then empty Unicode and ScriptCode parts
        ascii = text.encode("ascii") + b"\0"
        return b"desc\0\0\0\0" + struct.pack(">I", len(ascii)) + ascii + struct.pack(">IIHB", 0, 0, 0, 0) + bytes(67)
    return b"text\0\0\0\0" + text.encode("ascii") + b"\0"


def _assemble(tags: list[tuple[bytes, bytes]], version: int, space: bytes) -> bytes:
    offset = 128 + 4 + 12 * len(tags)
    table, blobs, seen = [], b"", {}
    for signature, body in tags:
        if body not in seen:  # identical data (one curve for three channels) is stored once
            seen[body] = (offset + len(blobs), len(body))
            blobs += body + b"\0" * (-len(body) % 4)
        table.append((signature, *seen[body]))
    header = bytearray(128)
    struct.pack_into(">I4sI4s4s4s", header, 0, offset + len(blobs), b"none", {2: 0x02100000, 4: 0x04300000}[version],
                     b"mntr", space, b"XYZ ")
    struct.pack_into(">6H", header, 24, 2024, 1, 1, 0, 0, 0)
    header[36:40] = b"acsp"
    header[68:80] = b"".join(_s15(c) for c in D50)
    header[80:84] = b"none"
    profile = bytes(header) + struct.pack(">I", len(tags)) + b"".join(struct.pack(">4sII", *t) for t in table) + blobs
    if version >= 4:  # the profile ID: MD5 with flags, intent and the ID itself zeroed (ICC.1:2010 7.2.18)
        zeroed = bytearray(profile)
        zeroed[44:48], zeroed[64:68], zeroed[84:100] = bytes(4), bytes(4), bytes(16)
        profile = profile[:84] + hashlib.md5(zeroed).digest() + profile[100:]
    return profile


def rgb_profile(primaries: Primaries = SRGB, white: tuple[float, float] = D65, curve=SRGB_CURVE, *,
                version: int = 2, order: tuple[int, int, int] = (0, 1, 2), description: str = "imgserve RGB") -> bytes:
    columns = colorants(primaries, white)
    tags = [(b"desc", _tag_text(description, version, "desc")), (b"cprt", _tag_text("CC0", version, "text")),
            (b"wtpt", _tag_xyz(D50))]
    tags += [(name, _tag_xyz(columns[:, i])) for name, i in zip((b"rXYZ", b"gXYZ", b"bXYZ"), order)]
    tags += [(name, _tag_curve(curve)) for name in (b"rTRC", b"gTRC", b"bTRC")]
    tags.append((b"chad", b"sf32\0\0\0\0" + b"".join(_s15(v) for v in adaptation(white).flatten())))
    return _assemble(tags, version, b"RGB ")


def gray_profile(curve=2.2, *, version: int = 2, description: str = "imgserve gray") -> bytes:
    tags = [(b"desc", _tag_text(description, version, "desc")), (b"cprt", _tag_text("CC0", version, "text")),
            (b"wtpt", _tag_xyz(D50)), (b"kTRC", _tag_curve(curve))]
    return _assemble(tags, version, b"GRAY")


def swapped_profile(version: int = 2) -> bytes:
    """sRGB with the red and blue colorants exchanged: a colour-managed decoder shows a pixel stored
    as pure blue as red; one that ignores the profile shows it blue."""
    return rgb_profile(order=(2, 1, 0), version=version, description="imgserve test: sRGB with red and blue swapped")


# ITU-T H.273 code points -> what a profile needs. Transfer 16 (PQ) and 18 (HLG) are HDR: not a curve
# an sRGB display can reproduce, so such sources are left as they are (docs/colour-and-formats.md).
CICP_PRIMARIES: dict[int, Primaries] = {1: SRGB, 9: BT2020, 12: DISPLAY_P3}
CICP_CURVES = {13: SRGB_CURVE, 1: BT709_CURVE, 6: BT709_CURVE, 14: BT709_CURVE, 15: BT709_CURVE,
               4: 2.2, 5: 2.8, 8: 1.0}


def cicp_profile(primaries: int, transfer: int) -> bytes | None:
    """The profile that CICP primaries and transfer name; None for sRGB, unspecified (2) or unknown codes."""
    primaries = 1 if primaries == 2 else primaries
    transfer = 13 if transfer == 2 else transfer
    if (primaries, transfer) == (1, 13) or primaries not in CICP_PRIMARIES or transfer not in CICP_CURVES:
        return None
    return rgb_profile(CICP_PRIMARIES[primaries], D65, CICP_CURVES[transfer], version=4,
                       description=f"CICP primaries {primaries}, transfer {transfer}")
