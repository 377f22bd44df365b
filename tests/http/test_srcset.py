"""GET /srcset/<id>: the markup parsed as HTML, every URL it lists fetched and decoded, the placeholder checked."""

import base64
from html.parser import HTMLParser

import blurhash as reference
import numpy as np
import pytest

from imgserve import create_app, formats
from imgserve.signing import sign_url
from tests.support.http import problem
from tests.support.images import decode, encode, photo


class Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, dict(attrs)))


def candidates(srcset: str) -> list[tuple[str, int]]:
    return [(url, int(width[:-1])) for url, width in (item.strip().split(" ") for item in srcset.split(","))]


@pytest.fixture
def big(root):
    (root / "wide.jpg").write_bytes(encode(photo(1200, 800), ".jpg"))
    return root


def test_the_picture_lists_every_format_and_width_and_each_url_serves_that(big, client) -> None:
    response = client.get("/srcset/wide.jpg?widths=300,600,900&sizes=(max-width: 600px) 100vw, 600px&alt=A photo")
    assert response.status_code == 200 and response.content_type == "text/html; charset=utf-8"
    elements = Elements(response.get_data(as_text=True)).found
    assert [tag for tag, _ in elements] == ["picture", "source", "source", "img"]
    (_, avif), (_, webp), (_, img) = elements[1:]
    assert avif["type"] == "image/avif" and webp["type"] == "image/webp"  # best first: the browser takes the first
    assert webp["sizes"] == avif["sizes"] == "(max-width: 600px) 100vw, 600px"
    assert (img["width"], img["height"], img["alt"], img["loading"]) == ("1200", "800", "A photo", "lazy")
    for attrs, mime in ((avif, "image/avif"), (webp, "image/webp"), (img, "image/jpeg")):
        listed = candidates(attrs["srcset"])
        assert [w for _, w in listed] == [300, 600, 900]
        for url, width in listed:
            got = client.get(url)
            assert got.headers["Content-Type"] == mime and decode(got.data).shape[:2] == (width * 2 // 3, width)
    assert img["src"] in [url for url, _ in candidates(img["srcset"])]


def test_avif_is_listed_first_once_the_server_encodes_it(big, client, monkeypatch) -> None:
    """The AVIF encoder is another branch's: a registry row is all /srcset needs to list it."""
    from dataclasses import replace

    if "avif" not in formats.FORMATS:
        monkeypatch.setitem(formats.FORMATS, "avif", replace(formats.FORMATS["webp"], name="avif", mime="image/avif"))
    elements = Elements(client.get("/srcset/wide.jpg").get_data(as_text=True)).found
    sources = [a for t, a in elements if t == "source"]
    assert [a["type"] for a in sources] == ["image/avif", "image/webp"]
    assert all("format=avif" in url for url, _ in candidates(sources[0]["srcset"]))


def test_default_widths_stop_at_the_image_and_options_apply_to_every_candidate(big, client) -> None:
    body = client.get("/srcset/wide.jpg?w=500&h=500&fit=cover&gravity=east",
                      headers={"Accept": "application/json"}).json
    assert (body["width"], body["height"]) == (500, 500)
    listed = body["img"]["srcset"]
    assert [c["width"] for c in listed] == [160, 320, 480, 500]
    for candidate in listed:
        image = decode(client.get(candidate["url"]).data)
        assert image.shape[:2] == (candidate["width"], candidate["width"])
    east = decode(client.get(listed[-1]["url"]).data)
    source = photo(1200, 800)
    import cv2
    expected = cv2.resize(source[:, 400:], (500, 500), interpolation=cv2.INTER_AREA)
    assert cv2.PSNR(east, expected) > 25       # the east cut, not the centre: gravity reached the URLs


def test_json_gives_a_placeholder_that_matches_the_image(big, client) -> None:
    body = client.get("/srcset/wide.jpg", headers={"Accept": "application/json"}).json
    assert body["html"].startswith("<picture>")
    placeholder = body["placeholder"]
    lqip = decode(base64.b64decode(placeholder["lqip"].split(",", 1)[1]))
    assert lqip.shape[1] == 16 and lqip.shape[0] in (10, 11)  # 2:3, rounded twice
    hashed = np.array(reference.decode(placeholder["blurhash"], 24, 16), np.float64)[:, :, ::-1]
    import cv2
    tiny = cv2.resize(photo(1200, 800), (24, 16), interpolation=cv2.INTER_AREA).astype(np.float64)
    assert np.abs(hashed.mean(axis=(0, 1)) - tiny.mean(axis=(0, 1))).max() < 40
    assert placeholder["dominant"].startswith("#") and len(placeholder["dominant"]) == 7
    html = client.get("/srcset/wide.jpg").get_data(as_text=True)
    assert f"background-color:{placeholder['dominant']}" in html


def test_the_placeholder_is_also_in_info(big, client) -> None:
    info = client.get("/info/wide.jpg?placeholder=1").json
    srcset = client.get("/srcset/wide.jpg", headers={"Accept": "application/json"}).json
    assert info["placeholder"] == srcset["placeholder"] and info["width"] == 1200
    assert "placeholder" not in client.get("/info/wide.jpg").json   # facts alone come from the header
    assert problem(client.get("/info/wide.jpg?placeholder=yes"), 400)["option"] == "placeholder"


def test_info_of_an_undecodable_original_still_has_its_facts(root, client) -> None:
    (root / "broken.png").write_bytes(encode(photo(64, 64))[:200])
    info = client.get("/info/broken.png?placeholder=1").json
    assert info["width"] == 64 and info["placeholder"] is None


def test_markup_is_escaped(big, client) -> None:
    html = client.get('/srcset/wide.jpg?alt="><script>x</script>&sizes=1px"onload="x').get_data(as_text=True)
    assert "<script>" not in html and 'onload="x"' not in html
    img = Elements(html).found[-1][1]
    assert img["alt"] == '"><script>x</script>' and img["sizes"] == '1px"onload="x'


def test_signed_servers_sign_every_url_and_want_the_srcset_url_signed(big) -> None:
    key = "k" * 32
    client = create_app({"root": str(big), "signing_keys": key}).test_client()
    assert client.get("/srcset/wide.jpg?widths=300").status_code == 403
    html = client.get(sign_url("/srcset/wide.jpg?widths=300", key)).get_data(as_text=True)
    urls = [url for _, a in Elements(html).found if "srcset" in a for url, _ in candidates(a["srcset"])]
    assert urls and all("&s=" in url for url in urls)
    assert all(client.get(url).status_code == 200 for url in urls)


@pytest.mark.parametrize("query, option", [
    ("widths=0", "widths"), ("widths=300,abc", "widths"), ("widths=" + ",".join(["100"] * 17), "widths"),
    ("format=webp", "format"), ("dpr=2", "dpr"), ("scale=0.5", "scale"), ("sizes=a%0Ab", "sizes"),
    ("widths=1&widths=2", "widths"), ("overlay=nothing.png", "overlay"), ("blur=0", "blur"),
])
def test_bad_parameters_are_400(big, client, query, option) -> None:
    assert problem(client.get(f"/srcset/wide.jpg?{query}"), 400)["option"] == option


def test_widths_past_the_image_are_cut_unless_enlarging(big, client) -> None:
    json = {"Accept": "application/json"}
    assert [c["width"] for c in client.get("/srcset/wide.jpg?widths=600,2000,3000", headers=json)
            .json["img"]["srcset"]] == [600, 1200]
    assert [c["width"] for c in client.get("/srcset/wide.jpg?widths=600,2000&enlarge=1", headers=json)
            .json["img"]["srcset"]] == [600, 2000]


def test_conditional_requests_and_presets_only(big, client) -> None:
    first = client.get("/srcset/wide.jpg")
    assert first.headers["Vary"] == "Accept"
    assert client.get("/srcset/wide.jpg", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    json = client.get("/srcset/wide.jpg", headers={"Accept": "application/json"})
    assert json.headers["ETag"] != first.headers["ETag"]
    locked = create_app({"root": str(big), "presets": "t:w=100", "presets_only": "1"}).test_client()
    assert problem(locked.get("/srcset/wide.jpg?preset=t"), 400)
    assert problem(client.get("/srcset/missing.jpg"), 404)
