"""GET /fetch: remote originals from a real HTTP server on loopback (allowed explicitly), the refusals
(loopback, private and metadata addresses, other schemes, redirects to any of those), the limits (bytes,
stalls, drips) and revalidation by the remote's validators. No test connects anywhere but loopback
(conftest.loopback_only)."""

import socket
import time

import pytest

from imgserve import create_app
from imgserve.settings import Settings, SettingsError
from imgserve.signing import sign_url
from tests.support import origin as o
from tests.support.http import problem
from tests.support.images import GREEN, RED, close, color_at, decode, encode, photo, quadrants
from tests.support.waiting import wait_until

QUAD = encode(quadrants())


def fetch(client, url: str, query: str = "", **kwargs):
    from urllib.parse import quote

    return client.get(f"/fetch?url={quote(url, safe='')}{'&' + query if query else ''}", **kwargs)


def make_client(root, allow: str, **settings: str):
    settings = {"remote_timeout": "1", "remote_connect_timeout": "0.5", **settings}
    return create_app({"root": str(root), "remote_allow": allow, **settings}).test_client()


def test_a_remote_image_is_fetched_and_processed(fetch_client, origin) -> None:
    origin.routes["/quad.png"] = o.image(QUAD)
    response = fetch(fetch_client, origin.url("/quad.png"), "w=40")
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == "image/png" and response.headers["ETag"]
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    image = decode(response.data)
    assert image.shape == (30, 40, 3)
    assert close(color_at(image, 0.25, 0.25), RED) and close(color_at(image, 0.75, 0.25), GREEN)
    path, headers = origin.seen[0]
    assert path == "/quad.png" and headers["Host"] == f"127.0.0.1:{origin.port}"
    assert headers["User-Agent"].startswith("imgserve/") and "If-None-Match" not in headers


def test_query_and_odd_characters_reach_the_remote_encoded(fetch_client, origin) -> None:
    origin.routes["/a b/ü.png"] = o.image(QUAD)
    origin.routes["/a%20b/%C3%BC.png"] = o.image(QUAD)
    response = fetch(fetch_client, origin.url("/a b/ü.png?v=1&x=%2F#fragment"), "w=8")
    assert response.status_code == 200, response.data
    assert origin.seen[0][0] == "/a%20b/%C3%BC.png?v=1&x=%2F"


def test_off_unless_hosts_are_listed(client, origin) -> None:
    origin.routes["/quad.png"] = o.image(QUAD)
    assert problem(fetch(client, origin.url("/quad.png")), 403)["detail"] == (
        "this server does not fetch remote images: IMGSERVE_REMOTE_ALLOW is empty; list the hosts /fetch may read "
        "there (host or host:port, comma-separated)")
    assert origin.seen == []


AS_WRITTEN = "(entries are matched as written: a name does not allow its addresses, nor an address its names)"


@pytest.mark.parametrize("url, entry", [
    ("http://127.0.0.2:{port}/quad.png", "127.0.0.2:{port}"),
    ("http://localhost:{port}/quad.png", "localhost:{port}"),
    ("http://127.0.0.1/quad.png", "127.0.0.1:80"),         # a loopback address is allowed only with its port
    ("https://127.0.0.1/quad.png", "127.0.0.1:443"),
    ("https://images.example/quad.png", "images.example"),  # a public name: its default port needs no mention
    ("http://images.example:8080/quad.png", "images.example:8080"),
])
def test_unlisted_host_or_port_is_refused_naming_the_entry_to_add(fetch_client, origin, url: str, entry: str) -> None:
    origin.routes["/quad.png"] = o.image(QUAD)
    url, entry = url.format(port=origin.port), entry.format(port=origin.port)
    shown = entry if ":" in entry else f"{entry}:443"
    assert problem(fetch(fetch_client, url), 403)["detail"] == (
        f"{shown} is not in IMGSERVE_REMOTE_ALLOW: add {entry} to it to fetch from there {AS_WRITTEN}")
    assert origin.seen == []


