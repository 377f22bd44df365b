"""Hypothesis strategies that build image files field by field: structure-aware fuzzing.

Random bytes rarely get past a format's magic number, and mutating a valid file rarely reaches the
fields a parser trusts (an IFD offset, a segment length, a chunk count). These strategies write each
format's structure - TIFF directories, JPEG segments, PNG chunks, RIFF chunks, GIF blocks, BMP
headers - choosing every field from the values that matter (0, 1, the boundaries, 2**31, 2**63,
values that point past the end) and sometimes from anything, then sometimes truncate or flip a byte.
tests/unit/test_parsers.py runs every parser of untrusted bytes on them; bench/attacks.py --fuzz runs
the same for a long time.
"""

from __future__ import annotations

import struct
import zlib

from hypothesis import strategies as st

from tests.support.images import encode, photo


def _edgy(bits: int) -> st.SearchStrategy[int]:
    """Integers of `bits` bits, most often the values parsers get wrong."""
    top = (1 << bits) - 1
    special = sorted(v for v in {0, 1, 2, 3, 4, 7, 8, 15, 16, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
                                 0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, top, top - 1} if v <= top)
    return st.one_of(st.sampled_from(special), st.integers(0, min(top, 4096)), st.integers(0, top))


def _mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` most of the time (hypothesis favours a one_of's first branch): deep paths are reached only
    past a plausible header."""
    return st.integers(0, 9).flatmap(lambda roll: bad if roll == 9 else good)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """`data`, sometimes truncated, with a few bytes flipped or inserted."""
    out = bytearray(data)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert"]))
        at = draw(st.integers(0, max(0, len(out) - 1)))
        if kind == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif kind == "truncate":
            del out[at:]
        else:
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


# -- TIFF (and EXIF, which is a TIFF structure) -----------------------------------------------------

TIFF_TAGS = (256, 257, 258, 259, 262, 273, 274, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 338, 339,
             0x8769, 0x0112)


@st.composite
def _tiff_entry(draw: st.DrawFn, tag: int, big: bool) -> tuple[int, int, int, int]:
    """A plausible entry for `tag` (a SHORT or LONG, one value, small) three times in four."""
    values = {256: st.integers(1, 300), 257: st.integers(1, 300), 258: st.sampled_from([8, 16, 1, 4, 32, 12]),
              259: st.sampled_from([1, 5, 8, 7, 32773]), 262: st.sampled_from([2, 1, 0, 3, 5, 6]),
              277: st.sampled_from([3, 1, 4, 2, 5]), 284: st.sampled_from([1, 2]), 339: st.sampled_from([1, 3]),
              278: st.integers(1, 300), 322: st.sampled_from([16, 256, 512, 4096, 65536]),
              323: st.sampled_from([16, 256, 512, 4096, 65536])}.get(tag, st.integers(0, 2048))
    plausible = st.tuples(st.just(tag), st.sampled_from([3, 4]), st.just(1), values)
    anything = st.tuples(st.just(tag), _edgy(16), _edgy(64 if big else 32), _edgy(64 if big else 32))
    return draw(_mostly(plausible, anything))


@st.composite
def tiff(draw: st.DrawFn) -> bytes:
    order = draw(st.sampled_from("<>"))
    big = draw(st.booleans())
    layout = draw(st.sampled_from([(273, 278, 279), (324, 322, 323, 325)]))  # strips, or tiles
    entries = [draw(_tiff_entry(tag, big)) for tag in (256, 257, 258, 259, 262, 277, 284, *layout, 339)]
    entries += draw(st.lists(st.tuples(st.one_of(st.sampled_from(TIFF_TAGS), _edgy(16)),
                                       st.one_of(st.sampled_from([1, 3, 4, 16]), _edgy(16)),
                                       _edgy(64 if big else 32), _edgy(64 if big else 32)), max_size=6))
    entries = sorted(entries) if draw(st.booleans()) else entries
    head = 16 if big else 8
    directory = bytearray()
    directory += struct.pack(order + ("Q" if big else "H"), draw(_mostly(st.just(len(entries)), _edgy(16))))
    for tag, kind, count, value in entries:
        if big:
            directory += struct.pack(order + "HHQ", tag, kind, count)
            directory += struct.pack(order + ("HHI" if kind == 3 else "Q"), *((value & 0xFFFF, 0, 0) if kind == 3
                                                                          else (value,)))
        else:
            directory += struct.pack(order + "HHI", tag, kind, count & 0xFFFFFFFF)
            directory += struct.pack(order + "HH", value & 0xFFFF, 0) if kind == 3 else \
                struct.pack(order + "I", value & 0xFFFFFFFF)
    directory += struct.pack(order + ("Q" if big else "I"), draw(_edgy(64 if big else 32)))  # next IFD
    ifd = draw(_mostly(st.just(head), _edgy(64 if big else 32)))
    mark = b"II" if order == "<" else b"MM"
    if big:
        header = mark + struct.pack(order + "HHHQ", 43, 8, 0, ifd)
    else:
        header = mark + struct.pack(order + "HI", 42, ifd)
    tail = draw(st.binary(max_size=64))
    return draw(damaged(header + bytes(directory) + tail))


# -- JPEG ---------------------------------------------------------------------------------------------

@st.composite
def _segment(draw: st.DrawFn) -> bytes:
    marker = draw(st.one_of(st.sampled_from([0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC9, 0xCA, 0xCC, 0xCF, 0xDB, 0xDD,
                                             0xE0, 0xE1, 0xEE, 0xFE, 0xD0, 0x01, 0xFF, 0xDA]),
                            st.integers(0, 255)))
    if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCF):
        count = draw(st.integers(0, 5))
        body = struct.pack(">BHHB", draw(st.sampled_from([8, 12, 16, 0, 255])), draw(_edgy(16)), draw(_edgy(16)), count)
        body += b"".join(bytes([i + 1, draw(_edgy(8)), draw(st.integers(0, 3))]) for i in range(count))
    elif marker == 0xE1:
        body = b"Exif\0\0" + draw(tiff())
    elif marker == 0xDA:
        count = draw(st.integers(0, 4))
        body = bytes([count]) + bytes(draw(st.integers(0, 255)) for _ in range(2 * count))
        body += draw(st.binary(min_size=3, max_size=3))
        body += draw(st.binary(max_size=40))  # entropy-coded data follows the header
    else:
        body = draw(st.binary(max_size=40))
    length = draw(st.one_of(st.just(len(body) + 2), _edgy(16)))
    fill = b"\xff" * draw(st.integers(1, 3))
    return fill + bytes([marker]) + struct.pack(">H", length) + body


@st.composite
def _frame(draw: st.DrawFn) -> bytes:
    count = draw(st.sampled_from([1, 3, 4]))
    body = struct.pack(">BHHB", 8, draw(st.integers(1, 300)), draw(st.integers(1, 300)), count)
    body += b"".join(bytes([i + 1, draw(st.sampled_from([0x11, 0x22, 0x21, 0x12, 0x41])), 0]) for i in range(count))
    return b"\xff" + bytes([draw(st.sampled_from([0xC0, 0xC1, 0xC2]))]) + struct.pack(">H", len(body) + 2) + body


@st.composite
def jpeg(draw: st.DrawFn) -> bytes:
    segments = draw(st.lists(_segment(), max_size=4))
    segments.insert(draw(st.integers(0, len(segments))), draw(_mostly(_frame(), _segment())))
    segments += draw(st.lists(_segment(), max_size=6))
    data = b"\xff\xd8" + b"".join(segments) + draw(st.sampled_from([b"", b"\xff\xd9", b"\xff\xda\x00\x08"]))
    return draw(damaged(data))


# -- PNG ----------------------------------------------------------------------------------------------

def _chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


@st.composite
def _png_chunk(draw: st.DrawFn) -> bytes:
    kind = draw(st.one_of(st.sampled_from([b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"zTXt", b"iTXt",
                                           b"iCCP", b"tEXt", b"acTL", b"fcTL", b"fdAT", b"eXIf", b"gAMA"]),
                          st.binary(min_size=4, max_size=4)))
    if kind in (b"zTXt", b"iCCP"):
        body = draw(st.binary(max_size=8)) + b"\0" + bytes([draw(st.sampled_from([0, 1]))])
        body += draw(st.sampled_from([zlib.compress(b"\0" * 5000), zlib.compress(b"x"), b"\x78\x9c", b""]))
    elif kind == b"iTXt":
        body = (b"k\0" + bytes([draw(st.integers(0, 1)), 0]) + b"\0\0" +
                draw(st.sampled_from([zlib.compress(b"\0" * 5000), b"text", b"\x78"])))
    elif kind == b"IHDR":
        body = struct.pack(">IIBBBBB", draw(_edgy(32)), draw(_edgy(32)), draw(st.sampled_from([1, 2, 4, 8, 16, 3])),
                           draw(st.sampled_from([0, 2, 3, 4, 6, 5])), 0, 0, draw(st.integers(0, 2)))
    else:
        body = draw(st.binary(max_size=32))
    data = _chunk(kind, body, draw(st.one_of(st.none(), _edgy(32))))
    if draw(st.integers(0, 9)) == 0:  # a length that lies
        data = struct.pack(">I", draw(_edgy(32))) + data[4:]
    return data


@st.composite
def png(draw: st.DrawFn) -> bytes:
    kind = draw(_mostly(st.sampled_from([(2, 8), (6, 8), (3, 8), (0, 8), (0, 1), (4, 8), (2, 16), (6, 16), (3, 4)]),
                        st.tuples(st.sampled_from([0, 2, 3, 4, 6, 1]), st.sampled_from([1, 2, 4, 8, 16, 3]))))
    ihdr = struct.pack(">IIBBBBB", draw(_mostly(st.integers(1, 300), _edgy(32))),
                       draw(_mostly(st.integers(1, 300), _edgy(32))), kind[1], kind[0], 0, 0, draw(st.integers(0, 1)))
    first = draw(st.one_of(st.just(_chunk(b"IHDR", ihdr)), _png_chunk()))
    rest = draw(st.lists(_png_chunk(), max_size=8))
    return draw(damaged(b"\x89PNG\r\n\x1a\n" + first + b"".join(rest)))


# -- WebP ---------------------------------------------------------------------------------------------

@st.composite
def _riff_chunk(draw: st.DrawFn) -> bytes:
    kind = draw(st.one_of(st.sampled_from([b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF"]),
                          st.binary(min_size=4, max_size=4)))
    if kind == b"VP8 ":
        body = draw(st.binary(min_size=3, max_size=3)) + draw(st.sampled_from([b"\x9d\x01\x2a", b"\0\0\0"]))
        body += struct.pack("<HH", draw(_edgy(16)), draw(_edgy(16))) + draw(st.binary(max_size=16))
    elif kind == b"VP8L":
        body = bytes([draw(st.sampled_from([0x2F, 0]))]) + struct.pack("<I", draw(_edgy(32)))
        body += draw(st.binary(max_size=16))
    elif kind == b"VP8X":
        body = bytes([draw(_edgy(8))]) + b"\0\0\0" + draw(_edgy(24)).to_bytes(3, "little") + \
            draw(_edgy(24)).to_bytes(3, "little")
    else:
        body = draw(st.binary(max_size=24))
    size = draw(st.one_of(st.just(len(body)), _edgy(32)))
    return kind + struct.pack("<I", size) + body + (b"\0" if len(body) % 2 else b"")


@st.composite
def _riff_first(draw: st.DrawFn) -> bytes:
    """A plausible image chunk: VP8 with its start code, VP8L with its signature, or VP8X."""
    kind = draw(st.sampled_from([b"VP8 ", b"VP8L", b"VP8X"]))
    if kind == b"VP8 ":
        body = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", draw(st.integers(1, 300)), draw(st.integers(1, 300)))
    elif kind == b"VP8L":
        bits = draw(st.integers(0, 299)) | draw(st.integers(0, 299)) << 14 | draw(st.integers(0, 1)) << 28
        body = b"\x2f" + struct.pack("<I", bits)
    else:
        body = bytes([draw(st.sampled_from([0, 0x10, 0x02, 0x12, 0x20]))]) + b"\0\0\0" + \
            draw(st.integers(0, 299)).to_bytes(3, "little") + draw(st.integers(0, 299)).to_bytes(3, "little")
    body += draw(st.binary(max_size=24))
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


@st.composite
def webp(draw: st.DrawFn) -> bytes:
    chunks = b"".join([draw(_mostly(_riff_first(), _riff_chunk())), *draw(st.lists(_riff_chunk(), max_size=4))])
    size = draw(st.one_of(st.just(len(chunks) + 4), _edgy(32)))
    return draw(damaged(b"RIFF" + struct.pack("<I", size) + b"WEBP" + chunks))


# -- GIF ----------------------------------------------------------------------------------------------

@st.composite
def gif(draw: st.DrawFn) -> bytes:
    flags = draw(_edgy(8))
    data = draw(st.sampled_from([b"GIF87a", b"GIF89a"])) + struct.pack("<HHBBB", draw(_edgy(16)), draw(_edgy(16)),
                                                                        flags, 0, 0)
    if flags & 0x80:
        data += draw(st.binary(max_size=3 << ((flags & 7) + 1)))
    for _ in range(draw(st.integers(0, 4))):
        block = draw(st.sampled_from([b"\x21\xf9", b"\x21\xff", b"\x2c", b"\x3b", b"\x21\x01"]))
        if block == b"\x2c":
            block += struct.pack("<HHHHB", draw(_edgy(16)), draw(_edgy(16)), draw(_edgy(16)), draw(_edgy(16)),
                                 draw(_edgy(8)))
            block += bytes([draw(st.integers(0, 12))])
        sub = draw(st.lists(st.binary(max_size=20), max_size=3))
        block += b"".join(bytes([len(s)]) + s for s in sub) + b"\0"
        data += block
    return draw(damaged(data))


# -- BMP ----------------------------------------------------------------------------------------------

@st.composite
def bmp(draw: st.DrawFn) -> bytes:
    size = draw(_mostly(st.sampled_from([12, 40, 52, 56, 64, 108, 124]), _edgy(32)))
    bits = draw(_mostly(st.sampled_from([1, 4, 8, 16, 24, 32]), _edgy(16)))
    width = draw(_mostly(st.integers(1, 40), st.integers(-(1 << 31), (1 << 31) - 1)))
    height = draw(_mostly(st.integers(1, 40) | st.integers(-40, -1), st.integers(-(1 << 31), (1 << 31) - 1)))
    compression = draw(_mostly(st.sampled_from([0, 0, 1, 2, 3, 6]), _edgy(32)))
    if size == 12:
        info = struct.pack("<IHHHH", size, width & 0xFFFF, height & 0xFFFF, 1, bits & 0xFFFF)
    else:
        info = struct.pack("<IiiHHIIiiII", size, width, height, 1, bits & 0xFFFF, compression, 0, 0, 0,
                           draw(_mostly(st.integers(0, 256), _edgy(32))), 0)
        masks = draw(_mostly(st.sampled_from([(0xF800, 0x07E0, 0x001F, 0), (0xFF0000, 0xFF00, 0xFF, 0xFF000000),
                                              (0x3FF00000, 0xFFC00, 0x3FF, 0)]),
                             st.tuples(_edgy(32), _edgy(32), _edgy(32), _edgy(32))))
        info += struct.pack("<4I", *masks)
        info = info[:size] if size < len(info) else info + bytes(min(size, 124) - len(info))
    palette = draw(st.binary(min_size=0, max_size=1024))
    stride = (abs(width) * (bits & 0xFFFF) + 31) // 32 * 4 if 0 < abs(width) <= 64 and (bits & 0xFFFF) <= 32 else 8
    body = palette + draw(st.binary(min_size=0, max_size=16)) + bytes(min(stride * min(abs(height), 64), 20000))
    offset = draw(_mostly(st.just(14 + len(info) + len(palette)), _edgy(32)))
    head = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(body), 0, 0, offset)
    return draw(damaged(head + info + body))


FORMATS = {"tiff": tiff, "jpeg": jpeg, "png": png, "webp": webp, "gif": gif, "bmp": bmp}


def progressive_jpeg() -> bytes:
    """A real progressive JPEG, for mutating the scans the DC-only rewrite parses."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(photo(64, 48)[:, :, ::-1]).save(out, "JPEG", progressive=True)
    return out.getvalue()


@st.composite
def any_image(draw: st.DrawFn) -> bytes:
    """A structured file of any format, or a real one damaged."""
    real = [encode(photo(24, 16), ext) for ext in (".jpg", ".png", ".webp", ".tiff", ".bmp")]
    return draw(st.one_of(*(strategy() for strategy in FORMATS.values()),
                          st.sampled_from(real + [progressive_jpeg()]).flatmap(damaged)))
