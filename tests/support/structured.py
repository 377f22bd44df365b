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


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """`data`, sometimes truncated, with a few bytes flipped or inserted."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
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
def tiff(draw: st.DrawFn) -> bytes:
    order = draw(st.sampled_from("<>"))
    big = draw(st.booleans())
    entries = draw(st.lists(st.tuples(st.one_of(st.sampled_from(TIFF_TAGS), _edgy(16)),
                                      st.one_of(st.sampled_from([1, 3, 4, 16]), _edgy(16)),
                                      _edgy(64 if big else 32), _edgy(64 if big else 32)), max_size=14))
    head = 16 if big else 8
    directory = bytearray()
    directory += struct.pack(order + ("Q" if big else "H"), draw(st.one_of(st.just(len(entries)), _edgy(16))))
    for tag, kind, count, value in entries:
        if big:
            directory += struct.pack(order + "HHQQ", tag, kind, count, value)
        else:
            directory += struct.pack(order + "HHII", tag, kind, count, value)
    directory += struct.pack(order + ("Q" if big else "I"), draw(_edgy(64 if big else 32)))  # next IFD
    ifd = draw(st.one_of(st.just(head), _edgy(64 if big else 32)))
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
def jpeg(draw: st.DrawFn) -> bytes:
    segments = draw(st.lists(_segment(), max_size=10))
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
    ihdr = struct.pack(">IIBBBBB", draw(_edgy(32)), draw(_edgy(32)), draw(st.sampled_from([1, 2, 4, 8, 16, 3])),
                       draw(st.sampled_from([0, 2, 3, 4, 6, 1])), 0, 0, draw(st.integers(0, 1)))
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
def webp(draw: st.DrawFn) -> bytes:
    chunks = b"".join(draw(st.lists(_riff_chunk(), min_size=1, max_size=5)))
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
    size = draw(st.one_of(st.sampled_from([12, 40, 52, 56, 64, 108, 124]), _edgy(32)))
    bits = draw(st.one_of(st.sampled_from([1, 4, 8, 16, 24, 32]), _edgy(16)))
    if size == 12:
        info = struct.pack("<IHHHH", size, draw(_edgy(16)), draw(_edgy(16)), 1, bits)
    else:
        signed = st.integers(-(1 << 31), (1 << 31) - 1)
        info = struct.pack("<IiiHHIIiiII", size, draw(st.one_of(signed, st.integers(-4, 64))),
                           draw(st.one_of(signed, st.integers(-64, 64))), 1, bits,
                           draw(st.one_of(st.sampled_from([0, 1, 2, 3, 4, 6]), _edgy(32))), 0, 0, 0,
                           draw(st.one_of(st.just(0), _edgy(32))), 0)
        info += b"".join(struct.pack("<I", draw(_edgy(32))) for _ in range(4))  # masks
        info = info[:size] if size < len(info) else info + bytes(min(size, 124) - len(info))
    body = draw(st.binary(max_size=200))
    offset = draw(st.one_of(st.just(14 + len(info)), _edgy(32)))
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
