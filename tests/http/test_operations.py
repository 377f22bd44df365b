import json
import os
import threading

from imgserve import create_app


def test_healthz_is_ok_and_never_cached(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert client.head("/healthz").status_code == 200


def test_readyz_reports_the_load(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ready" and body["in_flight"] == 0 and body["waiting"] == 0
    assert body["limit"] >= 1


def test_probes_need_no_signature(root) -> None:
    client = create_app({"root": str(root), "signing_keys": "k" * 32}).test_client()
    assert client.get("/image/photo.jpg?w=10").status_code == 403
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_a_render_would_be_shed(root) -> None:
    app = create_app({"root": str(root), "max_in_flight": "1", "max_queue": "0"})
    client = app.test_client()
    admission = app.extensions["imgserve"].admission
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with admission.slot():
            entered.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(5)
        response = client.get("/readyz")
        assert response.status_code == 503 and response.headers["Content-Type"] == "application/problem+json"
        assert response.headers["Retry-After"] == "1"
        body = json.loads(response.data)
        assert "queue" in body["detail"] and body["in_flight"] == 1 and body["limit"] == 1
        # a render now really is refused, which is what the probe predicted
        assert client.get("/image/photo.jpg?w=10").status_code == 503
    finally:
        release.set()
        holder.join()
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_readyz_is_503_when_the_root_is_gone(app, root, tmp_path) -> None:
    client = app.test_client()
    os.rename(root, tmp_path / "moved")
    response = client.get("/readyz")
    assert response.status_code == 503 and "root" in json.loads(response.data)["detail"]
    assert client.get("/healthz").status_code == 200
