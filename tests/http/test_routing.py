"""Paths that match no route, or the wrong method: problem+json saying what would be right, an access
line, and never a redirect (Werkzeug's would be built from the Host header a client sends)."""

from __future__ import annotations

import logging

import pytest

from tests.support.http import problem

EVIL = "evil.example"
ROUTES = ("this server answers GET /image/<id>, POST /process, GET /fetch, GET /placeholder/<W>x<H>, GET /info/<id>, "
          "GET /srcset/<id>, "
          "GET /healthz, GET /readyz, GET /metrics, GET /openapi.json, GET /, GET /ui/sign and /static/ for the page's "
          "files")
ID_RULES = "an id is a path under the image root, without a leading slash or empty segments, like photos/rotated.jpg"


@pytest.mark.parametrize("path, detail", [
    ("/image/", "/image/ needs the id of an original after it, its path under the image root, like "
                "/image/photos/rotated.jpg"),
    ("/image", "/image/ needs the id of an original after it, its path under the image root, like "
               "/image/photos/rotated.jpg"),
    ("/info/", "/info/ needs the id of an original after it, its path under the image root, like "
               "/info/photos/rotated.jpg"),
    ("/image//x", f"no original '/x': {ID_RULES}"),
    ("/image//quad.png", f"no original '/quad.png': {ID_RULES}"),       # exists, but not under that id
    ("/image/%2fetc%2fpasswd", f"no original '/etc/passwd': {ID_RULES}"),
    ("/image/%2F%2Fquad.png", f"no original '//quad.png': {ID_RULES}"),
    ("/info//quad.png", f"no original '/quad.png': {ID_RULES}"),
    ("/static/../page.css", "no such path '/static/../page.css': '..' segments name nothing here; ask for the path "
                            "itself"),
    ("/../etc/passwd", "no such path '/../etc/passwd': '..' segments name nothing here; ask for the path itself"),
    ("/static//page.css", f"no such path '/static//page.css'; {ROUTES}"),
    ("/healthz/", f"no such path '/healthz/'; {ROUTES}"),
    ("/nope", f"no such path '/nope'; {ROUTES}"),
    ("/placeholder/", f"no such path '/placeholder/'; {ROUTES}"),
])
def test_unknown_paths_say_what_would_be_right(client, caplog, path: str, detail: str) -> None:
    with caplog.at_level(logging.INFO, logger="imgserve.access"):
        response = client.get(path, headers={"Host": EVIL})
    body = problem(response, 404)
    assert body["detail"] == detail
    assert "Location" not in response.headers and EVIL not in str(response.headers) + response.get_data(as_text=True)
    (line,) = [r.access for r in caplog.records if r.name == "imgserve.access"]
    assert (line["status"], line["detail"]) == (404, detail)


def test_merged_slashes_are_not_served_under_another_id(client) -> None:
    """`/image//quad.png` is not `/image/quad.png`: before, Werkzeug redirected one to the other."""
    assert client.get("/image/quad.png?w=8").status_code == 200
    for path in ("/image//quad.png?w=8", "/image/sub//deep.bmp", "/image/%2fquad.png"):
        response = client.get(path, headers={"Host": EVIL})
        assert response.status_code == 404 and "Location" not in response.headers, path


def test_a_method_a_path_does_not_take_is_405_naming_the_ones_it_does(client) -> None:
    response = client.post("/image/quad.png")
    assert problem(response, 405)["detail"] == "POST is not allowed on /image/quad.png; it answers GET, HEAD"
    assert response.headers["Allow"] == "GET, HEAD"
    response = client.delete("/process")
    assert problem(response, 405)["detail"] == "DELETE is not allowed on /process; it answers POST"
    assert response.headers["Allow"] == "POST"
