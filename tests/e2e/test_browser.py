"""The page in a real browser: Debian's headless Chromium, driven by Playwright, against the real
`imgserve serve` (waitress) on a free port. Skips, saying why, only where Chromium is not installed;
in CI (`.ci/run` installs it, and sets IMGSERVE_REQUIRE_ALL=1) that skip is a failure."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.http import free_port, request, start, stop
from tests.support.images import BLUE, GREEN, RED, close, color_at, decode, encode, photo, quadrants

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


def thumbnails(page, selector: str = ".grid li.image img") -> list[dict]:
    """Every thumbnail of an original (or what `selector` names), once each has finished loading (or failed)."""
    page.wait_for_function(f"() => [...document.querySelectorAll({selector!r})].every(i => i.complete)")
    return page.eval_on_selector_all(selector, "imgs => imgs.map(i => ({src: i.getAttribute('src'), "
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

    # the responsive markup for the same options, copyable; each URL in it serves an image of its width
    page.wait_for_function("() => document.getElementById('markup').value.includes('w=60&amp;h=40')")
    markup = page.input_value("#markup")
    assert markup.startswith("<picture>") and 'type="image/webp"' in markup and 'width="60" height="40"' in markup
    page.click("#copy-markup")
    page.wait_for_function("() => document.getElementById('markup-facts').dataset.copied === '1'")
    assert page.evaluate("navigator.clipboard.readText()") == markup
    for url, width in re.findall(r"(/image/[^ \"]+) ([0-9]+)w", markup.replace("&amp;", "&")):
        status, _, body = request(site + url)
        assert status == 200 and decode(body).shape[1] == int(width)

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


# -- issue #22: what a person sees. Each test saves screenshots under the test's tmp_path/screenshots. ----

BROKEN = bytes(range(256)) * 8                     # not an image: the server says 415, and why


@pytest.fixture
def odd_site(root: Path, tmp_path: Path) -> Iterator[str]:
    """Originals a person runs into: a broken one, a folder of folders, an empty folder."""
    (root / "broken.jpg").write_bytes(BROKEN)
    (root / "albums" / "2024").mkdir(parents=True)
    (root / "albums" / "2024" / "quad.png").write_bytes(encode(quadrants()))
    (root / "empty").mkdir()
    yield from serve(root, tmp_path)


def shoot(page, tmp_path: Path, name: str, selector: str | None = None) -> np.ndarray:
    """A screenshot (of the page, or of one element), saved for a person to look at, and decoded."""
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    (page.locator(selector) if selector else page).screenshot(path=str(path), **({} if selector else
                                                                                  {"full_page": True}))
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None and image.size
    return image


def share(image: np.ndarray, bgr: tuple[int, int, int], tolerance: int = 40) -> float:
    """The fraction of pixels within `tolerance` of a colour."""
    return float((np.abs(image.astype(int) - bgr).max(axis=2) <= tolerance).mean())


def test_folder_tiles_show_what_is_inside_and_a_broken_original_says_why(odd_site: str, page, tmp_path) -> None:
    page.set_viewport_size({"width": 1000, "height": 700})
    page.goto(odd_site + "/")
    page.wait_for_selector(".grid .broken")
    previews = thumbnails(page, ".grid .preview img")
    assert sorted(p["src"].split("?")[0] for p in previews) == ["/image/albums/2024/quad.png",
                                                                "/image/sub/deep.bmp"]
    assert all(p["width"] > 0 for p in previews), previews
    shoot(page, tmp_path, "gallery")

    # a folder's tile shows the pixels of what is inside: the quadrants' red, green and blue, on the tile
    tile = shoot(page, tmp_path, "folder-tile", ".grid li.folder:has(a[href='/?dir=albums'])")
    for colour in (RED, GREEN, BLUE):
        assert share(tile, colour) > 0.03, colour
    empty = page.text_content(".grid li.folder:has(a[href='/?dir=empty']) .preview")
    assert empty.strip() == "no images"

    status, _, body = request(odd_site + "/image/broken.jpg?w=320&h=320&format=auto")
    detail = json.loads(body)["detail"]
    assert status == 415
    assert page.text_content(".grid .broken") == f"415 Unsupported Media Type: {detail}"
    assert page.get_attribute(".grid .broken", "aria-label") == f"broken.jpg: 415 Unsupported Media Type: {detail}"

    page.click("text=broken.jpg")                                # its builder says why, and shows no image
    page.wait_for_function("() => document.getElementById('facts').classList.contains('error')")
    assert page.text_content("#facts") == f"415 Unsupported Media Type: {detail}"
    assert page.is_hidden("#frame") and page.get_attribute("#result", "src") is None
    shoot(page, tmp_path, "builder-broken-original")


def test_the_builder_clears_a_stale_result_and_copies_a_readable_url(site: str, page, tmp_path) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.goto(site + "/?image=sub/wide.png")
    assert build(page, 123)["width"] == 123
    page.fill("input[name=w]", "99999")                       # this URL fails: the earlier result must go
    page.wait_for_function("() => document.getElementById('facts').classList.contains('error')")
    assert page.text_content("#facts") == "400 Bad Request: w: must be from 1 to 8192, got 99999"
    assert page.is_hidden("#frame") and page.get_attribute("#result", "src") is None
    shoot(page, tmp_path, "builder-error")

    page.fill("input[name=crop]", "0,0,100,50")              # the left half
    result = build(page, 40)
    assert result["url"] == f"{site}/image/sub/wide.png?w=40&crop=0,0,100,50"    # commas, not %2C
    assert (result["width"], result["height"]) == (40, 20)
    image = decode(request(result["url"])[2])
    assert close(color_at(image, 0.25, 0.25), RED) and close(color_at(image, 0.75, 0.25), RED)  # red quadrant only
    page.click("#copy")
    page.wait_for_function("() => document.getElementById('copied').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == result["url"]
    shoot(page, tmp_path, "builder")


def test_gallery_and_builder_work_from_the_keyboard(site: str, page, tmp_path) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site)
    page.goto(site + "/")

    def tab_to(test: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => {{ const e = document.activeElement; return {test}; }}"):
                return
        raise AssertionError(f"Tab never reached {test}")

    tab_to("e.getAttribute('href') === '/?dir=sub'")
    shoot(page, tmp_path, "keyboard-focus")              # the focused tile must be visibly marked
    page.keyboard.press("Enter")
    page.wait_for_url("**/?dir=sub")
    tab_to("(e.getAttribute('href') || '').endsWith('image=sub/wide.png')")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?image=sub/wide.png")
    page.wait_for_function("() => document.getElementById('result').naturalWidth > 0")
    tab_to("e.name === 'w'")
    page.keyboard.press("Control+A")
    page.keyboard.type("88")
    page.keyboard.press("Enter")                          # renders at once
    page.wait_for_function("() => document.getElementById('result').naturalWidth === 88")
    tab_to("e.id === 'copy'")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('copied').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == f"{site}/image/sub/wide.png?w=88"
    tab_to("e.id === 'frame'")                            # a large result scrolls from the keyboard


def test_a_folder_that_is_not_there_is_a_page_that_says_so(site: str, page, tmp_path) -> None:
    response = page.goto(site + "/?dir=nope")
    assert response.status == 404 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text_content("main h1") == "404 Not Found"
    assert page.text_content("main p") == "no folder 'nope' under the image root"
    page.click("text=Back to the originals")
    page.wait_for_url(site + "/")
    assert len(thumbnails(page)) == 3
    page.goto(site + "/?dir=nope")
    shoot(page, tmp_path, "no-such-folder")
