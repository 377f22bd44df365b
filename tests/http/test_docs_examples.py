"""The example URLs of the README and docs/ work on the shipped sample images and give what they say.

Issue #22: the examples named an image `images/` does not have, so copy-paste gave 404. Every table row
of README.md and docs/*.md that starts with a URL of the quick-start server is requested from an app
over the real `images/` folder; a row that promises "WxH FORMAT" is decoded with Pillow (not with the
service's own decoder) and checked for that size and format, and where the URL only resizes an opaque
original, its pixels are compared with Pillow's own orientation-corrected, resized copy.
"""

import io
import json
import re
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np
import pytest
from PIL import Image, ImageOps

from imgserve import create_app
from tests.support import REPO

BASE = "http://127.0.0.1:8080"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ROW = re.compile(r"^\| `?(" + re.escape(BASE) + r"[^ `|]*)`? \| (.+?) \|$", re.M)
PROMISE = re.compile(r"(\d+)x(\d+) (grey )?(JPEG|PNG|WebP)")
# the docs' examples of a 404, of how signing encodes `/image/a b.jpg`, and `/image/...` in prose
ON_PURPOSE = {"nope.jpg", "../setup.cfg", "a", "a b.jpg", "...", "aA.png", "a%41.png"}  # signing: docs/limits.md


def rows() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        for url, said in ROW.findall(page.read_text()):
            found.append((page.name, url, said))
    return found


ROWS = rows()


@pytest.fixture(scope="module")
def client():
    app = create_app({"root": str(REPO / "images")})
    app.config["TESTING"] = True
    return app.test_client()


def test_the_readme_has_its_ten_urls() -> None:
    assert len([row for row in ROWS if row[0] == "README.md"]) == 10


def original(id: str):
    """The sample image an id names, with or without its extension."""
    path = REPO / "images" / id
    return path if path.is_file() else next((REPO / "images").glob(f"{id}.*"))


def exists(id: str) -> bool:
    try:
        return original(id).is_file()
    except StopIteration:
        return False


@pytest.mark.parametrize("page, url, said", ROWS, ids=[f"{p}:{u.removeprefix(BASE)}" for p, u, _ in ROWS])
def test_an_example_url_gives_what_its_row_says(client, page: str, url: str, said: str) -> None:
    parts = urlsplit(url)
    response = client.get(parts.path + ("?" + parts.query if parts.query else ""))
    assert response.status_code == 200, response.get_data(as_text=True)
    if parts.path == "/":
        assert response.mimetype == "text/html"
    if parts.path.startswith("/info/"):
        facts = json.loads(response.get_data())
        with Image.open(original(parts.path.removeprefix("/info/"))) as source:
            assert (facts["width"], facts["height"]) == source.size
    promise = PROMISE.search(said)
    if not promise:
        return
    width, height, grey, kind = promise.groups()
    result = Image.open(io.BytesIO(response.get_data()))
    assert (result.format, result.size) == ({"WebP": "WEBP"}.get(kind, kind), (int(width), int(height)))
    if grey:
        assert result.mode == "L"
    options = dict(parse_qsl(parts.query))
    if "transparency kept" in said:
        assert result.mode in ("RGBA", "LA")
    if "flattened onto" in said:
        bg = tuple(int(options["bg"][i:i + 2], 16) for i in (0, 2, 4))
        corner = np.asarray(result.convert("RGB"))[0, 0].astype(int)  # the logo's corners are transparent
        assert np.abs(corner - bg).max() <= 8
    if parts.path.startswith("/image/") and set(options) <= {"w", "h", "format", "q"}:
        with Image.open(original(parts.path.removeprefix("/image/"))) as source:
            if source.mode in ("RGB", "L", "P") and "A" not in source.getbands():
                expected = ImageOps.exif_transpose(source).convert("RGB").resize(result.size, Image.Resampling.BOX)
                error = np.abs(np.asarray(result.convert("RGB"), float) - np.asarray(expected, float)).mean()
                assert error < 6, f"mean difference {error:.1f} from Pillow's resize of the original"


def test_every_example_id_is_a_shipped_sample_image() -> None:
    """Also outside the tables (curl lines, prose, the client's calls): an id in /image/<id>, /info/<id>
    or `.get("<id>"` names a file in images/, except the examples of a 404 and of signing's encoding."""
    wrong = []
    for page in PAGES:
        text = page.read_text()
        ids = (re.findall(r"(?<![\w/])/(?:image|info)/([^?&\s'\"`)|<]+)", text)
               + re.findall(r"\.(?:get|info)\(\"([^\"]+)\"", text))
        for id in map(unquote, ids):
            if id not in ON_PURPOSE and not exists(id):
                wrong.append(f"{page.name}: {id}")
    assert not wrong
