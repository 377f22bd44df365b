"""POST /process: the image in the body, raw or multipart, through the same options, errors and limits."""

import io

import numpy as np
import pytest

from imgserve import create_app
from imgserve.signing import sign_url
from tests.support.http import problem
from tests.support.images import BLUE, GREEN, RED, close, color_at, decode, encode, photo, quadrants


def post(client, url: str, body: bytes, content_type: str = "image/png", **kwargs):
    return client.post(url, data=body, content_type=content_type, **kwargs)


def test_raw_body_is_processed(client) -> None:
    response = post(client, "/process?w=40&format=png", encode(quadrants()))
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "image/png"
    image = decode(response.data)
    assert image.shape == (30, 40, 3)
    assert close(color_at(image, 0.25, 0.25), RED) and close(color_at(image, 0.75, 0.25), GREEN)


def test_source_format_is_kept_by_default_and_any_image_type_is_accepted(client) -> None:
    response = post(client, "/process?w=64", encode(photo(), ".jpg"), "image/jpeg")
    assert response.headers["Content-Type"] == "image/jpeg" and decode(response.data).shape == (48, 64, 3)
    # the type only has to say "an image": the format is read from the bytes, as for originals
    response = post(client, "/process?w=20&rotate=90", encode(quadrants(), ".bmp"), "image/x-whatever")
    assert response.headers["Content-Type"] == "image/png" and decode(response.data).shape == (27, 20, 3)


