"""Batch conversion: a folder tree of originals -> a mirrored tree of outputs, rendered as the service does.

`imgserve convert SRC DST` walks SRC, decides what each file needs (`plan`: convert, skip as up to
date, skip as not an image, fail before any work), then runs `convert_file` for every file that
needs work on a `concurrent.futures` executor: a thread pool on one machine, or a Dask cluster's
executor (`Client.get_executor`) for several. Both get the same small, picklable task (names, not
pixels) and return the same `Outcome`, so outputs, resumability and the report cannot differ.

Each file goes through `pipeline.render` with one `Options` parsed by the URL parsers, exactly the
bytes a `GET /image/<id>?...` would return. Every output is written under a hidden temporary name
in its own folder, fsynced, then renamed over the final name, so a killed run never leaves a half
file; temporaries of a run killed outright (SIGKILL, power cut) are swept by the next run.

Threads, not processes, by measurement (docs/scaling.md, "Threads, not processes"): OpenCV and NumPy release the GIL
for decode, resize and encode, so a thread pool scales as well as a process pool without spawning
interpreters or pickling results.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from itertools import islice
from pathlib import Path

import numpy as np

from .. import DISTRIBUTION, __version__, formats
from ..errors import Problem
from ..imaging.pipeline import overlay_pixels, render
from ..options import Options
from ..sources.folder import EXTENSIONS, Folder, within

log = logging.getLogger(__name__)

CONVERTED, SKIPPED, FAILED = "converted", "skipped", "failed"
TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.imgserve-part")  # `.<name>.<random>.imgserve-part`
IN_FLIGHT_PER_WORKER = 2  # tasks queued per worker: enough to keep it busy, few to cancel on Ctrl-C
STOP_CHECK_SECONDS = 0.2  # how soon a stop request is noticed while every worker is busy


@dataclass(frozen=True)
class Limits:
    """The settings a conversion uses, in a form that pickles (Settings holds a mappingproxy)."""
    max_pixels: int
    max_dimension: int
    max_source_bytes: int
    max_animation_pixels: int

    @classmethod
    def of(cls, settings) -> Limits:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Conversion:
    """What every task of one run shares. Paths are absolute: on a cluster they must mean the same
    folders on every worker (a shared filesystem mounted at the same place)."""
    src: Path
    dst: Path
    options: Options
    limits: Limits

    @property
    def extension(self) -> str:
        return formats.FORMATS[self.options.format].extension


@dataclass(frozen=True)
class Task:
    input: str   # relative to SRC, with '/'
    output: str  # relative to DST
    size: int    # bytes in, for progress


@dataclass(frozen=True)
class Outcome:
    input: str
    output: str
    outcome: str  # converted, skipped, failed
    reason: str
    bytes_in: int
    bytes_out: int
    seconds: float


# -- planning: decided on the machine that runs the command, from names and stats only ---------------

def plan(job: Conversion) -> Iterator[Task | Outcome]:
    """Every file under SRC, in sorted order, as a Task to run or an Outcome already decided.

    Hidden files and folders are not inputs (the server never serves them either). Files without an
    image extension are skipped, not failed: archives hold sidecar files (Thumbs.db, index.txt) and
    they say nothing about the images. A file with an image extension is read and its format decided
    from its bytes, so garbage named .bmp fails with the decoder's reason."""
    for folder, dirs, files in os.walk(job.src):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in [d for d in dirs if (here / d).is_symlink()]:
            dirs.remove(name)
            yield _decided(job, here / name, "", SKIPPED, "a symlinked folder; folders are not followed")
        _sweep(job.dst / here.relative_to(job.src))
        taken: dict[str, str] = {}
        for name in sorted(f for f in files if not f.startswith(".")):
            yield _plan_file(job, here / name, taken)


