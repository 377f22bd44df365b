"""Progressive JPEGs at 1/8 scale, without entropy-decoding the AC coefficients nobody will use.

At 1/8 scale libjpeg's inverse DCT for a full-resolution component is 1x1: it reads only the DC
coefficient. A baseline JPEG interleaves DC and AC in one scan, so all of it must be decoded anyway;
a progressive JPEG keeps them in separate scans, and the AC scans are most of its bytes (15 of 16 MB
for a 5640x3172 photo) and most of its decoding time. Dropping them is not enough: libjpeg would see
coefficients missing and smooth the blocks, changing the result. So they are replaced by one scan per
component that says "all 63 AC coefficients are zero, to full precision" (end-of-band runs, with a
small Huffman table of their own). libjpeg then decodes the DC scans only, and the 1/8 image is
bit-identical to the one the whole file gives (tests/unit/test_dc_scans.py), 5-6x sooner on real photos.

Components libjpeg does not decode 1x1 keep their AC scans: where a component's sampling leaves room,
libjpeg-turbo scales its IDCT up instead of upsampling afterwards (4:2:0 chroma gets 2x2), and that
IDCT reads AC coefficients. The rule below is the one in libjpeg-turbo's jdmaster.c.
"""

from __future__ import annotations

import re
import struct

_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")  # the next marker after entropy-coded data
# An AC Huffman table of the end-of-band runs EOB0..EOB14 (1 to 32767 empty blocks), 15 codes of
# 4 bits: symbol EOBr gets code r.
_EOB_TABLE = bytes([0, 0, 0, 15] + [0] * 12) + bytes(r << 4 for r in range(15))
_MAX_RUN = (1 << 15) - 1


def dc_only(data: bytes) -> bytes | None:
    """The progressive JPEG `data` with the AC scans of 1x1-decoded components emptied, or None when
    there is nothing to gain or anything looks unusual (then the file is decoded as it is)."""
    try:
        return _rewrite(data)
    except (struct.error, IndexError, KeyError, ValueError):
        return None


def _rewrite(data: bytes) -> bytes | None:
    parts, at = [data[:2]], 2
    blocks: dict[int, int] = {}            # component id -> block count, for components decoded 1x1
    restart, dropped = 0, 0
    while True:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:                 # fill byte
            at += 1
            continue
        if marker == 0xD9:                 # end of image
            break
        end = at + 2 + struct.unpack_from(">H", data, at + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if marker != 0xC2:             # only progressive with Huffman coding
                return None
            blocks = _full_components(data, at)
        elif marker == 0xDD:
            restart = struct.unpack_from(">H", data, at + 4)[0]
        elif marker == 0xDA:
            scan_end = _scan_end(data, end)
            count = data[at + 4]
            if data[at + 5 + 2 * count] == 0 or data[at + 5] not in blocks:
                parts.append(data[at:scan_end])  # DC scans, and AC of components decoded larger
            elif count != 1:               # AC scans hold one component; anything else is not for us
                return None
            else:
                dropped += 1
            at = scan_end
            continue
        parts.append(data[at:end])
        at = end
    # One scan per component saying all 63 AC coefficients are zero, to full precision: after the
    # DC scans, where any AC scan may go. libjpeg then knows every coefficient and smooths nothing.
    parts.append(_dht(0, _EOB_TABLE))
    for component, count in blocks.items():
        parts += [b"\xff\xda\x00\x08\x01", bytes([component, 0x00, 1, 63, 0x00]), _empty_scan(count, restart)]
    parts.append(b"\xff\xd9")
    rewritten = b"".join(parts)
    return rewritten if dropped and len(rewritten) < len(data) else None


def _full_components(data: bytes, at: int) -> dict[int, int]:
    """Block counts of the components libjpeg decodes with a 1x1 IDCT at 1/8 (jdmaster.c: a
    component's IDCT grows while both sampling ratios stay divisible by twice its size)."""
    height, width, count = struct.unpack_from(">HHB", data, at + 5)
    frames = [struct.unpack_from(">BB", data, at + 10 + 3 * i) for i in range(count)]
    if any(not (1 <= sampling >> 4 <= 4 and 1 <= sampling & 0x0F <= 4) for _, sampling in frames):
        raise ValueError("sampling factors must be 1 to 4")  # 0 would divide by zero below
    h_max = max(sampling >> 4 for _, sampling in frames)
    v_max = max(sampling & 0x0F for _, sampling in frames)
    blocks = {}
    for component, sampling in frames:
        h, v = sampling >> 4, sampling & 0x0F
        if h_max % (2 * h) == 0 and v_max % (2 * v) == 0:
            continue                       # decoded with a 2x2 or larger IDCT: it needs its AC
        columns = -(-width * h // h_max)
        rows = -(-height * v // v_max)
        blocks[component] = -(-columns // 8) * -(-rows // 8)
    return blocks


def _dht(table: int, spec: bytes) -> bytes:
    body = bytes([0x10 | table]) + spec
    return b"\xff\xc4" + struct.pack(">H", 2 + len(body)) + body


def _scan_end(data: bytes, start: int) -> int:
    found = _MARKER.search(data, start)
    if found is None:
        raise ValueError("no marker after the scan")
    return found.start()


def _empty_scan(blocks: int, restart: int) -> bytes:
    """Entropy-coded data for `blocks` all-zero blocks: end-of-band runs, restarted every `restart`
    blocks (a run cannot cross a restart marker)."""
    out = bytearray()
    interval = restart or blocks
    for number, start in enumerate(range(0, blocks, interval)):
        if number:
            out += bytes([0xFF, 0xD0 + (number - 1) % 8])
        bits = _Bits()
        left = min(interval, blocks - start)
        while left:
            run = min(left, _MAX_RUN)
            r = run.bit_length() - 1
            bits.put(r, 4)
            if r:
                bits.put(run - (1 << r), r)
            left -= run
        out += bits.flushed()
    return bytes(out)


class _Bits:
    """A bit writer with JPEG's byte stuffing (0xFF is followed by 0x00) and 1-bit padding."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.count = 0

    def put(self, value: int, count: int) -> None:
        self.acc = (self.acc << count) | value
        self.count += count
        while self.count >= 8:
            self.count -= 8
            byte = (self.acc >> self.count) & 0xFF
            self.out += b"\xff\x00" if byte == 0xFF else bytes([byte])
        self.acc &= (1 << self.count) - 1

    def flushed(self) -> bytes:
        if self.count:
            self.put((1 << (8 - self.count)) - 1, 8 - self.count)
        return bytes(self.out)
