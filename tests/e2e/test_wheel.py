"""The package as a user gets it: `python -m build` makes the sdist and, from it, the wheel; the wheel
is installed (with the `client` extra) into a fresh venv that cannot see the checkout, and the
installed `imgserve serve` answers for the repo's sample images: the page, its assets and images.

This is the test that catches a template or static file missing from the package data, a dependency
that only the developer's venv happened to have, or an import that only works from the source tree.
It needs PyPI (build's isolated environment, the wheel's dependencies), as `.ci/run` itself does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgserve import DISTRIBUTION, __version__
from tests.support import REPO
from tests.support.http import free_port, request, start, stop
from tests.support.images import decode

pytestmark = pytest.mark.slow  # a build and an install: about 40 s

SAMPLES = REPO / "images"


def run(command: list, cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def checkout_copy(target: Path) -> Path:
    """The tracked files only, as a fresh clone has them: nothing from the developer's venv or egg-info."""
    names = run(["git", "ls-files", "-z"], REPO).split("\0")
    for name in filter(None, names):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


class Links(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs) -> None:
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with only the built wheel (and its dependencies) in it; returns its bin/ folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = checkout_copy(work / "source")
    run([sys.executable, "-m", "build", "--outdir", work / "dist", source], work)
    (sdist,) = (work / "dist").glob("*.tar.gz")
    (wheel,) = (work / "dist").glob("*.whl")
    assert wheel.name == f"{DISTRIBUTION.replace('-', '_')}-{__version__}-py3-none-any.whl"

    package_data = {p.relative_to(REPO).as_posix() for folder in ("templates", "static")
                    for p in (REPO / "imgserve" / "web" / folder).iterdir()}
    assert package_data and package_data <= set(zipfile.ZipFile(wheel).namelist())
    in_sdist = {name.partition("/")[2] for name in tarfile.open(sdist).getnames()}
    assert package_data | {"pyproject.toml", "README.md"} <= in_sdist

    venv = work / "venv"
    run([sys.executable, "-m", "venv", venv], work)
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", f"{wheel}[client]"], work, timeout=600)
    return venv / "bin"


def test_the_installed_wheel_does_not_use_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = run([installed / "python", "-c", "import imgserve; print(imgserve.__file__)"], tmp_path).strip()
    assert Path(where).is_relative_to(installed.parent) and not Path(where).is_relative_to(REPO), where
    assert run([installed / "imgserve", "--version"], tmp_path) == f"imgserve, version {__version__}\n"


def test_the_installed_server_serves_the_samples_and_the_page(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {"PYTHONPATH": str(tmp_path)}  # nothing from the developer's environment points at the checkout
    process = start([str(installed / "imgserve"), "serve", "--root", str(SAMPLES), "--port", str(port)], env, port,
                    tmp_path / "server.log")
    base = f"http://127.0.0.1:{port}"
    try:
        status, headers, body = request(base + "/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        urls = Links(body.decode()).urls
        assert "/?dir=photos" in urls and "/?image=sunset.jpg" in urls
        assets = [u for u in urls if u.startswith("/static/")]
        assert {u.split("?")[0].rsplit("/", 1)[1] for u in assets} >= {"page.css", "page.js", "favicon.svg"}
        for url in assets:
            status, headers, body = request(base + url)
            assert status == 200 and len(body) > 100, url
        thumbnail = next(u for u in urls if u.startswith("/image/sunset.jpg?"))
        assert decode(request(base + thumbnail)[2]).shape[1] <= 320

        status, headers, body = request(base + "/image/sunset.jpg?w=200&format=png")
        assert status == 200 and headers["Content-Type"] == "image/png"
        served = decode(body)
        with Image.open(SAMPLES / "sunset.jpg") as original:  # an independent decoder and resampler
            reference = np.asarray(original.convert("RGB").resize(served.shape[1::-1], Image.Resampling.BOX))
        assert float(np.abs(served[:, :, ::-1].astype(int) - reference).mean()) < 4

        code = ("import json, sys; from imgserve.client import Client; "
                f"image = Client({base!r}).get('photos/rotated.jpg', as_array=True, w=64); "
                "print(json.dumps(image.shape))")
        shape = json.loads(run([installed / "python", "-c", code], tmp_path))
        assert shape[1] == 64 or shape[0] == 64
    finally:
        stop(process)
