"""HEIF/HEIC input (what phones write) through pillow-heif, an optional extra: libheif and libde265
are large, and HEVC is a patent minefield some deployments would rather not ship.

pillow-heif applies the file's rotation and mirroring (`irot`, `imir`) itself and hands out BGR(A)
directly; 10- and 12-bit images come as uint16 scaled to 16 bits. The probe reads the header with
our own box reader (imaging/isobmff.py), so the pixel limit holds and /info answers without the extra.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import Problem

log = logging.getLogger(__name__)
EXTRA = "pip install 'imgserve-server[heif]'"


def decode(data: bytes) -> np.ndarray:
    try:
        import pillow_heif
    except ImportError:
        raise Problem(415, f"HEIF/HEIC input needs an optional part of imgserve that this server lacks; its "
                           f"operator can add it with {EXTRA}") from None
    try:
        image = np.asarray(pillow_heif.open_heif(data, convert_hdr_to_8bit=False, bgr_mode=True))
    except (ValueError, RuntimeError, OSError, SyntaxError) as error:
        log.info("libheif refused a HEIF: %s", error)
        raise Problem(415, "the HEIF data could not be decoded (truncated, corrupt, or not HEVC)") from None
    return image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
