import threading
import time

from imgserve import create_app
from imgserve.web.caching import ENTRY_OVERHEAD
from tests.support.http import scrape, value

IMAGE = "/image/<path:id>"


def test_requests_are_counted_by_route_and_status(client) -> None:
    for url in ("/image/photo.jpg?w=10", "/image/photo.jpg?w=10", "/image/quad.png?w=5",
                "/image/missing.jpg", "/image/photo.jpg?w=abc", "/nope", "/healthz"):
        client.get(url)
    client.post("/healthz")
    m = scrape(client)
    assert value(m, "imgserve_requests_total", endpoint=IMAGE, status="200") == 3
    assert value(m, "imgserve_requests_total", endpoint=IMAGE, status="404") == 1
    assert value(m, "imgserve_requests_total", endpoint=IMAGE, status="400") == 1
    assert value(m, "imgserve_requests_total", endpoint="unmatched", status="404") == 1
    assert value(m, "imgserve_requests_total", endpoint="unmatched", status="405") == 1
    assert value(m, "imgserve_requests_total", endpoint="/healthz", status="200") == 1
    assert value(m, "imgserve_request_duration_seconds_count", endpoint=IMAGE, status="200") == 3
    assert value(m, "imgserve_request_duration_seconds_sum", endpoint=IMAGE, status="200") > 0
    assert value(m, "imgserve_request_duration_seconds_bucket", endpoint=IMAGE, status="200", le="+Inf") == 3


def test_many_urls_make_no_new_labels(client) -> None:
    for w in range(1, 40):
        client.get(f"/image/photo.jpg?w={w}")
        client.get(f"/image/missing-{w}.jpg")
    endpoints = {dict(labels).get("endpoint") for name, labels in scrape(client) if name == "imgserve_requests_total"}
    assert endpoints == {IMAGE}


def test_render_stages_and_the_cache(app, client) -> None:
    cache = app.extensions["imgserve"].cache
    first = client.get("/image/photo.jpg?w=40")
    client.get("/image/photo.jpg?w=40")              # a hit: no stage times
    second = client.get("/image/quad.png?w=20")
    tag = first.headers["ETag"]
    client.get("/image/photo.jpg?w=40", headers={"If-None-Match": tag})  # 304: no render, no cache lookup
    m = scrape(client)
    for stage in ("decode", "process", "encode"):
        assert value(m, "imgserve_render_stage_seconds_count", stage=stage) == 2
        assert value(m, "imgserve_render_stage_seconds_sum", stage=stage) > 0
    assert value(m, "imgserve_result_cache_hits_total") == 1 == cache.hits
    assert value(m, "imgserve_result_cache_misses_total") == 2 == cache.misses
    assert value(m, "imgserve_result_cache_entries") == 2
    assert value(m, "imgserve_result_cache_bytes") == len(first.data) + len(second.data) + 2 * ENTRY_OVERHEAD
    assert value(m, "imgserve_result_cache_limit_bytes") == 256 * 1024 * 1024
    assert value(m, "imgserve_requests_total", endpoint=IMAGE, status="304") == 1


def test_images_in_flight_waiting_and_shed_are_read_live(root) -> None:
    app = create_app({"root": str(root), "max_in_flight": "1", "max_queue": "1", "queue_wait": "5"})
    client = app.test_client()
    admission = app.extensions["imgserve"].admission
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with admission.slot(), admission.reserve(10 * 2**20):
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    waiter = threading.Thread(target=lambda: app.test_client().get("/image/quad.png?w=7"))
    try:
        assert entered.wait(5)
        waiter.start()
        deadline = time.monotonic() + 5
        while admission.waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert admission.waiting == 1
        assert client.get("/image/photo.jpg?w=9").status_code == 503
        m = scrape(client)
        assert value(m, "imgserve_images_in_flight") == 1 and value(m, "imgserve_images_in_flight_limit") == 1
        assert value(m, "imgserve_images_waiting") == 1 and value(m, "imgserve_images_waiting_limit") == 1
        assert value(m, "imgserve_requests_shed_total") == 1
        assert value(m, "imgserve_image_memory_reserved_bytes") == 10 * 2**20
        assert value(m, "imgserve_image_memory_limit_bytes") == admission.memory > 0
        assert value(m, "imgserve_requests_total", endpoint=IMAGE, status="503") == 1
    finally:
        release.set()
        holder.join()
        waiter.join()
    m = scrape(client)
    assert value(m, "imgserve_images_in_flight") == 0 and value(m, "imgserve_images_waiting") == 0
    assert value(m, "imgserve_image_memory_reserved_bytes") == 0
    assert value(m, "imgserve_requests_total", endpoint=IMAGE, status="200") == 1


def test_each_app_has_its_own_registry(root) -> None:
    one, two = create_app({"root": str(root)}).test_client(), create_app({"root": str(root)}).test_client()
    one.get("/image/photo.jpg?w=10")
    assert value(scrape(one), "imgserve_requests_total", endpoint=IMAGE, status="200") == 1
    assert value(scrape(two), "imgserve_requests_total", endpoint=IMAGE, status="200") == 0


def test_process_metrics_are_there(client) -> None:
    assert value(scrape(client), "process_resident_memory_bytes") > 0


def test_openmetrics_when_the_scraper_asks_for_it(client) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")
