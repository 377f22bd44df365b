"""What a person sees when `imgserve` cannot start, or is started with a typo: one line per problem
that names the flag or the setting and what to do, never a traceback."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from imgserve.cli import main
from tests.support.http import free_port


def imgserve(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "imgserve", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def test_a_port_in_use_is_one_line_naming_the_flag_and_the_setting(root: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = imgserve("serve", "--root", str(root), "--port", str(port))
    assert result.returncode == 2
    assert result.stderr == f"Error: port {port} is in use; pass --port or set IMGSERVE_PORT\n"
    assert result.stdout == ""


def test_an_address_not_of_this_machine_is_one_line(root: Path) -> None:
    result = imgserve("serve", "--root", str(root), "--host", "192.0.2.1", "--port", str(free_port()))
    assert result.returncode == 2
    assert result.stderr == ("Error: 192.0.2.1 is not an address of this machine; pass --host or set IMGSERVE_HOST "
                             "(127.0.0.1 for this machine only, 0.0.0.0 for every interface)\n")


def test_an_invalid_preset_is_one_line_not_a_traceback(root: Path) -> None:
    result = imgserve("serve", "--root", str(root), "--port", str(free_port()),
                      env={"IMGSERVE_PRESETS": "thumb:w=300;huge:w=99999"})
    assert result.returncode == 2
    assert result.stderr == "Error: IMGSERVE_PRESETS: preset 'huge': w: must be from 1 to 8192, got 99999\n"


def test_a_manifest_with_a_bad_row_is_one_line(root: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "ids.csv"
    manifest.write_text("id,path\nA1,quad.png\nA2\n")
    result = imgserve("serve", "--root", str(root), "--port", str(free_port()), "--manifest", str(manifest))
    assert result.returncode == 2
    assert result.stderr == f"Error: IMGSERVE_MANIFEST: {manifest}:3: expected `id,path`, got ['A2']\n"


def test_every_bad_setting_gets_its_own_line(tmp_path: Path) -> None:
    result = imgserve("serve", "--port", "http", "--max-pixels", "lots", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: IMGSERVE_PORT: expected a whole number, got 'http'",
        "Error: IMGSERVE_MAX_PIXELS: expected a whole number, got 'lots'",
        f"Error: IMGSERVE_ROOT: 'images' is not a readable folder (looked for {tmp_path / 'images'}); pass --root "
        "or set IMGSERVE_ROOT to the folder of your originals"]


def test_presets_only_without_presets_does_not_start(root: Path) -> None:
    result = imgserve("serve", "--root", str(root), "--port", str(free_port()), env={"IMGSERVE_PRESETS_ONLY": "1"})
    assert result.returncode == 2
    assert result.stderr == ("Error: IMGSERVE_PRESETS_ONLY: 1 refuses every URL without a preset, and IMGSERVE_PRESETS "
                             "defines none: define some (thumb:w=300&h=300&fit=cover;...) or set it to 0\n")


def test_misspelt_variables_are_warned_about_by_every_command(root: Path) -> None:
    env = {"IMGSERVE_MAX_DIMENSON": "100", "IMGSERVE_PROT": "9000", "IMGSERVE_ROOT": str(root)}
    for command in (["settings"], ["sign", "/image/quad.png", "--key", "k" * 16]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 0, result.output
        assert result.stderr.splitlines() == [
            "Warning: IMGSERVE_MAX_DIMENSON is not a setting and is ignored; did you mean IMGSERVE_MAX_DIMENSION?",
            "Warning: IMGSERVE_PROT is not a setting and is ignored; did you mean IMGSERVE_PORT?"]


def test_the_app_made_from_the_environment_logs_the_warning(root: Path, monkeypatch, caplog) -> None:
    """Under `waitress-serve --call imgserve:create_app` there is no CLI to print it."""
    from imgserve import create_app

    monkeypatch.setenv("IMGSERVE_ROOT", str(root))
    monkeypatch.setenv("IMGSERVE_PROT", "9000")
    with caplog.at_level(logging.WARNING, logger="imgserve"):
        create_app()
    assert [r.getMessage() for r in caplog.records if r.name == "imgserve"] == [
        "IMGSERVE_PROT is not a setting and is ignored; did you mean IMGSERVE_PORT?"]


def test_settings_works_anywhere_and_marks_what_is_invalid(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)   # no images/ here: the default root is missing
    env = {"IMGSERVE_PORT": "http", "IMGSERVE_SIGNING_KEYS": "short-secret", "IMGSERVE_PRESETS": "t:w=0",
           "IMGSERVE_CACHE_BYTES": "0"}
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "IMGSERVE_PORT=http  <- INVALID: expected a whole number, got 'http'" in lines
    assert (f"IMGSERVE_ROOT=images  <- INVALID: 'images' is not a readable folder (looked for {tmp_path / 'images'}); "
            "pass --root or set IMGSERVE_ROOT to the folder of your originals") in lines
    assert "IMGSERVE_SIGNING_KEYS=(not shown)  <- INVALID: each key must be at least 16 characters" in lines
    assert "IMGSERVE_PRESETS=t:w=0  <- INVALID: preset 't': w: must be from 1 to 8192, got 0" in lines
    assert "IMGSERVE_CACHE_BYTES=0" in lines and "IMGSERVE_MAX_PIXELS=100000000" in lines  # the valid ones too
    assert "short-secret" not in result.output
    assert result.stderr == ("4 invalid (marked INVALID above): IMGSERVE_PORT, IMGSERVE_SIGNING_KEYS, IMGSERVE_ROOT, "
                             "IMGSERVE_PRESETS; `imgserve serve` would not start\n")
    fine = CliRunner().invoke(main, ["settings", "--root", str(tmp_path)])
    assert fine.exit_code == 0 and fine.stderr == "" and "INVALID" not in fine.stdout
