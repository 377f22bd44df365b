"""What a request really costs: the calls it makes on the originals' files, and the pixel work it does.

A claim like "a 304 costs one fstat and no pixel work" cannot be tested by replacing a function with
one that fails: the request may be answered before it reaches that function (the repeat cache does
exactly that), and the test then proves nothing. Counting at the bottom cannot be bypassed: every
way of reaching a file goes through `os` (or `open`), every decode through cv2.imdecode or the BMP
reader, every output through cv2.imencode or the JPEG writer (which OpenCV's encoder is not).
Only calls on files under `root` are counted.
"""

from __future__ import annotations

import builtins
import os
from collections import Counter
from pathlib import Path

import cv2
import pytest

from imgserve.imaging import bmp, jpeg_writer


class Costs:
    """Counts, by kind, since the last `reset()`: opens, stats (by path: stat, lstat), fstats, reads
    (calls that read bytes of an original), decodes, encodes."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str(Path(root).resolve())
        self.counts: Counter[str] = Counter()
        self._fds: set[int] = set()
        self._wrap(monkeypatch)

    def reset(self) -> None:
        self.counts.clear()

    def __getitem__(self, kind: str) -> int:
        return self.counts[kind]

    def of(self, *kinds: str) -> dict[str, int]:
        return {kind: self.counts[kind] for kind in kinds}

    def _ours(self, path) -> bool:
        try:
            text = os.fsdecode(path) if not isinstance(path, int) else ""
        except TypeError:
            return False
        return bool(text) and (text == self.root or text.startswith(self.root + os.sep))

    def _wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = {name: getattr(os, name) for name in ("open", "close", "stat", "lstat", "fstat", "pread", "read")}
        real_open, real_imdecode, real_imencode, real_bmp = builtins.open, cv2.imdecode, cv2.imencode, bmp.decode
        real_jpeg = jpeg_writer.write
        counts, fds = self.counts, self._fds

        def os_open(path, *args, **kwargs):
            fd = real["open"](path, *args, **kwargs)
            if self._ours(path):
                counts["opens"] += 1
                fds.add(fd)
            return fd

        def os_close(fd):
            fds.discard(fd)
            return real["close"](fd)

        def by_path(name: str, kind: str):
            def call(path, *args, **kwargs):
                if isinstance(path, int):
                    if path in fds:
                        counts["fstats"] += 1
                elif self._ours(path):
                    counts[kind] += 1
                return real[name](path, *args, **kwargs)
            return call

        def by_fd(name: str, kind: str):
            def call(fd, *args, **kwargs):
                if fd in fds:
                    counts[kind] += 1
                return real[name](fd, *args, **kwargs)
            return call

        def py_open(file, *args, **kwargs):
            if self._ours(file):
                counts["opens"] += 1
                counts["reads"] += 1  # a file object opened on an original is there to be read
            return real_open(file, *args, **kwargs)

        def counted(kind: str, function):
            def call(*args, **kwargs):
                counts[kind] += 1
                return function(*args, **kwargs)
            return call

        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(os, "close", os_close)
        monkeypatch.setattr(os, "stat", by_path("stat", "stats"))
        monkeypatch.setattr(os, "lstat", by_path("lstat", "stats"))
        monkeypatch.setattr(os, "fstat", by_fd("fstat", "fstats"))
        monkeypatch.setattr(os, "pread", by_fd("pread", "reads"))
        monkeypatch.setattr(os, "read", by_fd("read", "reads"))
        monkeypatch.setattr(builtins, "open", py_open)
        monkeypatch.setattr(cv2, "imdecode", counted("decodes", real_imdecode))
        monkeypatch.setattr(cv2, "imencode", counted("encodes", real_imencode))
        monkeypatch.setattr(jpeg_writer, "write", counted("encodes", real_jpeg))
        monkeypatch.setattr(bmp, "decode", counted("decodes", real_bmp))
