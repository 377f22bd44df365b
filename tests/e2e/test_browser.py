"""The page in a real browser: Debian's headless Chromium, driven by Playwright, against the real
`imgserve serve` (waitress) on a free port. Skips, saying why, only where Chromium is not installed;
in CI (`.ci/run` installs it, and sets IMGSERVE_REQUIRE_ALL=1) that skip is a failure."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.http import free_port, request, start, stop
from tests.support.images import decode, encode, photo, quadrants

pytestmark = pytest.mark.slow  # a real browser: bounded in time, run by CI

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
TIMEOUT_MS = 15_000

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (a test dependency) is not installed")
pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                                reason=f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does)")


def serve(root: Path, tmp_path: Path, **env: str) -> Iterator[str]:
    port = free_port()
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--threads", "8"], env, port, tmp_path / "server.log")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@pytest.fixture
def site(root: Path, tmp_path: Path) -> Iterator[str]:
    (root / "sub" / "wide.png").write_bytes(encode(quadrants(200, 50)))
    yield from serve(root, tmp_path)


@pytest.fixture
def signed_site(root: Path, tmp_path: Path) -> Iterator[str]:
    yield from serve(root, tmp_path, IMGSERVE_SIGNING_KEYS="k" * 32, IMGSERVE_UI="1")


@pytest.fixture
def page(tmp_path: Path):
    """A page in a fresh profile; everything it loads is recorded in `page.loaded`."""
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.loaded = []
            page.on("request", lambda r: page.loaded.append(r.url))
            yield page
        finally:
            context.close()


def thumbnails(page) -> list[dict]:
    """Every thumbnail, once each has finished loading (or failed)."""
    page.wait_for_function("() => [...document.querySelectorAll('.grid img')].every(i => i.complete)")
    return page.eval_on_selector_all(".grid img", "imgs => imgs.map(i => ({src: i.getAttribute('src'), "
                                                  "width: i.naturalWidth, height: i.naturalHeight}))")


def build(page, width: int) -> dict:
    """Type a width into the builder and wait for that result; its facts as the page shows them."""
    page.fill("input[name=w]", str(width))
    page.wait_for_function(f"() => document.getElementById('result').naturalWidth === {width}")
    page.wait_for_function("() => document.getElementById('facts').textContent.includes('bytes')")
    return page.evaluate("""() => ({url: document.getElementById('url').value,
        bytes: Number(document.getElementById('result').dataset.bytes),
        facts: document.getElementById('facts').textContent,
        width: document.getElementById('result').naturalWidth,
        height: document.getElementById('result').naturalHeight})""")


def test_gallery_thumbnails_load_and_the_builder_makes_a_url_that_works(site: str, page) -> None:
    page.goto(site + "/")
    thumbs = thumbnails(page)
    assert sorted(t["src"].split("?")[0] for t in thumbs) == ["/image/alpha.png", "/image/photo.jpg",
                                                              "/image/quad.png"]
    assert all(t["width"] > 0 and t["height"] > 0 for t in thumbs), thumbs
    assert page.eval_on_selector_all(".grid img", "imgs => imgs.every(i => i.loading === 'lazy')")

    page.click("text=sub/")                                   # into a folder
    page.wait_for_url("**/?dir=sub")
    thumbs = thumbnails(page)
    assert {t["src"].split("?")[0]: t["width"] for t in thumbs} == {"/image/sub/deep.bmp": 40,
                                                                     "/image/sub/wide.png": 200}

    page.click("img[alt='wide.png']")                         # open one in the URL builder
    page.wait_for_url("**/?image=sub/wide.png")
    result = build(page, 123)
    assert result["url"] == f"{site}/image/sub/wide.png?w=123"
    assert (result["width"], result["height"]) == (123, 31)
    status, headers, body = request(result["url"])            # the URL it shows serves what it showed
    assert status == 200 and result["bytes"] == len(body) == int(headers["Content-Length"])
    assert f"{len(body):,} bytes" in result["facts"] and "123 × 31" in result["facts"]
    assert decode(body).shape == (31, 123, 3)

    page.select_option("select[name=format]", "webp")
    page.fill("input[name=h]", "40")
    page.select_option("select[name=fit]", "cover")
    result = build(page, 60)
    assert result["url"] == f"{site}/image/sub/wide.png?w=60&h=40&fit=cover&format=webp"
    assert (result["width"], result["height"]) == (60, 40) and "image/webp" in result["facts"]

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.click("#copy")
    page.wait_for_function("() => document.getElementById('facts').dataset.copied === '1'")
    assert page.evaluate("navigator.clipboard.readText()") == result["url"]

    page.fill("input[name=w]", "99999")                      # an error is shown, not a broken image
    page.wait_for_function("() => document.getElementById('facts').classList.contains('error')")
    assert "w: must be from 1 to 8192" in page.text_content("#facts")
    elsewhere = [url for url in page.loaded if not url.startswith((site + "/", f"blob:{site}/"))]
    assert not elsewhere, "the page loaded something from elsewhere"


def test_under_signing_the_operator_page_signs_thumbnails_and_builder_urls(signed_site: str, page) -> None:
    page.goto(signed_site + "/")
    thumbs = thumbnails(page)
    assert len(thumbs) == 3 and all(t["width"] > 0 for t in thumbs)
    assert all("&s=" in t["src"] for t in thumbs)
    assert request(signed_site + thumbs[0]["src"].split("&s=")[0])[0] == 403   # unsigned: refused

    page.goto(signed_site + "/?image=photo.jpg")
    result = build(page, 77)
    assert "&s=" in result["url"] and (result["width"], result["height"]) == (77, 58)
    status, _, body = request(result["url"])
    assert status == 200 and len(body) == result["bytes"]
    image = decode(body)
    reference = cv2.resize(photo(), (77, 58), interpolation=cv2.INTER_AREA)
    assert image.shape == (58, 77, 3) and float(np.abs(image.astype(int) - reference).mean()) < 12
