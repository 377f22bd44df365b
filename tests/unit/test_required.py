"""CI cannot pass with a skipped test: IMGSERVE_REQUIRE_ALL=1 turns every skip into a failure that
says what was missing (tests/support/required.py). Checked on a throwaway suite, run as CI runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

SUITE = {
    "test_needs.py": '''
import pytest

def test_runs():
    pass

def test_needs_a_browser():
    pytest.skip("no Chromium at /usr/bin/chromium: `apt-get install chromium`")

@pytest.mark.skipif(True, reason="openssl is needed to make a test certificate: `apt-get install openssl`")
def test_needs_openssl():
    pass

@pytest.mark.xfail(reason="a known bug, not a skip")
def test_known_bug():
    assert False
''',
    "test_module_needs.py": '''
import pytest
pytest.importorskip("no_such_module_for_imgserve", reason="pip install 'imgserve-server[test]'")

def test_never_collected():
    pass
''',
}


def run(tmp_path: Path, files: list[str], require: bool) -> subprocess.CompletedProcess:
    for name in files:
        (tmp_path / name).write_text(SUITE[name])
    env = {k: v for k, v in os.environ.items() if k != "IMGSERVE_REQUIRE_ALL"}
    if require:
        env["IMGSERVE_REQUIRE_ALL"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "tests.support.required", "-rA", *(str(tmp_path / f) for f in files)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def test_without_the_variable_skips_stay_skips(tmp_path: Path) -> None:
    result = run(tmp_path, ["test_needs.py"], require=False)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout


def test_in_ci_a_skip_fails_and_says_what_to_install(tmp_path: Path) -> None:
    result = run(tmp_path, ["test_needs.py"], require=True)
    assert result.returncode == 1, result.stdout
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("1 failed, 1 passed, 1 xfailed, 1 error in "), summary  # a skipif fails in setup
    assert "`apt-get install chromium`" in result.stdout and "`apt-get install openssl`" in result.stdout
    assert "IMGSERVE_REQUIRE_ALL=1 (set by .ci/run) allows no skip" in result.stdout


def test_in_ci_a_module_that_skips_at_import_fails_the_run(tmp_path: Path) -> None:
    result = run(tmp_path, ["test_module_needs.py"], require=True)
    assert result.returncode != 0 and "pip install 'imgserve-server[test]'" in result.stdout, result.stdout


def test_ci_sets_the_variable() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert "IMGSERVE_REQUIRE_ALL=1" in script
