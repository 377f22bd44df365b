import builtins
import html
import logging
import os
import re
from html.parser import HTMLParser

import pytest

from imgserve import create_app
from imgserve.options import OPTIONS
from imgserve.web.page import PAGE_SIZE
from tests.support.images import decode, encode, quadrants

KEY = "k" * 32


class Tags(HTMLParser):
    """Every tag of a page with its attributes: [(tag, {attr: value})]."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def tiles(tags: Tags) -> list[dict]:
    """The thumbnails of originals (a folder's previews have no alt text: its label says it all)."""
    return [t for t in tags.find("img", loading="lazy") if t["alt"]]


def previews(tags: Tags) -> list[str]:
    return [t["src"] for t in tags.find("img", loading="lazy") if not t["alt"]]


def page(client, url: str = "/") -> Tags:
    response = client.get(url)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    return Tags(response.get_data(as_text=True))


def test_gallery_lists_folders_and_thumbnails(client) -> None:
    tags = page(client)
    assert [a["href"] for a in tags.find("a") if "dir=" in a["href"]] == ["/?dir=sub"]
    thumbs = tiles(tags)
    assert [t["src"] for t in thumbs] == [f"/image/{name}?w=320&h=320&format=auto"
                                          for name in ("alpha.png", "photo.jpg", "quad.png")]
    for thumb in thumbs:                                   # each one is a real image no larger than 320
        image = decode(client.get(thumb["src"], headers={"Accept": "image/webp"}).data)
        assert 0 < max(image.shape[:2]) <= 320
    assert [a["href"] for a in tags.find("a") if "image=" in a["href"]] == [
        "/?image=alpha.png", "/?image=photo.jpg", "/?image=quad.png"]
    sub = page(client, "/?dir=sub")
    assert [t["src"] for t in tiles(sub)] == ["/image/sub/deep.bmp?w=320&h=320&format=auto"]


def test_page_assets_are_served_from_the_package(client) -> None:
    tags = page(client)
    for url in [a["href"] for a in tags.find("link")] + [s["src"] for s in tags.find("script")]:
        assert url.startswith("/static/")
        response = client.get(url)
        assert response.status_code == 200 and len(response.data) > 100


def test_hidden_escaping_and_non_image_files_are_not_listed(client, root, tmp_path) -> None:
    (root / ".secret.png").write_bytes(encode(quadrants()))
    (root / "notes.txt").write_text("hi")
    (tmp_path / "outside.png").write_bytes(encode(quadrants()))
    os.symlink(tmp_path / "outside.png", root / "link.png")
    os.symlink(tmp_path, root / "up")
    os.symlink(root / "quad.png", root / "inside.png")
    listed = [a["href"] for a in page(client).find("a")]
    assert "/?image=inside.png" in listed
    assert not [h for h in listed if any(bad in h for bad in ("secret", "notes", "link.png", "dir=up"))]
    for url in ("/?dir=up", "/?dir=..", "/?dir=sub/../..", "/?dir=.git", "/?dir=missing", "/?dir=photo.jpg",
                "/?image=link.png", "/?image=.secret.png", "/?image=missing.jpg"):
        assert client.get(url).status_code == 404, url


def test_listing_opens_no_file(client, root, monkeypatch) -> None:
    for i in range(20):
        (root / f"scan-{i}.bmp").write_bytes(b"not even an image")

    def refuse(*args, **kwargs):
        raise AssertionError("the listing opened a file")

    page(client)  # the template is read once, on the first render
    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(os, "open", refuse)
    listed = page(client)
    assert len(tiles(listed)) == 23 and previews(listed) == ["/image/sub/deep.bmp?w=160&h=160&fit=cover&format=auto"]


def test_pagination(root) -> None:
    archive = root / "archive"
    archive.mkdir()
    for i in range(2 * PAGE_SIZE + 5):
        (archive / f"scan-{i:04d}.bmp").write_bytes(b"")
    client = create_app({"root": str(root)}).test_client()
    first = page(client, "/?dir=archive")
    names = [t["alt"] for t in first.find("img", loading="lazy")]
    assert len(names) == PAGE_SIZE and names[0] == "scan-0000.bmp"
    assert first.find("a", rel="next")[0]["href"] == "/?dir=archive&page=2" and not first.find("a", rel="prev")
    last = page(client, "/?dir=archive&page=3")
    assert [t["alt"] for t in last.find("img", loading="lazy")] == [f"scan-{i:04d}.bmp" for i in range(120, 125)]
    assert last.find("a", rel="prev")[0]["href"] == "/?dir=archive&page=2" and not last.find("a", rel="next")
    for bad in ("4", "0", "-1", "x", "١"):
        response = client.get(f"/?dir=archive&page={bad}")
        assert response.status_code == 400 and response.json["option"] == "page", bad


def test_builder_has_a_field_per_option(client) -> None:
    tags = page(client, "/?image=sub/deep.bmp")
    form = tags.find("form", id="builder")[0]
    assert form["data-base"] == "/image/sub/deep.bmp" and form["data-signing"] == "0"
    names = [a["name"] for t, a in tags.tags if t in ("input", "select") and "name" in a]
    assert names == list(OPTIONS)  # every row of the option registry, in its order
    assert names[:4] == ["w", "h", "fit", "gravity"] and "pixelate" in names
    assert tags.find("input", name="w")[0]["max"] == "8192" and tags.find("input", name="w")[0]["value"] == "640"
    assert tags.find("input", name="grayscale")[0]["type"] == "checkbox"
    assert tags.find("input", name="bg")[0]["pattern"] and tags.find("script")
    offered = set(re.findall(r"<option>([^<]*)</option>", client.get("/?image=sub/deep.bmp").get_data(as_text=True)))
    assert {"avif", "gif", "jpg", "tif", "auto", "keep", "srgb"} <= offered  # formats, aliases, icc
    assert tags.find("input", name="lossless")[0]["type"] == "checkbox"
    assert tags.find("input", name="progressive")[0]["type"] == "checkbox"
    assert tags.find("input", name="frame")[0]["type"] == "number"


def test_builder_base_is_percent_encoded(client, root) -> None:
    (root / "a b&c.png").write_bytes(encode(quadrants()))
    form = page(client, "/?image=a b%26c.png").find("form", id="builder")[0]
    assert form["data-base"] == "/image/a%20b%26c.png"
    assert client.get(form["data-base"] + "?w=10").status_code == 200


def test_page_can_be_turned_off(root) -> None:
    client = create_app({"root": str(root), "ui": "0"}).test_client()
    response = client.get("/")
    assert response.status_code == 404 and "IMGSERVE_UI=1" in response.json["detail"]
    assert client.get("/image/quad.png?w=5").status_code == 200


def test_under_signing_the_page_is_off_unless_asked_for(root) -> None:
    client = create_app({"root": str(root), "signing_keys": KEY}).test_client()
    assert client.get("/").status_code == 404
    assert client.get("/ui/sign?url=/image/quad.png").status_code == 404


def test_with_signing_and_ui_thumbnails_are_signed_and_the_helper_signs_image_urls_only(root) -> None:
    client = create_app({"root": str(root), "signing_keys": KEY, "ui": "1"}).test_client()
    thumbs = page(client).find("img", loading="lazy")
    assert thumbs and all("&s=" in t["src"] for t in thumbs)
    assert all(client.get(t["src"]).status_code == 200 for t in thumbs)
    assert page(client, "/?image=quad.png").find("form", id="builder")[0]["data-signing"] == "1"
    signed = client.get("/ui/sign?url=/image/quad.png%3Fw%3D12%26format%3Dpng")
    assert signed.status_code == 200 and signed.headers["Cache-Control"] == "no-store"
    assert decode(client.get(signed.json["url"]).data).shape == (9, 12, 3)
    for url in ("/metrics", "/fetch?url=http://x/", "http://evil/image/x", "//evil/image/x", ""):
        response = client.get("/ui/sign", query_string={"url": url})
        assert response.status_code == 400 and response.json["option"] == "url", url


def test_without_signing_there_is_no_signing_helper(client) -> None:
    assert client.get("/ui/sign?url=/image/quad.png").status_code == 404


def test_presets_only_thumbnails_use_a_preset(root) -> None:
    client = create_app({"root": str(root), "presets": "small:w=50;thumb:w=40&h=40&fit=cover",
                         "presets_only": "1"}).test_client()
    listed = page(client)
    thumbs = tiles(listed)
    assert thumbs[0]["src"] == "/image/alpha.png?preset=thumb"
    assert previews(listed) == ["/image/sub/deep.bmp?preset=thumb"]
    assert decode(client.get(thumbs[0]["src"]).data).shape[:2] == (40, 40)
    names = [a["name"] for t, a in page(client, "/?image=quad.png").tags if t in ("input", "select") and "name" in a]
    assert names == ["format", "preset"]


def test_page_is_escaped(client, root) -> None:
    (root / '<i>&"x.png').write_bytes(encode(quadrants()))
    html = client.get("/").get_data(as_text=True)
    assert "<i>" not in html and 'alt="&lt;i&gt;&amp;&#34;x.png"' in html
    assert re.search(r'src="/image/%3Ci%3E%26%22x.png\?', html)


def folder_previews(tags: Tags) -> dict[str, list[str]]:
    """Each folder tile's link -> the previews inside it, in the order of the page."""
    tiles: dict[str, list[str]] = {}
    current = None
    for tag, attrs in tags.tags:
        if tag == "a":
            current = attrs["href"] if "dir=" in attrs.get("href", "") else None
            if current:
                tiles[current] = []
        elif tag == "img" and current and not attrs.get("alt"):
            tiles[current].append(attrs["src"])
    return tiles


def test_folder_tiles_show_a_few_originals_from_inside(client, root) -> None:
    for name in ("albums/2024/b.png", "albums/2024/a.png", "albums/2023/c.png", "many/1.png", "many/2.png",
                 "many/3.png", "many/4.png", "many/5.png", "empty/notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(encode(quadrants()) if name.endswith(".png") else b"text")
    shown = folder_previews(page(client))
    small = "?w=160&h=160&fit=cover&format=auto"
    assert shown == {
        "/?dir=albums": [f"/image/albums/2023/c.png{small}", f"/image/albums/2024/a.png{small}",
                         f"/image/albums/2024/b.png{small}"],              # a folder of folders: from below
        "/?dir=empty": [],
        "/?dir=many": [f"/image/many/{i}.png{small}" for i in range(1, 5)],  # four at most
        "/?dir=sub": [f"/image/sub/deep.bmp{small}"],
    }
    assert client.get("/").get_data(as_text=True).count('<span class="empty">no images</span>') == 1
    image = decode(client.get(shown["/?dir=many"][0], headers={"Accept": "image/webp"}).data)
    assert image.shape[:2] == (60, 80)                   # never enlarged; the tile's cell crops it square


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.mark.parametrize("url, status, detail", [
    ("/?dir=nope", 404, "no folder &#39;nope&#39; under the image root"),
    ("/?dir=<b>x</b>", 404, "no folder &#39;&lt;b&gt;x&lt;/b&gt;&#39; under the image root"),
    ("/?image=missing.jpg", 404, "no original &#39;missing.jpg&#39; under the image root"),
    ("/?dir=sub&page=9", 400, "page: this folder has 1 page, not 9"),
])
def test_a_browser_gets_a_page_with_the_reason_not_raw_json(client, caplog, url: str, status: int,
                                                            detail: str) -> None:
    with caplog.at_level(logging.INFO, logger="imgserve.access"):
        response = client.get(url, headers={"Accept": BROWSER})
    assert response.status_code == status and response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    text = response.get_data(as_text=True)
    assert f"<p>{detail}</p>" in text and 'href="/">Back to the originals</a>' in text and "<b>" not in text
    (line,) = [r.access for r in caplog.records if r.name == "imgserve.access"]
    assert line["status"] == status and line["detail"] == html.unescape(detail)
    for accept in ("*/*", "application/json", "application/problem+json"):   # a program still gets problem+json
        assert client.get(url, headers={"Accept": accept}).headers["Content-Type"] == "application/problem+json"


def test_the_builder_can_be_driven_from_the_keyboard(client) -> None:
    tags = page(client, "/?image=quad.png")
    assert tags.find("button", type="submit")                     # Enter in a field renders
    assert tags.find("div", id="frame")[0]["tabindex"] == "0"     # a large result scrolls by keyboard
    assert tags.find("span", id="copied")[0]["role"] == "status"  # copying is announced


def test_the_builder_shows_responsive_markup_and_gravity_suggests_its_names(client) -> None:
    tags = page(client, "/?image=photo.jpg")
    markup = tags.find("textarea", id="markup")[0]
    assert markup["data-base"] == "/srcset/photo.jpg" and tags.find("button", id="copy-markup")
    assert client.get(markup["data-base"] + "?w=100", headers={"Accept": "application/json"}).json["width"] == 100
    gravity = tags.find("input", name="gravity")[0]
    names = [a["value"] for a in tags.find("option") if "value" in a]
    assert gravity["list"] == "choices-gravity" and {"smart", "face", "center"} <= set(names)
    assert re.fullmatch(gravity["pattern"], "0.25,0.75") and not re.fullmatch(gravity["pattern"], "2,0")


def test_the_signing_helper_signs_srcset_urls_too(root) -> None:
    client = create_app({"root": str(root), "signing_keys": KEY, "ui": "1"}).test_client()
    signed = client.get("/ui/sign?url=/srcset/quad.png%3Fw%3D40")
    assert signed.status_code == 200
    assert client.get(signed.json["url"]).status_code == 200
    assert client.get("/srcset/quad.png?w=40").status_code == 403
