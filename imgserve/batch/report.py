"""What a batch run shows: a progress bar on a terminal, one line per failure, and the report file.

The report lists every input with its outcome, one row as each file finishes (flushed), so even the
report of an interrupted run says exactly which outputs exist. CSV for spreadsheets, JSON lines for
scripts (`jq`), chosen by the file's extension.

File names may hold anything but `/` and NUL: bytes that are not UTF-8, newlines, escape sequences
that would repaint a terminal, right-to-left overrides. Everything written about a file, on the
terminal and in the report, goes through `escaped`: one line per row, nothing a terminal acts on,
and the exact bytes recoverable (docs/limits.md gives the rule).
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from .convert import FAILED, Outcome, Task

FIELDS = [f.name for f in fields(Outcome)]
TEXT_FIELDS = ("input", "output", "reason")
_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escaped(text: str) -> str:
    """`text` with a backslash doubled, `\\n` `\\r` `\\t` for those, `\\xNN` for other ASCII control
    characters (NN < 80) and for a byte that is not UTF-8 (NN >= 80: carried as a surrogate, as
    os.fsdecode does), `\\uNNNN` for any other unprintable character (C1 controls, U+202E and other
    format characters, separators); the rest as is, so a name in UTF-8 reads as itself."""
    if text.isprintable() and "\\" not in text:
        return text
    out = []
    for char in text:
        code = ord(char)
        if char in _SHORT:
            out.append(_SHORT[char])
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char.isprintable():
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)
KINDS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def kind_of(path: Path) -> str:
    """'csv' or 'jsonl' from the extension; ValueError names the ones that work."""
    try:
        return KINDS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"{path.name}: the report's extension chooses its form: .csv, or .jsonl for JSON "
                         "lines") from None


class ReportFile:
    def __init__(self, path: Path) -> None:
        self.kind = kind_of(path)
        self.file: TextIO = open(path, "w", newline="", encoding="utf-8")
        if self.kind == "csv":
            self.csv = csv.DictWriter(self.file, FIELDS)
            self.csv.writeheader()

    def write(self, outcome: Outcome) -> None:
        row = asdict(outcome)
        row["seconds"] = round(row["seconds"], 4)
        for name in TEXT_FIELDS:
            row[name] = escaped(row[name])
        if self.kind == "csv":
            self.csv.writerow(row)
        else:
            self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class Progress:
    """Bytes read as the bar (so the MB/s and the ETA weigh big files properly), files in its postfix.
    Off (`enabled=False`) for scripts: then only failures are printed."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.bar: tqdm | None = None
        self.files = self.done = self.failed = 0

    def start(self, tasks: list[Task]) -> None:
        self.files = len(tasks)
        if self.enabled:
            self.bar = tqdm(total=sum(t.size for t in tasks), unit="B", unit_scale=True, file=self.stream,
                            dynamic_ncols=True, smoothing=0.1, desc="converting")
            self._postfix()

    def update(self, outcome: Outcome) -> None:
        if outcome.outcome == FAILED:
            self.failed += 1
            message = f"failed: {escaped(outcome.input)}: {escaped(outcome.reason)}"
            if self.bar is not None:
                self.bar.write(message, file=self.stream)
            else:
                print(message, file=self.stream, flush=True)
        if self.bar is not None:  # outcomes decided while planning come before start(), without a bar
            self.done += 1
            self._postfix()
            self.bar.update(outcome.bytes_in)

    def _postfix(self) -> None:
        failed = f", {self.failed} failed" if self.failed else ""
        self.bar.set_postfix_str(f"{self.done}/{self.files} files{failed}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
