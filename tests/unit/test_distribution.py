"""The distribution's name on PyPI: `imgserve` there is an unrelated 2009 project, so ours is
`imgserve-server` (the import package and the command stay `imgserve`), and every hint that tells a
user what to install must say so."""

import re
import subprocess
import sys
import tomllib

import pytest
from click.testing import CliRunner

from imgserve import DISTRIBUTION, __version__
from imgserve.cli import main
from imgserve.errors import Problem
from tests.support import REPO


def test_the_distribution_is_named_imgserve_server() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION == "imgserve-server"
    assert project["scripts"] == {"imgserve": "imgserve.cli:main"}
    assert {"client", "dask"} <= set(project["optional-dependencies"])


def test_version_is_read_from_the_installed_distribution() -> None:
    result = CliRunner().invoke(main, ["--version"], prog_name="imgserve")
    assert result.exit_code == 0, result.output
    assert result.output == f"imgserve, version {__version__}\n"


def test_no_install_hint_names_the_unrelated_project() -> None:
    """README.md is rewritten elsewhere; everything else that ships or documents must use the free name."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO}: {tracked.stderr}")
    wrong = re.compile(r"pip install ['\"]?imgserve(\[|['\"\s]|$)", re.M)
    found = [name for name in tracked.stdout.split()
             if name != "README.md" and name.endswith((".py", ".md", ".toml", ".cfg", ".html", ".js", "run"))
             and wrong.search((REPO / name).read_text(errors="replace"))]
    assert not found, f"these still say `pip install imgserve`: {found}"


def test_the_dask_hint_names_the_distribution(monkeypatch) -> None:
    from imgserve.batch.convert import dask_executor

    monkeypatch.setitem(sys.modules, "distributed", None)   # as on a machine without the extra
    with pytest.raises(Problem) as raised, dask_executor("tcp://127.0.0.1:1"):
        pass
    assert raised.value.detail == "--scheduler needs Dask: pip install 'imgserve-server[dask]'"


def test_the_client_hint_names_the_distribution() -> None:
    code = "import sys; sys.modules['requests'] = None; import imgserve.client"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "ImportError: imgserve.client needs requests: pip install 'imgserve-server[client]'" in result.stderr
