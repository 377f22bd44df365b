"""Subject-aware cuts, trim, redaction and overlays through render(): where each landed in the decoded output."""

import cv2
import numpy as np
import pytest

from imgserve.errors import Problem
from imgserve.imaging import faces
from imgserve.imaging.pipeline import render
from imgserve.options import Options
from tests.support.images import astronaut, backdrop, decode, encode, kept, photo, psnr, scene

JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95]


def run(data, settings, **options) -> np.ndarray:
    rendered = render(data, Options(format="png", **options), settings)
    return decode(rendered.body)


def located(source: np.ndarray, output: np.ndarray) -> tuple[int, int, int, int]:
    """Where in `source` an output of a cover cut came from, found by template matching (independent
    of the code under test): the source is scaled as the output was, and the output slid over it."""
    scale = max(output.shape[0] / source.shape[0], output.shape[1] / source.shape[1])
    small = cv2.resize(source, (round(source.shape[1] * scale), round(source.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    scores = cv2.matchTemplate(small, output, cv2.TM_SQDIFF)
    _, _, (x, y), _ = cv2.minMaxLoc(scores)
    return round(x / scale), round(y / scale), round(output.shape[1] / scale), round(output.shape[0] / scale)


@pytest.mark.parametrize("box", [(60, 300, 260, 300), (1250, 250, 250, 380)])
@pytest.mark.parametrize("ext", [".png", ".jpg"])  # a JPEG is shrunk on load: the cut is found on fewer pixels
def test_gravity_smart_keeps_the_subject(settings, box, ext) -> None:
    source = scene(1600, 1000, box)
    output = run(encode(source, ext, JPEG), settings, w=200, h=300, fit="cover", gravity="smart")
    assert output.shape == (300, 200, 3)
    assert kept(box, located(source, output)) >= 0.95
    centre = run(encode(source, ext, JPEG), settings, w=200, h=300, fit="cover")
    assert kept(box, located(source, centre)) == 0.0  # the same request without smart loses it


@pytest.mark.parametrize("rotate, flip", [(90, ""), (180, "h"), (270, "v")])
def test_smart_is_decided_in_the_source_frame_whatever_the_rotation(settings, rotate, flip) -> None:
    box = (1250, 250, 250, 380)
    source = scene(1600, 1000, box)
    output = run(encode(source), settings, w=300, h=200, fit="cover", gravity="smart", rotate=rotate, flip=flip)
    unturned = cv2.flip(output, {"h": 1, "v": 0}[flip]) if flip else output
    unturned = cv2.rotate(unturned, {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
                                     270: cv2.ROTATE_90_CLOCKWISE}[rotate])
    assert kept(box, located(source, unturned)) >= 0.95


def test_smart_inside_a_crop_region_stays_inside_it(settings) -> None:
    box = (1250, 250, 250, 380)
    source = scene(1600, 1000, box)
    output = run(encode(source), settings, crop=(0, 0, 1000, 1000), w=100, h=200, fit="cover", gravity="smart")
    x, _, w, _ = located(source, output)
    assert x + w <= 1000 + 2


def test_gravity_face_keeps_the_face_that_smart_loses(settings) -> None:
    from tests.unit.test_attention import faces_scene

    source, face = faces_scene()
    by_face = run(encode(source, ".jpg", JPEG), settings, w=200, h=300, fit="cover", gravity="face")
    assert kept(face, located(source, by_face)) == 1.0
    by_smart = run(encode(source, ".jpg", JPEG), settings, w=200, h=300, fit="cover", gravity="smart")
    assert kept(face, located(source, by_smart)) == 0.0


def test_gravity_face_without_the_model_is_smart(settings, monkeypatch) -> None:
    from tests.unit.test_attention import faces_scene

    source, _ = faces_scene()
    smart = run(encode(source), settings, w=200, h=300, fit="cover", gravity="smart")
    monkeypatch.setattr(faces, "model", lambda: (_ for _ in ()).throw(faces.Unavailable("gone")))
    monkeypatch.setattr(faces, "_idle", [])
    assert np.array_equal(run(encode(source), settings, w=200, h=300, fit="cover", gravity="face"), smart)


def test_a_focal_point_keeps_what_is_there(settings) -> None:
    box = (1300, 40, 200, 200)
    source = scene(1600, 1000, box)
    output = run(encode(source), settings, w=100, h=100, fit="cover", gravity=(1400 / 1600, 140 / 1000))
    assert kept(box, located(source, output)) == 1.0


def test_dpr_multiplies_the_output(settings) -> None:
    assert run(encode(photo(800, 600)), settings, w=100, h=100, fit="cover", dpr=2.5).shape == (250, 250, 3)


# -- trim -------------------------------------------------------------------------------------------------

def page(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    sheet = np.full((height, width, 3), 248, np.uint8)
    x, y, w, h = box
    sheet[y:y + h, x:x + w] = photo(w, h, seed=7)
    return sheet


def test_trim_cuts_uniform_borders_before_resizing(settings) -> None:
    sheet = page(400, 300, (50, 30, 250, 200))
    output = run(encode(sheet), settings, trim=10)
    assert output.shape == (200, 250, 3) and np.array_equal(output, sheet[30:230, 50:300])
    small = run(encode(sheet), settings, trim=10, w=125)
    assert small.shape == (100, 125, 3)
    assert psnr(small, cv2.resize(sheet[30:230, 50:300], (125, 100), interpolation=cv2.INTER_AREA)) > 40


def test_trim_works_inside_the_crop_region_and_before_cover(settings) -> None:
    sheet = page(400, 300, (50, 30, 250, 200))
    output = run(encode(sheet), settings, crop=(0, 0, 200, 300), trim=10)
    assert np.array_equal(output, sheet[30:230, 50:200])
    covered = run(encode(sheet), settings, trim=10, w=100, h=100, fit="cover")
    assert covered.shape == (100, 100, 3)
    assert psnr(covered, cv2.resize(sheet[30:230, 75:275], (100, 100), interpolation=cv2.INTER_AREA)) > 35


def test_trim_of_a_blank_page_keeps_it(settings) -> None:
    assert run(encode(np.full((50, 80, 3), 255, np.uint8)), settings, trim=5).shape == (50, 80, 3)


def test_trim_on_a_shrunk_jpeg_decodes_again_when_the_content_needs_more_pixels(settings) -> None:
    """The header plan shrinks the decode 8x for a 4000 px sheet made 200 px wide; the content alone is
    1000 px, so 8x would leave 125 px to make 200 from. It is decoded again at 2x, and stays sharp."""
    sheet = page(4000, 3000, (1500, 1000, 1000, 800))
    output = run(encode(sheet, ".jpg", JPEG), settings, trim=20, w=200)
    assert output.shape[1] == 200 and abs(output.shape[0] - 160) <= 1   # borders found to the decoded pixel
    reference = cv2.resize(sheet[1000:1800, 1500:2500], (200, output.shape[0]), interpolation=cv2.INTER_AREA)
    assert psnr(output, reference) > 30


# -- redaction ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {}, {"w": 256}, {"w": 128}, {"w": 1024, "enlarge": True}, {"crop": (120, 0, 250, 250)},
    {"w": 200, "h": 200, "fit": "cover", "gravity": "face"}, {"rotate": 90, "w": 300},
])
def test_no_output_of_a_redacted_image_keeps_the_face(settings, options) -> None:
    data = encode(astronaut(), ".jpg", JPEG)
    plain = run(data, settings, **options)
    redacted = run(data, settings, redact="faces", **options)
    found = faces.detect(plain, faces.REDACT_SIZE)
    assert len(found) == 1, "the unredacted output shows the face: the check below means something"
    assert faces.detect(redacted, faces.REDACT_SIZE) == [] and faces.detect(redacted) == []
    x, y, w, h = found[0]
    assert psnr(redacted[y:y + h, x:x + w], plain[y:y + h, x:x + w]) < 22   # the face's detail is gone
    far = plain.copy()
    far[max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w] = redacted[max(0, y - h):y + 2 * h, max(0, x - w):x + 2 * w]
    assert psnr(redacted, far) > 45 or np.array_equal(redacted, far)   # the rest is as it was


def test_redaction_without_the_model_is_a_503_never_an_unredacted_image(settings, monkeypatch) -> None:
    monkeypatch.setattr(faces, "model", lambda: (_ for _ in ()).throw(faces.Unavailable("gone")))
    monkeypatch.setattr(faces, "_idle", [])
    with pytest.raises(Problem) as caught:
        render(encode(astronaut()), Options(redact="faces"), settings)
    assert caught.value.status == 503 and "redact=faces" in caught.value.detail


# -- overlay ------------------------------------------------------------------------------------------------

def test_the_overlay_is_composed_last_on_the_output(settings) -> None:
    mark = np.zeros((20, 40, 4), np.uint8)
    mark[:, :, 2], mark[:, :, 3] = 255, 255   # opaque red
    source = backdrop(400, 300)
    rendered = render(encode(source), Options(format="png", w=200, overlay="m", overlay_gravity="nw",
                                              overlay_margin=5, grayscale=True), settings, overlay=mark)
    output = decode(rendered.body)
    red = np.argwhere((output[:, :, 2] > 250) & (output[:, :, 0] < 5))
    assert red.min(axis=0).tolist() == [5, 5] and red.max(axis=0).tolist() == [24, 44]  # after grayscale: still red
