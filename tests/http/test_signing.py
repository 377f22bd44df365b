import pytest
from click.testing import CliRunner

from imgserve import create_app
from imgserve.cli import main
from imgserve.errors import Problem
from imgserve.signing import canonical, sign_url, signature, verify
from tests.support.images import decode

KEY, OLD = "k" * 32, "old-key-0123456789"


def test_canonical_string_is_language_neutral() -> None:
    assert canonical("/image/a b.jpg", [("w", "300"), ("fit", "cover"), ("s", "x")]) == \
        "/image/a%20b.jpg?fit=cover&w=300"
    assert canonical("/image/a%20b.jpg", [("text", "a&b=c")]) == "/image/a%20b.jpg?text=a%26b%3Dc"
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
