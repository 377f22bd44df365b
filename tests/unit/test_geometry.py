"""Resize geometry: every fit mode, with exact sizes and boxes, for a 400x300 source unless stated."""

import pytest

from imgserve.errors import Problem
from imgserve.imaging.geometry import plan
from imgserve.options import Options

O = Options


@pytest.mark.parametrize("options, crop, resize, pad", [
    (O(), None, (400, 300), None),
    (O(w=200), None, (200, 150), None),
    (O(h=150), None, (200, 150), None),
    (O(w=200, h=200), None, (200, 150), None),                        # contain
    (O(w=200, h=200, fit="fill"), None, (200, 200), None),
    (O(w=200, h=200, fit="cover"), (50, 0, 300, 300), (200, 200), None),
    (O(w=200, h=200, fit="cover", gravity="west"), (0, 0, 300, 300), (200, 200), None),
    (O(w=200, h=200, fit="cover", gravity="se"), (100, 0, 300, 300), (200, 200), None),
    (O(w=400, h=100, fit="cover", gravity="north"), (0, 0, 400, 100), (400, 100), None),
    (O(w=400, h=100, fit="cover", gravity="south"), (0, 200, 400, 100), (400, 100), None),
    (O(w=100, h=300, fit="cover"), (150, 0, 100, 300), (100, 300), None),    # no enlarge: crop only
    (O(w=200, h=200, fit="pad"), None, (200, 150), (0, -25, 200, 200)),
    (O(w=200, h=200, fit="pad", gravity="north"), None, (200, 150), (0, 0, 200, 200)),
    (O(w=200, h=200, fit="pad", gravity="south"), None, (200, 150), (0, -50, 200, 200)),
    (O(w=800, h=800, fit="pad"), None, (400, 300), (-200, -250, 800, 800)),  # pad never enlarges
    (O(w=200, fit="cover"), None, (200, 150), None),                 # one side: behaves as contain
    (O(w=200, fit="pad"), None, (200, 150), None),
    (O(w=800), None, (400, 300), None),                              # no enlarging by default
    (O(w=800, enlarge=True), None, (800, 600), None),
    (O(w=800, h=800, fit="fill"), None, (400, 300), None),
    (O(w=800, h=200, fit="fill"), None, (400, 200), None),
    (O(w=800, h=800, fit="fill", enlarge=True), None, (800, 800), None),
    (O(w=800, h=800, fit="cover", enlarge=True), (50, 0, 300, 300), (800, 800), None),
    (O(scale=0.5), None, (200, 150), None),
    (O(scale=0.001), None, (1, 1), None),
    (O(w=1), None, (1, 1), None),                                    # never a zero side
    (O(crop=(100, 50, 200, 100)), (100, 50, 200, 100), (200, 100), None),
    (O(crop=(100, 50, 200, 100), w=100), (100, 50, 200, 100), (100, 50), None),
    (O(crop=(300, 200, 500, 500)), (300, 200, 100, 100), (100, 100), None),  # clipped to the source
    (O(crop=(0, 0, 400, 300)), None, (400, 300), None),              # the whole image is no crop
    (O(rotate=90, w=150), None, (150, 200), None),
    (O(rotate=180, w=200), None, (200, 150), None),
    (O(rotate=270, h=200), None, (150, 200), None),
    (O(rotate=90, w=100, h=100, fit="cover"), (50, 0, 300, 300), (100, 100), None),
    (O(rotate=90, w=100, h=100, fit="cover", gravity="north"), (0, 0, 300, 300), (100, 100), None),
    (O(rotate=270, w=100, h=100, fit="cover", gravity="north"), (100, 0, 300, 300), (100, 100), None),
    (O(flip="h", w=100, h=100, fit="cover", gravity="west"), (100, 0, 300, 300), (100, 100), None),
    (O(crop=(100, 0, 300, 300), w=100, h=50, fit="cover"), (100, 75, 300, 150), (100, 50), None),
])
def test_plan(options: Options, crop, resize, pad) -> None:
    p = plan(400, 300, options, 8192)
    assert (p.crop, p.resize, p.pad) == (crop, resize, pad)
    expected_size = pad[2:] if pad else resize
    assert p.size == expected_size


def test_exact_box_for_every_fit_when_both_sides_are_given() -> None:
    for fit in ("cover", "fill", "pad"):
        for w, h in ((123, 45), (45, 123), (399, 299), (7, 300)):
            assert plan(400, 300, O(w=w, h=h, fit=fit), 8192).size == (w, h), (fit, w, h)


@pytest.mark.parametrize("width, height", [(400, 300), (333, 777), (4000, 3), (3, 4000), (1, 1)])
def test_contain_stays_inside_the_box_and_touches_it(width: int, height: int) -> None:
    for w, h in ((100, 100), (50, 200), (1, 1)):
        out = plan(width, height, O(w=w, h=h), 8192).size
        assert out[0] <= w and out[1] <= h
        assert out[0] == min(w, width) or out[1] == min(h, height)


def test_cover_of_an_extreme_aspect_never_plans_a_huge_intermediate() -> None:
    p = plan(1, 1000, O(w=8192, h=1, fit="cover", enlarge=True), 8192)
    assert p.resize == (8192, 1)
    assert p.crop == (0, 500, 1, 1) or p.crop[3] == 1


