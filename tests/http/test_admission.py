import threading
import time

import pytest

from imgserve import create_app
from imgserve.errors import Problem
from imgserve.web.admission import Admission
from tests.support.images import decode
from tests.support.waiting import wait_until


class Holder:
    """A thread that takes a slot and keeps it until `release()`; what happened is in `outcomes`."""

    def __init__(self, admission: Admission, outcomes: list) -> None:
        self.admission, self.outcomes = admission, outcomes
        self.inside, self.released = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            with self.admission.slot():
                self.inside.set()
                self.released.wait(30)
            self.outcomes.append("done")
        except Problem as problem:
            self.outcomes.append(problem.status)

    def release(self) -> None:
        self.released.set()
        self.thread.join(30)


def test_past_the_slots_and_the_queue_requests_are_refused_at_once() -> None:
    admission = Admission(limit=1, queue=1, wait=30, memory=2**30)
    outcomes: list = []
    first = Holder(admission, outcomes)
    assert first.inside.wait(30)
    second = Holder(admission, outcomes)
    wait_until(lambda: admission.waiting == 1, "the second request to queue")
    assert (admission.in_flight, admission.waiting) == (1, 1)
    started = time.perf_counter()
    with pytest.raises(Problem) as caught, admission.slot():
        pass
    assert time.perf_counter() - started < 10  # not the queue's 30 s: refused without waiting
    assert caught.value.status == 503 and caught.value.headers["Retry-After"] == "1"
    assert not first.released.is_set()       # refused while the slot was still taken
    first.release()
    assert second.inside.wait(30)
    second.release()
    assert outcomes == ["done", "done"] and admission.shed == 1
    assert (admission.in_flight, admission.waiting) == (0, 0)


def test_waiting_is_bounded_in_time() -> None:
    """Timing is the point here: a queued request waits `wait` seconds, then is refused (the upper
    bound leaves a loaded machine 3 s; the lower one cannot be broken by load)."""
    admission = Admission(limit=1, queue=5, wait=0.5, memory=2**30)
    holder = Holder(admission, [])
    assert holder.inside.wait(30)
    started = time.perf_counter()
    with pytest.raises(Problem, match="within 0.5 s"), admission.slot():
        pass
    assert 0.5 <= time.perf_counter() - started < 3.5
    holder.release()


