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


def test_docs_settings_page_is_current() -> None:
    """docs/settings.md is generated from the table: run `imgserve settings --markdown > docs/settings.md`."""
    from imgserve.settings import markdown

    page = REPO / "docs" / "settings.md"
    assert page.read_text() == markdown(), "docs/settings.md is stale: imgserve settings --markdown > docs/settings.md"


def test_every_setting_has_a_known_group() -> None:
    from dataclasses import fields

    from imgserve.settings import GROUPS

    assert {f.metadata["group"] for f in fields(Settings)} == set(GROUPS)


def test_every_setting_that_cannot_be_used_is_named_on_a_line_of_its_own(tmp_path: Path) -> None:
    env = {"IMGSERVE_PORT": "http", "IMGSERVE_ROOT": str(tmp_path / "nope"), "IMGSERVE_CACHE_BYTES": "lots"}
    with pytest.raises(SettingsError) as raised:
        Settings.load(env)
    assert str(raised.value).splitlines() == [
        "IMGSERVE_PORT: expected a whole number, got 'http'",
        "IMGSERVE_CACHE_BYTES: expected a whole number, got 'lots'",
        f"IMGSERVE_ROOT: '{tmp_path / 'nope'}' is not a readable folder; pass --root or set IMGSERVE_ROOT to the "
        "folder of your originals"]


def test_read_returns_what_is_wrong_instead_of_raising(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings, invalid = Settings.read({"IMGSERVE_PORT": "70000", "IMGSERVE_MAX_PIXELS": "5"})
    assert settings.port == 8080 and settings.max_pixels == 5          # the invalid one keeps its default
    assert invalid == {
        "port": ("70000", "must be between 0 and 65535, got 70000"),
        "root": (Path("images"), f"'images' is not a readable folder (looked for {tmp_path / 'images'}); pass --root "
                                 "or set IMGSERVE_ROOT to the folder of your originals")}


@pytest.mark.parametrize("variable, warning", [
    ("IMGSERVE_PROT", "IMGSERVE_PROT is not a setting and is ignored; did you mean IMGSERVE_PORT?"),
    ("IMGSERVE_MAX_DIMENSON", "IMGSERVE_MAX_DIMENSON is not a setting and is ignored; did you mean "
                              "IMGSERVE_MAX_DIMENSION?"),
    ("IMGSERVE_SINGING_KEYS", "IMGSERVE_SINGING_KEYS is not a setting and is ignored; did you mean "
                              "IMGSERVE_SIGNING_KEYS?"),
    ("IMGSERVE_THREAD", "IMGSERVE_THREAD is not a setting and is ignored; did you mean IMGSERVE_THREADS?"),
    ("imgserve_root", "imgserve_root is not a setting and is ignored; did you mean IMGSERVE_ROOT?"),
    ("IMGSERVE_COLOUR", "IMGSERVE_COLOUR is not a setting and is ignored; `imgserve settings` lists the settings"),
])
def test_unknown_variables_are_named_with_the_closest_setting(variable: str, warning: str) -> None:
    from imgserve.settings import unknown_variables

    assert unknown_variables({variable: "1", "IMGSERVE_PORT": "9000", "HOME": "/root"}) == [warning]


@pytest.mark.parametrize(("affinity", "cpu_max", "cores"), [
    (8, None, 8),                  # no cgroup v2: the affinity mask
    (8, "max 100000\n", 8),        # a cgroup without a quota
    (64, "200000 100000\n", 2),    # docker --cpus=2 on a 64-core host
    (64, "150000 100000\n", 2),    # --cpus=1.5: rounded up
    (64, "50000 100000\n", 1),
    (2, "800000 100000\n", 2),     # taskset to 2 CPUs under a larger quota
    (4, "100000 0\n", 4),          # nonsense: ignored
    (0, None, 1),
])
def test_cores_are_the_cpus_this_process_may_use(affinity, cpu_max, cores) -> None:
    """A render slot per core: counting the host's CPUs inside a small container would decode that many
    images at once in that container's memory."""
    from imgserve.settings import available_cores

    assert available_cores(affinity, cpu_max) == cores
