"""Hostile originals, generated: each case is (file name, bytes, the status the service must answer).

The cases follow the anchors' records: decompression bombs (Pillow's DecompressionBombError, the
1-bit PNG that declares 30000x30000), lying headers, truncation, polyglots, formats off the
allowlist (ImageTragick came from decoding whatever a file claimed to be), and every bad BMP the BMP
suite describes. A 200 means the image is decodable and the service re-encodes it, which also strips
whatever was appended to it.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.support import bmp_factory
from tests.support.images import encode, jpeg_with_orientation, photo, quadrants


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_bomb(side: int = 30000) -> bytes:
    """A real 1-bit PNG of side x side zeros: about 110 KB that would decode to gigabytes."""
    rows = zlib.compressobj(9)
    row = b"\0" * (side // 8 + 2)  # filter byte + packed bits
    body = b"".join(rows.compress(row) for _ in range(side)) + rows.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _pil(image: Image.Image, format: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **kwargs)
    return out.getvalue()


def _patch(data: bytes, at: int, fmt: str, *values: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, at, *values)
    return bytes(patched)


def _jpeg_sof(data: bytes, width: int, height: int) -> bytes:
    return _patch(data, data.index(b"\xff\xc0") + 5, ">HH", height, width)


def _png_ihdr(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(_patch(data, 16, ">II", width, height))
    struct.pack_into(">I", patched, 29, zlib.crc32(bytes(patched[12:29])) & 0xFFFFFFFF)  # keep the CRC valid
    return bytes(patched)


def _webp_canvas(data: bytes, width: int, height: int) -> bytes:
    assert data[12:16] == b"VP8X"
    return data[:24] + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little") + data[30:]


def _tiff_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite ImageWidth/ImageLength in the first directory (little-endian TIFF, as Pillow writes it)."""
    patched = bytearray(data)
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):
            struct.pack_into("<H" if kind == 3 else "<I", patched, entry + 8, width if tag == 256 else height)
    return bytes(patched)


def _bmp(kind: str, at: int, fmt: str, value: int) -> bytes:
    return _patch(bmp_factory.write(kind, 16, 16), at, fmt, value)


def _exif_with_bad_ifd() -> bytes:
    data = bytearray(jpeg_with_orientation(photo(80, 60), 6))
    tiff = data.index(b"Exif\0\0") + 6
    struct.pack_into("<I" if data[tiff:tiff + 2] == b"II" else ">I", data, tiff + 4, 0x7FFFFFF0)
    return bytes(data)


def _gif_frame_larger_than_screen() -> bytes:
    data = bytearray(_pil(Image.new("P", (20, 10)), "GIF"))
    struct.pack_into("<HH", data, 6, 1, 1)  # logical screen 1x1 ...
    descriptor = data.index(b"\x2c", 13)
    struct.pack_into("<HH", data, descriptor + 5, 20000, 20000)  # ... first frame 20000x20000
    return bytes(data)


def _animated(format: str) -> bytes:
    frames = [Image.new("RGB", (60, 40), color) for color in ((255, 0, 0), (0, 0, 255))]
    return _pil(frames[0], format, save_all=True, append_images=frames[1:], duration=100)


def _animated_gif_with_a_huge_frame() -> bytes:
    """A 60x40 animation whose second frame claims 65535x65535: Pillow would grow its canvas to 17 GB."""
    data = bytearray(_animated("GIF"))
    descriptor = data.rindex(b"\x21\xf9\x04") + 8
    struct.pack_into("<HH", data, descriptor + 5, 65535, 65535)
    return bytes(data)


def _avif_ispe(data: bytes, width: int, height: int) -> bytes:
    at = data.index(b"ispe") + 8  # after the box type and the FullBox version and flags
    return _patch(data, at, ">II", width, height)


def _jpeg_app2(data: bytes, payload: bytes) -> bytes:
    return data[:2] + b"\xff\xe2" + struct.pack(">H", 2 + len(payload)) + payload + data[2:]


