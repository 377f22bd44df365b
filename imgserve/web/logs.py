"""Logging: one access line per request, and the plain or JSON form of every line.

The access line is the one record of a request: a failure's detail rides on it rather than getting
a line of its own (only unexpected 500s add an ERROR line, with the traceback). In JSON form every
line the service writes, access or not, is one JSON object, so a log shipper needs one parser.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime
from logging.handlers import QueueHandler
from typing import Any, TextIO

ACCESS = logging.getLogger("imgserve.access")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def access(method: str, path: str, status: int, size: int, seconds: float, *,
           cache_hit: bool | None = None, format: str | None = None, detail: str | None = None) -> None:
    """Log one finished request. `path` includes the query; control characters are escaped so a
    crafted URL cannot forge lines."""
    fields: dict[str, Any] = {
        "method": method, "path": _escape(path), "status": status, "bytes": size, "ms": round(seconds * 1000, 1),
        "cache": None if cache_hit is None else "hit" if cache_hit else "miss", "format": format,
    }
    if detail is not None:
        fields["detail"] = _escape(detail)
    ACCESS.info(_Line(fields), extra={"access": fields})


class _Line:
    """The plain text of an access line, made only when it is written: under `imgserve serve` on the log
    thread (configure), not on the request's."""

    __slots__ = ("fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def __str__(self) -> str:
        f = self.fields
        text = f"{f['method']} {f['path']} {f['status']} {f['bytes']} B {f['ms']} ms"
        if f["cache"] is not None:
            text += f" cache={f['cache']}"
        if f["format"]:
            text += f" format={f['format']}"
        if "detail" in f:
            text += f": {f['detail']}"
        return text


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _Seconds:
    """A timestamp's text up to the second, remembered for the current second: at thousands of lines
    a second, strftime per line was a quarter of the log writer's time."""

    def __init__(self, render) -> None:
        self._render = render
        self._second, self._text = -1, ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._text = second, self._render(second)
        return self._text


class PlainFormatter(logging.Formatter):
    """`2026-11-21 23:00:00,123 INFO imgserve.access: ...`, local time, as logging's default form."""

    def __init__(self) -> None:
        super().__init__(PLAIN)
        self._seconds = _Seconds(lambda s: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s)))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"{self._seconds(record.created)},{int(record.msecs):03d}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, then the access fields or the message."""

    def __init__(self) -> None:
        super().__init__()
        self._seconds = _Seconds(lambda s: datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%dT%H:%M:%S"))

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": f"{self._seconds(record.created)}.{int(record.msecs):03d}+00:00",
            "level": record.levelname, "logger": record.name,
        }
        fields = getattr(record, "access", None)
        if fields is not None:
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def formatter(format: str) -> logging.Formatter:
    return JsonFormatter() if format == "json" else PlainFormatter()


def configure(format: str) -> Writer:
    """For `imgserve serve`: every logger to stderr at INFO, in the chosen form, written by one thread.

    A stream handler holds its lock across the write, and at thousands of requests a second the
    request threads queue on that lock: served from the cache, 3 700 requests/s with access lines
    against 5 500 without. Request threads put the record on a queue; one writer thread formats and
    writes (and is stopped, so flushed, when the server stops)."""
    records: queue.SimpleQueue = queue.SimpleQueue()
    logging.basicConfig(level=logging.INFO, handlers=[_Enqueue(records)], force=True)
    # Record only what these formats print (the logging HOWTO's "Optimization"): no caller's frame,
    # thread, process id or multiprocessing name per record. An access line: 8.9 -> 6.4 us, no getpid.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    writer = Writer(records, sys.stderr, formatter(format))
    writer.start()
    return writer


class Writer(threading.Thread):
    """Formats queued records and writes whatever has piled up in one write and one flush: under
    load the queue holds dozens of lines, and a write per line held the GIL for a syscall each."""

    _STOP = object()

    def __init__(self, records: queue.SimpleQueue, stream: TextIO, formatter: logging.Formatter) -> None:
        super().__init__(name="imgserve-log", daemon=True)
        self.records, self.stream, self.formatter = records, stream, formatter

    def run(self) -> None:
        while True:
            batch = [self.records.get()]
            with suppress(queue.Empty):
                while len(batch) < 1000:
                    batch.append(self.records.get_nowait())
            lines = [self._format(r) for r in batch if r is not self._STOP]
            if lines:
                with suppress(OSError, ValueError):  # a closed or broken stderr must not stop the server
                    self.stream.write("\n".join(lines) + "\n")
                    self.stream.flush()
            if any(r is self._STOP for r in batch):
                return

    def _format(self, record: logging.LogRecord) -> str:
        try:
            return self.formatter.format(record)
        except Exception as error:  # a bad record's own message; the others still get written
            return f"unloggable record from {record.name}: {error!r}"

    def stop(self) -> None:
        """Write what is queued, then end."""
        self.records.put(self._STOP)
        self.join(timeout=5)


class _Enqueue(QueueHandler):
    """Hands the record over as it is: formatting is the listener's work (QueueHandler would format
    it here, on the request thread, for queues that cross processes)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def ensure_handler(format: str) -> None:
    """When nothing is configured (e.g. under `waitress-serve --call`), Python would drop INFO lines:
    give the root logger a handler, once, and let the `imgserve` loggers through at INFO. A host that
    configures logging first wins. On the root, not on `imgserve`: waitress-serve calls
    logging.basicConfig() after the app is made, which then finds a handler and adds none, where a
    second one would write every line twice."""
    logger = logging.getLogger("imgserve")
    if logger.hasHandlers():
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(format))
    logging.getLogger().addHandler(handler)
    logger.setLevel(logging.INFO)
