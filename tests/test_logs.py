import json
import logging

import pytest

import imgserve.web
from imgserve.logs import JsonFormatter


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

    monkeypatch.setattr(imgserve.web, "render", broken)
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
