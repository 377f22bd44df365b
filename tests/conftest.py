"""Fixtures: a tmp folder of generated originals, an app over it, its test client."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from imgserve import create_app
from imgserve.settings import Settings
from tests.images import encode, photo, quadrants


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