def _plan_file(job: Conversion, path: Path, taken: dict[str, str]) -> Task | Outcome:
    relative = path.relative_to(job.src).as_posix()
    if path.suffix.lower() not in EXTENSIONS:
        return _decided(job, path, "", SKIPPED, f"not an image by its extension ({', '.join(EXTENSIONS)})")
    if path.is_symlink() and not within(path.resolve(), job.src.resolve()):
        return _decided(job, path, "", SKIPPED, "a symlink leading outside SRC (or to a hidden file)")
    output = Path(relative).with_suffix(job.extension).as_posix()
    if output in taken:
        return _decided(job, path, output, FAILED, f"{taken[output]} already converts to {output}; rename one")
    taken[output] = relative
    try:
        source = path.stat()
    except OSError as error:
        return _decided(job, path, output, FAILED, f"cannot read: {error.strerror}")
    with suppress(OSError):
        target = (job.dst / output).stat()
        if target.st_mtime_ns > source.st_mtime_ns:
            return Outcome(relative, output, SKIPPED, "up to date", source.st_size, target.st_size, 0.0)
    return Task(relative, output, source.st_size)


def _decided(job: Conversion, path: Path, output: str, outcome: str, reason: str) -> Outcome:
    try:
        size = 0 if path.is_symlink() else path.stat().st_size  # a link's own size means nothing here
    except OSError:
        size = 0
    return Outcome(path.relative_to(job.src).as_posix(), output, outcome, reason, size, 0, 0.0)


def _sweep(folder: Path) -> None:
    """Remove temporaries left by a run that was killed outright. One run per DST at a time."""
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if TEMPORARY.fullmatch(entry.name):
                with suppress(OSError):
                    os.unlink(entry.path)


# -- one file: runs on a worker thread, or on a Dask worker that sees the same folders ----------------

def convert_file(job: Conversion, task: Task) -> Outcome:
    """Read, render, write one file. Never raises for a bad file: the reason goes into the Outcome."""
    started = time.perf_counter()
    size, written = task.size, 0
    try:
        with Folder(job.src).open(task.input) as original:  # the server's rules: no FIFO, no symlink out
            size = original.size
            data = original.read(job.limits.max_source_bytes)
        body = render(data, job.options, job.limits, overlay=overlay(job)).body
        write_atomically(job.dst / task.output, body)
        written = len(body)
        outcome, reason = CONVERTED, ""
    except Problem as problem:
        outcome, reason = FAILED, f"{problem.status} {problem.title}: {problem.detail}"
    except OSError as error:
        outcome, reason = FAILED, f"{error.strerror or error}: {error.filename or task.input}"
    except Exception as error:  # a bug, not bad input: keep converting the rest, say what happened
        log.exception("unexpected error converting %s", task.input)
        outcome, reason = FAILED, f"unexpected error: {type(error).__name__}: {error}"
    return Outcome(task.input, task.output, outcome, reason, size, written, time.perf_counter() - started)


_overlays: dict[tuple, np.ndarray] = {}  # the run's overlay, decoded once per process (a watermark on every file)
_overlays_lock = threading.Lock()


def overlay(job: Conversion) -> np.ndarray | None:
    """The decoded `overlay` option, an original under SRC as on the server; None without one."""
    if job.options.overlay is None:
        return None
    with Folder(job.src).open(job.options.overlay) as original:
        key = (original.path, original.mtime_ns, original.size, job.limits)
        with _overlays_lock:
            if key not in _overlays:
                _overlays.clear()
                _overlays[key] = overlay_pixels(original.read(job.limits.max_source_bytes), job.limits)
            return _overlays[key]