def _png_iccp_bomb(png: bytes) -> bytes:
    """An iCCP chunk inflating to 8 MiB: more than any profile, so not one."""
    body = b"bomb\0\0" + zlib.compress(bytes(8 << 20), 9)
    return png[:33] + _png_chunk(b"iCCP", body) + png[33:]


def _cmyk_with_a_broken_profile() -> bytes:
    """A CMYK JPEG whose profile has a CMYK header and nothing LittleCMS can use behind it."""
    header = bytearray(132)
    struct.pack_into(">I4sI4s4s4s", header, 0, 132, b"none", 0x02100000, b"prtr", b"CMYK", b"Lab ")
    header[36:40] = b"acsp"
    cmyk = _pil(Image.fromarray(quadrants()[:, :, ::-1]).convert("CMYK"), "JPEG")
    return _jpeg_app2(cmyk, b"ICC_PROFILE\0\x01\x01" + bytes(header))


def _heic() -> bytes | None:
    try:
        import pillow_heif
    except ImportError:
        return None
    heif = pillow_heif.from_bytes(mode="BGR", size=(64, 48), data=photo(64, 48).tobytes())
    out = io.BytesIO()
    heif.save(out, quality=80)
    return out.getvalue()


def cases() -> list[tuple[str, bytes, int]]:
    jpeg = encode(photo(200, 150), ".jpg")
    png = encode(photo(200, 150))
    webp = encode(photo(200, 150), ".webp")
    tiff = encode(photo(200, 150), ".tiff")
    gif = _pil(Image.new("RGB", (200, 150), (0, 128, 255)), "GIF")
    rle = bmp_factory.write("info-8-rle", 16, 16)
    rle_offset = struct.unpack_from("<I", rle, 10)[0]
    avif = encode(photo(200, 150), ".avif")
    heic = _heic()
    heif_cases = [("truncated.heic", heic[: len(heic) // 2], 415), ("huge.heic", _avif_ispe(heic, 65535, 65535), 422),
                  ("photo.heic", heic, 200)] if heic else []
    return heif_cases + [
        # not images, or not on the allowlist
        ("empty.jpg", b"", 415),
        ("garbage.jpg", bytes(range(256)) * 8, 415),
        ("text.png", b"just some text with an image extension\n", 415),
        ("html.gif", b"<html><script>alert(1)</script></html>", 415),
        ("vector.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
        ("imagetragick.png", b"push graphic-context\nviewbox 0 0 640 480\nfill 'url(https://x/\"|ls \"-la)'\npop", 415),
        ("photoshop.jpg", b"8BPS\x00\x01" + bytes(100), 415),
        ("pdf.png", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 415),
        ("jpeg2000.jpg", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(100), 415),
        # truncated and corrupt
        ("magic-only.jpg", b"\xff\xd8\xff", 415),
        ("truncated.jpg", jpeg[: len(jpeg) // 2], 415),
        ("truncated.png", png[: len(png) * 7 // 10], 415),
        ("truncated.webp", webp[: len(webp) // 2], 415),
        ("truncated.gif", gif[: len(gif) // 2], 415),
        ("truncated.tiff", tiff[:40], 415),
        ("no-scan.jpg", jpeg[: jpeg.index(b"\xff\xda")] + b"\xff\xd9", 415),
        ("bad-crc.png", png[:-20] + bytes([png[-20] ^ 0xFF]) + png[-19:], 415),
        ("bad-ifd.tiff", _patch(tiff, 4, "<I" if tiff[:2] == b"II" else ">I", 0x7FFFFFF0), 415),
        # bombs and lying headers: refused from the header, before any allocation
        ("bomb-1bit.png", png_bomb(), 422),
        ("huge.jpg", _jpeg_sof(jpeg, 65500, 65500), 422),
        ("huge.gif", _patch(gif, 6, "<HH", 65535, 65535), 422),
        ("huge-canvas.webp", _webp_canvas(_pil(Image.new("RGBA", (50, 40)), "WEBP"), 16384, 16384), 422),
        ("huge.tiff", _tiff_size(_pil(Image.new("RGB", (50, 40)), "TIFF"), 65535, 65535), 422),
        ("lying-small.png", _png_ihdr(png, 10, 10), 415),
        ("lying-large.png", _png_ihdr(png, 2000, 2000), 415),
        ("lying-large.jpg", _jpeg_sof(jpeg, 600, 600), 200),   # libjpeg fills the missing rows: bounded
        ("gif-frame-beyond-screen.gif", _gif_frame_larger_than_screen(), 415),
        ("animated-gif-huge-frame.gif", _animated_gif_with_a_huge_frame(), 422),
        ("huge.avif", _avif_ispe(avif, 65535, 65535), 422),
        ("lying-small.avif", _avif_ispe(avif, 20, 10), 200),  # libavif gives the ispe size: bounded
        ("truncated.avif", avif[: len(avif) // 2], 415),
        ("no-ispe.avif", avif.replace(b"ispe", b"ispf", 1), 415),
        ("mp4-not-avif.avif", b"\0\0\0\x18ftypisom\0\0\x02\0isommp41" + bytes(64), 415),
        # BMP suite's bad files
        ("bad-bitcount.bmp", _bmp("info-24", 28, "<H", 7), 415),
        ("bad-palettesize.bmp", _bmp("info-8", 46, "<I", 4096), 415),
        ("bad-width.bmp", _bmp("info-24", 18, "<i", -16), 415),
        ("bad-height.bmp", _bmp("info-24", 22, "<i", 0), 415),
        ("really-big.bmp", _bmp("info-24", 18, "<i", 3_000_000), 415),
        ("short-file.bmp", bmp_factory.write("info-24", 16, 16)[:-100], 415),
        ("bad-offset.bmp", _bmp("info-24", 10, "<I", 1_000_000), 415),
        ("bad-rle.bmp", rle[:rle_offset] + b"\xff\x07" * 300, 415),  # runs past every line
        ("rle-topdown.bmp", _patch(rle, 22, "<i", -16), 415),
        ("palette-index-past-end.bmp", bmp_factory.write("info-8-short-palette", 16, 16), 200),
        ("bad-masks.bmp", _patch(bmp_factory.write("info-16-565", 16, 16), 54, "<I", 0xF0F0), 415),
        # decodable oddities: served
        ("cmyk.jpg", _pil(Image.fromarray(quadrants()[:, :, ::-1]).convert("CMYK"), "JPEG"), 200),
        ("cmyk-broken-profile.jpg", _cmyk_with_a_broken_profile(), 200),      # a profile LittleCMS refuses: ignored
        ("icc-bomb.png", _png_iccp_bomb(png), 200),                          # not a profile: ignored
        ("icc-chunk-3-of-2.jpg", _jpeg_app2(jpeg, b"ICC_PROFILE\0\x03\x02" + bytes(200)), 200),
        ("icc-garbage.jpg", _jpeg_app2(jpeg, b"ICC_PROFILE\0\x01\x01" + bytes(range(256)) * 4), 200),
        ("animated.png", _animated("PNG"), 200),
        ("animated.avif", _animated("AVIF"), 200),
        ("avif.avif", avif, 200),
        ("deep.png", encode(quadrants().astype("uint16") * 257), 200),
        ("gray-alpha.png", _pil(Image.new("LA", (40, 30), (128, 100)), "PNG"), 200),
        ("animated.gif", _animated("GIF"), 200),
        ("animated.webp", _animated("WEBP"), 200),
        ("progressive.jpg", _pil(Image.fromarray(photo(64, 48)[:, :, ::-1]), "JPEG", progressive=True), 200),
        ("exif-orientation-9.jpg", jpeg_with_orientation(photo(80, 60), 9), 200),
        ("exif-bad-ifd.jpg", _exif_with_bad_ifd(), 200),
        ("png-named.jpg", png, 200),                                   # format by content, not name
        ("polyglot-gif.gif", _pil(Image.new("P", (8, 8)), "GIF") + b"/*<script>alert(1)</script>*/", 200),
        ("jpeg-plus-zip.jpg", jpeg + b"PK\x03\x04" + bytes(64), 200),
    ]
