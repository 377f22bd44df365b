from pathlib import Path

import pytest

from imgserve.settings import Settings, SettingsError
from tests.support import REPO


def test_defaults_match_the_contract(tmp_path: Path) -> None:
    s = Settings.load({}, root=str(tmp_path))
    assert (s.host, s.port, s.max_dimension, s.max_pixels) == ("127.0.0.1", 8080, 8192, 100_000_000)
    assert s.cache_bytes == 256 * 1024 * 1024
    assert s.threads >= 4


def test_environment_is_read_and_overrides_win(tmp_path: Path) -> None:
    env = {"IMGSERVE_ROOT": str(tmp_path), "IMGSERVE_PORT": "9000", "IMGSERVE_CACHE_BYTES": "0"}
    s = Settings.load(env)
    assert (s.root, s.port, s.cache_bytes) == (tmp_path, 9000, 0)
    assert Settings.load(env, port="9100").port == 9100


@pytest.mark.parametrize("name, value, message", [
    ("IMGSERVE_PORT", "http", "IMGSERVE_PORT: expected a whole number"),
    ("IMGSERVE_PORT", "70000", "IMGSERVE_PORT: must be between 0 and 65535"),
    ("IMGSERVE_MAX_PIXELS", "1_000", "IMGSERVE_MAX_PIXELS: expected a whole number"),
    ("IMGSERVE_MAX_PIXELS", "١٢", "IMGSERVE_MAX_PIXELS: expected a whole number"),
    ("IMGSERVE_THREADS", "20000", "IMGSERVE_THREADS: must be between 0 and 10000"),
    ("IMGSERVE_QUEUE_WAIT", "soon", "IMGSERVE_QUEUE_WAIT: expected a number"),
    ("IMGSERVE_MAX_DIMENSION", "-5", "IMGSERVE_MAX_DIMENSION: expected a whole number"),
    ("IMGSERVE_HOST", "  ", "IMGSERVE_HOST: must not be empty"),
    ("IMGSERVE_LOG_FORMAT", "xml", "IMGSERVE_LOG_FORMAT: expected one of plain, json"),
])
def test_invalid_values_name_the_setting(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.load({"IMGSERVE_ROOT": str(tmp_path), name: value})


def test_missing_root_and_manifest_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="IMGSERVE_ROOT"):
        Settings.load({"IMGSERVE_ROOT": str(tmp_path / "nope")})
    with pytest.raises(SettingsError, match="IMGSERVE_MANIFEST"):
        Settings.load({"IMGSERVE_ROOT": str(tmp_path), "IMGSERVE_MANIFEST": str(tmp_path / "m.csv")})


def test_unknown_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.load({}, root=str(tmp_path), colour="blue")


def test_rows_list_every_setting_with_its_variable(tmp_path: Path) -> None:
    rows = Settings.load({}, root=str(tmp_path)).rows()
    names = [name for name, _, _ in rows]
    assert "IMGSERVE_ROOT" in names and "IMGSERVE_MAX_PIXELS" in names
    assert all(help for _, _, help in rows)



def test_readme_documents_every_setting() -> None:
    """In the README, or in the docs page of its topic (docs/settings.md is generated, so it does not count)."""
    prose = (REPO / "README.md").read_text() + "".join(
        page.read_text() for page in (REPO / "docs").glob("*.md") if page.name != "settings.md")
    from dataclasses import fields

    for f in fields(Settings):
        assert f"IMGSERVE_{f.name.upper()}" in prose, f.name


def test_docs_settings_page_is_current() -> None:
    """docs/settings.md is generated from the table: run `imgserve settings --markdown > docs/settings.md`."""
    from imgserve.settings import markdown

    page = REPO / "docs" / "settings.md"
    assert page.read_text() == markdown(), "docs/settings.md is stale: imgserve settings --markdown > docs/settings.md"


def test_every_setting_has_a_known_group() -> None:
    from dataclasses import fields

    from imgserve.settings import GROUPS

    assert {f.metadata["group"] for f in fields(Settings)} == set(GROUPS)
