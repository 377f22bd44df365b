import threading
import time

import pytest

from imgserve import create_app
from imgserve.admission import Admission
from imgserve.errors import Problem
from tests.images import decode


def hold(admission: Admission, seconds: float, outcomes: list) -> None:
    try:
        with admission.slot():
            time.sleep(seconds)
        outcomes.append("done")
    except Problem as problem:
        outcomes.append(problem.status)


def test_past_the_slots_and_the_queue_requests_are_refused_at_once() -> None:
    admission = Admission(limit=1, queue=1, wait=5)
    outcomes: list = []
    threads = [threading.Thread(target=hold, args=(admission, 0.3, outcomes)) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert (admission.in_flight, admission.waiting) == (1, 1)
    started = time.perf_counter()
    with pytest.raises(Problem) as caught, admission.slot():
        pass
    assert time.perf_counter() - started < 0.05
    assert caught.value.status == 503 and caught.value.headers["Retry-After"] == "1"
    for t in threads:
        t.join()
    assert outcomes == ["done", "done"] and admission.shed == 1
    assert (admission.in_flight, admission.waiting) == (0, 0)


def test_waiting_is_bounded_in_time() -> None:
    admission = Admission(limit=1, queue=5, wait=0.1)
    outcomes: list = []
    holder = threading.Thread(target=hold, args=(admission, 0.5, outcomes))
    holder.start()
    time.sleep(0.05)
    started = time.perf_counter()
    with pytest.raises(Problem, match="within 0.1 s"), admission.slot():
        pass
    assert 0.09 < time.perf_counter() - started < 0.4
    holder.join()


def test_slots_are_released_when_the_work_fails() -> None:
    admission = Admission(limit=1, queue=0, wait=1)
    with pytest.raises(ValueError), admission.slot():
        raise ValueError("decoder said no")
    with admission.slot():
        assert admission.in_flight == 1


def test_overloaded_server_answers_503_problem_json(root, monkeypatch) -> None:
    import imgserve.web

    real = imgserve.web.render

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(imgserve.web, "render", slow)
    app = create_app({"root": str(root), "max_in_flight": "1", "max_queue": "0", "cache_bytes": "0"})
    results: list = []
    worker = threading.Thread(target=lambda: results.append(app.test_client().get("/image/photo.jpg?w=20")))
    worker.start()
    time.sleep(0.1)
    refused = app.test_client().get("/image/photo.jpg?w=21")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "overloaded" in refused.get_json()["detail"]
    worker.join()
    assert results[0].status_code == 200 and decode(results[0].data).shape == (15, 20, 3)
    assert app.extensions["imgserve"].admission.shed == 1


def test_threads_default_to_one_per_connection(tmp_path) -> None:
    from imgserve.settings import Settings

    assert Settings.load({}, root=str(tmp_path), max_connections="64").threads == 64
    assert Settings.load({}, root=str(tmp_path), threads="7").threads == 7
