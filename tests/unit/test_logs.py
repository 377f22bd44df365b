import io
import json
import logging
import queue
from datetime import UTC, datetime

import pytest

import imgserve.web.images
from imgserve.web.logs import PLAIN, JsonFormatter, PlainFormatter, Writer


@pytest.fixture
def lines(caplog):
    """The access records of the requests a test makes, and every other imgserve record."""
    caplog.set_level(logging.INFO)

    def split():
        access = [r for r in caplog.records if r.name == "imgserve.access"]
        other = [r for r in caplog.records if r.name.startswith("imgserve") and r.name != "imgserve.access"]
        return access, other

    return split


def test_one_line_per_request_with_cache_and_format(client, lines) -> None:
    first = client.get("/image/photo.jpg?w=40&format=webp")
    client.get("/image/photo.jpg?w=40&format=webp")
    client.get("/image/photo.jpg?w=40&format=webp", headers={"If-None-Match": first.headers["ETag"]})
    client.head("/image/quad.png?w=20")
    client.get("/healthz")
    access, other = lines()
    assert len(access) == 5 and not other
    miss, hit, not_modified, head, health = (r.access for r in access)
    assert miss == {"method": "GET", "path": "/image/photo.jpg?w=40&format=webp", "status": 200,
                    "bytes": len(first.data), "ms": miss["ms"], "cache": "miss", "format": "webp"}
    assert miss["ms"] > 0
    assert (hit["cache"], hit["bytes"]) == ("hit", len(first.data))
    assert (not_modified["status"], not_modified["bytes"], not_modified["cache"]) == (304, 0, None)
    assert (head["method"], head["status"], head["bytes"], head["format"]) == ("HEAD", 200, 0, "png")
    assert (health["path"], health["cache"], health["format"]) == ("/healthz", None, None)
    assert access[0].getMessage() == (f"GET /image/photo.jpg?w=40&format=webp 200 {len(first.data)} B "
                                      f"{miss['ms']} ms cache=miss format=webp")
    assert access[4].getMessage().startswith("GET /healthz 200 16 B ")


def test_a_failure_is_logged_once_on_its_access_line(client, lines) -> None:
    client.get("/image/photo.jpg?w=abc")
    client.get("/image/missing.jpg")
    client.delete("/healthz")
    access, other = lines()
    assert not other and [r.access["status"] for r in access] == [400, 404, 405]
    assert access[0].access["detail"].startswith("w: expected a whole number")
    assert access[0].getMessage().endswith(": w: expected a whole number from 1 to 8192, got 'abc'")
    assert access[0].levelno == logging.INFO


def test_an_unexpected_error_adds_an_error_line_with_the_traceback(client, lines, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(imgserve.web.images, "render", broken)
    assert client.get("/image/photo.jpg?w=11").status_code == 500
    access, other = lines()
    assert [r.access["status"] for r in access] == [500]
    assert len(other) == 1 and other[0].levelno == logging.ERROR and other[0].exc_info[1].args == ("a bug",)


def test_a_crafted_url_cannot_forge_a_line(client, lines) -> None:
    client.get("/image/x%0aGET%20/forged%20200?w=1%0d%0a")
    (record,), _ = lines()
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message
    assert record.access["path"].startswith("/image/x%0AGET%20/forged%20200?w=1")


def test_json_lines(client, lines) -> None:
    client.get("/image/quad.png?w=8&format=png")
    client.get("/image/quad.png?w=0")
    access, _ = lines()
    formatter = JsonFormatter()
    ok, bad = (json.loads(formatter.format(r)) for r in access)
    assert ok["logger"] == "imgserve.access" and ok["level"] == "INFO" and ok["time"].endswith("+00:00")
    assert {k: ok[k] for k in ("method", "path", "status", "cache", "format")} == {
        "method": "GET", "path": "/image/quad.png?w=8&format=png", "status": 200, "cache": "miss", "format": "png"}
    assert ok["bytes"] > 0 and "detail" not in ok and "message" not in ok
    assert bad["status"] == 400 and bad["detail"].startswith("w: must be from 1")


def test_json_form_of_other_lines_and_tracebacks() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys
        record = logging.LogRecord("imgserve", logging.ERROR, __file__, 1, "failed on %s", ("x",), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed on x" and line["level"] == "ERROR"
    assert "ValueError: boom" in line["exception"]


def _record(created: float, message: str = "hello", args: tuple = ()) -> logging.LogRecord:
    record = logging.LogRecord("imgserve", logging.INFO, __file__, 1, message, args, None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_timestamps_match_loggings_own_across_seconds() -> None:
    plain, json_form, reference = PlainFormatter(), JsonFormatter(), logging.Formatter(PLAIN)
    for created in (1_700_000_000.125, 1_700_000_000.875, 1_700_000_001.5, 1_700_000_000.25):
        record = _record(created)
        assert plain.format(record) == reference.format(record)
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(json_form.format(record))["time"] == expected


def test_writer_writes_every_queued_line_in_order_and_flushes_on_stop() -> None:
    records: queue.SimpleQueue = queue.SimpleQueue()
    stream = io.StringIO()
    for i in range(2500):  # more than one batch
        records.put(_record(1_700_000_000 + i / 1000, f"line {i}"))
    bad = _record(1_700_000_000, "%s %s", ("x",))  # too few arguments: formatting raises
    records.put(bad)
    writer = Writer(records, stream, PlainFormatter())
    writer.start()
    writer.stop()
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(": ", 1)[1] for line in lines[:2500]] == [f"line {i}" for i in range(2500)]
    assert lines[2500].startswith("unloggable record from imgserve")
    assert not writer.is_alive()
