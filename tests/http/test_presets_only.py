"""Presets-only mode (IMGSERVE_PRESETS_ONLY=1) means only presets: no processing URL without one, on
every endpoint that processes (/image, /process, /fetch), and no /placeholder, whose size no preset
bounds. Health, metrics and the API description stay open."""

from __future__ import annotations

from urllib.parse import quote

import cv2
import numpy as np
import pytest

from imgserve import create_app
from tests.support import origin as o
from tests.support.http import problem
from tests.support.images import decode, encode, photo

NEEDS_PRESET = "preset: this server only serves presets: add preset=<name> (one of thumb, tiny)"


@pytest.fixture
def locked(root, origin):
    origin.routes["/remote.png"] = o.image(encode(photo(64, 48)))
    app = create_app({"root": str(root), "presets": "thumb:w=40&h=40&fit=cover;tiny:w=8", "presets_only": "1",
                      "remote_allow": f"127.0.0.1:{origin.port}"})
    return app.test_client()


def reference(width: int, height: int, source: np.ndarray) -> np.ndarray:
    return cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)


def test_an_original_without_a_preset_is_refused(locked) -> None:
    for url in ("/image/photo.jpg", "/image/photo", "/image/photo.jpg?format=auto", "/image/sub/deep.bmp"):
        body = problem(locked.get(url), 400)
        assert (body["detail"], body["option"]) == (NEEDS_PRESET, "preset"), url
    served = decode(locked.get("/image/quad.png?preset=tiny").data)
    assert served.shape == (6, 8, 3)
    original = decode((locked.application.extensions["imgserve"].folder.root / "quad.png").read_bytes())
    assert float(np.abs(served.astype(int) - reference(8, 6, original)).mean()) < 3


def test_a_placeholder_is_refused_whatever_its_size(locked) -> None:
    for url in ("/placeholder/8192x8192?text=hello", "/placeholder/10x10", "/placeholder/10x10?preset=tiny"):
        assert problem(locked.get(url), 403)["detail"] == (
            "/placeholder is off on this server: it only serves presets (IMGSERVE_PRESETS_ONLY=1); use "
            "/image/<id>?preset=<name>"), url


def test_uploads_and_remote_images_need_a_preset_too(locked, origin) -> None:
    body = encode(photo(64, 48))
    for query in ("", "?w=20", "?format=auto"):
        response = locked.post(f"/process{query}", data=body, content_type="image/png")
        assert problem(response, 400)["option"] in ("preset", "w"), query
    assert problem(locked.post("/process", data=body, content_type="image/png"), 400)["detail"] == NEEDS_PRESET
    served = decode(locked.post("/process?preset=tiny", data=body, content_type="image/png").data)
    assert served.shape == (6, 8, 3)
    assert float(np.abs(served.astype(int) - reference(8, 6, photo(64, 48))).mean()) < 3

    url = quote(origin.url("/remote.png"), safe="")
    assert problem(locked.get(f"/fetch?url={url}"), 400)["detail"] == NEEDS_PRESET
    assert origin.seen == []                                    # refused before anything was fetched
    served = decode(locked.get(f"/fetch?url={url}&preset=thumb").data)
    assert served.shape == (40, 40, 3)


def test_operations_and_the_description_stay_open(locked) -> None:
    for url in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert locked.get(url).status_code == 200, url
    described = locked.get("/openapi.json").json["paths"]["/image/{id}"]["get"]["parameters"]
    assert next(p for p in described if p["name"] == "preset")["required"] is True


def test_the_builder_starts_from_a_preset(locked) -> None:
    html = locked.get("/?image=quad.png").get_data(as_text=True)
    select = html[html.index('<select name="preset">'):]
    select = select[:select.index("</select>")]
    assert 'value=""' not in select and "<option>thumb</option>" in select
