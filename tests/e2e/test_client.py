"""imgserve.client against a real `imgserve serve` (waitress, subprocess) on a free loopback port."""

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from imgserve.client import Client, ImgserveError
from tests.support import origin as o
from tests.support.http import free_port, start, stop
from tests.support.images import BLUE, GREEN, RED, WHITE, close, color_at, decode, encode, photo, quadrants

KEY = "client-test-key-0123456789"


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("originals")
    (folder / "sub").mkdir()
    (folder / "quad.png").write_bytes(encode(quadrants()))
    (folder / "sub" / "photo.jpg").write_bytes(encode(photo(), ".jpg"))
    (folder / "a b.png").write_bytes(encode(quadrants(40, 30)))
    return folder


@pytest.fixture(scope="module")
def remote() -> Iterator[o.Origin]:
    with o.Origin() as server:
        server.routes["/quad.png"] = o.image(encode(quadrants()))
        yield server


def serve(originals: Path, log: Path, *flags: str) -> tuple[str, object]:
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(originals), "--port", str(port),
                     "--threads", "4", "--max-body-bytes", "2000000", *flags], {}, port, log)
    return f"http://127.0.0.1:{port}", process


@pytest.fixture(scope="module")
def base(originals: Path, remote: o.Origin, tmp_path_factory) -> Iterator[str]:
    url, process = serve(originals, tmp_path_factory.mktemp("log") / "server.log",
                         "--remote-allow", f"127.0.0.1:{remote.port}")
    try:
        yield url
    finally:
        stop(process)


@pytest.fixture
def client(base: str) -> Iterator[Client]:
    with Client(base) as c:
        yield c


def test_get_bytes_and_arrays(client: Client) -> None:
    data = client.get("quad.png", w=40, format="webp")
    assert data[:4] == b"RIFF" and decode(data).shape == (30, 40, 3)
    image = client.get("quad", as_array=True, w=40, crop=(0, 0, 40, 30), grayscale=False, format="png")
    assert image.shape == (30, 40, 3) and close(color_at(image, 0.5, 0.5), RED)
    assert client.get("sub/photo.jpg", as_array=True, scale=0.25).shape == (60, 80, 3)
    assert client.get("a b.png", as_array=True).shape == (30, 40, 3)


def test_new_formats_and_options(client: Client) -> None:
    png = client.get("quad.png", as_array=True, w=40, format="png")
    avif = client.get("quad.png", w=40, format="avif", lossless=True)
    assert avif[4:12] == b"ftypavif" and np.array_equal(decode(avif), png)
    assert client.get("quad.png", w=40, format="gif", icc="keep")[:6] == b"GIF89a"
    assert client.get("quad.png", as_array=True, w=40, format="jpg", progressive=True, frame=0).shape == (30, 40, 3)


@pytest.mark.parametrize("image", [
    quadrants(),
    quadrants()[:, :, 2],
    np.dstack([quadrants(), np.tile(np.arange(80, dtype=np.uint8) * 3, (60, 1))]),
    np.random.default_rng(0).integers(0, 65536, (30, 20, 3), dtype=np.uint16),
    np.random.default_rng(1).integers(0, 65536, (30, 20), dtype=np.uint16),
    np.random.default_rng(2).integers(0, 65536, (30, 20, 4), dtype=np.uint16),
], ids=["bgr8", "gray8", "bgra8", "bgr16", "gray16", "bgra16"])
def test_process_arrays_round_trip_losslessly(client: Client, image: np.ndarray) -> None:
    back = client.process(image, as_array=True)
    assert back.dtype == image.dtype and back.shape == image.shape and np.array_equal(back, image)


def test_process_with_options_and_bytes(client: Client) -> None:
    turned = client.process(quadrants(), as_array=True, rotate=90, w=30)
    assert turned.shape == (40, 30, 3)
    assert close(color_at(turned, 0.25, 0.25), BLUE) and close(color_at(turned, 0.75, 0.75), GREEN)
    data = client.process(encode(photo(), ".jpg"), w=64, blur=1.5, sharpen=0.5)
    assert data[:3] == b"\xff\xd8\xff" and decode(data).shape == (48, 64, 3)
    flat = client.process(quadrants(), as_array=True, format="jpeg", q=95, flip="hv")
    assert close(color_at(flat, 0.1, 0.1), WHITE) and flat.shape == (60, 80, 3)


