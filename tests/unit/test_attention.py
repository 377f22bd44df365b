"""gravity=smart and gravity=face: where the cut goes, on scenes whose subject box is known."""

import time

import cv2
import numpy as np
import pytest

from imgserve.imaging import attention, faces
from tests.support.images import astronaut, backdrop, kept, scene


def centred(width: int, height: int, cut_w: int, cut_h: int) -> tuple[int, int, int, int]:
    return (width - cut_w) // 2, (height - cut_h) // 2, cut_w, cut_h


@pytest.mark.parametrize("box", [(60, 300, 260, 300), (1250, 250, 250, 380), (100, 500, 300, 250),
                                 (1300, 40, 200, 200), (700, 350, 200, 250)])
@pytest.mark.parametrize("aspect", [1.0, 2 / 3, 0.4])
def test_smart_keeps_an_off_centre_subject(box, aspect) -> None:
    width, height = 1600, 1000
    image = scene(width, height, box, seed=box[0])
    cut_w, cut_h = round(height * aspect), height
    x, y = attention.place(image, (cut_w, cut_h))
    assert 0 <= x <= width - cut_w and y == 0
    assert kept(box, (x, y, cut_w, cut_h)) >= 0.95 if box[2] <= cut_w else kept(box, (x, y, cut_w, cut_h)) > 0.8


def test_the_centre_would_have_lost_those_subjects() -> None:
    """The scenes above are a test that can fail: a centred cut keeps little of an off-centre subject."""
    box = (60, 300, 260, 300)
    assert kept(box, centred(1600, 1000, 667, 1000)) == 0.0


def test_a_vertical_cut_follows_the_subject_too() -> None:
    box = (200, 1200, 500, 300)  # a portrait source, subject near the bottom
    image = scene(900, 1600, box)
    x, y = attention.place(image, (900, 600))
    assert x == 0 and kept(box, (x, y, 900, 600)) == 1.0


def test_a_subject_is_centred_when_the_cut_has_room_around_it() -> None:
    box = (1000, 400, 100, 100)
    x, _ = attention.place(scene(1600, 1000, box), (600, 1000))
    assert abs((x + 300) - 1050) < 60  # its centre near the cut's, not pushed against an edge


def test_nothing_salient_stays_in_the_centre() -> None:
    flat = np.full((500, 1000, 3), 128, np.uint8)
    assert attention.place(flat, (500, 500)) == (250, 0)


@pytest.mark.parametrize("shape", [(1, 3000, 3), (3000, 1, 3), (5, 7, 3), (300, 301, 3), (240, 320), (240, 320, 4)])
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_the_cut_always_lies_inside(shape, fraction) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    height, width = shape[:2]
    cut = (max(1, round(width * fraction)), height)
    x, y = attention.place(image, cut)
    assert 0 <= x <= width - cut[0] and y == 0


@pytest.mark.parametrize("dtype, top", [(np.uint16, 65535), (np.float32, 1.0)])
def test_deep_images_give_the_same_cut_as_8_bit(dtype, top) -> None:
    image = scene(1600, 1000, (1250, 250, 250, 380))
    deep = (image.astype(np.float64) / 255 * top).astype(dtype)
    assert attention.place(deep, (667, 1000)) == attention.place(image, (667, 1000))


def test_smart_costs_the_same_for_any_source_size() -> None:
    """The map is made on a copy of at most SMALL pixels: a 24 MP source costs the shrink, not more."""
    image = cv2.resize(scene(1600, 1000, (1250, 250, 250, 380)), (6000, 4000))
    attention.place(image, (2667, 4000))
    started = time.thread_time()
    attention.place(image, (2667, 4000))
    assert time.thread_time() - started < 0.25


def faces_scene() -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The astronaut's head at the left of a wide frame, and something busier at its right (her suit,
    helmet and the flag, without her face): smart alone goes for that; face must keep the face."""
    image = backdrop(2000, 512)
    image[150:370, 100:310] = astronaut()[20:240, 120:330]
    busy = cv2.resize(astronaut()[260:512], None, fx=1.5, fy=1.5)[:, :700]
    image[:busy.shape[0], 1200:1900] = busy
    (x, y, w, h), = faces.detect(astronaut()[20:240, 120:330])
    return image, (x + 100, y + 150, w, h)


def test_face_placement_keeps_the_face_that_smart_would_lose() -> None:
    image, face = faces_scene()
    found = faces.detect(image)
    assert len(found) == 1 and kept(face, found[0] + ()) > 0.7
    by_face = attention.place(image, (341, 512), found)
    assert kept(face, (*by_face, 341, 512)) == 1.0
    by_smart = attention.place(image, (341, 512))
    assert kept(face, (*by_smart, 341, 512)) == 0.0  # the test can fail: smart alone chose the board


def test_all_faces_are_kept_when_they_fit() -> None:
    image = backdrop(2400, 512)
    for left in (300, 900):
        image[:, left:left + 512] = astronaut()
    found = faces.detect(image)
    assert len(found) == 2
    x, y = attention.place(image, (1300, 512), found)
    assert all(kept(face, (x, y, 1300, 512)) == 1.0 for face in found)
