"""overlay=<id> (and overlay_url on /fetch): where the mark lands in the decoded output, on every endpoint;
its ETag, caches, signature and presets."""

import os
import time
from urllib.parse import quote

import numpy as np
import pytest

from imgserve import create_app
from imgserve.settings import SettingsError
from imgserve.signing import sign_url
from tests.support import origin as o
from tests.support.http import problem
from tests.support.images import decode, encode

BASE = np.full((100, 200, 3), 200, np.uint8)   # a flat grey original: any change is the overlay's


def mark(colour=(0, 0, 255)) -> np.ndarray:
    """40x20 BGRA: an opaque `colour` block inside a transparent 4 px frame."""
    image = np.zeros((20, 40, 4), np.uint8)
    image[4:-4, 4:-4] = (*colour, 255)
    return image


def painted(image: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the pixels that are not the base grey."""
    ys, xs = np.nonzero(np.abs(image.astype(int) - 200).max(axis=2) > 30)
    return int(xs.min()), int(ys.min()), int(xs.max() + 1 - xs.min()), int(ys.max() + 1 - ys.min())


@pytest.fixture
def originals(root):
    (root / "base.png").write_bytes(encode(BASE))
    (root / "mark.png").write_bytes(encode(mark()))
    return root


@pytest.fixture(params=["image", "process", "fetch"])
def get(request, originals, origin, fetch_client):
    origin.routes["/base.png"] = o.image(encode(BASE))

    def call(query: str):
        if request.param == "image":
            return fetch_client.get(f"/image/base.png?{query}")
        if request.param == "process":
            return fetch_client.post(f"/process?{query}", data=encode(BASE), content_type="image/png")
        return fetch_client.get(f"/fetch?url={quote(origin.url('/base.png'), safe='')}&{query}")

    return call


@pytest.mark.parametrize("query, box", [
    ("overlay=mark.png", (164, 84, 32, 12)),                                      # default: bottom right
    ("overlay=mark.png&overlay_gravity=nw&overlay_margin=10", (14, 14, 32, 12)),
    ("overlay=mark.png&overlay_gravity=center", (84, 44, 32, 12)),
    ("overlay=mark.png&overlay_gravity=sw&overlay_scale=0.5", (10, 60, 80, 30)),  # 100x50 mark, frame 10 px
    ("overlay=mark.png&w=100&overlay_gravity=ne", (64, 4, 32, 12)),               # on the output, not the source
])
def test_the_mark_lands_where_asked(get, query: str, box) -> None:
    response = get(query + "&format=png")
    assert response.status_code == 200, response.data
    output = decode(response.data)
    (x0, y0, w0, h0), (x, y, w, h) = painted(output), box
    assert max(abs(x0 - x), abs(y0 - y), abs(x0 + w0 - x - w), abs(y0 + h0 - y - h)) <= 1, (x0, y0, w0, h0)
    assert (output[y + 1:y + h - 1, x + 1:x + w - 1] == (0, 0, 255)).all()


def test_opacity_mixes_with_what_is_below(get) -> None:
    output = decode(get("overlay=mark.png&overlay_opacity=0.25&overlay_gravity=nw&format=png").data)
    assert tuple(int(v) for v in output[10, 10]) == (150, 150, 214)   # 0.75 x 200 + 0.25 x (0, 0, 255)


def test_a_remote_overlay_on_fetch(originals, origin, fetch_client) -> None:
    origin.routes["/base.png"] = o.image(encode(BASE))
    origin.routes["/badge.png"] = o.image(encode(mark((255, 0, 0))))
    url = quote(origin.url("/base.png"), safe="")
    badge = quote(origin.url("/badge.png"), safe="")
    response = fetch_client.get(f"/fetch?url={url}&overlay_url={badge}&overlay_gravity=nw&format=png")
    assert response.status_code == 200, response.data
    output = decode(response.data)
    assert painted(output) == (4, 4, 32, 12) and tuple(output[10, 10]) == (255, 0, 0)
    both = fetch_client.get(f"/fetch?url={url}&overlay_url={badge}&overlay=mark.png")
    assert problem(both, 400)["option"] == "overlay_url"
    elsewhere = fetch_client.get(f"/fetch?url={url}&overlay_url={quote('http://10.0.0.1/x.png', safe='')}")
    assert elsewhere.status_code == 403   # the second URL is held to the same rules as the first


@pytest.mark.parametrize("query, option", [
    ("overlay=missing.png", "overlay"),
    ("overlay=../outside.png", "overlay"),
    ("overlay_gravity=nw", "overlay_gravity"),
    ("overlay_opacity=0.5", "overlay_opacity"),
])
def test_bad_overlays_are_400_naming_the_option(get, query: str, option: str) -> None:
    assert problem(get(query), 400)["option"] == option


def test_the_etag_covers_the_overlay_and_a_changed_overlay_is_seen(originals, client) -> None:
    url = "/image/base.png?overlay=mark.png&format=png"
    first = client.get(url)
    again = client.get(url)                       # the repeat cache's answer
    assert again.data == first.data and client.application.extensions["imgserve"].repeats.hits == 1
    later = time.time() + 5
    (originals / "mark.png").write_bytes(encode(mark((0, 255, 0))))
    os.utime(originals / "mark.png", (later, later))
    changed = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert tuple(decode(changed.data)[90, 180]) == (0, 255, 0)
    without = client.get("/image/base.png?format=png")
    assert without.headers["ETag"] not in (first.headers["ETag"], changed.headers["ETag"])


def test_an_overlay_is_decoded_once_for_many_renders(originals, client) -> None:
    svc = client.application.extensions["imgserve"]
    for width in (50, 60, 70, 80, 90):
        assert client.get(f"/image/base.png?w={width}&overlay=mark.png").status_code == 200
    assert (svc.overlays.misses, svc.overlays.hits, len(svc.overlays)) == (1, 4, 1)


def test_the_signature_covers_the_overlay(originals) -> None:
    key = "k" * 32
    client = create_app({"root": str(originals), "signing_keys": key}).test_client()
    signed = sign_url("/image/base.png?overlay=mark.png", key)
    assert client.get(signed).status_code == 200
    assert client.get(signed.replace("mark.png", "base.png")).status_code == 403


def test_a_preset_carries_a_watermark_even_in_presets_only_mode(originals) -> None:
    client = create_app({"root": str(originals), "presets": "wm:w=100&overlay=mark.png&overlay_gravity=nw",
                         "presets_only": "1"}).test_client()
    output = decode(client.get("/image/base.png?preset=wm").data)
    assert output.shape == (50, 100, 3) and painted(output) == (4, 4, 32, 12)
    assert client.get("/image/base.png?preset=wm&overlay_opacity=0.5").status_code == 400


def test_a_preset_naming_a_missing_overlay_stops_start_up(originals) -> None:
    with pytest.raises(SettingsError, match="wm"):
        create_app({"root": str(originals), "presets": "wm:overlay=nothing.png"})


def test_an_overlay_over_a_huge_mark_is_bounded_by_max_dimension(originals) -> None:
    big = np.zeros((3000, 3000, 4), np.uint8)
    big[:, :, 2:] = 255
    (originals / "big.png").write_bytes(encode(big))
    client = create_app({"root": str(originals), "max_dimension": "500"}).test_client()
    svc = client.application.extensions["imgserve"]
    output = decode(client.get("/image/base.png?overlay=big.png&format=png").data)
    assert (output[:, 100:] == (0, 0, 255)).all() and (output[:, :100] == 200).all()  # contained: 100x100 at se
    assert svc.overlays.bytes < 500 * 500 * 4 + 1024           # kept at MAX_DIMENSION, not 3000 px
