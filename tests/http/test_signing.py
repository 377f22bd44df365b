import io
import os
import sys

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgserve import create_app
from imgserve.cli import main
from imgserve.errors import Problem
from imgserve.signing import canonical, sign_url, signature, verify
from tests.support.images import decode

KEY, OLD = "k" * 32, "old-key-0123456789"


def test_canonical_string_is_language_neutral() -> None:
    assert canonical("/image/a b.jpg", [("w", "300"), ("fit", "cover"), ("s", "x")]) == \
        "/image/a%20b.jpg?fit=cover&w=300"
    assert canonical("/image/a%20b.jpg", [("text", "a&b=c")]) == "/image/a%2520b.jpg?text=a%26b%3Dc"  # decoded
    assert canonical(b"/image/\xff~.jpg", [(b"t", b"\xfe+")]) == "/image/%FF~.jpg?t=%FE%2B"
    assert canonical("/image/x", []) == "/image/x?"
    # only RFC 3986's unreserved characters stay bare in names and values: "/" and ":" are encoded too
    assert canonical("/image/d/x.jpg", [("url", "http://h.test/a b.jpg?q=1~"), ("a/b", "-._~")]) == \
        "/image/d/x.jpg?a%2Fb=-._~&url=http%3A%2F%2Fh.test%2Fa%20b.jpg%3Fq%3D1~"


def test_sign_url_keeps_blank_values_and_writes_a_bare_query() -> None:
    signed = sign_url("/image/x.jpg?text=&w=3", KEY)
    s = signed.rsplit("s=", 1)[1]
    assert signed == f"/image/x.jpg?text=&w=3&s={s}"
    verify("/image/x.jpg", [("text", ""), ("w", "3"), ("s", s)], (KEY,))
    assert sign_url("/image/x.jpg", KEY) == "/image/x.jpg?s=" + signature(KEY, "/image/x.jpg?")
    assert sign_url("/image/x.jpg?url=http://h.test/a", KEY).startswith("/image/x.jpg?url=http%3A%2F%2Fh.test%2Fa&s=")


def test_known_answer() -> None:
    """Fixed vector (made with openssl dgst -sha256 -hmac), for other implementations to check against."""
    assert signature("secret-key-0123456789", "/image/x.jpg?w=300") == "DASPFc5h7khZRkIZKlJ1YDtNCeu5JAZKPnBvXbOmAJ0"


def test_sign_url_then_verify_accepts_any_order() -> None:
    signed = sign_url("/image/x.jpg?w=300&fit=cover", KEY)
    assert signed.startswith("/image/x.jpg?w=300&fit=cover&s=")
    s = signed.rsplit("s=", 1)[1]
    verify("/image/x.jpg", [("fit", "cover"), ("s", s), ("w", "300")], (KEY,))
    with pytest.raises(Problem) as caught:
        verify("/image/x.jpg", [("fit", "cover"), ("s", s), ("w", "301")], (KEY,))
    assert caught.value.status == 403 and caught.value.extra["signed"] == "/image/x.jpg?fit=cover&w=301"


def test_signing_off_accepts_everything() -> None:
    verify("/image/x.jpg", [], ())


@pytest.fixture
def signed_client(root):
    return create_app({"root": str(root), "signing_keys": f"{KEY},{OLD}"}).test_client()


def test_signed_requests_are_served_and_others_get_403(signed_client) -> None:
    url = sign_url("/image/photo.jpg?w=40", KEY)
    response = signed_client.get(url)
    assert response.status_code == 200 and decode(response.data).shape == (30, 40, 3)
    assert signed_client.get(sign_url("/image/photo.jpg?w=40", OLD)).status_code == 200   # rotation
    unsigned = signed_client.get("/image/photo.jpg?w=40")
    assert unsigned.status_code == 403 and "only serves signed URLs" in unsigned.get_json()["detail"]
    tampered = signed_client.get(url.replace("w=40", "w=4000"))
    body = tampered.get_json()
    assert tampered.status_code == 403 and body["signed"] == "/image/photo.jpg?w=4000"
    assert "does not match" in body["detail"] and signature(KEY, body["signed"]) not in body["detail"]
    wrong_key = signed_client.get(sign_url("/image/photo.jpg?w=40", "another-key-0123456789"))
    assert wrong_key.status_code == 403


