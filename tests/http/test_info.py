"""GET /info/<id> and `imgserve info FILE`: facts from the header, the same ids and errors as /image."""

import io
import json
import os
from datetime import UTC, datetime

import numpy as np
import pytest
from click.testing import CliRunner

from imgserve import create_app
from imgserve.cli import main
from imgserve.signing import sign_url
from tests.support.http import problem
from tests.support.images import encode, jpeg_with_orientation, photo, quadrants


def test_facts_about_a_jpeg(client, root) -> None:
    os.utime(root / "photo.jpg", (1_700_000_000, 1_700_000_000))
    response = client.get("/info/photo")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {
        "id": "photo", "format": "jpeg", "mime_type": "image/jpeg", "width": 320, "height": 240,
        "display_width": 320, "display_height": 240, "orientation": 1, "channels": 3, "bit_depth": 8,
        "profile": None, "animation": None,
        "bytes": (root / "photo.jpg").stat().st_size, "modified": "2023-11-14T22:13:20+00:00",
    }
    assert datetime.fromisoformat(response.get_json()["modified"]) == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.mark.parametrize("name, data, expected", [
    ("rotated.jpg", jpeg_with_orientation(photo(64, 48), 6),
     {"width": 64, "height": 48, "display_width": 48, "display_height": 64, "orientation": 6, "channels": 3}),
    ("deep.png", encode(photo(30, 20).astype(np.uint16) * 257),
     {"format": "png", "width": 30, "height": 20, "channels": 3, "bit_depth": 16}),
    ("gray.png", encode(photo(30, 20)[:, :, 0]), {"channels": 1, "bit_depth": 8}),
    ("alpha.webp", encode(np.dstack([photo(30, 20), np.full((20, 30), 9, np.uint8)]), ".webp",
                          [1, 101]),  # IMWRITE_WEBP_QUALITY > 100: lossless, keeps alpha
     {"format": "webp", "mime_type": "image/webp", "channels": 4, "width": 30}),
    ("scan.bmp", encode(quadrants(40, 20), ".bmp"), {"format": "bmp", "width": 40, "height": 20, "channels": 3}),
    ("scan.tiff", encode(photo(30, 20).astype(np.uint16), ".tiff"), {"format": "tiff", "bit_depth": 16}),
])
def test_facts_per_format(client, root, name: str, data: bytes, expected: dict) -> None:
    (root / name).write_bytes(data)
    facts = client.get(f"/info/{name}").get_json()
    assert {key: facts[key] for key in expected} == expected
    assert facts["bytes"] == len(data)


def test_header_beyond_the_first_64_kib_is_found(client, root) -> None:
    """Two 60 KB APP2 segments (an ICC profile, say) before the frame header."""
    jpeg = encode(photo(50, 40), ".jpg")
    segment = b"\xff\xe2" + (60_002).to_bytes(2, "big") + bytes(60_000)
    (root / "icc.jpg").write_bytes(jpeg[:2] + segment * 2 + jpeg[2:])
    facts = client.get("/info/icc.jpg").get_json()
    assert (facts["width"], facts["height"]) == (50, 40)


def test_a_header_beyond_the_head_is_looked_for_only_within_the_source_limit(root) -> None:
    jpeg = encode(photo(50, 40), ".jpg")
    segment = b"\xff\xe2" + (60_002).to_bytes(2, "big") + bytes(60_000)
    (root / "icc.jpg").write_bytes(jpeg[:2] + segment * 2 + jpeg[2:])
    client = create_app({"root": str(root), "max_source_bytes": "100000"}).test_client()
    assert "reads at most 100000" in problem(client.get("/info/icc.jpg"), 413)["detail"]
    result = CliRunner(env={"IMGSERVE_MAX_SOURCE_BYTES": "100000"}).invoke(main, ["info", str(root / "icc.jpg")])
    assert result.exit_code == 1 and "reads at most 100000" in result.output


@pytest.mark.parametrize("name", ["noise.png", "noise.jpg", "noise.avif"])
def test_info_reads_no_more_than_the_head(client, root, monkeypatch, name: str) -> None:
    """A large PNG, JPEG (with a Display P3 profile) or AVIF: its facts come from the first 64 KiB."""
    import imgserve.sources.folder
    from tests.support.colour import profile, tagged

    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200, 3), dtype=np.uint8)
    big = tagged(noise, {"png": "png", "jpg": "jpeg", "avif": "avif"}[name[6:]], profile("DisplayP3.icm"))
    assert len(big) > 128 * 1024
    (root / name).write_bytes(big)
    reads = []
    real = os.pread
    monkeypatch.setattr(imgserve.sources.folder.os, "pread",
                        lambda fd, n, offset: reads.append(n) or real(fd, n, offset))
    facts = client.get(f"/info/{name}").get_json()
    assert facts["width"] == 1200 and facts["profile"]["description"] == "DisplayP3 color profile"
    assert reads == [64 * 1024]