def test_a_name_allows_that_name_and_an_address_that_address(root, origin) -> None:
    """Entries are compared with the URL's host as written, never resolved: `localhost:P` allows
    http://localhost:P/ only, and the 403 for http://127.0.0.1:P/ says which entry would allow it."""
    origin.routes["/quad.png"] = o.image(QUAD)
    by_name = make_client(root, f"localhost:{origin.port}")
    assert fetch(by_name, origin.url("/quad.png", host="localhost"), "w=8").status_code == 200
    assert problem(fetch(by_name, origin.url("/quad.png")), 403)["detail"] == (
        f"127.0.0.1:{origin.port} is not in IMGSERVE_REMOTE_ALLOW: add 127.0.0.1:{origin.port} to it to fetch from "
        f"there {AS_WRITTEN}")
    by_address = make_client(root, f"127.0.0.1:{origin.port}")
    assert fetch(by_address, origin.url("/quad.png"), "w=8").status_code == 200
    assert "add localhost:" in problem(fetch(by_address, origin.url("/quad.png", host="localhost")), 403)["detail"]


@pytest.mark.parametrize("allow, url, reason", [
    ("127.0.0.1", "http://127.0.0.1/x.png", "loopback"),              # listed, but loopback and no port named
    ("localhost", "http://localhost/x.png", "loopback"),
    ("[::1]", "http://[::1]/x.png", "loopback"),
    ("[::ffff:127.0.0.1]", "http://[::ffff:7f00:1]/x.png", "loopback"),
    ("[2002:7f00:1::]", "http://[2002:7f00:1::]/x.png", "loopback"),    # 6to4 wrapping 127.0.0.1
    ("[64:ff9b::7f00:1]", "http://[64:ff9b::7f00:1]/x.png", "loopback"),  # NAT64 wrapping 127.0.0.1
    ("[64:ff9b::a9fe:a9fe]", "http://[64:ff9b::a9fe:a9fe]/x", "cloud metadata"),  # ... 169.254.169.254
    ("[64:ff9b::a00:1]", "http://[64:ff9b::a00:1]/x", "private"),         # ... 10.0.0.1
    ("169.254.169.254", "http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("[fd00:ec2::254]", "http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("100.100.100.200", "http://100.100.100.200/latest/meta-data/", "cloud metadata"),
    ("169.254.1.2", "http://169.254.1.2/x", "link-local"),
    ("10.1.2.3", "http://10.1.2.3/x", "private"),
    ("192.168.0.1", "https://192.168.0.1/x", "private"),
    ("[fe80::1]", "http://[fe80::1]/x", "link-local"),
    ("0.0.0.0", "http://0.0.0.0/x", "unspecified"),
    ("224.0.0.1", "http://224.0.0.1/x", "multicast"),
    ("240.0.0.1", "http://240.0.0.1/x", "reserved"),
    ("100.64.0.1", "http://100.64.0.1/x", "non-public"),                # carrier-grade NAT
])
def test_non_public_addresses_are_refused_unless_the_exact_port_is_listed(root, allow: str, url: str,
                                                                         reason: str) -> None:
    detail = problem(fetch(make_client(root, allow), url), 403)["detail"]
    if reason == "cloud metadata":  # no advice to allow it
        assert detail.endswith(f"a {reason} address, which this server does not fetch from")
    else:
        assert f"a {reason} address, which this server does not fetch from unless IMGSERVE_REMOTE_ALLOW names the " \
               "host with its port: add " in detail


def test_listing_the_exact_port_allows_a_loopback_host_by_name(root, origin) -> None:
    """localhost resolves to ::1 and 127.0.0.1; the origin listens on the latter: every address is tried."""
    origin.routes["/quad.png"] = o.image(QUAD)
    client = make_client(root, f"localhost:{origin.port}")
    response = fetch(client, origin.url("/quad.png", host="localhost"), "w=20")
    assert response.status_code == 200 and decode(response.data).shape == (15, 20, 3)
    assert origin.seen[0][1]["Host"] == f"localhost:{origin.port}"


@pytest.mark.parametrize("url, fragment", [
    ("file:///etc/passwd", "not file:"),
    ("ftp://127.0.0.1/x.png", "not ftp:"),
    ("gopher://127.0.0.1:70/_GET", "not gopher:"),
    ("javascript:alert(1)", "not javascript:"),
    ("data:image/png;base64,iVBORw0KGgo=", "not data:"),
    ("//127.0.0.1/quad.png", "without a scheme"),
    ("quad.png", "without a scheme"),
    ("http://user:secret@127.0.0.1/quad.png", "user name or password"),
    ("http:///quad.png", "no host"),
    ("http://127.0.0.1:99999/x", "not a valid URL"),
    ("http://bad host/x", "not a host name"),
])
def test_only_http_and_https(fetch_client, origin, url: str, fragment: str) -> None:
    body = problem(fetch(fetch_client, url), 400)
    assert body["option"] == "url" and fragment in body["detail"]
    assert origin.seen == []


def test_url_must_be_given_once(fetch_client, origin) -> None:
    assert problem(fetch_client.get("/fetch?w=10"), 400)["option"] == "url"
    url = origin.url("/quad.png")
    assert problem(fetch_client.get(f"/fetch?url={url}&url={url}"), 400)["option"] == "url"


def test_redirects_are_followed_and_each_hop_is_checked(root, origin) -> None:
    origin.routes.update({
        "/quad.png": o.image(QUAD),
        "/moved": o.redirect("/quad.png", 301),
        "/relative": o.redirect("moved", 307),
        "/to-metadata": o.redirect("http://169.254.169.254/latest/meta-data/iam/"),
        "/to-localhost": o.redirect("http://localhost/admin"),
        "/to-file": o.redirect("file:///etc/passwd"),
        "/loop": o.redirect("/loop"),
    })
    client = make_client(root, f"127.0.0.1:{origin.port},169.254.169.254,localhost")
    response = fetch(client, origin.url("/relative"), "w=8")
    assert response.status_code == 200 and decode(response.data).shape == (6, 8, 3)
    assert [path for path, _ in origin.seen] == ["/relative", "/moved", "/quad.png"]
    detail = problem(fetch(client, origin.url("/to-metadata")), 403)["detail"]
    assert "169.254.169.254, a cloud metadata address" in detail
    detail = problem(fetch(client, origin.url("/to-localhost")), 403)["detail"]
    assert detail.startswith("the remote redirected to 'http://localhost/admin'") and "loopback" in detail
    assert "only http and https" in problem(fetch(client, origin.url("/to-file")), 403)["detail"]
    seen = len(origin.seen)
    assert "more than 5 redirects" in problem(fetch(client, origin.url("/loop")), 502)["detail"]
    assert len(origin.seen) - seen == 6


def test_redirect_to_an_unlisted_host_is_refused(fetch_client, origin) -> None:
    origin.routes["/away"] = o.redirect("http://169.254.169.254/latest/meta-data/")
    detail = problem(fetch(fetch_client, origin.url("/away")), 403)["detail"]
    assert detail == ("the remote redirected to 'http://169.254.169.254/latest/meta-data/': 169.254.169.254:80 is not "
                      "in IMGSERVE_REMOTE_ALLOW; 169.254.169.254 is a cloud metadata address, which no image URL "
                      "should name")


def test_body_over_the_cap_is_413(root, origin) -> None:
    client = make_client(root, f"127.0.0.1:{origin.port}", max_source_bytes="2000")
    origin.routes["/declared"] = o.image(encode(photo(64, 64)))
    origin.routes["/chunked"] = o.chunked(QUAD[:16], 50_000)
    assert "declares" in problem(fetch(client, origin.url("/declared")), 413)["detail"]
    assert "at most 2000 bytes" in problem(fetch(client, origin.url("/chunked")), 413)["detail"]


@pytest.mark.parametrize("route", ["stall", "drip", "silent", "drip_headers"])
def test_a_server_that_stalls_or_drips_times_out(fetch_client, origin, route: str) -> None:
    origin.routes["/slow"] = {"stall": o.stall(origin, QUAD[:100], len(QUAD)), "drip": o.drip(origin, QUAD[:16]),
                              "silent": o.silent(origin), "drip_headers": o.drip_headers(origin)}[route]
    started = time.monotonic()
    assert "did not finish within 1 s" in problem(fetch(fetch_client, origin.url("/slow")), 504)["detail"]
    assert time.monotonic() - started < 3.5  # the deadline (1 s) ended it, not the origin (5 s, or 30)


def test_downloads_at_once_are_bounded_and_the_next_one_is_503_at_once(root, origin) -> None:
    """Each download may hold MAX_SOURCE_BYTES while it reads: their number bounds that memory."""
    import threading

    client = make_client(root, f"127.0.0.1:{origin.port}", remote_max_downloads="1", remote_timeout="2")
    origin.routes["/slow"] = o.stall(origin, QUAD[:100], len(QUAD))
    origin.routes["/quad.png"] = o.image(QUAD)
    stalled = threading.Thread(target=lambda: fetch(client, origin.url("/slow")))
    stalled.start()
    wait_until(lambda: any(path == "/slow" for path, _ in origin.seen), "the first download to start")
    response = fetch(client, origin.url("/quad.png"), "w=40")
    body = problem(response, 503)
    assert stalled.is_alive() and response.headers["Retry-After"] == "1"  # refused without waiting for it
    assert "IMGSERVE_REMOTE_MAX_DOWNLOADS" in body["detail"]
    stalled.join()  # timed out: its place is free again
    assert decode(fetch(client, origin.url("/quad.png"), "w=40").data).shape == (30, 40, 3)


@pytest.mark.parametrize("route, status, fragment", [
    (o.status(404), 404, "no such image"),
    (o.status(410), 404, "410 Gone"),
    (o.status(500), 502, "answered 500"),
    (o.status(206, QUAD, "image/png"), 502, "answered 206"),
    (o.status(200, b"<html>hello</html>", "text/html"), 502, "did not send an image (text/html)"),
    (o.status(200, b"GIF"), 502, "did not send an image"),
    (o.truncated(QUAD[:100], len(QUAD)), 502, f"after 100 of {len(QUAD)} bytes"),
    (o.redirect(""), 502, "without a Location"),
    (o.image(QUAD[:60]), 415, "PNG"),     # starts like a PNG, is not one: as for a local original
])
def test_remote_failures(fetch_client, origin, route, status: int, fragment: str) -> None:
    origin.routes["/x"] = route
    assert fragment in problem(fetch(fetch_client, origin.url("/x")), status)["detail"]


def test_nothing_listening_is_502(root) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    detail = problem(fetch(make_client(root, f"127.0.0.1:{port}"), f"http://127.0.0.1:{port}/x"), 502)["detail"]
    assert "failed" in detail




@pytest.fixture
def cached_client(root, origin):
    app = create_app({"root": str(root), "remote_allow": f"127.0.0.1:{origin.port}", "remote_timeout": "1"})
    return app, app.test_client()


def test_revalidation_by_etag(cached_client, origin) -> None:
    app, client = cached_client
    origin.routes["/v.png"] = o.image(QUAD, etag='"v1"')
    first = fetch(client, origin.url("/v.png"), "w=40")
    second = fetch(client, origin.url("/v.png"), "w=40")
    assert second.status_code == 200 and second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"] and app.extensions["imgserve"].cache.hits == 1
    assert "If-None-Match" not in origin.seen[0][1] and origin.seen[1][1]["If-None-Match"] == '"v1"'
    assert fetch(client, origin.url("/v.png"), "w=40",
                 headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert fetch(client, origin.url("/v.png"), "w=41").headers["ETag"] != first.headers["ETag"]
    head = client.head(f"/fetch?url={origin.url('/v.png')}&w=40")
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == first.headers["ETag"]

    origin.routes["/v.png"] = o.image(encode(quadrants()[:, ::-1].copy()), etag='"v2"')   # changed remotely
    changed = fetch(client, origin.url("/v.png"), "w=40", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert close(color_at(decode(changed.data), 0.25, 0.25), GREEN)


def test_revalidation_by_last_modified(cached_client, origin) -> None:
    app, client = cached_client
    stamp = "Wed, 01 Nov 2023 10:00:00 GMT"
    origin.routes["/lm.png"] = o.image(QUAD, last_modified=stamp)
    first = fetch(client, origin.url("/lm.png"))
    assert first.headers["Last-Modified"] == stamp
    again = fetch(client, origin.url("/lm.png"))
    assert again.headers["ETag"] == first.headers["ETag"] and origin.seen[1][1]["If-Modified-Since"] == stamp
    assert app.extensions["imgserve"].cache.hits == 1
    assert fetch(client, origin.url("/lm.png"), headers={"If-Modified-Since": stamp}).status_code == 304


def test_without_validators_the_etag_is_a_digest_of_the_bytes(cached_client, origin) -> None:
    _, client = cached_client
    origin.routes["/plain.png"] = o.image(QUAD)
    first = fetch(client, origin.url("/plain.png"))
    assert fetch(client, origin.url("/plain.png")).headers["ETag"] == first.headers["ETag"]
    assert "Last-Modified" not in first.headers and "If-None-Match" not in origin.seen[1][1]
    origin.routes["/plain.png"] = o.image(encode(quadrants(60, 60)))
    assert fetch(client, origin.url("/plain.png")).headers["ETag"] != first.headers["ETag"]


def test_a_304_for_a_result_no_longer_cached_fetches_the_bytes_again(root, origin) -> None:
    client = make_client(root, f"127.0.0.1:{origin.port}", cache_bytes="0")
    origin.routes["/v.png"] = o.image(QUAD, etag='"v1"')
    fetch(client, origin.url("/v.png"))
    response = fetch(client, origin.url("/v.png"), "w=20")
    assert response.status_code == 200 and decode(response.data).shape == (15, 20, 3)
    assert [h.get("If-None-Match") for _, h in origin.seen] == [None, '"v1"', None]


@pytest.fixture
def fake_dns(monkeypatch):
    """Names under .test resolve as the test says; everything else as usual. Counts lookups."""
    answers: dict[str, list[str]] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        if answers[host] == ["slow"]:
            time.sleep(3)
        if answers[host] == ["nxdomain"]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


def test_every_address_a_name_resolves_to_is_checked(root, fake_dns) -> None:
    answers, _ = fake_dns
    answers["rebind.test"] = ["93.184.216.34", "127.0.0.1"]   # one public, one not: refused, nothing tried
    assert "127.0.0.1, a loopback address" in problem(fetch(make_client(root, "rebind.test"),
                                                            "http://rebind.test/x.png"), 403)["detail"]


def test_the_checked_address_is_the_one_connected_to(root, origin, fake_dns) -> None:
    """Resolved once; the connection goes to that address, and the Host header names the host."""
    answers, lookups = fake_dns
    answers["images.test"] = ["127.0.0.1"]
    origin.routes["/quad.png"] = o.image(QUAD)
    client = make_client(root, f"images.test:{origin.port}")
    response = fetch(client, f"http://images.test:{origin.port}/quad.png", "w=20")
    assert response.status_code == 200 and decode(response.data).shape == (15, 20, 3)
    assert lookups == ["images.test"] and origin.seen[0][1]["Host"] == f"images.test:{origin.port}"


def test_name_lookup_is_bounded_by_the_deadline(root, fake_dns) -> None:
    answers, _ = fake_dns
    answers["slow.test"] = ["slow"]
    answers["gone.test"] = ["nxdomain"]
    client = make_client(root, "slow.test,gone.test")
    started = time.monotonic()
    assert "looking up slow.test" in problem(fetch(client, "http://slow.test/x.png"), 504)["detail"]
    assert time.monotonic() - started < 2.5  # the deadline (1 s) ended it, not the lookup (3 s)
    assert "could not be resolved" in problem(fetch(client, "http://gone.test/x.png"), 502)["detail"]


def test_filters_apply_to_remote_images(fetch_client, origin) -> None:
    origin.routes["/quad.png"] = o.image(QUAD)
    image = decode(fetch(fetch_client, origin.url("/quad.png"), "rotate=90&flip=h&format=png").data)
    assert image.shape == (80, 60, 3)   # rotate 90 then mirror: the top-left is the original's top-left
    assert close(color_at(image, 0.25, 0.25), RED)


def test_signing_covers_the_url(root, origin) -> None:
    key = "k" * 32
    origin.routes["/quad.png"] = o.image(QUAD)
    client = create_app({"root": str(root), "remote_allow": f"127.0.0.1:{origin.port}",
                         "signing_keys": key}).test_client()
    url = origin.url("/quad.png")
    problem(fetch(client, url, "w=10"), 403)
    assert origin.seen == []
    from urllib.parse import quote

    response = client.get(sign_url(f"/fetch?url={quote(url, safe='')}&w=10", key))
    assert response.status_code == 200 and decode(response.data).shape == (8, 10, 3)


@pytest.mark.parametrize("text, entries", [
    ("", ()),
    ("images.example.com", ("images.example.com",)),
    (" CDN.Example.COM. , cdn.example.com:8443 ", ("cdn.example.com", "cdn.example.com:8443")),
    ("127.0.0.1:8080,[::1]:9000,[0:0::1]", ("127.0.0.1:8080", "[::1]:9000", "[::1]")),
    ("bücher.example", ("xn--bcher-kva.example",)),
])
def test_allow_list_setting(tmp_path, text: str, entries: tuple) -> None:
    assert Settings.load({}, root=str(tmp_path), remote_allow=text).remote_allow == entries


@pytest.mark.parametrize("text", ["http://images.example.com", "images.example.com/path", "host:99999", "host:0",
                                  "a b", "user@host", "[::1", "*.example.com", "host:port"])
def test_invalid_allow_list_stops_start_up(tmp_path, text: str) -> None:
    with pytest.raises(SettingsError, match="IMGSERVE_REMOTE_ALLOW: expected host or host:port|IMGSERVE_REMOTE_ALLOW"):
        Settings.load({}, root=str(tmp_path), remote_allow=text)


def certificate(tmp_path, name: str):
    """A self-signed certificate for `name` (openssl), and a client context that trusts only it."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate: `apt-get install openssl` (.ci/run does)")
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.mark.parametrize("served_as, ok", [("images.test", True), ("other.test", False)])
def test_tls_uses_the_host_name_for_sni_and_the_certificate(tmp_path, fake_dns, served_as: str, ok: bool) -> None:
    """The socket goes to the checked address (127.0.0.1), but TLS verifies the certificate against
    the URL's host name: right name accepted, wrong name refused."""
    from imgserve.errors import Problem
    from imgserve.sources.remote import Remote

    server_tls, client_tls = certificate(tmp_path, served_as)
    answers, _ = fake_dns
    answers["images.test"] = ["127.0.0.1"]
    with o.Origin(tls=server_tls) as origin:
        origin.routes["/quad.png"] = o.image(QUAD)
        remote = Remote((f"images.test:{origin.port}",), max_bytes=10**6, timeout=2, connect_timeout=1,
                        max_redirects=0, max_downloads=1, tls=client_tls)
        url = f"https://images.test:{origin.port}/quad.png"
        if ok:
            with remote.open(url) as original:
                assert original.read(10**6) == QUAD
            assert origin.seen[0][1]["Host"] == f"images.test:{origin.port}"
        else:
            with pytest.raises(Problem) as refused:
                remote.open(url).__enter__()
            assert refused.value.status == 502 and "certificate" in refused.value.detail.lower()
