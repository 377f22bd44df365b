"""`imgserve convert`: a generated archive of every BMP kind plus broken files, converted for real.

Outputs are decoded and compared with the inputs pixel by pixel (Pillow decodes the inputs, as in
test_bmp.py), and with what the server returns for the same options: one code path.
"""

from __future__ import annotations

import csv
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from imgserve.batch import convert as batch
from imgserve.cli import main
from imgserve.options import Options
from tests.support import REPO, bmp_factory
from tests.support.bmp_factory import reference
from tests.support.images import decode, encode, photo

BROKEN = {
    "broken/truncated.bmp": bmp_factory.write("info-24", 40, 30)[:300],
    "broken/garbage.bmp": b"this is not a bitmap, whatever its name says\n" * 20,
    "broken/empty.bmp": b"",
    "broken/bad-palette.BMP": bmp_factory.write("info-8", 40, 30)[:80],
}


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Every BMP kind the core decodes, in nested folders, at an odd size (rows need padding); broken
    files; a text file; hidden files and folders; symlinks inside and outside."""
    src = tmp_path / "archive"
    for number, kind in enumerate(bmp_factory.KINDS):
        path = src / ("scans" if number % 2 else "scans/1998/march") / f"{kind}.bmp"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bmp_factory.write(kind, 37, 23, seed=number))
    for name, data in BROKEN.items():
        (src / name).parent.mkdir(exist_ok=True)
        (src / name).write_bytes(data)
    (src / "scans" / "index.txt").write_text("scan list\n")
    (src / ".thumbs").mkdir()
    (src / ".thumbs" / "a.bmp").write_bytes(bmp_factory.write("info-24", 4, 4))
    (src / "scans" / ".hidden.bmp").write_bytes(bmp_factory.write("info-24", 4, 4))
    outside = tmp_path / "outside.bmp"
    outside.write_bytes(bmp_factory.write("info-24", 4, 4))
    (src / "escape.bmp").symlink_to(outside)
    (src / "alias.bmp").symlink_to(src / "scans" / "info-24.bmp")
    (src / "linked-folder").symlink_to(tmp_path)
    return src


def kind_paths(src: Path) -> dict[str, Path]:
    return {p.stem: p for p in src.rglob("*.bmp") if p.stem in bmp_factory.KINDS}


def convert(src: Path, dst: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["convert", str(src), str(dst), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def read_report(path: Path) -> dict[str, dict]:
    if path.suffix == ".csv":
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    inputs = [row["input"] for row in rows]
    assert len(inputs) == len(set(inputs)), "an input is listed twice"
    return {row["input"]: row for row in rows}


def test_every_kind_becomes_a_png_with_the_same_pixels(archive: Path, tmp_path: Path) -> None:
    dst = tmp_path / "png"
    code, out, err = convert(archive, dst, "--format", "png", "--workers", "2")
    assert code == 1, "the broken files must make the run fail"
    for kind, source in kind_paths(archive).items():
        output = dst / source.relative_to(archive).with_suffix(".png")
        got = decode(output.read_bytes())
        expected = reference(source.read_bytes())
        assert got.shape == expected.shape, kind
        assert np.array_equal(got, expected), kind
    alias = decode((dst / "alias.png").read_bytes())
    assert np.array_equal(alias, reference((archive / "scans" / "info-24.bmp").read_bytes()))
    assert f"{len(bmp_factory.KINDS) + 1} converted, 3 skipped, {len(BROKEN)} failed in" in out


def test_only_outputs_for_images_and_nothing_hidden_or_outside(archive: Path, tmp_path: Path) -> None:
    dst = tmp_path / "png"
    convert(archive, dst, "--format", "png")
    written = {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()}
    expected = {p.relative_to(archive).with_suffix(".png").as_posix() for p in kind_paths(archive).values()}
    assert written == expected | {"alias.png"}


def test_broken_files_are_named_with_the_reason(archive: Path, tmp_path: Path) -> None:
    code, _, err = convert(archive, tmp_path / "png", "--format", "png", "--quiet")
    assert code == 1
    failures = {line.split(": ")[1]: line for line in err.splitlines() if line.startswith("failed: ")}
    assert set(failures) == set(BROKEN)
    assert "415 Unsupported Media Type: the BMP header is damaged: truncated" in failures["broken/truncated.bmp"]
    assert "not an image this server decodes" in failures["broken/garbage.bmp"]
    assert "not an image this server decodes" in failures["broken/empty.bmp"]
    assert "palette of 256 colours does not fit" in failures["broken/bad-palette.BMP"]


@pytest.mark.parametrize("name", ["report.csv", "report.jsonl"])
def test_report_lists_every_input_with_its_outcome(archive: Path, tmp_path: Path, name: str) -> None:
    dst, report = tmp_path / "png", tmp_path / name
    convert(archive, dst, "--format", "png", "--report", str(report))
    rows = read_report(report)
    listed = [p.relative_to(archive) for p in archive.rglob("*") if p.is_file() or p.is_symlink()]
    visible = {p.as_posix() for p in listed if not any(part.startswith(".") for part in p.parts)}
    assert set(rows) == visible
    for input, row in rows.items():
        if input in BROKEN:
            assert (row["outcome"], row["output"]) == ("failed", input.rsplit(".", 1)[0] + ".png")
            assert row["reason"].startswith("415 Unsupported Media Type: ")
            assert int(row["bytes_out"]) == 0
        elif input in ("scans/index.txt", "escape.bmp", "linked-folder"):
            assert row["outcome"] == "skipped" and row["reason"] and row["output"] == ""
        else:
            assert row["outcome"] == "converted" and row["reason"] == ""
            assert int(row["bytes_in"]) == (archive / input).stat().st_size
            assert int(row["bytes_out"]) == (dst / row["output"]).stat().st_size > 0
            assert float(row["seconds"]) > 0
    assert "outside" in rows["escape.bmp"]["reason"] and "extension" in rows["scans/index.txt"]["reason"]

    convert(archive, dst, "--format", "png", "--report", str(report))
    again = read_report(report)
    assert set(again) == visible
    assert {row["outcome"] for i, row in again.items() if rows[i]["outcome"] == "converted"} == {"skipped"}
    assert {row["reason"] for i, row in again.items() if rows[i]["outcome"] == "converted"} == {"up to date"}


def test_report_extension_chooses_the_form(archive: Path, tmp_path: Path) -> None:
    code, _, err = convert(archive, tmp_path / "png", "--format", "png", "--report", str(tmp_path / "r.txt"))
    assert code == 2 and ".csv, or .jsonl" in err
    assert not (tmp_path / "png").exists()


def photos(folder: Path, count: int, width: int, height: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / f"{seed // 5}" / f"photo-{seed:03}.bmp"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(encode(photo(width, height, seed=seed), ".bmp"))
        paths.append(path)
    return paths


def test_second_run_skips_what_is_up_to_date_without_reading_it(tmp_path: Path, monkeypatch) -> None:
    """What makes the second run fast is that it reads and decodes nothing: counted, not timed (a
    `warm * 5 < cold` timing broke on a loaded machine and passed for a run that still decoded)."""
    from tests.support.costs import Costs

    src, dst = tmp_path / "src", tmp_path / "dst"
    inputs = photos(src, 12, 640, 480)
    job = batch.Conversion(src, dst, Options(format="png"), batch.Limits(10**8, 8192, 2**27, 10**8, 100, 2**24))
    costs = Costs(src, monkeypatch)
    first = batch.convert(job, workers=2)
    assert costs.of("reads", "decodes") == {"reads": 12, "decodes": 12}  # the counters see the work
    costs.reset()
    second = batch.convert(job, workers=2)
    assert (first.converted, second.converted, second.skipped) == (12, 0, 12)
    assert costs.of("opens", "reads", "decodes", "encodes") == {"opens": 0, "reads": 0, "decodes": 0, "encodes": 0}

    later = time.time() + 5
    os.utime(inputs[3], (later, later))  # a changed original is converted again, and only it
    third = batch.convert(job, workers=2)
    assert (third.converted, third.skipped) == (1, 11)


def test_a_failing_write_leaves_the_old_output_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    inputs = photos(src, 3, 64, 48)
    job = batch.Conversion(src, dst, Options(format="png"), batch.Limits(10**8, 8192, 2**27, 10**8, 100, 2**24))
    assert batch.convert(job, workers=2).converted == 3
    old = (dst / "0" / "photo-000.png").read_bytes()
    (dst / "0" / "photo-001.png").unlink()
    later = time.time() + 5
    os.utime(inputs[0], (later, later))

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch.os, "fsync", full_disk)
    outcomes: list[batch.Outcome] = []
    summary = batch.convert(job, workers=2, on_outcome=outcomes.append)
    assert (summary.failed, summary.skipped) == (2, 1)
    assert all("No space left on device" in o.reason for o in outcomes if o.outcome == "failed")
    assert (dst / "0" / "photo-000.png").read_bytes() == old  # the rewrite failed: the old output stays
    assert sorted(p.name for p in dst.rglob("*") if p.is_file()) == ["photo-000.png", "photo-002.png"]


def test_outputs_match_what_the_server_returns(tmp_path: Path) -> None:
    """One code path: the same options give the same bytes from the CLI and from GET /image."""
    from imgserve import create_app

    src = tmp_path / "src"
    photos(src, 1, 300, 200)
    (src / "0" / "scan.bmp").write_bytes(bmp_factory.write("v5-32-alpha", 50, 40))
    client = create_app({"root": str(src), "cache_bytes": "0"}).test_client()
    for query, flags, extension in [
        ("w=120&format=webp&q=70", ["--width", "120", "--format", "webp", "--quality", "70"], ".webp"),
        ("h=50&fit=cover&w=50&rotate=90&bg=ff0000&format=jpeg",
         ["--height", "50", "--fit", "cover", "--width", "50", "--rotate", "90", "--bg", "ff0000", "--format",
          "jpeg"], ".jpg"),
        ("format=png&grayscale=1&flip=h", ["--format", "png", "--grayscale", "1", "--flip", "h"], ".png"),
    ]:
        dst = tmp_path / query.replace("&", "_")
        code, _, err = convert(src, dst, *flags)
        assert code == 0, err
        for id in ("0/photo-000.bmp", "0/scan.bmp"):
            served = client.get(f"/image/{id}?{query}")
            assert served.status_code == 200
            written = (dst / id).with_suffix(extension).read_bytes()
            assert written == served.data, (query, id)


@pytest.mark.parametrize("flags, hint, message", [
    (["--format", "png", "--width", "0"], "--width", "must be from 1 to 8192, got 0"),
    (["--format", "png", "--width", "١٢"], "--width", "expected a whole number"),
    (["--format", "png", "--width", "9000"], "--width", "must be from 1 to 8192"),
    (["--format", "png", "--width", "300", "--max-dimension", "200"], "--width", "must be from 1 to 200"),
    (["--format", "heif"], "--format", "expected one of jpeg, png, webp, avif, bmp, tiff, gif"),
    (["--format", "auto"], "--format", "auto follows a browser's Accept header"),
    (["--format", "png", "--scale", "0.5", "--width", "10"], "--scale", "give either scale or w/h"),
    (["--format", "png", "--bg", "red"], "--bg", "expected a hex colour"),
    (["--width", "10"], "--format", "Missing option"),
])
def test_options_are_parsed_as_urls_are(archive: Path, tmp_path: Path, flags: list[str], hint: str,
                                        message: str) -> None:
    code, _, err = convert(archive, tmp_path / "out", *flags)
    assert code == 2
    assert hint in err and message in err
    assert not (tmp_path / "out").exists()


def test_limits_come_from_the_settings(archive: Path, tmp_path: Path) -> None:
    code, _, err = convert(archive, tmp_path / "out", "--format", "png", "--max-pixels", "100", "--quiet")
    assert code == 1
    assert "failed: scans/info-24.bmp: 422 Unprocessable " in err
    assert "the source is 37x23 = 851 pixels; this server decodes at most 100" in err


def test_sources_and_outputs_must_not_overlap(archive: Path, tmp_path: Path) -> None:
    for dst in (archive / "png", archive, tmp_path):
        code, _, err = convert(archive, dst, "--format", "png")
        assert code == 2 and "must not overlap" in err
    code, _, err = convert(archive, tmp_path / "x", "--format", "png", "--workers", "2", "--scheduler", "tcp://x:1")
    assert code == 2 and "--workers is for this machine" in err


def test_two_inputs_that_would_share_an_output_fail(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.bmp", "a.tif"):
        (src / name).write_bytes(encode(photo(16, 16), "." + name.split(".")[1]))
    code, _, err = convert(src, tmp_path / "dst", "--format", "png")
    assert code == 1
    assert "failed: a.tif: a.bmp already converts to a.png; rename one" in err


def run_in_background(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "imgserve", "convert", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_outputs(dst: Path, count: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(list(dst.rglob("*.png"))) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no outputs appeared"
        time.sleep(0.01)


def complete_outputs(dst: Path) -> set[str]:
    """Every output under its final name decodes whole, at the size it should have."""
    names = set()
    for path in dst.rglob("*.png"):
        if not path.name.startswith("."):
            assert decode(path.read_bytes()).shape == (300, 400, 3), path
            names.add(path.relative_to(dst).as_posix())
    return names


def temporaries(dst: Path) -> list[Path]:
    return [p for p in dst.rglob("*") if p.is_file() and p.name.startswith(".")]


def test_a_stopped_run_leaves_only_whole_files_and_its_report_says_which(tmp_path: Path) -> None:
    src, dst, report = tmp_path / "src", tmp_path / "dst", tmp_path / "report.jsonl"
    photos(src, 30, 400, 300)
    process = run_in_background(str(src), str(dst), "--format", "png", "--workers", "2", "--report", str(report))
    try:
        wait_for_outputs(dst, 3, process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert out.startswith("interrupted: ")
    assert temporaries(dst) == []
    written = complete_outputs(dst)
    converted = {row["output"] for row in read_report(report).values() if row["outcome"] == "converted"}
    assert written == converted and 3 <= len(written) < 30

    code, out, _ = convert(src, dst, "--format", "png")
    assert code == 0 and f"{30 - len(written)} converted, {len(written)} skipped, 0 failed" in out


def test_a_killed_run_leaves_no_half_file_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    photos(src, 30, 400, 300)
    process = run_in_background(str(src), str(dst), "--format", "png", "--workers", "2")
    try:
        wait_for_outputs(dst, 5, process)
    finally:
        process.kill()
        process.communicate(timeout=30)
    written = complete_outputs(dst)
    (dst / "0" / ".photo-000.png.0123abcd.imgserve-part").write_bytes(b"\x89PNG half")  # as SIGKILL can leave
    code, out, _ = convert(src, dst, "--format", "png")
    assert code == 0 and f"{len(written)} skipped" in out
    assert temporaries(dst) == []
    assert len(complete_outputs(dst)) == 30


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    src = tmp_path / "src"
    photos(src, 4, 64, 48)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # rows, columns, as a terminal
    process = subprocess.Popen([sys.executable, "-m", "imgserve", "convert", str(src), str(tmp_path / "tty"),
                                "--format", "png"], cwd=REPO, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    shown, deadline = b"", time.monotonic() + 30
    while select.select([leader], [], [], max(0.0, deadline - time.monotonic()))[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"converting" in shown and b"B/s" in shown and b"4/4 files" in shown
    assert out.decode().startswith("4 converted, 0 skipped, 0 failed in ")

    piped = subprocess.run([sys.executable, "-m", "imgserve", "convert", str(src), str(tmp_path / "pipe"),
                            "--format", "png"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout.startswith("4 converted")
    quiet = subprocess.run([sys.executable, "-m", "imgserve", "convert", str(src), str(tmp_path / "quiet"),
                            "--format", "png", "-q"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert quiet.returncode == 0 and quiet.stdout == quiet.stderr == ""


def test_dask_cluster_gives_the_same_outputs_and_report(archive: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed", reason="the Dask path needs pip install 'imgserve-server[dask]'")
    local, remote = tmp_path / "local", tmp_path / "remote"
    convert(archive, local, "--format", "png", "--width", "20", "--report", str(tmp_path / "local.csv"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  scheduler_port=0, dashboard_address=None, worker_dashboard_address=None) as cluster:
        flags = ["--format", "png", "--width", "20", "--scheduler", cluster.scheduler_address]
        code, out, err = convert(archive, remote, *flags, "--report", str(tmp_path / "remote.csv"))
        assert code == 1, err
        again_code, again, _ = convert(archive, remote, *flags)
    for path in local.rglob("*.png"):
        assert (remote / path.relative_to(local)).read_bytes() == path.read_bytes()
    assert {p.relative_to(remote) for p in remote.rglob("*")} == {p.relative_to(local) for p in local.rglob("*")}
    mine, theirs = read_report(tmp_path / "local.csv"), read_report(tmp_path / "remote.csv")
    assert {k: (r["outcome"], r["reason"], r["bytes_out"]) for k, r in mine.items()} == \
        {k: (r["outcome"], r["reason"], r["bytes_out"]) for k, r in theirs.items()}
    converted = len(bmp_factory.KINDS) + 1
    assert f"{converted} converted, 3 skipped, {len(BROKEN)} failed" in out
    assert again_code == 1 and f"0 converted, {converted + 3} skipped, {len(BROKEN)} failed" in again


def test_a_fifo_named_like_an_image_fails_instead_of_blocking_the_run(tmp_path: Path) -> None:
    """Files are opened as the server opens them (non-blocking, regular files only): a named pipe
    would otherwise block its worker for ever."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.bmp").write_bytes(bmp_factory.write("info-24", 8, 8))
    os.mkfifo(src / "pipe.bmp")
    run = subprocess.run([sys.executable, "-m", "imgserve", "convert", str(src), str(tmp_path / "dst"),
                          "--format", "png", "--quiet"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "failed: pipe.bmp: 404" in run.stderr
    assert (tmp_path / "dst" / "good.png").is_file() and not (tmp_path / "dst" / "pipe.png").exists()


def test_convert_takes_the_new_options_and_composes_the_overlay_under_src(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "marks").mkdir(parents=True)
    (src / "a.png").write_bytes(encode(np.full((100, 200, 3), 200, np.uint8)))
    mark = np.zeros((10, 20, 4), np.uint8)
    mark[:, :, 2:] = 255
    (src / "marks" / "logo.png").write_bytes(encode(mark))
    result = CliRunner().invoke(main, ["convert", str(src), str(dst), "--format", "png", "--width", "100",
                                       "--overlay", "marks/logo.png", "--overlay-gravity", "nw", "--quiet"])
    assert result.exit_code == 0, result.output
    image = decode((dst / "a.png").read_bytes())
    assert image.shape == (50, 100, 3) and (image[:10, :20] == (0, 0, 255)).all() and (image[20:, 30:] == 200).all()
    missing = CliRunner().invoke(main, ["convert", str(src), str(tmp_path / "o2"), "--format", "png",
                                        "--overlay", "nothing.png"])
    assert missing.exit_code == 2 and "--overlay" in missing.output


# Issue #19, rows B8, W1, W2: names the filesystem allows, but not UTF-8, URLs or a terminal.
ODD_NAMES = [b"caf\xe9.bmp", b"back\\slash.bmp", b"cr\rname.bmp", b"lf\nname.bmp", b"tab\tname.bmp",
             b"esc\x1b[31mred.bmp", "\u202eevil.bmp".encode(), b"x" * 240 + b".bmp", b"y" * 251 + b".bmp",
             "sp ace \u00e9\u4e2d.bmp".encode()]
ODD_BROKEN = b"broken\x1b[2J\xff\n.bmp"


@pytest.mark.parametrize("report", ["report.csv", "report.jsonl"])
def test_any_name_the_filesystem_allows_is_converted_and_reported_escaped(tmp_path: Path, report: str) -> None:
    from imgserve.batch.report import escaped

    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub\nfolder").mkdir(parents=True)
    inputs = {}
    for number, name in enumerate(ODD_NAMES):
        folder = os.fsencode(src / ("sub\nfolder" if number % 3 == 0 else ""))
        data = bmp_factory.write("info-24", 9 + number, 7, seed=number)
        with open(os.path.join(folder, name), "wb") as file:
            file.write(data)
        inputs[os.path.relpath(os.path.join(folder, name), os.fsencode(src))] = data
    with open(os.path.join(os.fsencode(src), ODD_BROKEN), "wb") as file:
        file.write(b"not a bitmap")
    code, out, err = convert(src, dst, "--format", "png", "--report", str(tmp_path / report), "--quiet")
    assert code == 1, err  # the broken one; nothing else
    for relative, data in inputs.items():
        output = os.path.join(os.fsencode(dst), relative[:-4] + b".png")
        with open(output, "rb") as file:
            assert np.array_equal(decode(file.read()), reference(data)), relative
    assert [p for p in dst.rglob("*") if "imgserve-part" in p.name] == []
    rows = read_report(tmp_path / report)
    expected = {escaped(os.fsdecode(name)) for name in [*inputs, ODD_BROKEN]}
    assert set(rows) == expected and all(rows[escaped(os.fsdecode(n))]["outcome"] == "converted" for n in inputs)
    raw = (tmp_path / report).read_bytes()
    assert b"\x1b" not in raw and b"\r" not in raw.replace(b"\r\n", b"") and raw.count(b"\n") == len(expected) + (
        report.endswith(".csv"))
    assert "\x1b" not in err and err.count("\n") == 1 and err.startswith("failed: broken\\x1b[2J\\xff\\n.bmp: 415")
    assert "sub\\nfolder/caf\\xe9.bmp" in rows and "back\\\\slash.bmp" in rows


def test_an_output_name_longer_than_the_filesystem_allows_fails_alone(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / ("y" * 251 + ".bmp")).write_bytes(bmp_factory.write("info-24", 8, 8))  # 255 bytes: .webp makes 256
    (src / "ok.bmp").write_bytes(bmp_factory.write("info-24", 8, 8))
    code, _, err = convert(src, tmp_path / "dst", "--format", "webp", "--quiet")
    assert code == 1 and "would be 256 bytes, more than the 255 a name may have" in err
    assert (tmp_path / "dst" / "ok.webp").is_file()


def test_temporary_names_fit_in_name_max() -> None:
    for name in ("a.png", "é" * 127 + ".png", "x" * 251 + ".png", os.fsdecode(b"\xff" * 251 + b".png")):
        temporary = batch.temporary_name(name)
        assert len(os.fsencode(temporary)) <= 255 and batch.TEMPORARY.fullmatch(temporary)
    assert batch.TEMPORARY.fullmatch(batch.temporary_name("a\nb.png"))  # swept like any other


def test_a_folder_that_cannot_be_listed_is_reported(tmp_path: Path) -> None:
    """Folders nested past PATH_MAX (4096 bytes) exist, but os.walk cannot list them: it skipped
    them silently. (Made with dir_fd, one level at a time, as only that can.)"""
    src = tmp_path / "src"
    src.mkdir()
    (src / "b.bmp").write_bytes(bmp_factory.write("info-24", 8, 8))
    fd = os.open(src, os.O_RDONLY)
    try:
        for _ in range(20):
            os.mkdir("d" * 250, dir_fd=fd)
            deeper = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        with open(os.open("deep.bmp", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as file:
            file.write(bmp_factory.write("info-24", 8, 8))
    finally:
        os.close(fd)
    code, _, err = convert(src, tmp_path / "dst", "--format", "png", "--quiet")
    assert code == 1 and err.count("failed: ") == 1 and ": File name too long" in err
    assert (tmp_path / "dst" / "b.png").is_file()