def test_signature_is_checked_before_anything_else(signed_client) -> None:
    assert signed_client.get("/image/missing.jpg?w=abc").status_code == 403


def test_a_non_ascii_signature_is_a_403_not_a_500(signed_client) -> None:
    response = signed_client.get("/image/photo.jpg?w=10&s=%F3%94%AC%B2")
    assert response.status_code == 403 and response.json["signed"] == "/image/photo.jpg?w=10"


def test_cli_sign_makes_urls_the_server_accepts(signed_client) -> None:
    result = CliRunner().invoke(main, ["sign", "/image/sub/deep?w=20&format=webp"], env={
        "IMGSERVE_SIGNING_KEYS": f"{KEY},{OLD}"})
    assert result.exit_code == 0, result.output
    response = signed_client.get(result.output.strip())
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/webp"
    assert CliRunner().invoke(main, ["sign", "/image/x"], env={"IMGSERVE_SIGNING_KEYS": ""}).exit_code == 2


@pytest.mark.parametrize("args, env", [(["--key", "short"], {}), ([], {"IMGSERVE_SIGNING_KEYS": "short"})])
def test_cli_sign_refuses_a_key_the_server_would_refuse(args: list, env: dict) -> None:
    result = CliRunner().invoke(main, ["sign", "/image/x", *args], env=env)
    assert result.exit_code == 2 and "at least 16 characters" in result.output


def test_settings_never_print_keys(root) -> None:
    result = CliRunner().invoke(main, ["settings", "--root", str(root), "--signing-keys", KEY])
    assert KEY not in result.output and "IMGSERVE_SIGNING_KEYS=(1 set, not shown)" in result.output


def test_short_keys_are_refused(root) -> None:
    from imgserve.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="IMGSERVE_SIGNING_KEYS: each key must be at least 16"):
        Settings.load({}, root=str(root), signing_keys="short")


def test_presets(root) -> None:
    client = create_app({"root": str(root), "presets": "thumb:w=40&h=40&fit=cover;tiny:w=8"}).test_client()
    assert decode(client.get("/image/photo.jpg?preset=thumb").data).shape == (40, 40, 3)
    assert decode(client.get("/image/photo.jpg?preset=thumb&h=20").data).shape == (20, 40, 3)  # given wins
    response = client.get("/image/photo.jpg?preset=nope")
    assert response.status_code == 400 and response.get_json()["option"] == "preset"


def test_presets_only_mode(root) -> None:
    client = create_app({"root": str(root), "presets": "tiny:w=8", "presets_only": "1"}).test_client()
    assert decode(client.get("/image/photo.jpg?preset=tiny").data).shape == (6, 8, 3)
    assert client.get("/image/photo.jpg?preset=tiny&format=auto", headers={"Accept": "image/webp"}) \
        .headers["Content-Type"] == "image/webp"
    refused = client.get("/image/photo.jpg?w=100")
    assert refused.status_code == 400 and "only accepts presets" in refused.get_json()["detail"]


def test_invalid_presets_stop_start_up(root) -> None:
    from imgserve.settings import SettingsError

    with pytest.raises(SettingsError, match="IMGSERVE_PRESETS: preset 'big': w: must be from 1 to 8192"):
        create_app({"root": str(root), "presets": "big:w=99999"})
    with pytest.raises(SettingsError, match="IMGSERVE_PRESETS"):
        create_app({"root": str(root), "presets": "no colon here"})


# Issue #19, row B7: the path was percent-decoded twice, so a signature for one id served another.

