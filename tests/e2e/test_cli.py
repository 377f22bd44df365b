from pathlib import Path

from click.testing import CliRunner

from imgserve.cli import main


def test_settings_lists_every_setting_with_flags_applied(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["settings", "--root", str(tmp_path), "--port", "9999"])
    assert result.exit_code == 0, result.output
    assert f"IMGSERVE_ROOT={tmp_path}" in result.output
    assert "IMGSERVE_PORT=9999" in result.output
    assert "IMGSERVE_MAX_PIXELS=100000000" in result.output


def test_settings_reads_the_environment(tmp_path: Path) -> None:
    env = {"IMGSERVE_ROOT": str(tmp_path), "IMGSERVE_CACHE_BYTES": "0"}
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert "IMGSERVE_CACHE_BYTES=0" in result.output


def test_invalid_setting_stops_with_a_message_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--root", str(tmp_path), "--max-pixels", "lots"])
    assert result.exit_code == 2
    assert "IMGSERVE_MAX_PIXELS: expected a whole number, got 'lots'" in result.output
    result = CliRunner().invoke(main, ["serve", "--root", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "IMGSERVE_ROOT" in result.output


def test_every_setting_is_a_serve_flag() -> None:
    help = CliRunner().invoke(main, ["serve", "--help"]).output
    for flag in ("--root", "--manifest", "--host", "--port", "--threads", "--cache-bytes", "--max-dimension",
                 "--max-pixels", "--max-source-bytes"):
        assert flag in help


def test_serve_keeps_request_bodies_in_memory_and_bounded(tmp_path: Path) -> None:
    """waitress spools request bodies over `inbuf_overflow` (512 KB by default), and unsent responses over
    `outbuf_overflow` (1 MB), to temporary files."""
    from imgserve.server.runner import waitress_options
    from imgserve.settings import Settings

    seen = waitress_options(Settings.load({}, root=str(tmp_path), max_body_bytes="1000000"))
    assert seen["max_request_body_size"] == 2000000 and seen["inbuf_overflow"] > 2000000
    assert seen["outbuf_overflow"] >= 2**40


def test_info_and_sign_work_outside_a_folder_of_originals(tmp_path: Path, monkeypatch) -> None:
    """Neither reads the image root, so a missing `images/` (the default root) must not stop them."""
    import cv2
    import numpy as np

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMGSERVE_ROOT", raising=False)
    (tmp_path / "a.png").write_bytes(cv2.imencode(".png", np.zeros((3, 5, 3), np.uint8))[1].tobytes())
    info = CliRunner().invoke(main, ["info", "a.png"])
    assert info.exit_code == 0, info.output
    assert '"width": 5' in info.output and '"height": 3' in info.output
    signed = CliRunner().invoke(main, ["sign", "/image/a.png?w=3"], env={"IMGSERVE_SIGNING_KEYS": "k" * 16})
    assert signed.exit_code == 0, signed.output
    assert signed.output.startswith("/image/a.png?w=3&s=")


def test_sign_prints_a_url_a_browser_sends_as_is_and_the_server_accepts(root: Path) -> None:
    """A raw space (or a non-ASCII letter) in the printed URL is not a URL: curl and browsers encode it
    their own way, or refuse it."""
    from imgserve import create_app
    from tests.support.images import decode, encode, quadrants

    key = "k" * 32
    (root / "my photo é.png").write_bytes(encode(quadrants()))
    (root / "100%.png").write_bytes(encode(quadrants()))
    client = create_app({"root": str(root), "signing_keys": key}).test_client()
    for typed, printed in [("/image/my photo é.png?w=20", "/image/my%20photo%20%C3%A9.png?w=20&s="),
                           ("/image/my%20photo%20%C3%A9.png?w=20", "/image/my%20photo%20%C3%A9.png?w=20&s="),
                           ("/image/100%25.png?w=20", "/image/100%25.png?w=20&s=")]:
        result = CliRunner().invoke(main, ["sign", typed, "--key", key])
        assert result.exit_code == 0, result.output
        url = result.stdout.strip()
        assert url.startswith(printed) and url.isascii() and " " not in url, url
        response = client.get(url)
        assert response.status_code == 200, (typed, response.get_data(as_text=True))
        assert decode(response.data).shape == (15, 20, 3)


def test_options_lists_the_registry_with_the_bounds_in_effect(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no folder of originals needed
    result = CliRunner().invoke(main, ["options"], env={"IMGSERVE_MAX_DIMENSION": "2000"})
    assert result.exit_code == 0, result.output
    assert "w: whole number from 1 to 2000 (the setting IMGSERVE_MAX_DIMENSION) [default: unset]" in result.output
    assert "fit: contain, cover, fill, pad [default: contain]" in result.output


def test_options_update_rewrites_only_the_marked_table(tmp_path: Path) -> None:
    from imgserve import options

    page = tmp_path / "url-api.md"
    start, end = options.MARKERS
    page.write_text(f"# URL API\n\n{start}\n| stale |\n{end}\n\nmore prose\n")
    result = CliRunner().invoke(main, ["options", "--update", str(page)])
    assert result.exit_code == 0, result.output
    assert page.read_text() == f"# URL API\n\n{start}\n{options.markdown()}{end}\n\nmore prose\n"
    assert CliRunner().invoke(main, ["options", "--markdown"]).output == options.markdown()
    page.write_text("no markers")
    result = CliRunner().invoke(main, ["options", "--update", str(page)])
    assert result.exit_code == 2 and "options:start" in result.output and page.read_text() == "no markers"
