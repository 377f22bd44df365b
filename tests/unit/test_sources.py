import os
from pathlib import Path

import pytest

from imgserve.errors import Problem
from imgserve.sources.folder import Folder, load_manifest


@pytest.fixture
def folder(tmp_path: Path) -> Folder:
    root = tmp_path / "root"
    (root / "photos" / "2024").mkdir(parents=True)
    (root / "a.jpg").write_bytes(b"A")
    (root / "photos" / "2024" / "dune.png").write_bytes(b"DUNE")
    (root / "both.png").write_bytes(b"PNG")
    (root / "both.jpg").write_bytes(b"JPG")
    (root / "UPPER.JPG").write_bytes(b"UP")
    (root / ".hidden.jpg").write_bytes(b"H")
    (root / ".git").mkdir()
    (root / ".git" / "x.jpg").write_bytes(b"G")
    (tmp_path / "secret.jpg").write_bytes(b"SECRET")
    os.symlink(tmp_path / "secret.jpg", root / "escape.jpg")
    os.symlink(tmp_path, root / "outside")
    os.symlink(root / "a.jpg", root / "alias.jpg")
    os.symlink(root / ".hidden.jpg", root / "to-hidden.jpg")
    (root / "dir.jpg").mkdir()
    os.mkfifo(root / "pipe.jpg")
    return Folder(root)


def read(folder: Folder, id: str) -> bytes:
    with folder.open(id) as original:
        return original.read(1000)


@pytest.mark.parametrize("id, content", [
    ("a.jpg", b"A"),
    ("a", b"A"),
    ("photos/2024/dune.png", b"DUNE"),
    ("photos/2024/dune", b"DUNE"),
    ("both", b"JPG"),          # extension order: .jpg before .png
    ("UPPER", b"UP"),
    ("alias.jpg", b"A"),       # a symlink that stays inside the root is fine
])
def test_ids_resolve_under_the_root(folder: Folder, id: str, content: bytes) -> None:
    assert read(folder, id) == content


@pytest.mark.parametrize("id", [
    "../secret.jpg", "photos/../../secret.jpg", "..", ".", "photos/./2024/dune.png", "/etc/passwd",
    "//etc/passwd", "photos//2024/dune.png", "photos\\2024\\dune.png", "..\\secret.jpg", "a.jpg\0.png",
    "a.jpg\n", "%2e%2e/secret.jpg", "%2E%2E%2Fsecret.jpg", "..%2fsecret.jpg", "..%c0%afsecret.jpg",
    "escape.jpg", "outside/secret.jpg", ".hidden.jpg", ".hidden", ".git/x.jpg", "to-hidden.jpg",
    "dir.jpg", "pipe.jpg", "missing.jpg", "missing", "", "photos", "a.jpg/", "C:\\Windows\\win.ini",
])
def test_unsafe_or_missing_ids_are_404_and_never_a_file(folder: Folder, id: str) -> None:
    with pytest.raises(Problem) as caught:
        read(folder, id)
    assert caught.value.status == 404


def test_identity_comes_from_the_open_file(folder: Folder) -> None:
    path = folder.root / "a.jpg"
    os.utime(path, ns=(1_000_000_000, 1_500_000_000_000_000_000))
    with folder.open("a") as original:
        assert (original.key, original.size, original.mtime_ns) == ("a.jpg", 1, 1_500_000_000_000_000_000)
        os.unlink(path)  # deleted while being served: the open descriptor still reads the bytes
        assert original.read(10) == b"A"


def test_reading_past_the_limit_is_413(folder: Folder) -> None:
    with folder.open("photos/2024/dune.png") as original, pytest.raises(Problem) as caught:
        original.read(3)
    assert caught.value.status == 413
    assert "4 bytes" in caught.value.detail


def test_manifest_maps_ids_to_paths(tmp_path: Path, folder: Folder) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("id,path\n1001,photos/2024/dune.png\n# comment\n1002,a.jpg\n1003,../secret.jpg\n")
    keyed = Folder(folder.root, manifest)
    assert read(keyed, "1001") == b"DUNE"
    assert read(keyed, "1002") == b"A"
    assert read(keyed, "a.jpg") == b"A"  # plain paths still work
    with pytest.raises(Problem) as caught:
        read(keyed, "1003")              # a manifest cannot point outside the root either
    assert caught.value.status == 404


def test_malformed_manifest_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("1001,a.jpg,extra\n")
    with pytest.raises(ValueError, match="bad.csv:1"):
        load_manifest(bad)


def test_listing_shows_only_what_open_would_serve(folder: Folder, tmp_path: Path) -> None:
    (folder.root / "notes.txt").write_text("not an image")
    (folder.root / "back\\slash.jpg").write_bytes(b"B")
    os.symlink(folder.root / "photos", folder.root / "photo-link")
    folders, files = folder.listing()
    assert folders == ["dir.jpg", "photo-link", "photos"]
    assert files == ["a.jpg", "alias.jpg", "both.jpg", "both.png", "UPPER.JPG"]
    for id in files:
        assert read(folder, id)
    assert folder.listing("photos") == (["photos/2024"], [])
    assert folder.listing("photos/2024") == ([], ["photos/2024/dune.png"])
    assert folder.listing("photo-link/2024") == ([], ["photo-link/2024/dune.png"])


@pytest.mark.parametrize("dir", ["outside", ".git", "..", "photos/../..", "a.jpg", "missing", "/etc", "photos\\x"])
def test_listing_refuses_folders_outside_hidden_or_missing(folder: Folder, dir: str) -> None:
    with pytest.raises(Problem) as caught:
        folder.listing(dir)
    assert caught.value.status == 404


def test_listing_thousands_of_files_opens_none_of_them(tmp_path: Path, monkeypatch) -> None:
    """What makes a listing of an archive quick is that no file in it is opened, read or stat-ed one by
    one: counted (tests/support/costs.py), not timed."""
    from tests.support.costs import Costs

    root = tmp_path / "archive"
    root.mkdir()
    for i in range(2000):
        os.close(os.open(root / f"scan-{i:05d}.bmp", os.O_CREAT | os.O_WRONLY, 0o644))
    costs = Costs(root, monkeypatch)
    folders, files = Folder(root).listing()
    assert len(files) == 2000 and files[0] == "scan-00000.bmp" and not folders
    assert costs.of("opens", "reads") == {"opens": 0, "reads": 0}
    assert costs["stats"] < 10  # the root's, a few; not one per file


def test_an_id_costs_one_lstat_per_segment_below_the_root(folder: Folder, monkeypatch) -> None:
    """Every request resolves its id: the root's own ancestors are not stat-ed again each time, and
    realpath (a stat per segment from /) runs only for a path that has a symlink below the root."""
    import imgserve.sources.folder

    stats, realpaths = [], []
    lstat, realpath = os.lstat, os.path.realpath
    folder_os = imgserve.sources.folder.os
    monkeypatch.setattr(folder_os, "lstat", lambda path, *a, **k: stats.append(path) or lstat(path, *a, **k))
    monkeypatch.setattr(folder_os.path, "realpath", lambda p, **k: realpaths.append(p) or realpath(p, **k))
    assert read(folder, "photos/2024/dune.png") == b"DUNE"
    assert [os.path.relpath(p, folder.root) for p in stats] == ["photos", "photos/2024", "photos/2024/dune.png"]
    assert realpaths == []
    assert read(folder, "alias.jpg") == b"A"
    assert len(realpaths) == 1