@pytest.mark.parametrize("url, status, fragment", [
    ("/info/missing.jpg", 404, "no original 'missing.jpg'"),
    ("/info/../secret.jpg", 404, ""),
    ("/info/notes.txt", 415, "not an image"),
    ("/info/photo.jpg?w=10", 400, "w: /info takes no options"),
])
def test_errors_are_those_of_image(client, root, url: str, status: int, fragment: str) -> None:
    (root / "notes.txt").write_text("hello")
    assert fragment in problem(client.get(url), status)["detail"]


def test_conditional_requests(client, root) -> None:
    first = client.get("/info/quad.png")
    assert first.headers["Last-Modified"] and first.headers["Cache-Control"].startswith("public")
    again = client.get("/info/quad.png", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert first.headers["ETag"] != client.get("/image/quad.png").headers["ETag"]
    assert first.headers["ETag"] != client.get("/info/quad").headers["ETag"]   # another body: another id
    os.utime(root / "quad.png", (1_800_000_000, 1_800_000_000))
    assert client.get("/info/quad.png", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_info_is_signed_when_signing_is_on(root) -> None:
    key = "k" * 32
    client = create_app({"root": str(root), "signing_keys": key}).test_client()
    assert "signed" in problem(client.get("/info/quad.png"), 403)
    assert problem(client.get("/info/missing.png"), 403)   # no answer tells which ids exist
    assert client.get(sign_url("/info/quad.png", key)).get_json()["width"] == 80


def test_cli_info(root) -> None:
    result = CliRunner().invoke(main, ["info", str(root / "alpha.png")])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["file"] == str(root / "alpha.png")
    assert (facts["format"], facts["width"], facts["height"], facts["channels"]) == ("png", 80, 60, 4)
    assert facts["bytes"] == (root / "alpha.png").stat().st_size


def test_cli_info_errors(root) -> None:
    (root / "notes.txt").write_text("hello")
    result = CliRunner().invoke(main, ["info", str(root / "notes.txt")])
    assert result.exit_code == 1 and "not an image" in result.output
    result = CliRunner().invoke(main, ["info", str(root / "missing.png")])
    assert result.exit_code == 2 and "does not exist" in result.output


def _tagged(format: str, icc_profile: bytes, size: tuple[int, int] = (30, 20)) -> bytes:
    from tests.support.colour import tagged

    return tagged(photo(*size), format, icc_profile)


@pytest.mark.parametrize("format", ["jpeg", "png", "webp", "tiff", "avif"])
def test_the_profile_is_named(client, root, format: str) -> None:
    from tests.support.colour import profile

    (root / f"p3.{format}").write_bytes(_tagged(format, profile("DisplayP3.icm")))
    (root / f"v4.{format}").write_bytes(_tagged(format, profile("sRGB-v4.icc")))
    assert client.get(f"/info/p3.{format}").get_json()["profile"] == {
        "description": "DisplayP3 color profile", "colour_space": "RGB", "version": "2.2", "srgb": False, "from": "icc"}
    assert client.get(f"/info/v4.{format}").get_json()["profile"] == {
        "description": "sRGB", "colour_space": "RGB", "version": "4.4", "srgb": True, "from": "icc"}


def test_a_profile_or_frames_beyond_the_head_are_found(client, root) -> None:
    """A large photo whose profile sits in its TIFF directory at the end, and a GIF whose frames fill
    megabytes: /info reads the whole original for these, and only these."""
    from PIL import Image

    from tests.support.colour import profile

    big = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    (root / "late.tiff").write_bytes(_tagged("tiff", profile("ProPhoto.icm"), (400, 400)))
    assert client.get("/info/late.tiff").get_json()["profile"]["description"] == "ProPhoto RGB"
    frames = [Image.fromarray(np.roll(big, 20 * i, axis=1)) for i in range(12)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=70, loop=0)
    assert len(out.getvalue()) > 1_000_000
    (root / "long.gif").write_bytes(out.getvalue())
    assert client.get("/info/long.gif").get_json()["animation"] == {"frames": 12, "duration_ms": 840, "loops": 0}


@pytest.mark.parametrize("format, loops, plays", [("GIF", 2, 3), ("WEBP", 0, 0), ("PNG", 5, 5)])
def test_animation_facts(client, root, format: str, loops: int, plays: int) -> None:
    from PIL import Image

    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=loops)
    (root / f"anim.{format.lower()}").write_bytes(out.getvalue())
    facts = client.get(f"/info/anim.{format.lower()}").get_json()
    assert facts["animation"] == {"frames": 3, "duration_ms": 600, "loops": plays}


def test_cli_info_tells_the_same(root) -> None:
    from tests.support.colour import profile

    (root / "p3.png").write_bytes(_tagged("png", profile("DisplayP3.icm")))
    result = CliRunner().invoke(main, ["info", str(root / "p3.png")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["profile"]["description"] == "DisplayP3 color profile"
