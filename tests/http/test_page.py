import builtins
import os
import re
import shutil
import subprocess
import sys
import zipfile
from html.parser import HTMLParser

from imgserve import create_app
from imgserve.options import OPTIONS
from imgserve.web.page import PAGE_SIZE
from tests.support import REPO
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


def page(client, url: str = "/") -> Tags:
    response = client.get(url)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    return Tags(response.get_data(as_text=True))


def test_gallery_lists_folders_and_thumbnails(client) -> None:
    tags = page(client)
    assert [a["href"] for a in tags.find("a") if "dir=" in a["href"]] == ["/?dir=sub"]
    thumbs = tags.find("img", loading="lazy")
    assert [t["src"] for t in thumbs] == [f"/image/{name}?w=320&h=320&format=auto"
                                          for name in ("alpha.png", "photo.jpg", "quad.png")]
    for thumb in thumbs:                                   # each one is a real image no larger than 320
        image = decode(client.get(thumb["src"], headers={"Accept": "image/webp"}).data)
        assert 0 < max(image.shape[:2]) <= 320
    assert [a["href"] for a in tags.find("a") if "image=" in a["href"]] == [
        "/?image=alpha.png", "/?image=photo.jpg", "/?image=quad.png"]
    sub = page(client, "/?dir=sub")
    assert [t["src"] for t in sub.find("img", loading="lazy")] == ["/image/sub/deep.bmp?w=320&h=320&format=auto"]


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
    assert len(page(client).find("img", loading="lazy")) == 23


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
    thumbs = page(client).find("img", loading="lazy")
    assert thumbs[0]["src"] == "/image/alpha.png?preset=thumb"
    assert decode(client.get(thumbs[0]["src"]).data).shape[:2] == (40, 40)
    names = [a["name"] for t, a in page(client, "/?image=quad.png").tags if t in ("input", "select") and "name" in a]
    assert names == ["format", "preset"]


def test_page_is_escaped(client, root) -> None:
    (root / '<i>&"x.png').write_bytes(encode(quadrants()))
    html = client.get("/").get_data(as_text=True)
    assert "<i>" not in html and 'alt="&lt;i&gt;&amp;&#34;x.png"' in html
    assert re.search(r'src="/image/%3Ci%3E%26%22x.png\?', html)


def test_a_built_wheel_carries_the_page(tmp_path) -> None:
    """`pip install .` (not editable) must ship the template and static files: build the wheel and look."""
    repo = REPO
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "setup.cfg"):
        shutil.copy(repo / name, source)
    shutil.copytree(repo / "imgserve", source / "imgserve", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("imgserve-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = {p.relative_to(repo).as_posix() for folder in ("templates", "static")
              for p in (repo / "imgserve" / "web" / folder).iterdir()}
    assert needed and needed <= shipped, needed - shipped
