"""Repeated URLs answered before Flask: same bytes and headers, and never a stale or unchecked answer."""

import logging
import os
import time

import pytest

from imgserve import create_app
from imgserve.signing import sign_url
from imgserve.web import repeat_cache
from tests.support.images import decode, encode, photo


@pytest.fixture
def svc(app):
    return app.extensions["imgserve"]


def test_a_repeat_is_answered_by_the_hot_path_with_the_same_response(client, svc) -> None:
    first = client.get("/image/photo.jpg?w=50")
    assert svc.repeats.hits == 0
    second = client.get("/image/photo.jpg?w=50")
    assert svc.repeats.hits == 1
    assert second.status_code == 200 and second.data == first.data
    assert dict(second.headers) == dict(first.headers)
    assert decode(second.data).shape == (38, 50, 3)
    head = client.head("/image/photo.jpg?w=50")
    assert svc.repeats.hits == 2 and head.data == b""
    assert head.headers["Content-Length"] == first.headers["Content-Length"]


def test_a_changed_original_goes_the_full_way(client, svc, root) -> None:
    first = client.get("/image/photo.jpg?w=50")
    later = time.time() + 5
    (root / "photo.jpg").write_bytes(encode(photo(200, 100, seed=9), ".jpg"))
    os.utime(root / "photo.jpg", (later, later))
    changed = client.get("/image/photo.jpg?w=50")
    assert svc.repeats.hits == 0 and changed.headers["ETag"] != first.headers["ETag"]
    assert decode(changed.data).shape == (25, 50, 3)
    (root / "photo.jpg").unlink()
    assert client.get("/image/photo.jpg?w=50").status_code == 404 and svc.repeats.hits == 0


def test_revalidations_get_304_from_the_hot_path(client, svc) -> None:
    first = client.get("/image/photo.jpg?w=50")
    tag = first.headers["ETag"]
    for value in (tag, f'"other", {tag}', f"W/{tag}", "*"):
        response = client.get("/image/photo.jpg?w=50", headers={"If-None-Match": value})
        assert response.status_code == 304 and response.data == b""
        assert response.headers["ETag"] == tag and response.headers["Last-Modified"] == first.headers["Last-Modified"]
        assert "Content-Type" not in response.headers
    assert svc.repeats.hits == 4
    assert client.get("/image/photo.jpg?w=50", headers={"If-None-Match": '"other"'}).status_code == 200
    assert svc.repeats.hits == 5
    since = {"If-Modified-Since": first.headers["Last-Modified"]}     # dates: the full way decides
    assert client.get("/image/photo.jpg?w=50", headers=since).status_code == 304 and svc.repeats.hits == 5


def test_entries_expire(client, svc, monkeypatch) -> None:
    monkeypatch.setattr(repeat_cache, "REMEMBER_SECONDS", -1.0)   # remembered already out of date
    client.get("/image/photo.jpg?w=50")
    client.get("/image/photo.jpg?w=50")
    assert svc.repeats.hits == 0


def test_negotiated_formats_are_remembered_apart(client, svc) -> None:
    avif = {"Accept": "image/avif,image/webp,*/*"}
    webp = {"Accept": "image/webp,*/*"}
    for _ in range(2):
        assert client.get("/image/photo.jpg?w=50&format=auto", headers=avif).headers["Content-Type"] == "image/avif"
        assert client.get("/image/photo.jpg?w=50&format=auto", headers=webp).headers["Content-Type"] == "image/webp"
        plain = client.get("/image/photo.jpg?w=50&format=auto", headers={"Accept": "*/*"})
        assert plain.headers["Content-Type"] == "image/jpeg" and plain.headers["Vary"] == "Accept"
    assert svc.repeats.hits == 3


def test_a_preset_with_format_auto_is_negotiated_on_the_hot_path_too(root) -> None:
    app = create_app({"root": str(root), "presets": "t:w=50&format=auto"})
    client, svc = app.test_client(), app.extensions["imgserve"]
    webp = {"Accept": "image/webp,*/*"}
    for _ in range(2):
        assert client.get("/image/photo.jpg?preset=t", headers=webp).headers["Content-Type"] == "image/webp"
        plain = client.get("/image/photo.jpg?preset=t", headers={"Accept": "*/*"})
        assert plain.headers["Content-Type"] == "image/jpeg" and decode(plain.data).shape == (38, 50, 3)
    assert svc.repeats.hits == 2


def test_only_signed_urls_get_in(root) -> None:
    key = "k" * 32
    app = create_app({"root": str(root), "signing_keys": key})
    client, svc = app.test_client(), app.extensions["imgserve"]
    url = sign_url("/image/photo.jpg?w=50", key)
    assert client.get(url).status_code == 200 and client.get(url).status_code == 200 and svc.repeats.hits == 1
    assert client.get(url[:-3] + "abc").status_code == 403
    assert client.get("/image/photo.jpg?w=50").status_code == 403


def test_nothing_is_remembered_without_a_result_cache(root) -> None:
    app = create_app({"root": str(root), "cache_bytes": "0"})
    client = app.test_client()
    for _ in range(3):
        assert client.get("/image/photo.jpg?w=50").status_code == 200
    assert app.extensions["imgserve"].repeats.hits == 0


def test_an_evicted_result_goes_the_full_way(root) -> None:
    app = create_app({"root": str(root), "cache_bytes": "30000"})   # room for one result of about 20 KB
    client, svc = app.test_client(), app.extensions["imgserve"]
    assert len(client.get("/image/photo.jpg?w=300&q=95").data) > 10000
    client.get("/image/photo.jpg?w=301&q=95")                      # evicts the first
    assert len(svc.cache) == 1
    assert client.get("/image/photo.jpg?w=300&q=95").status_code == 200 and svc.repeats.hits == 0


def test_hot_answers_are_logged_and_counted(client, svc, caplog) -> None:
    client.get("/image/photo.jpg?w=50")
    with caplog.at_level(logging.INFO, logger="imgserve.access"):
        client.get("/image/photo.jpg?w=50")
    assert svc.repeats.hits == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "imgserve.access"]
    assert len(lines) == 1 and lines[0].startswith("GET /image/photo.jpg?w=50 200 ")
    assert lines[0].endswith("cache=hit format=jpeg")
    scraped = client.get("/metrics").get_data(as_text=True)
    assert 'imgserve_requests_total{endpoint="/image/<path:id>",status="200"} 2.0' in scraped
