"""What a revalidation costs, counted (tests/support/costs.py), on every path a request can take.

The claims (web/conditional.py, web/caching.py): a conditional request is answered with a 304 for
the price of opening (or, on the repeat cache, stat-ing) the original - one fstat, not a byte read,
no pixel work. A request reaches its answer by one of three ways, and each is tested:

- "repeat": the URL was just served, so the repeat cache answers before Flask (one stat, no open);
- "full, cache on": the URL is not remembered (a restarted server, another spelling of the options),
  so the view runs with the result cache on;
- "full, cache off": IMGSERVE_CACHE_BYTES=0 turns off the result cache and with it the repeat cache.

Every test first counts a request that does the work, so a counter that saw nothing cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imgserve import create_app
from tests.support.costs import Costs
from tests.support.images import decode

URL = "/image/photo.jpg?w=60"
NO_PIXEL_WORK = {"reads": 0, "decodes": 0, "encodes": 0}
ONE_RENDER = {"reads": 1, "decodes": 1, "encodes": 1}
CACHE = {"on": "64000000", "off": "0"}


@pytest.fixture
def costs(root: Path, monkeypatch: pytest.MonkeyPatch) -> Costs:
    return Costs(root, monkeypatch)


def server(root: Path, cache: str):
    """A new app: a server process that has seen nothing yet."""
    return create_app({"root": str(root), "cache_bytes": CACHE[cache]}).test_client()


def work(costs: Costs) -> dict[str, int]:
    return costs.of("reads", "decodes", "encodes")


def earlier(root: Path, cache: str, costs: Costs, url: str = URL) -> dict[str, str]:
    """The validators a client got from an earlier server process, which rendered it once (counted)."""
    costs.reset()
    response = server(root, cache).get(url)
    assert work(costs) == ONE_RENDER and costs["opens"] == 1  # counted before the test's own decode below
    assert response.status_code == 200 and decode(response.data).shape == (45, 60, 3)
    return {"etag": response.headers["ETag"], "modified": response.headers["Last-Modified"]}


@pytest.mark.parametrize("cache", ["on", "off"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_revalidation_on_the_full_way_opens_and_fstats_once_and_reads_nothing(root, costs, cache, method) -> None:
    tag = earlier(root, cache, costs)["etag"]
    client = server(root, cache)   # restarted: nothing remembered, nothing in the result cache
    costs.reset()
    response = client.open(URL, method=method, headers={"If-None-Match": tag})
    assert response.status_code == 304 and response.data == b"" and response.headers["ETag"] == tag
    assert work(costs) == NO_PIXEL_WORK
    assert costs.of("opens", "fstats") == {"opens": 1, "fstats": 1}


@pytest.mark.parametrize("cache", ["on", "off"])
def test_if_modified_since_is_answered_on_the_full_way_without_reading(root, costs, cache) -> None:
    since = earlier(root, cache, costs)["modified"]
    client = server(root, cache)
    costs.reset()
    response = client.get(URL, headers={"If-Modified-Since": since})
    assert response.status_code == 304 and response.data == b""
    assert work(costs) == NO_PIXEL_WORK and costs.of("opens", "fstats") == {"opens": 1, "fstats": 1}


@pytest.mark.parametrize("cache", ["on", "off"])
def test_another_spelling_of_the_same_options_revalidates_without_pixel_work(root, costs, cache) -> None:
    """w=060 means w=60: the same ETag, and a URL the repeat cache has not seen."""
    tag = earlier(root, cache, costs)["etag"]
    client = server(root, cache)
    costs.reset()
    assert client.get("/image/photo.jpg?w=060", headers={"If-None-Match": f'"x", {tag}'}).status_code == 304
    assert work(costs) == NO_PIXEL_WORK


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_changed_tag_does_the_work_once(root, costs, cache) -> None:
    """The other side of the claim: a stale tag gets the image, and the counters see that work."""
    earlier(root, cache, costs)
    client = server(root, cache)
    costs.reset()
    response = client.get(URL, headers={"If-None-Match": '"stale"'})
    assert work(costs) == ONE_RENDER
    assert response.status_code == 200 and decode(response.data).shape == (45, 60, 3)


def test_a_repeated_revalidation_is_one_stat_on_the_repeat_cache(root, costs) -> None:
    client = server(root, "on")
    costs.reset()
    tag = client.get(URL).headers["ETag"]
    assert work(costs) == ONE_RENDER
    for headers in ({"If-None-Match": tag}, {"If-None-Match": f'"x", {tag}'}, {"If-None-Match": "*"}):
        costs.reset()
        response = client.get(URL, headers=headers)
        assert response.status_code == 304 and response.data == b""
        assert work(costs) == NO_PIXEL_WORK
        assert costs.of("opens", "stats", "fstats") == {"opens": 0, "stats": 1, "fstats": 0}
    assert client.application.extensions["imgserve"].repeats.hits == 3


def test_a_repeat_from_the_result_cache_reads_nothing(root, costs) -> None:
    client = server(root, "on")
    first = client.get(URL)
    costs.reset()
    again = client.get(URL)
    assert again.data == first.data and work(costs) == NO_PIXEL_WORK and costs["opens"] == 0


def test_without_the_result_cache_every_request_renders(root, costs) -> None:
    client = server(root, "off")
    client.get(URL)
    costs.reset()
    client.get(URL)
    assert work(costs) == ONE_RENDER and costs["opens"] == 1


@pytest.mark.parametrize("cache", ["on", "off"])
def test_a_304_for_a_negotiated_format_repeats_vary(root, cache) -> None:
    """RFC 9110 15.4.5: a 304 carries the Vary its 200 would have, or a shared cache could hand the
    WebP it revalidated to a client that cannot take it. On the repeat cache (cache on) and the full way."""
    client = server(root, cache)
    url = "/image/photo.jpg?w=60&format=auto"
    first = client.get(url, headers={"Accept": "image/webp"})
    assert first.headers["Vary"] == "Accept"
    again = client.get(url, headers={"Accept": "image/webp", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Vary"] == "Accept"


def test_last_modified_is_in_gmt_whatever_the_server_time_zone(root, monkeypatch) -> None:
    """Last-Modified is an HTTP-date, always GMT (RFC 9110 5.6.7): on a server whose zone is not UTC it
    must still be the file's mtime in GMT, as the standard library formats it."""
    import time
    from email.utils import formatdate

    monkeypatch.setenv("TZ", "America/St_Johns")    # -3:30: no whole-hour offset can pass by chance
    time.tzset()
    try:
        response = server(root, "on").get(URL)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert response.headers["Last-Modified"] == formatdate(int((root / "photo.jpg").stat().st_mtime), usegmt=True)
