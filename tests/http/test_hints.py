"""dpr in URLs, and client hints (IMGSERVE_CLIENT_HINTS=1): output sizes, Vary, Accept-CH, the repeat cache."""

import pytest

from imgserve import create_app
from imgserve.web import hints
from tests.support.images import decode, encode, photo


@pytest.fixture
def big(root):
    (root / "big.jpg").write_bytes(encode(photo(2000, 1000), ".jpg"))
    return root


@pytest.fixture
def hinted(big):
    return create_app({"root": str(big), "client_hints": "1"}).test_client()


def width(response) -> int:
    assert response.status_code == 200, response.data
    return decode(response.data).shape[1]


def test_dpr_in_the_url_multiplies_the_box(big, client) -> None:
    assert decode(client.get("/image/big.jpg?w=100&h=100&fit=cover&dpr=2").data).shape == (200, 200, 3)
    assert width(client.get("/image/big.jpg?w=100&dpr=1.5")) == 150
    assert width(client.get("/image/big.jpg?w=1500&dpr=4")) == 2000          # not past the source
    assert width(client.get("/image/big.jpg?w=1500&dpr=4&enlarge=1")) == 6000


def test_hints_are_ignored_unless_turned_on(big, client) -> None:
    response = client.get("/image/big.jpg?w=100", headers={"Sec-CH-DPR": "2"})
    assert width(response) == 100
    assert "Accept-CH" not in response.headers and "Vary" not in response.headers


@pytest.mark.parametrize("headers, query, expected", [
    ({"Sec-CH-DPR": "2"}, "w=100", 200),
    ({"Sec-CH-DPR": "1.7"}, "w=100", 200),        # rounded up to the ladder: 2
    ({"Sec-CH-DPR": "2.625"}, "w=100", 300),      # 3
    ({"Sec-CH-DPR": "9"}, "w=100", 400),          # at most 4
    ({"Sec-CH-DPR": "2"}, "w=100&dpr=1", 100),    # the URL's own dpr wins
    ({"Sec-CH-DPR": "two"}, "w=100", 100),        # not a number: no hint
    ({"Sec-CH-Width": "700"}, "", 800),           # device pixels, rounded up to 800
    ({"Width": "700"}, "", 800),                  # the older header
    ({"Sec-CH-Width": "700", "Sec-CH-DPR": "2"}, "", 800),   # the width is in device pixels already
    ({"Sec-CH-Width": "700"}, "w=300", 300),      # the URL's box wins
    ({"Sec-CH-Width": "700"}, "scale=0.1", 200),
])
def test_hints_fill_in_what_the_url_leaves_open(hinted, headers, query, expected) -> None:
    response = hinted.get(f"/image/big.jpg?{query}", headers=headers)
    assert width(response) == expected
    assert response.headers["Accept-CH"] == hints.ACCEPT_CH
    assert set(response.headers["Vary"].split(", ")) >= {"Sec-CH-DPR", "Sec-CH-Width", "Width"}


def test_variants_are_few(hinted) -> None:
    tags = {hinted.get("/image/big.jpg?w=100", headers={"Sec-CH-DPR": dpr}).headers["ETag"]
            for dpr in ("1.6", "1.75", "1.8", "1.9", "2", "2.0")}
    assert len(tags) == 1


def test_the_repeat_cache_keys_on_the_hints(hinted) -> None:
    svc = hinted.application.extensions["imgserve"]
    assert width(hinted.get("/image/big.jpg?w=100", headers={"Sec-CH-DPR": "2"})) == 200
    assert width(hinted.get("/image/big.jpg?w=100", headers={"Sec-CH-DPR": "2"})) == 200
    assert svc.repeats.hits == 1
    assert width(hinted.get("/image/big.jpg?w=100", headers={"Sec-CH-DPR": "3"})) == 300
    assert width(hinted.get("/image/big.jpg?w=100")) == 100
    assert svc.repeats.hits == 1


def test_vary_keeps_accept_for_format_auto(hinted) -> None:
    response = hinted.get("/image/big.jpg?w=100&format=auto", headers={"Accept": "image/webp"})
    assert response.headers["Content-Type"] == "image/webp"
    assert response.headers["Vary"].split(", ")[0] == "Accept"