def test_a_freed_slot_wakes_one_waiting_request_and_freed_memory_none(monkeypatch) -> None:
    """Every wake-up of a queued request is a thread switch and a turn of the GIL taken from the renders:
    a slot coming free lets one request in, so it wakes one; memory coming back wakes nobody waiting
    for a slot. (One condition notified to all woke every waiter at each: this fails with it.)"""
    monkeypatch.setattr("imgserve.web.admission.GONE_CHECK", 30)  # waiters wake only when told to
    admission = Admission(limit=1, queue=5, wait=30, memory=2**30)
    wakes: list[str] = []
    ran: list[str] = []
    release = threading.Event()

    def queued(name: str) -> None:
        with admission.slot(gone=lambda: wakes.append(name) or False):
            ran.append(name)
            release.wait(10)

    holder = admission.slot()
    holder.__enter__()
    threads = [threading.Thread(target=queued, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: admission.waiting == 3)
    with admission.reserve(1000):  # a render's memory, taken and given back
        pass
    time.sleep(0.1)  # a window for a wrong wake-up to show: load can only hide one, never invent one
    assert wakes == []
    holder.__exit__(None, None, None)
    wait_until(lambda: len(ran) == 1)
    time.sleep(0.1)  # as above
    assert wakes == ran and admission.waiting == 2
    release.set()
    for t in threads:
        t.join(5)
    assert sorted(ran) == ["w0", "w1", "w2"] and (admission.in_flight, admission.waiting) == (0, 0)


def test_queued_requests_get_the_slot_in_the_order_they_came(monkeypatch) -> None:
    """Tail latency is the order of the queue: served in any other order, an unlucky request waits
    behind ones that came after it. A waiter wakes every GONE_CHECK to ask after its client and must not
    lose its place by doing so, and a request arriving as a slot is handed over must not take it.
    (A condition's wait with a timeout puts the waiter back at the end of its list: p99 of W2 was
    that of a random order, 2.4-3.1 s, where first come first served models 1.5 s.)"""
    monkeypatch.setattr("imgserve.web.admission.GONE_CHECK", 0.01)  # many checks while they wait
    admission = Admission(limit=1, queue=8, wait=30, memory=2**30)
    order: list[int] = []

    def queued(name: int) -> None:
        with admission.slot():
            order.append(name)
            time.sleep(0.03)  # while it holds the slot, the others go on checking their clients

    holder = admission.slot()
    holder.__enter__()
    threads = [threading.Thread(target=queued, args=(i,)) for i in range(6)]
    try:
        for i, thread in enumerate(threads):
            thread.start()
            wait_until(lambda n=i + 1: admission.waiting == n)
            time.sleep(0.013)  # arrivals out of step with the checks
    finally:
        holder.__exit__(None, None, None)
    late = threading.Thread(target=queued, args=(6,))  # arrives while the queue is served: goes last
    late.start()
    for t in [*threads, late]:
        t.join(10)
        assert not t.is_alive()
    assert order == list(range(7)) and (admission.in_flight, admission.waiting) == (0, 0)


def test_a_request_leaving_the_middle_of_the_queue_keeps_the_others_in_order() -> None:
    admission = Admission(limit=1, queue=8, wait=30, memory=2**30)
    order: list[str] = []
    hung_up = threading.Event()

    def queued(name: str, gone=lambda: False) -> None:
        try:
            with admission.slot(gone=gone):
                order.append(name)
        except Problem as problem:
            order.append(f"{name}: {problem.status}")

    holder = admission.slot()
    holder.__enter__()
    threads = [threading.Thread(target=queued, args=args) for args in (("a",), ("b", hung_up.is_set), ("c",))]
    try:
        for i, thread in enumerate(threads):
            thread.start()
            wait_until(lambda n=i + 1: admission.waiting == n)
        hung_up.set()
        wait_until(lambda: admission.waiting == 2, "b to leave at its next check")
    finally:
        holder.__exit__(None, None, None)
    for t in threads:
        t.join(10)
    assert order == ["b: 499", "a", "c"] and (admission.in_flight, admission.waiting) == (0, 0)


def test_shutdown_refuses_the_queue_and_leaves_no_slot_taken() -> None:
    """The shutdown and the holder's end come together: each queued request is refused, whether woken
    by the shutdown or handed the slot first (then it passes the slot on), and no slot is lost."""
    admission = Admission(limit=1, queue=8, wait=30, memory=2**30)
    outcomes: list = []

    def queued() -> None:
        try:
            with admission.slot():
                outcomes.append("ran")
        except Problem as problem:
            outcomes.append(problem.status)

    holder = admission.slot()
    holder.__enter__()
    threads = [threading.Thread(target=queued) for _ in range(3)]
    try:
        for i, thread in enumerate(threads):
            thread.start()
            wait_until(lambda n=i + 1: admission.waiting == n)
        admission.stop_at(time.monotonic())
    finally:
        holder.__exit__(None, None, None)
    for t in threads:
        t.join(10)
    assert outcomes == [503, 503, 503] and (admission.in_flight, admission.waiting) == (0, 0)


def test_a_request_that_leaves_after_being_woken_passes_the_slot_on(monkeypatch) -> None:
    """Handed the free slot, then finding its client gone, a request must hand the slot on to the next
    one, or that slot would be lost for good."""
    monkeypatch.setattr("imgserve.web.admission.GONE_CHECK", 30)
    admission = Admission(limit=1, queue=5, wait=30, memory=2**30)
    outcomes: list = []

    def queued(gone) -> None:
        try:
            with admission.slot(gone=gone):
                outcomes.append("ran")
        except Problem as problem:
            outcomes.append(problem.status)

    holder = admission.slot()
    holder.__enter__()
    first = threading.Thread(target=queued, args=(lambda: True,))  # its client hangs up meanwhile
    first.start()
    wait_until(lambda: admission.waiting == 1)
    second = threading.Thread(target=queued, args=(lambda: False,))
    second.start()
    wait_until(lambda: admission.waiting == 2)
    holder.__exit__(None, None, None)
    first.join(5)
    second.join(2)
    assert outcomes == [499, "ran"] and admission.abandoned == 1
    assert (admission.in_flight, admission.waiting) == (0, 0)


def test_slots_are_released_when_the_work_fails() -> None:
    admission = Admission(limit=1, queue=0, wait=1, memory=2**30)
    with pytest.raises(ValueError), admission.slot():
        raise ValueError("decoder said no")
    with admission.slot():
        assert admission.in_flight == 1


def test_overloaded_server_answers_503_problem_json(root, monkeypatch) -> None:
    import imgserve.web.images

    real = imgserve.web.images.render
    rendering, release = threading.Event(), threading.Event()

    def held(*args, **kwargs):
        rendering.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(imgserve.web.images, "render", held)
    app = create_app({"root": str(root), "max_in_flight": "1", "max_queue": "0", "cache_bytes": "0"})
    results: list = []
    worker = threading.Thread(target=lambda: results.append(app.test_client().get("/image/photo.jpg?w=20")))
    worker.start()
    assert rendering.wait(30)
    refused = app.test_client().get("/image/photo.jpg?w=21")
    release.set()
    worker.join(30)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "overloaded" in refused.get_json()["detail"]
    assert results[0].status_code == 200 and decode(results[0].data).shape == (15, 20, 3)
    assert app.extensions["imgserve"].admission.shed == 1


def test_threads_default_to_what_can_hold_one_not_to_connections(tmp_path) -> None:
    from imgserve.settings import SPARE_THREADS, Settings

    settings = Settings.load({}, root=str(tmp_path), max_in_flight="3", max_queue="8", remote_max_downloads="4")
    assert settings.threads == 3 + 8 + 4 + SPARE_THREADS and settings.max_connections == 1000
    assert Settings.load({}, root=str(tmp_path), threads="7").threads == 7


def test_memory_is_reserved_waited_for_and_returned() -> None:
    admission = Admission(limit=4, queue=4, wait=0.2, memory=100)
    with admission.reserve(60):
        assert admission.reserved == 60
        started = time.perf_counter()
        with pytest.raises(Problem) as caught, admission.reserve(50):  # would exceed: waits, then 503
            pass
        assert caught.value.status == 503 and time.perf_counter() - started >= 0.2  # load only adds to it
        with admission.reserve(40):
            assert admission.reserved == 100
    assert admission.reserved == 0
    with pytest.raises(Problem) as caught, admission.reserve(101):    # more than the whole budget: 422
        pass
    assert caught.value.status == 422 and "allows 0 MiB" in caught.value.detail


def test_a_waiting_reservation_proceeds_when_memory_is_returned() -> None:
    admission = Admission(limit=4, queue=4, wait=30, memory=100)
    order, reserved, release = [], threading.Event(), threading.Event()

    def big() -> None:
        with admission.reserve(80):
            order.append("big")
            reserved.set()
            release.wait(30)

    holder = threading.Thread(target=big)
    holder.start()
    assert reserved.wait(30)
    threading.Timer(0.2, release.set).start()   # returned while the next one waits (or before: same order)
    with admission.reserve(80):
        order.append("second")
        assert release.is_set() and admission.reserved == 80
    holder.join(30)
    assert order == ["big", "second"]


def test_images_over_the_memory_budget_are_422_before_decoding(root) -> None:
    from tests.support.images import encode, photo

    (root / "wide.png").write_bytes(encode(photo(2000, 1000)))  # 2 MP RGB: about 12 MB to process
    app = create_app({"root": str(root), "max_memory": str(8 * 1024 * 1024)})
    response = app.test_client().get("/image/wide.png?w=100")
    assert response.status_code == 422 and "MiB to process" in response.get_json()["detail"]
    assert app.test_client().get("/image/photo.jpg?w=100").status_code == 200
    assert app.extensions["imgserve"].admission.reserved == 0


def _estimate(data: bytes, **options) -> int:
    from imgserve.imaging import geometry, limits, memory
    from imgserve.imaging.pipeline import Job
    from imgserve.imaging.probe import probe
    from imgserve.options import Options
    from imgserve.settings import Settings

    header, options = probe(data), Options(**options)
    plan = geometry.plan(*header.display_size, options, 8192, shrinkable=header.format == "jpeg")
    decoding = limits.inspect(data, header, Settings(), plan.shrink)
    return memory.working_bytes(decoding, Job(options, plan, header), "jpeg")


def test_jpeg_reservations_count_the_shrunk_decode() -> None:
    import numpy as np

    from tests.support.images import encode

    data = encode(np.zeros((3000, 4000, 3), np.uint8), ".jpg")
    full, shrunk = _estimate(data, w=4000), _estimate(data, w=300)
    assert full - shrunk >= 2 * 4000 * 3000 * 3 * (1 - 1 / 64)  # the decoded image and its output


def test_a_queued_request_whose_client_hung_up_leaves_the_queue() -> None:
    admission = Admission(limit=1, queue=4, wait=30, memory=2**30)
    holder = Holder(admission, [])
    assert holder.inside.wait(30)
    hung_up = threading.Event()
    threading.Timer(0.1, hung_up.set).start()
    with pytest.raises(Problem) as caught, admission.slot(gone=hung_up.is_set):
        pass
    assert caught.value.status == 499 and caught.value.title == "Client Closed Request"
    assert not holder.released.is_set()                 # it left while the slot was still taken
    assert (admission.abandoned, admission.waiting, admission.shed) == (1, 0, 0)
    holder.release()


def test_queued_requests_of_a_departed_server_client_are_dropped(root, tmp_path) -> None:
    """Over a real socket: the second request waits for the only slot, its client hangs up, and the
    server drops it (499 in the access log) instead of rendering it after the first."""
    import socket
    import sys

    from tests.support.http import free_port, request, start, stop

    port = free_port()
    log = tmp_path / "server.log"
    process = start([sys.executable, "-m", "imgserve", "serve", "--root", str(root), "--port", str(port),
                     "--max-in-flight", "1", "--cache-bytes", "0"], {}, port, log)
    base = f"http://127.0.0.1:{port}"

    def gauge(name: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        text = request(f"{base}/metrics")[2].decode()
        return next(f.samples[0].value for f in text_string_to_metric_families(text) if f.name == name)

    def logged(fragment: str) -> bool:
        return any(fragment in line and "imgserve.access" in line for line in log.read_text().splitlines())

    try:
        answers: list = []
        slow = threading.Thread(target=lambda: answers.append(request(  # a second or two of work (10+ loaded)
            f"{base}/image/photo.jpg?w=8000&enlarge=1&format=png&sharpen=2", timeout=120)[0]))
        slow.start()
        wait_until(lambda: gauge("imgserve_images_in_flight") == 1, "the slow render to take the slot")
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET /image/photo.jpg?w=5000&enlarge=1&format=png HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: gauge("imgserve_images_waiting") == 1, "the second request to queue")
        client.close()
        wait_until(lambda: logged("w=5000"), "the dropped request's access line")
        slow.join(timeout=120)
        assert answers == [200]
        wait_until(lambda: logged("w=8000"), "the slow request's access line")
    finally:
        stop(process)
    lines = [line for line in log.read_text().splitlines() if "imgserve.access" in line]
    assert any("w=8000" in line and " 200 " in line for line in lines), lines
    dropped = [line for line in lines if "w=5000" in line]
    assert len(dropped) == 1 and " 499 " in dropped[0], lines


def test_progressive_jpeg_reservations_count_the_coefficients() -> None:
    import io

    import numpy as np
    from PIL import Image

    def jpeg(**kwargs) -> bytes:
        out = io.BytesIO()
        Image.fromarray(np.zeros((3172, 5640, 3), np.uint8)).save(out, "JPEG", subsampling=0, **kwargs)
        return out.getvalue()

    extra = _estimate(jpeg(progressive=True), w=300) - _estimate(jpeg(), w=300)
    assert extra >= 5640 * 3176 * 3 * 2  # every coefficient of three full-size components, 2 bytes each


def coefficient_bytes(jpeg: bytes) -> int:
    """What libjpeg holds for a progressive JPEG until its last scan, from the frame header: every
    component's 8x8 blocks, padded to whole MCUs, 64 coefficients of 2 bytes each (jdcoefct.c)."""
    import struct

    at = next(i for i in range(len(jpeg) - 1) if jpeg[i] == 0xFF and jpeg[i + 1] == 0xC2)  # progressive SOF
    height, width, count = struct.unpack_from(">HHB", jpeg, at + 5)
    sampling = [(jpeg[at + 11 + 3 * c] >> 4, jpeg[at + 11 + 3 * c] & 15) for c in range(count)]
    h_max, v_max = max(h for h, _ in sampling), max(v for _, v in sampling)

    def up(a: int, b: int) -> int:  # a / b, rounded up
        return -(-a // b)

    total = 0
    for h, v in sampling:
        blocks_w, blocks_h = up(up(width * h, h_max), 8), up(up(height * v, v_max), 8)
        total += up(blocks_w, h) * h * up(blocks_h, v) * v * 64 * 2
    return total


@pytest.mark.parametrize("mode, subsampling", [("RGB", 0), ("RGB", 2), ("L", 0)])  # 4:4:4, 4:2:0, gray
def test_progressive_jpeg_reservations_cover_the_coefficients(mode: str, subsampling: int) -> None:
    """An eighth-size decode of a progressive JPEG still holds every coefficient of the full image:
    the reservation must cover that plus the small image, whatever the sampling (1001x603: not a
    multiple of 8 or 16, so the padding counts)."""
    import io

    from PIL import Image

    from imgserve.imaging.probe import probe

    out = io.BytesIO()
    Image.new(mode, (1001, 603), 128).save(out, "JPEG", progressive=True, subsampling=subsampling)
    header = probe(out.getvalue())
    assert header.progressive and (header.width, header.height) == (1001, 603)
    small = -(-1001 // 8) * -(-603 // 8) * header.channels
    assert _estimate(out.getvalue(), w=125) >= coefficient_bytes(out.getvalue()) + small
