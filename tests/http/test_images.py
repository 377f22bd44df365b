import io
import os
import time
from email.utils import formatdate

import numpy as np
import pytest
from PIL import Image, ImageSequence

from imgserve import create_app
from tests.support.http import problem
from tests.support.images import GREEN, RED, close, color_at, decode, encode, photo, psnr


def test_thumbnail_has_the_pixels_and_headers(client) -> None:
    response = client.get("/image/photo.jpg?w=100")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert response.headers["ETag"].startswith('"')
    assert response.headers["Cache-Control"] == "public, max-age=86400"
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert "Vary" not in response.headers
    assert decode(response.data).shape == (75, 100, 3)


def test_every_image_is_sent_with_nosniff(app, client) -> None:
    """The bytes come from uploads and remote origins: a browser must take the Content-Type as given
    and never sniff them into HTML or script (Fetch, X-Content-Type-Options), on the full way, from
    the repeat cache, for uploads and for placeholders alike."""
    full = client.get("/image/photo.jpg?w=50")
    repeat = client.get("/image/photo.jpg?w=50")
    assert app.extensions["imgserve"].repeats.hits == 1
    upload = client.post("/process?w=50", data=encode(photo()), content_type="image/png")
    drawn = client.get("/placeholder/60x40")
    for response in (full, repeat, upload, drawn):
        assert response.status_code == 200 and response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("url, shape", [
    ("/image/quad.png?w=40&h=40&fit=pad&bg=000", (40, 40, 3)),
    ("/image/quad?w=40&h=40&fit=cover&format=webp", (40, 40, 3)),
    ("/image/alpha.png?w=20", (15, 20, 4)),
    ("/image/alpha.png?w=20&format=jpeg", (15, 20, 3)),
    ("/image/sub/deep.bmp", (20, 40, 3)),
    ("/image/sub/deep?format=bmp&rotate=90", (40, 20, 3)),
    ("/image/photo.jpg?scale=0.5&grayscale=1&format=png", (120, 160)),
    ("/image/photo.jpg?crop=10,10,100,50&sharpen=1&blur=0.5", (50, 100, 3)),
])
def test_options_give_the_output_shape(client, url: str, shape: tuple) -> None:
    """Shapes over the sample originals; the pixels of every option are checked in test_option_pixels.py."""
    response = client.get(url)
    assert response.status_code == 200, response.data
    assert decode(response.data).shape == shape


def test_colours_come_through(client) -> None:
    image = decode(client.get("/image/quad.png?w=40&format=png").data)
    assert close(color_at(image, 0.25, 0.25), RED) and close(color_at(image, 0.75, 0.25), GREEN)


def test_head_sends_headers_without_a_body(client) -> None:
    get = client.get("/image/photo.jpg?w=50")
    head = client.head("/image/photo.jpg?w=50")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["ETag"] == get.headers["ETag"]


