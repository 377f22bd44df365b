import pytest
from werkzeug.datastructures import MultiDict

from imgserve.errors import Problem
from imgserve.options import Options, accepts_webp, parse, parse_color


class Limits:
    max_dimension = 4000
    max_blur = 50.0
    max_sharpen = 10.0


@pytest.mark.parametrize("query, expected", [
    ({}, Options()),
    ({"w": "300"}, Options(w=300)),
    ({"w": "0300", "h": "4000"}, Options(w=300, h=4000)),
    ({"fit": "cover", "gravity": "se"}, Options(fit="cover", gravity="se")),
    ({"scale": "0.5"}, Options(scale=0.5)),
    ({"scale": ".25"}, Options(scale=0.25)),
    ({"scale": "1"}, Options(scale=1.0)),
    ({"enlarge": "1"}, Options(enlarge=True)),
    ({"crop": "10,20,30,40"}, Options(crop=(10, 20, 30, 40))),
    ({"rotate": "270", "flip": "hv"}, Options(rotate=270, flip="hv")),
    ({"grayscale": "1", "blur": "2.5", "sharpen": "0.7"}, Options(grayscale=True, blur=2.5, sharpen=0.7)),
    ({"format": "webp", "q": "55"}, Options(format="webp", q=55)),
    ({"bg": "fff"}, Options(bg=(255, 255, 255, 255))),
    ({"bg": "FF000080"}, Options(bg=(255, 0, 0, 128))),
    ({"bg": "0f08"}, Options(bg=(0, 255, 0, 136))),
    ({"w": "10", "s": "signature-is-not-an-option"}, Options(w=10)),
])
def test_valid_options(query: dict, expected: Options) -> None:
    assert parse(query, Limits()) == expected


@pytest.mark.parametrize("query, option, fragment", [
    ({"w": "0"}, "w", "from 1 to 4000"),
    ({"w": "4001"}, "w", "from 1 to 4000"),
    ({"w": "1_000"}, "w", "whole number"),
    ({"w": "１２"}, "w", "whole number"),   # full-width digits: int() would accept them
    ({"w": "٣٠٠"}, "w", "whole number"),    # Arabic-Indic digits
    ({"w": " 30"}, "w", "whole number"),
    ({"w": "3e2"}, "w", "whole number"),
    ({"w": "-3"}, "w", "whole number"),
    ({"w": ""}, "w", "whole number"),
    ({"h": "99999999999999999999"}, "h", "whole number"),
    ({"fit": "stretch"}, "fit", "contain, cover, fill, pad"),
    ({"gravity": "up"}, "gravity", "one of"),
    ({"scale": "0"}, "scale", "above 0"),
    ({"scale": "1.5"}, "scale", "at most 1"),
    ({"scale": "nan"}, "scale", "decimal number"),
    ({"scale": "inf"}, "scale", "decimal number"),
    ({"scale": "1e-3"}, "scale", "decimal number"),
    ({"enlarge": "yes"}, "enlarge", "0 or 1"),
    ({"crop": "1,2,3"}, "crop", "x,y,w,h"),
    ({"crop": "1,2,0,3"}, "crop", "at least 1"),
    ({"crop": "a,b,c,d"}, "crop", "whole number"),
    ({"rotate": "45"}, "rotate", "0, 90, 180 or 270"),
    ({"flip": "x"}, "flip", "h, v, hv"),
    ({"grayscale": "true"}, "grayscale", "0 or 1"),
    ({"blur": "0"}, "blur", "above 0"),
    ({"blur": "500"}, "blur", "at most 50"),
    ({"sharpen": "11"}, "sharpen", "at most 10"),
    ({"format": "gif"}, "format", "jpeg, png, webp, bmp, tiff, auto"),
    ({"q": "0"}, "q", "from 1 to 100"),
    ({"q": "101"}, "q", "from 1 to 100"),
    ({"bg": "#fff"}, "bg", "hex colour"),
    ({"bg": "ggg"}, "bg", "hex colour"),
    ({"bg": "fffff"}, "bg", "hex colour"),
    ({"width": "10"}, "width", "unknown option"),
    ({"scale": "0.5", "w": "10"}, "scale", "not both"),
])
def test_invalid_options_are_400_naming_the_option(query: dict, option: str, fragment: str) -> None:
    with pytest.raises(Problem) as caught:
        parse(query, Limits())
    assert caught.value.status == 400
    assert caught.value.extra["option"] == option
    assert caught.value.detail.startswith(option + ":")
    assert fragment in caught.value.detail


def test_repeated_option_is_refused() -> None:
    with pytest.raises(Problem, match="w: given more than once"):
        parse(MultiDict([("w", "10"), ("w", "20")]), Limits())


@pytest.mark.parametrize("query, canonical", [
    ({}, ""),
    ({"h": "20", "w": "0010"}, "w=10&h=20"),
    ({"fit": "contain", "q": "80", "bg": "FFF"}, ""),  # defaults spelled out are still defaults
    ({"bg": "ff000080", "scale": "0.50"}, "scale=0.5&bg=ff000080"),
    ({"crop": "1,2,3,4", "rotate": "90"}, "crop=1,2,3,4&rotate=90"),
])
def test_canonical_form_is_one_spelling_per_meaning(query: dict, canonical: str) -> None:
    assert parse(query, Limits()).canonical() == canonical


@pytest.mark.parametrize("accept, webp", [
    ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", True),
    ("image/webp;q=0.5", True),
    ("image/webp;q=0", False),
    ("*/*", False),
    ("image/*", False),
    ("", False),
])
def test_format_auto_follows_accept(accept: str, webp: bool) -> None:
    options = parse({"format": "auto"}, Limits(), accept=accept)
    assert options.negotiated
    assert options.format == ("webp" if webp else None)
    assert accepts_webp(accept) is webp


def test_colours() -> None:
    assert parse_color("abc") == (0xAA, 0xBB, 0xCC, 255)
    assert parse_color("00000000") == (0, 0, 0, 0)


SAMPLES = {"w": 300, "h": 200, "fit": "cover", "gravity": "se", "scale": 0.123456789, "enlarge": True,
           "crop": (1, 2, 3, 4), "rotate": 90, "flip": "hv", "grayscale": True, "blur": 2.5, "sharpen": 0.25,
           "pixelate": 8, "format": "webp", "q": 55, "bg": (255, 0, 0, 128)}


def test_what_the_client_writes_the_server_reads_back() -> None:
    """imgserve.client and `imgserve sign` spell values with options.text: every option round-trips."""
    from imgserve.options import OPTIONS, text

    assert set(SAMPLES) == set(OPTIONS), "a new option needs a sample here"
    for name, value in SAMPLES.items():
        assert parse({name: text(name, value)}, Limits()) == Options(**{name: value}), name


def test_canonical_spelling_is_what_parse_reads() -> None:
    options = Options(**{k: v for k, v in SAMPLES.items() if k != "scale"})  # scale excludes w/h
    assert parse(dict(pair.split("=") for pair in options.canonical().split("&")), Limits()) == options


@pytest.mark.parametrize("name, value", [("scale", 1.0), ("blur", 3.0), ("sharpen", 10.0), ("blur", 0.125),
                                         ("scale", 0.000000001)])
def test_whole_and_tiny_decimals_round_trip(name: str, value: float) -> None:
    """A whole number is written without a trailing point ("1", not "1.", which parse refuses), and no
    decimal is written with an exponent."""
    from imgserve.options import text

    written = text(name, value)
    assert "e" not in written and not written.endswith(".")
    assert getattr(parse({name: written}, Limits()), name) == value
