"""Fixtures: a tmp folder of generated originals, an app over it, its test client."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import cv2
import numpy as np
import pytest

from imgserve import create_app
from imgserve.settings import Settings
from tests.support.images import encode, photo, quadrants
from tests.support.origin import Origin

pytest_plugins = ["tests.support.required"]  # IMGSERVE_REQUIRE_ALL=1: a skip fails the run (CI)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A folder of originals: photo.jpg (320x240), quad.png (80x60), alpha.png (BGRA), sub/deep.bmp."""
    folder = tmp_path / "originals"
    (folder / "sub").mkdir(parents=True)
    (folder / "photo.jpg").write_bytes(encode(photo(), ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]))
    (folder / "quad.png").write_bytes(encode(quadrants()))
    alpha = np.dstack([quadrants(), np.full((60, 80), 128, np.uint8)])
    (folder / "alpha.png").write_bytes(encode(alpha))
    (folder / "sub" / "deep.bmp").write_bytes(encode(quadrants(40, 20), ".bmp"))
    return folder


@pytest.fixture
def settings(root: Path) -> Settings:
    return Settings.load({}, root=str(root))


@pytest.fixture
def app(root: Path):
    app = create_app({"root": str(root)})
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the defaults, not whatever IMGSERVE_* the developer has exported."""
    import os

    for name in [n for n in os.environ if n.startswith("IMGSERVE_")]:
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to this machine only: a connection to anything but 127.0.0.0/8 or ::1 fails the test
    (the refusal tests name private and metadata addresses, which must never be tried for real)."""
    real = socket.socket.connect

    def connect(self: socket.socket, address) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = str(address[0]).split("%")[0]
            if host != "localhost" and not ip_address(host).is_loopback:
                raise AssertionError(f"a test tried to connect to {address}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def origin() -> Iterator[Origin]:
    """A real HTTP server on loopback for /fetch to read from (tests/support/origin.py)."""
    with Origin() as server:
        yield server


@pytest.fixture
def fetch_client(root: Path, origin: Origin):
    """An app that may fetch from `origin` (and only from it), with short timeouts."""
    app = create_app({"root": str(root), "remote_allow": f"127.0.0.1:{origin.port}",
                      "remote_timeout": "1", "remote_connect_timeout": "0.5"})
    return app.test_client()