def wsgi_get(app, target: str, routed: bool = False) -> int:
    """Status of GET `target` (a path and query as sent on the wire) through the real WSGI app, with
    PATH_INFO and QUERY_STRING made by waitress's own request-line parser."""
    from waitress.parser import split_uri

    _, _, path, query, _ = split_uri(target.encode("latin-1"))
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
               "SCRIPT_NAME": ""}
    if routed:
        from werkzeug.exceptions import NotFound
        from werkzeug.routing import RequestRedirect

        try:
            app.url_map.bind_to_environ(dict(environ)).match()
        except (NotFound, RequestRedirect):
            return 0  # werkzeug's router matched no route (`<path:id>` takes no newline, `//` redirects): nothing
    statuses = []
    body = app(environ, lambda status, headers, *exc: statuses.append(status))
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return int(statuses[0].split()[0])


@pytest.fixture
def signed_app(root):
    (root / "aA.png").write_bytes((root / "quad.png").read_bytes())
    (root / "a%41.png").write_bytes((root / "alpha.png").read_bytes())
    return create_app({"root": str(root), "signing_keys": KEY})


def test_a_signature_serves_only_the_id_it_was_made_for(signed_app) -> None:
    signed = sign_url("/image/aA.png?w=40", KEY)
    assert wsgi_get(signed_app, signed) == 200
    s = signed.rsplit("s=", 1)[1]
    assert wsgi_get(signed_app, f"/image/a%2541.png?w=40&s={s}") == 403   # was 200: the other file
    assert wsgi_get(signed_app, f"/image/a%41.png?w=40&s={s}") == 200     # the same id, spelled otherwise
    other = sign_url("/image/a%2541.png?w=40", KEY)                       # was a 403: signed twice-decoded
    assert other.startswith("/image/a%2541.png?w=40&s=") and wsgi_get(signed_app, other) == 200


def test_cli_and_client_sign_the_literal_percent_id(signed_app, root) -> None:
    from imgserve.client import Client

    printed = CliRunner().invoke(main, ["sign", "/image/a%2541.png?w=40"], env={"IMGSERVE_SIGNING_KEYS": KEY})
    url = Client("http://x", key=KEY).url("/image/a%2541.png", {"w": 40})
    assert url == "http://x" + printed.output.strip()
    client = signed_app.test_client()
    served = client.get(printed.output.strip())
    assert served.status_code == 200
    assert decode(served.data).shape[2] == 4  # alpha.png's pixels, under the name a%41.png


ID_BYTES = st.binary(min_size=1, max_size=24)


@settings(max_examples=int(os.environ.get("IMGSERVE_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=list(HealthCheck))
@given(id=ID_BYTES, other=ID_BYTES, text=st.binary(max_size=12), how=st.sampled_from(["client", "cli", "bytes"]))
def test_every_byte_of_an_id_is_signed_as_the_server_checks_it(signed_app, id: bytes, other: bytes, text: bytes,
                                                               how: str) -> None:
    """For any id (any bytes) and any option value, the URL the client or `imgserve sign` makes is
    accepted by the real app (anything but a 403), and its signature on any other id is refused."""
    from urllib.parse import quote

    from imgserve.client import Client

    if how == "bytes":
        target = Client("", key=KEY).url("/image/" + quote(id, safe="/"), {"text": text.decode("latin-1")})
    else:
        path = "/image/" + quote(id.decode("utf-8", "surrogateescape").encode("utf-8", "surrogateescape"),
                                 safe="/")
        target = Client("", key=KEY).url(path, {"text": "x"}) if how == "client" else \
            sign_url(f"{path}?text=x", KEY)
    assert target.isascii()
    assert wsgi_get(signed_app, target) != 403, target
    if other.lstrip(b"/") != id.lstrip(b"/") and quote(other, safe="/") != quote(id, safe="/"):
        s = target.rsplit("s=", 1)[1]
        query = target.split("?", 1)[1].rsplit("&s=", 1)[0]
        assert wsgi_get(signed_app, f"/image/{quote(other, safe='/')}?{query}&s={s}", routed=True) in (403, 0)


def test_client_get_sends_the_bytes_of_an_id(signed_app) -> None:
    from imgserve.client import _path

    assert _path("/image/", b"a\xff/b c") == "/image/a%FF/b%20c"
    assert _path("/image/", "a\udcff") == "/image/a%FF"  # a name from os.listdir that is not UTF-8
    assert _path("/image/", "é") == "/image/%C3%A9"