def test_if_none_match_gives_304_with_the_validators(client) -> None:
    """What a 304 says; what it costs is counted in test_conditional.py."""
    tag = client.get("/image/photo.jpg?w=50").headers["ETag"]
    response = client.get("/image/photo.jpg?w=50", headers={"If-None-Match": tag})
    assert response.status_code == 304 and response.data == b""
    assert response.headers["ETag"] == tag and "Cache-Control" in response.headers
    assert client.get("/image/photo.jpg?w=50", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/image/photo.jpg?w=50", headers={"If-None-Match": f'"x", {tag}'}).status_code == 304
    assert client.head("/image/photo.jpg?w=50", headers={"If-None-Match": tag}).status_code == 304


def test_if_modified_since(client, root) -> None:
    mtime = 1_700_000_000
    os.utime(root / "photo.jpg", (mtime, mtime))
    response = client.get("/image/photo.jpg?w=10")
    assert response.headers["Last-Modified"] == formatdate(mtime, usegmt=True)
    since = {"If-Modified-Since": formatdate(mtime, usegmt=True)}
    assert client.get("/image/photo.jpg?w=10", headers=since).status_code == 304
    earlier = {"If-Modified-Since": formatdate(mtime - 60, usegmt=True)}
    assert client.get("/image/photo.jpg?w=10", headers=earlier).status_code == 200


def test_etag_follows_options_and_the_original(client, root) -> None:
    first = client.get("/image/photo.jpg?w=50").headers["ETag"]
    assert client.get("/image/photo.jpg?w=050").headers["ETag"] == first   # same meaning, same tag
    assert client.get("/image/photo?w=50").headers["ETag"] == first         # same original
    assert client.get("/image/photo.jpg?w=51").headers["ETag"] != first
    later = time.time() + 10
    os.utime(root / "photo.jpg", (later, later))
    changed = client.get("/image/photo.jpg?w=50")
    assert changed.headers["ETag"] != first
    assert client.get("/image/photo.jpg?w=50", headers={"If-None-Match": first}).status_code == 200


def test_replaced_original_is_served_fresh_despite_the_cache(client, root) -> None:
    assert decode(client.get("/image/quad.png").data).shape == (60, 80, 3)
    replacement = root / "tmp.png"
    replacement.write_bytes(encode(photo(30, 20)))
    os.replace(replacement, root / "quad.png")
    assert decode(client.get("/image/quad.png").data).shape == (20, 30, 3)


def test_format_auto_negotiates_and_varies(client) -> None:
    """AVIF first (every current browser names it), then WebP, then the default; each its own cache entry."""
    chrome = client.get("/image/photo.jpg?w=40&format=auto",
                        headers={"Accept": "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"})
    assert chrome.headers["Content-Type"] == "image/avif" and chrome.headers["Vary"] == "Accept"
    assert chrome.data[4:12] == b"ftypavif"
    webp = client.get("/image/photo.jpg?w=40&format=auto", headers={"Accept": "image/webp,*/*"})
    assert webp.headers["Content-Type"] == "image/webp" and webp.headers["Vary"] == "Accept"
    plain = client.get("/image/photo.jpg?w=40&format=auto", headers={"Accept": "*/*"})
    assert plain.headers["Content-Type"] == "image/jpeg" and plain.headers["Vary"] == "Accept"
    assert len({chrome.headers["ETag"], webp.headers["ETag"], plain.headers["ETag"]}) == 3
    assert decode(chrome.data).shape == decode(webp.data).shape == decode(plain.data).shape == (30, 40, 3)
    assert psnr(decode(chrome.data), decode(plain.data)) > 28
    again = client.get("/image/photo.jpg?w=40&format=auto", headers={"Accept": "image/avif"})
    assert again.data == chrome.data and again.headers["ETag"] == chrome.headers["ETag"]


def test_lossless_outputs_are_exact(client) -> None:
    """lossless=1: WebP and AVIF give back exactly the pixels PNG holds; a lossy default becomes PNG."""
    png = decode(client.get("/image/photo.jpg?w=90&format=png").data)
    for format in ("webp", "avif"):
        response = client.get(f"/image/photo.jpg?w=90&format={format}&lossless=1")
        assert response.headers["Content-Type"] == f"image/{format}"
        assert np.array_equal(decode(response.data), png), format
    default = client.get("/image/photo.jpg?w=90&lossless=1")
    assert default.headers["Content-Type"] == "image/png" and np.array_equal(decode(default.data), png)
    assert problem(client.get("/image/photo.jpg?format=jpg&lossless=1"), 400)["option"] == "lossless"


def test_progressive_jpeg(client) -> None:
    baseline = client.get("/image/photo.jpg?w=200&q=90")
    progressive = client.get("/image/photo.jpg?w=200&q=90&progressive=1")
    assert b"\xff\xc2" in progressive.data and b"\xff\xc2" not in baseline.data  # SOF2: progressive DCT
    assert psnr(decode(progressive.data), decode(baseline.data)) > 45  # the same image, scan by scan
    assert client.get("/image/photo.jpg?w=200&format=png&progressive=1").headers["Content-Type"] == "image/png"


def test_jpeg_aliases(client) -> None:
    assert client.get("/image/photo.jpg?w=20&format=jpg").headers["Content-Type"] == "image/jpeg"
    assert client.get("/image/photo.jpg?w=20&format=tif").headers["Content-Type"] == "image/tiff"


def test_cache_serves_repeats(app, client) -> None:
    cache = app.extensions["imgserve"].cache
    first = client.get("/image/photo.jpg?w=33")
    second = client.get("/image/photo.jpg?w=33")
    assert first.data == second.data and cache.hits == 1 and cache.misses == 1


def test_cache_can_be_turned_off(root) -> None:
    app = create_app({"root": str(root), "cache_bytes": "0"})
    client = app.test_client()
    client.get("/image/photo.jpg?w=33")
    client.get("/image/photo.jpg?w=33")
    assert len(app.extensions["imgserve"].cache) == 0


@pytest.mark.parametrize("url, status, fragment", [
    ("/image/photo.jpg?w=abc", 400, "w: expected a whole number"),
    ("/image/photo.jpg?w=99999", 400, "w: must be from 1 to 8192"),
    ("/image/photo.jpg?fit=squash", 400, "fit: expected one of"),
    ("/image/photo.jpg?width=10", 400, "width: unknown option"),
    ("/image/photo.jpg?crop=500,0,10,10", 400, "crop: the region 500,0,10,10 lies outside"),
    ("/image/missing.jpg", 404, "no original 'missing.jpg'"),
    ("/image/../secret.jpg", 404, ""),
    ("/image/%2e%2e/secret.jpg", 404, ""),
    ("/image/sub/%2e%2e/%2e%2e/secret.jpg", 404, ""),
    ("/image/.hidden.png", 404, ""),
    ("/image/", 404, ""),
    ("/nope", 404, ""),
    ("/image/notes.txt", 415, "not an image"),
    ("/image/fake.jpg", 415, "not an image"),
    ("/image/broken.png", 415, "PNG"),
    ("/image/huge.png", 422, "pixels"),
])
def test_errors_are_problem_json(client, root, url: str, status: int, fragment: str) -> None:
    (root.parent / "secret.jpg").write_bytes(encode(photo(10, 10), ".jpg"))
    (root / ".hidden.png").write_bytes(encode(photo(10, 10)))
    (root / "notes.txt").write_text("hello")
    (root / "fake.jpg").write_bytes(b"GIF? no: plain text with an image extension")
    (root / "broken.png").write_bytes(encode(photo(64, 64))[:200])
    header = bytearray(encode(photo(8, 8)))
    header[16:24] = (30000).to_bytes(4, "big") * 2   # declares 30000x30000
    (root / "huge.png").write_bytes(bytes(header))
    body = problem(client.get(url), status)
    assert fragment in body["detail"]


def test_400_body_names_the_option(client) -> None:
    body = problem(client.get("/image/photo.jpg?q=0"), 400)
    assert body["option"] == "q"


def test_method_not_allowed_is_405_with_allow(client) -> None:
    response = client.post("/image/photo.jpg")
    problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_source_over_the_byte_limit_is_413(root) -> None:
    client = create_app({"root": str(root), "max_source_bytes": "100"}).test_client()
    assert "bytes" in problem(client.get("/image/photo.jpg"), 413)["detail"]


def test_huge_png_is_refused_without_decoding(client, root, monkeypatch) -> None:
    """A 1-bit PNG that declares 30000x30000 would take OpenCV seconds and gigabytes to decode: it is
    refused from its header, and no decoder runs (counted, not timed)."""
    from tests.support.costs import Costs

    header = bytearray(encode(np.zeros((8, 8), np.uint8)))
    header[16:24] = (30000).to_bytes(4, "big") * 2
    (root / "bomb.png").write_bytes(bytes(header))
    costs = Costs(root, monkeypatch)
    problem(client.get("/image/bomb.png?w=10"), 422)
    assert costs.of("decodes", "reads") == {"decodes": 0, "reads": 1}


def test_manifest_ids(root, tmp_path) -> None:
    manifest = tmp_path / "ids.csv"
    manifest.write_text("id,path\n42,sub/deep.bmp\n")
    client = create_app({"root": str(root), "manifest": str(manifest)}).test_client()
    assert decode(client.get("/image/42?w=20").data).shape == (10, 20, 3)


def test_pixelate_reaches_the_pixels(client) -> None:
    """pixelate was added as one option row, one ops function and one step: it must work end to end."""
    response = client.get("/image/quad.png?pixelate=20")
    assert response.status_code == 200
    got = decode(response.data)
    assert got.shape == (60, 80, 3)
    blocks = got.reshape(3, 20, 4, 20, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()  # every 20x20 block is one colour
    assert client.get("/image/quad.png?pixelate=1").status_code == 400


def test_an_animated_gif_stays_animated_whatever_auto_picks(client, root) -> None:
    frames = [Image.new("RGB", (80, 60), colour) for colour in ("red", "lime", "blue", "white")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)
    (root / "anim.gif").write_bytes(out.getvalue())
    for accept, mime in (("image/avif,image/webp,*/*", "image/avif"), ("image/webp,*/*", "image/webp"),
                         ("*/*", "image/gif")):
        response = client.get("/image/anim.gif?w=40&format=auto", headers={"Accept": accept})
        assert response.headers["Content-Type"] == mime
        with Image.open(io.BytesIO(response.data)) as opened:
            shown = [np.asarray(f.convert("RGB"))[15, 20].tolist() for f in ImageSequence.Iterator(opened)]
        assert len(shown) == 4 and opened.size == (40, 30), mime
        for got, want in zip(shown, ([255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255])):
            assert close(tuple(got), tuple(want), 16), (mime, shown)
    still = client.get("/image/anim.gif?w=40&format=jpeg")
    assert close(color_at(decode(still.data), 0.5, 0.5), RED, 16)  # JPEG: the first frame


def test_png_effort_is_part_of_the_etag(root) -> None:
    """Another IMGSERVE_PNG_EFFORT makes other bytes for the same URL, so it must be another ETag."""
    url = "/image/quad.png?w=40&format=png"
    tags = set()
    for effort in ("fast", "default", "max"):
        response = create_app({"root": str(root), "png_effort": effort}).test_client().get(url)
        assert response.status_code == 200
        tags.add(response.headers["ETag"])
    assert len(tags) == 3