def test_multipart_field_image(client) -> None:
    data = {"image": (io.BytesIO(encode(quadrants(), ".webp")), "quad.webp"), "note": "ignored"}
    response = client.post("/process?w=40&h=40&fit=pad&bg=000", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.data
    image = decode(response.data)
    assert response.headers["Content-Type"] == "image/webp" and image.shape == (40, 40, 3)
    assert close(color_at(image, 0.5, 0.02), (0, 0, 0)) and close(color_at(image, 0.25, 0.75), BLUE)


def test_multipart_upload_stays_in_memory(client, monkeypatch) -> None:
    """Werkzeug spools files over 500 KB to disk; ours must not."""
    import tempfile

    import werkzeug.formparser

    def no_disk(*args, **kwargs):
        raise AssertionError("an upload was written to a temporary file")

    for module in (tempfile, werkzeug.formparser):
        monkeypatch.setattr(module, "SpooledTemporaryFile", no_disk, raising=False)
        monkeypatch.setattr(module, "TemporaryFile", no_disk, raising=False)
    big = encode(np.random.default_rng(0).integers(0, 256, (600, 600, 3), dtype=np.uint8))
    assert len(big) > 1_000_000
    data = {"image": (io.BytesIO(big), "noise.png")}
    response = client.post("/process?w=60", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.data
    assert decode(response.data).shape == (60, 60, 3)


def test_sixteen_bit_png_goes_through_losslessly(client) -> None:
    image = np.random.default_rng(2).integers(0, 65536, (12, 10, 3), dtype=np.uint16)
    response = post(client, "/process?format=png", encode(image))
    back = decode(response.data)
    assert back.dtype == np.uint16 and np.array_equal(back, image)


def test_a_post_is_never_answered_with_304(client) -> None:
    """The body is the client's own and the answer is no-store: a conditional POST still gets the image
    (RFC 9110 13.1.2: If-None-Match on a POST that matches would mean 412, never 304)."""
    body = encode(quadrants())
    tag = post(client, "/process?w=40", body).headers["ETag"]
    for headers in ({"If-None-Match": tag}, {"If-None-Match": "*"}):
        response = post(client, "/process?w=40", body, headers=headers)
        assert response.status_code == 200 and decode(response.data).shape == (30, 40, 3)
        assert response.headers["Cache-Control"] == "no-store"


def test_etag_is_a_digest_of_body_and_options_and_repeats_hit_the_cache(app, client) -> None:
    body = encode(quadrants())
    first = post(client, "/process?w=40", body)
    again = post(client, "/process?w=040", body)
    assert first.headers["ETag"] == again.headers["ETag"] and first.data == again.data
    assert app.extensions["imgserve"].cache.hits == 1
    assert post(client, "/process?w=41", body).headers["ETag"] != first.headers["ETag"]
    assert post(client, "/process?w=40", encode(quadrants(82, 60))).headers["ETag"] != first.headers["ETag"]
    assert "Last-Modified" not in first.headers


def test_format_auto_varies(client) -> None:
    response = post(client, "/process?format=auto", encode(photo(30, 20), ".jpg"), "image/jpeg",
                    headers={"Accept": "image/webp"})
    assert response.headers["Content-Type"] == "image/webp" and response.headers["Vary"] == "Accept"


@pytest.mark.parametrize("url, body, content_type, status, fragment", [
    ("/process?w=abc", encode(quadrants()), "image/png", 400, "w: expected a whole number"),
    ("/process?crop=500,0,10,10", encode(quadrants()), "image/png", 400, "crop: the region"),
    ("/process", b"", "image/png", 400, "empty"),
    ("/process", b"hello, world", "image/png", 415, "not an image"),
    ("/process", encode(photo(64, 64))[:200], "image/png", 415, "PNG"),
    ("/process", encode(quadrants()), "text/plain", 415, "Content-Type image/*"),
    ("/process", encode(quadrants()), "application/octet-stream", 415, "'application/octet-stream'"),
    ("/process", encode(quadrants()), "", 415, "(none given)"),
])
def test_errors(client, url: str, body: bytes, content_type: str, status: int, fragment: str) -> None:
    assert fragment in problem(post(client, url, body, content_type), status)["detail"]


def test_pixel_limit_applies_to_uploads(client) -> None:
    header = bytearray(encode(photo(8, 8)))
    header[16:24] = (30000).to_bytes(4, "big") * 2
    assert "pixels" in problem(post(client, "/process?w=10", bytes(header)), 422)["detail"]


def test_multipart_without_the_image_field_is_400(client) -> None:
    data = {"picture": (io.BytesIO(encode(quadrants())), "q.png")}
    body = problem(client.post("/process", data=data, content_type="multipart/form-data"), 400)
    assert "'image'" in body["detail"] and "picture" in body["detail"]


def test_get_is_405(client) -> None:
    response = client.get("/process")
    problem(response, 405)
    assert "POST" in response.headers["Allow"]


@pytest.fixture
def small_client(root):
    return create_app({"root": str(root), "max_body_bytes": "5000"}).test_client()


def test_body_over_the_limit_is_413_before_it_is_read(small_client) -> None:
    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

    response = small_client.post("/process", input_stream=Unreadable(), content_type="image/png",
                                 environ_overrides={"CONTENT_LENGTH": "5001"})
    assert "5001 bytes" in problem(response, 413)["detail"]


def test_multipart_over_the_limit_is_413(small_client) -> None:
    data = {"image": (io.BytesIO(encode(photo(64, 64))), "p.png")}
    problem(small_client.post("/process", data=data, content_type="multipart/form-data"), 413)


def test_chunked_body_is_cut_off_at_the_limit(small_client) -> None:
    """No Content-Length: the stream is read up to the limit and no further."""
    body = encode(photo(64, 64))
    assert len(body) > 5000
    response = small_client.post("/process", input_stream=io.BytesIO(body), content_type="image/png",
                                 environ_overrides={"wsgi.input_terminated": True})
    assert "at most 5000 bytes" in problem(response, 413)["detail"]
    ok = small_client.post("/process?w=8", input_stream=io.BytesIO(encode(quadrants(16, 12))),
                           content_type="image/png", environ_overrides={"wsgi.input_terminated": True})
    assert ok.status_code == 200 and decode(ok.data).shape == (6, 8, 3)


def test_signing_covers_process(root) -> None:
    key = "k" * 32
    client = create_app({"root": str(root), "signing_keys": key}).test_client()
    body = encode(quadrants())
    assert "signed" in problem(post(client, "/process?w=40", body), 403)
    response = post(client, sign_url("/process?w=40", key), body)
    assert response.status_code == 200 and decode(response.data).shape == (30, 40, 3)


def test_multipart_with_odd_field_names_is_a_400(client) -> None:
    """Found by the OpenAPI contract test: a part name ending in a backslash escapes its closing quote,
    werkzeug reads the part as nameless (None), and listing the names raised a TypeError: a 500."""
    body = (b'--bnd\r\nContent-Disposition: form-data; name="odd\\"\r\n\r\n1\r\n'
            b'--bnd\r\nContent-Disposition: form-data; name="D"\r\n\r\nnull\r\n--bnd--\r\n')
    response = client.post("/process", data=body, content_type="multipart/form-data; boundary=bnd")
    assert response.status_code == 400 and "exactly one file field 'image'" in response.get_json()["detail"]