def test_largest_side_is_clamped_to_max_dimension() -> None:
    assert plan(5000, 100, O(), 1000).size == (1000, 20)
    assert plan(100, 50, O(w=1000, enlarge=True), 800).size == (800, 400)


def test_crop_outside_the_source_is_a_400() -> None:
    with pytest.raises(Problem, match="crop: the region 400,0,10,10 lies outside the 400x300 source"):
        plan(400, 300, O(crop=(400, 0, 10, 10)), 8192)


@pytest.mark.parametrize("options, shrink", [
    (O(w=333), 8),            # 4000/8 = 500 >= 1.5 x 333 and 375 >= 1.5 x 250
    (O(w=334), 4),            # 500 < 1.5 x 334: 1/4 leaves 1000
    (O(w=666), 4),
    (O(w=667), 2),
    (O(w=1333), 2),
    (O(w=1334), 1),
    (O(), 1),
    (O(w=250, h=250, fit="cover"), 8),   # the cut is 3000x3000: 375 >= 375
    (O(w=251, h=251, fit="cover"), 4),
    (O(crop=(0, 0, 1000, 1000), w=83), 8),
    (O(crop=(0, 0, 1000, 1000), w=84), 4),
    (O(rotate=90, w=250), 8),            # output 250x333 is 333x250 before turning: 500 >= 499.5
    (O(rotate=90, w=251), 4),
    (O(scale=0.08), 8),
    (O(scale=0.09), 4),
])
def test_shrink_on_load_leaves_at_least_one_and_a_half_times_the_output(options: Options, shrink: int) -> None:
    assert plan(4000, 3000, options, 8192, shrinkable=True).shrink == shrink
    assert plan(4000, 3000, options, 8192, shrinkable=False).shrink == 1


@pytest.mark.parametrize("options, crop", [
    (O(w=200, h=200, fit="cover", gravity=(0.9, 0.5)), (100, 0, 300, 300)),   # the point's side, kept inside
    (O(w=200, h=200, fit="cover", gravity=(0.5, 0.5)), (50, 0, 300, 300)),
    (O(w=200, h=200, fit="cover", gravity=(0.3, 0.0)), (0, 0, 300, 300)),
    (O(w=200, h=200, fit="cover", gravity=(0.45, 0.0)), (30, 0, 300, 300)),   # 180 - 150
    (O(w=400, h=100, fit="cover", gravity=(0.5, 0.6)), (0, 130, 400, 100)),   # 180 - 50
    # the point is in the source's frame: rotating the output does not move it off the subject
    (O(w=200, h=200, fit="cover", rotate=90, gravity=(0.45, 0.0)), (30, 0, 300, 300)),
    (O(w=100, h=100, fit="cover", flip="h", gravity=(0.9, 0.5)), (100, 0, 300, 300)),
    # a crop region first: the cut stays inside it
    (O(crop=(0, 0, 200, 300), w=100, h=100, fit="cover", gravity=(0.9, 0.5)), (0, 50, 200, 200)),
])
def test_a_focal_point_centres_the_cut_on_it(options: Options, crop) -> None:
    assert plan(400, 300, options, 8192).crop == crop


def test_a_focal_point_places_a_padded_image_like_an_anchor() -> None:
    assert plan(400, 300, O(w=200, h=200, fit="pad", gravity=(0.5, 0.0)), 8192).pad == (0, 0, 200, 200)
    assert plan(400, 300, O(w=200, h=200, fit="pad", gravity=(0.5, 1.0)), 8192).pad == (0, -50, 200, 200)


@pytest.mark.parametrize("gravity", ["smart", "face"])
def test_smart_gravities_plan_a_centred_cut_free_to_move_in_the_region(gravity: str) -> None:
    planned = plan(400, 300, O(w=200, h=200, fit="cover", gravity=gravity), 8192)
    assert planned.crop == (50, 0, 300, 300) and planned.free == (0, 0, 400, 300)
    cropped = plan(400, 300, O(crop=(10, 20, 300, 200), w=100, h=100, fit="cover", gravity=gravity), 8192)
    assert cropped.free == (10, 20, 300, 200)
    assert plan(400, 300, O(w=200, fit="cover", gravity=gravity), 8192).free is None  # nothing is cut


@pytest.mark.parametrize("options, resize, pad", [
    (O(w=100, dpr=2), (200, 150), None),
    (O(w=100, h=100, fit="pad", dpr=1.5), (150, 112), (0, -19, 150, 150)),
    (O(w=300, dpr=2), (400, 300), None),                     # never enlarged past the source
    (O(w=300, dpr=2, enlarge=True), (600, 450), None),
    (O(w=3000, dpr=4, enlarge=True), (8192, 6144), None),    # the box is bounded by MAX_DIMENSION
    (O(scale=0.5, dpr=2), (200, 150), None),                 # scale is already relative
    (O(dpr=3), (400, 300), None),                            # without a box: nothing to multiply
])
def test_dpr_multiplies_the_box(options: Options, resize, pad) -> None:
    planned = plan(400, 300, options, 8192)
    assert (planned.resize, planned.pad) == (resize, pad)