def write_atomically(target: Path, body: bytes) -> None:
    """`target` holds either its old content or all of `body`, never a part: the bytes go to a hidden
    temporary beside it (same filesystem, so the rename is atomic), are fsynced (else a crash soon
    after the rename can leave an empty file on ext4/XFS), then renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.imgserve-part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # 0o666: umask applies
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


# -- running: one loop for a local pool and a Dask cluster -------------------------------------------

def run(job: Conversion, tasks: list[Task], executor: cf.Executor, window: int,
        stop: threading.Event | None = None) -> Iterator[Outcome]:
    """Outcomes as tasks finish. At most `window` tasks are submitted at once, so a million-file
    tree never becomes a million futures. Once `stop` is set, queued files are dropped and files
    already being converted finish (a thread cannot be stopped mid-write) and are reported, so the
    report matches what is on disk."""
    stop = stop or threading.Event()
    pending: dict[cf.Future, Task] = {}
    todo = iter(tasks)
    while not stop.is_set():
        for task in islice(todo, window - len(pending)):
            pending[executor.submit(convert_file, job, task)] = task
        if not pending:
            return
        done, _ = cf.wait(pending, timeout=STOP_CHECK_SECONDS, return_when=cf.FIRST_COMPLETED)
        for future in done:
            yield _result(future, pending.pop(future))
    running = [future for future in pending if not future.cancel()]
    for future in cf.as_completed(running):
        yield _result(future, pending[future])


def _result(future: cf.Future, task: Task) -> Outcome:
    try:
        return future.result()
    except Exception as error:  # the worker itself died, or could not run the task
        return Outcome(task.input, task.output, FAILED, f"worker failed: {type(error).__name__}: {error}",
                       task.size, 0, 0.0)


@contextmanager
def local_executor(workers: int) -> Iterator[tuple[cf.Executor, int]]:
    with cf.ThreadPoolExecutor(workers, thread_name_prefix="imgserve-convert") as executor:
        yield executor, workers * IN_FLIGHT_PER_WORKER


@contextmanager
def dask_executor(address: str) -> Iterator[tuple[cf.Executor, int]]:
    """The cluster at `address` as an executor. Tasks carry file names, not pixels: each worker reads
    its input and writes its output itself, so the scheduler only ever sees small tuples."""
    try:
        from distributed import Client
    except ImportError:
        raise Problem(400, f"--scheduler needs Dask: pip install '{DISTRIBUTION}[dask]'") from None
    try:
        client = Client(address, timeout="15s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise Problem(502, f"cannot reach the Dask scheduler at {address}: {error}") from None
    with client:
        versions = client.run(_imgserve_version)
        wrong = {worker: version for worker, version in versions.items() if version != __version__}
        if not versions or wrong:
            raise Problem(502, f"the cluster's workers must run imgserve {__version__}; "
                               f"found {wrong or 'no workers'}")
        slots = sum(client.nthreads().values())
        yield client.get_executor(pure=False), max(2, slots * IN_FLIGHT_PER_WORKER)


def _imgserve_version() -> str:
    return __version__


# -- one run, with its callbacks for progress and the report --------------------------------------------

@dataclass
class Summary:
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.outcome, getattr(self, outcome.outcome) + 1)
        if outcome.outcome == CONVERTED:
            self.bytes_in += outcome.bytes_in
            self.bytes_out += outcome.bytes_out

    def line(self) -> str:
        rate = f" ({self.converted / self.seconds:.1f} images/s, {self.bytes_in / self.seconds / 1e6:.1f} MB/s)" \
            if self.converted and self.seconds > 0 else ""
        head = "interrupted: " if self.interrupted else ""
        return (f"{head}{self.converted} converted, {self.skipped} skipped, {self.failed} failed "
                f"in {self.seconds:.1f} s{rate}")


def convert(job: Conversion, *, workers: int = 1, scheduler: str | None = None,
            on_plan: Callable[[list[Task]], None] = lambda tasks: None,
            on_outcome: Callable[[Outcome], None] = lambda outcome: None) -> Summary:
    """Plan, then convert what needs it. Every input's Outcome goes to `on_outcome`: those decided while
    planning first, then `on_plan` gets the tasks, then the rest as they finish. The executor comes
    first, so an unreachable cluster fails before anything is done. Ctrl-C or SIGTERM stops the run:
    queued files are dropped, files being converted finish, and the Summary says `interrupted`."""
    started = time.perf_counter()
    summary = Summary()

    def record(outcome: Outcome) -> None:
        summary.add(outcome)
        on_outcome(outcome)

    pool = dask_executor(scheduler) if scheduler else local_executor(workers)
    with _stop_on_signals() as stop, pool as (executor, window):
        tasks = []
        for item in plan(job):
            if stop.is_set():
                break
            if isinstance(item, Task):
                tasks.append(item)
            else:
                record(item)
        on_plan(tasks)
        for outcome in run(job, tasks, executor, window, stop):
            record(outcome)
    summary.interrupted = stop.is_set()
    summary.seconds = time.perf_counter() - started
    return summary


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM (a scheduler's or `kill`'s stop) set the event, and the run stops between
    two files with its outcomes all recorded; a second one stops at once. From a thread other than
    the main one, signals are left alone."""
    stop = threading.Event()

    def handle(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    try:
        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield stop
        return
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