def test_fetch_and_info(client: Client, remote: o.Origin) -> None:
    image = client.fetch(remote.url("/quad.png"), as_array=True, w=20)
    assert image.shape == (15, 20, 3) and close(color_at(image, 0.25, 0.25), RED)
    facts = client.info("sub/photo.jpg")
    assert (facts["format"], facts["width"], facts["height"], facts["channels"]) == ("jpeg", 320, 240, 3)


@pytest.mark.parametrize("call, status, fragment", [
    (lambda c: c.get("missing.png"), 404, "no original 'missing.png'"),
    (lambda c: c.get("quad.png", w=0), 400, "w: must be from 1"),
    (lambda c: c.get("quad.png", width=10), 400, "width: unknown option"),
    (lambda c: c.process(b"not an image at all"), 415, "not an image"),
    (lambda c: c.fetch("http://169.254.169.254/latest/meta-data/"), 403, "is not in IMGSERVE_REMOTE_ALLOW"),
    (lambda c: c.fetch("file:///etc/passwd"), 400, "only http and https"),
])
def test_errors_carry_the_problem(client: Client, call, status: int, fragment: str) -> None:
    with pytest.raises(ImgserveError) as raised:
        call(client)
    assert raised.value.status == status and fragment in raised.value.detail
    assert raised.value.problem["status"] == status


def test_bodies_over_the_limit(client: Client) -> None:
    noise = np.random.default_rng(3).integers(0, 256, (700, 700, 3), dtype=np.uint8)   # ~1.5 MB as PNG
    assert client.process(noise, as_array=True, w=10).shape == (10, 10, 3)
    with pytest.raises(ImgserveError) as raised:
        client.process(np.vstack([noise, noise]))                                      # ~3 MB: over 2 MB
    assert raised.value.status == 413 and "at most 2000000 bytes" in raised.value.problem["detail"]
    with pytest.raises(ImgserveError) as raised:
        client.process(np.vstack([noise] * 3))                     # ~4.4 MB: over twice it, waitress says no
    assert raised.value.status == 413 and raised.value.problem == {  # in problem+json like the app's refusals
        "type": "about:blank", "status": 413, "title": "Request Entity Too Large",
        "detail": "the body is larger than 2000000 bytes, the most this server accepts in a request body: send a "
                  "smaller image"}


def test_signed_urls(originals: Path, tmp_path: Path) -> None:
    base, process = serve(originals, tmp_path / "signed.log", "--signing-keys", KEY)
    try:
        with Client(base, key=KEY) as signed:
            assert signed.get("quad.png", as_array=True, w=8).shape == (6, 8, 3)
            assert signed.get("a b.png", as_array=True, w=8).shape == (6, 8, 3)
            assert signed.process(quadrants(), as_array=True, h=6).shape == (6, 8, 3)
            assert signed.info("quad.png")["width"] == 80
            assert signed.url("/image/x.png", {"w": 1}).startswith(base + "/image/x.png?w=1&s=")
        with Client(base) as unsigned, pytest.raises(ImgserveError) as raised:
            unsigned.get("quad.png", w=8)
        assert raised.value.status == 403 and raised.value.problem["signed"] == "/image/quad.png?w=8"
    finally:
        stop(process)


def test_srcset_and_new_options_through_the_client(client: Client) -> None:
    markup = client.srcset("sub/photo.jpg", widths=[100, 200], sizes="50vw", alt="a photo", gravity=(0.25, 0.5),
                           w=200, h=100, fit="cover")
    assert markup["html"].startswith("<picture>") and 'alt="a photo"' in markup["html"]
    assert [c["width"] for c in markup["img"]["srcset"]] == [100, 200]
    assert "gravity=0.25%2C0.5" in markup["img"]["srcset"][0]["url"] or "gravity=0.25,0.5" in markup["img"]["src"]
    image = client.get("sub/photo.jpg", as_array=True, w=100, h=100, fit="cover", gravity=(0.0, 0.5), dpr=1.5,
                       overlay="quad.png", overlay_scale=0.5, format="png")
    assert image.shape == (150, 150, 3)
    assert close(color_at(image, 0.95, 0.95), WHITE, 30) and close(color_at(image, 0.95, 0.7), GREEN, 30)  # at se
    dominant = client.info("quad.png", placeholder=True)["placeholder"]["dominant"]
    assert dominant in ("#ff0000", "#00ff00", "#0000ff", "#ffffff")
