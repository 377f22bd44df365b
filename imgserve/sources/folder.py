"""Where originals come from: a folder of files, optionally keyed through a manifest.

An id from a URL is untrusted. It is checked segment by segment (no `..`, no hidden names, no
backslashes or control characters), resolved with symlinks followed, and must still lie inside the
root. The file is then opened once and its identity (size, mtime) is taken from that same file
descriptor, so the ETag always describes the bytes that are served even if the file is replaced.
"""

from __future__ import annotations

import csv
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import formats
from ..errors import Problem

log = logging.getLogger(__name__)

# Tried in this order when an id comes without an extension.
EXTENSIONS = formats.extensions()
_EXTENSIONS = [variant for ext in EXTENSIONS for variant in (ext, ext.upper())]


def _not_found(id: str) -> Problem:
    return Problem(404, f"no original {id!r} under the image root")


def safe_parts(id: str) -> list[str]:
    """The id's path segments, or 404 for anything that could name a file outside the root."""
    if not id or id.startswith("/") or "\\" in id or any(ord(c) < 0x20 or c == "\x7f" for c in id):
        raise _not_found(id)
    parts = id.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        raise _not_found(id)
    return parts


@dataclass(frozen=True)
class Original:
    """An opened original. `key` is its path relative to the root, `path` the file it was opened as;
    `mtime_ns`/`size` come from fstat of the open descriptor `fd`."""
    key: str
    path: str
    size: int
    mtime_ns: int
    fd: int

    @property
    def identity(self) -> str:
        return f"{self.key}\0{self.mtime_ns}\0{self.size}"

    @property
    def modified(self) -> float:
        return self.mtime_ns / 1e9

    def head(self, count: int) -> bytes:
        return os.pread(self.fd, count, 0)

    def read(self, limit: int) -> bytes:
        """The `size` bytes the identity (and so the ETag) describes, or 413 when that is over `limit`.
        Asking for exactly `size` matters: a read of n bytes allocates n bytes before it reads."""
        if self.size > limit:
            raise Problem(413, f"the original is {self.size} bytes; this server reads at most {limit}")
        return os.pread(self.fd, self.size, 0)


class Folder:
    def __init__(self, root: Path, manifest: Path | None = None) -> None:
        self.root = root.resolve()
        self._root = str(self.root).rstrip("/")  # "" for /: ids are joined as f"{root}/{segment}"
        self.manifest = load_manifest(manifest) if manifest else {}

    def locate(self, id: str) -> str:
        """The file an id names (a manifest key, a path, or a path without its extension), resolved."""
        parts = safe_parts(self.manifest.get(id, id))
        real = self._resolve(parts)
        if real is None and "." not in parts[-1]:
            found = (self._resolve([*parts[:-1], parts[-1] + ext]) for ext in _EXTENSIONS)
            real = next((path for path in found if path and os.path.isfile(path)), None)
        if real is None:
            raise _not_found(id)
        return real

    def _resolve(self, parts: list[str]) -> str | None:
        """The real path of root/parts if it exists, inside the root and not hidden there, else None.
        One lstat per segment below the (resolved) root: a symlink on the way is followed by realpath,
        which stats every segment from /, and must lead back inside."""
        path = self._root
        for depth, part in enumerate(parts, 1):
            path = f"{path}/{part}"
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return None
            if stat.S_ISLNK(mode):
                return self._followed("/".join([path, *parts[depth:]]))
        return path

    def _followed(self, path: str) -> str | None:
        try:
            real = os.path.realpath(path, strict=True)
        except (OSError, RuntimeError):
            return None
        if not within(Path(real), self.root):
            log.warning("refused %s: it resolves to %s, outside the root or hidden", path, real)
            return None
        return real

    def listing(self, dir: str = "") -> tuple[list[str], list[str]]:
        """(sub-folders, originals) directly in `dir` ("" is the root), as ids, sorted by name.

        Only what `open` would serve is listed: no hidden or unsafe names, no symlink that leads out
        of the root, only known image extensions. It costs one `os.scandir` of the folder: no file is
        opened or probed, and only symlinks are resolved, so archives of many thousands list quickly.
        """
        try:
            base = self.root.joinpath(*safe_parts(dir)).resolve(strict=True) if dir else self.root
        except (OSError, RuntimeError):
            raise Problem(404, f"no folder {dir!r} under the image root") from None
        if not within(base, self.root) or not base.is_dir():
            raise Problem(404, f"no folder {dir!r} under the image root")
        prefix = "/".join(safe_parts(dir)) + "/" if dir else ""
        folders, files = [], []
        with os.scandir(base) as entries:
            for entry in entries:
                try:
                    safe_parts(entry.name)
                    if entry.is_symlink():
                        target = Path(entry.path).resolve(strict=True)
                        if not within(target, self.root):
                            continue
                        is_dir, is_file = target.is_dir(), target.is_file()
                    else:
                        is_dir, is_file = entry.is_dir(follow_symlinks=False), entry.is_file(follow_symlinks=False)
                except (Problem, OSError, RuntimeError):
                    continue
                if is_dir:
                    folders.append(prefix + entry.name)
                elif is_file and os.path.splitext(entry.name)[1].lower() in EXTENSIONS:
                    files.append(prefix + entry.name)
        return sorted(folders, key=str.casefold), sorted(files, key=str.casefold)

    @contextmanager
    def open(self, id: str) -> Iterator[Original]:
        path = self.locate(id)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except PermissionError:
            log.error("cannot read %s: permission denied", path)
            raise Problem(403, f"the original {id!r} exists but the server may not read it") from None
        except OSError:
            raise _not_found(id) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _not_found(id)
            yield Original(path[len(self._root) + 1:], path, info.st_size, info.st_mtime_ns, fd)
        finally:
            os.close(fd)


def within(real: Path, root: Path) -> bool:
    """Whether a resolved path lies inside the (resolved) root and is not hidden under it."""
    return real.is_relative_to(root) and not any(p.startswith(".") for p in real.relative_to(root).parts)


def load_manifest(path: Path) -> dict[str, str]:
    """`id,path` rows (a header row `id,path` is allowed); paths are relative to the root."""
    mapping: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8") as file:
        for number, row in enumerate(csv.reader(file), start=1):
            if not row or row[0].startswith("#") or (number == 1 and row[:2] == ["id", "path"]):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}:{number}: expected `id,path`, got {row!r}")
            mapping[row[0].strip()] = row[1].strip()
    return mapping
