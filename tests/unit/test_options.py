import pytest
from werkzeug.datastructures import MultiDict

from imgserve.errors import Problem
from imgserve.options import Options, negotiate, parse, parse_color


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
    ({"format": "jpg", "progressive": "1"}, Options(format="jpeg", progressive=True)),
    ({"format": "tif"}, Options(format="tiff")),
    ({"format": "avif", "lossless": "1"}, Options(format="avif", lossless=True)),
    ({"format": "gif", "frame": "3"}, Options(format="gif", frame=3)),
    ({"lossless": "1"}, Options(lossless=True)),  # the default output is made lossless in the pipeline
    ({"icc": "keep"}, Options(icc="keep")),
    ({"bg": "fff"}, Options(bg=(255, 255, 255, 255))),
    ({"bg": "FF000080"}, Options(bg=(255, 0, 0, 128))),
    ({"bg": "0f08"}, Options(bg=(0, 255, 0, 136))),
    ({"w": "10", "s": "signature-is-not-an-option"}, Options(w=10)),
    ({"gravity": "smart"}, Options(gravity="smart")),
    ({"gravity": "face"}, Options(gravity="face")),
    ({"gravity": "0.25,.75"}, Options(gravity=(0.25, 0.75))),
    ({"gravity": "0,1"}, Options(gravity=(0.0, 1.0))),
    ({"gravity": "1.000,0.5"}, Options(gravity=(1.0, 0.5))),
    ({"dpr": "2"}, Options(dpr=2.0)),
    ({"dpr": "1.5"}, Options(dpr=1.5)),
    ({"trim": "0"}, Options(trim=0)),
    ({"trim": "30"}, Options(trim=30)),
    ({"redact": "faces"}, Options(redact="faces")),
    ({"overlay": "logos/mark.png", "overlay_gravity": "nw", "overlay_scale": "0.2", "overlay_opacity": "0.5",
      "overlay_margin": "12"},
     Options(overlay="logos/mark.png", overlay_gravity="nw", overlay_scale=0.2, overlay_opacity=0.5,
             overlay_margin=12)),
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
    ({"gravity": "1.5,0.5"}, "gravity", "focal point"),
    ({"gravity": "0.5"}, "gravity", "focal point"),
    ({"gravity": "0.5,0.5,0.5"}, "gravity", "focal point"),
    ({"gravity": "-0.1,0.5"}, "gravity", "focal point"),
    ({"gravity": "00.5,0.5"}, "gravity", "focal point"),   # the schema's pattern refuses it: so does the parser
    ({"gravity": "5e-1,0.5"}, "gravity", "focal point"),
    ({"gravity": " 0.5,0.5"}, "gravity", "focal point"),
    ({"dpr": "0.5"}, "dpr", "at least 1"),
    ({"dpr": "5"}, "dpr", "at most 4"),
    ({"trim": "256"}, "trim", "from 0 to 255"),
    ({"redact": "plates"}, "redact", "faces"),
    ({"overlay": ""}, "overlay", "id of an original"),
    ({"overlay": "a\nb"}, "overlay", "id of an original"),
    ({"overlay_opacity": "0"}, "overlay_opacity", "above 0"),
    ({"overlay_opacity": "1.5"}, "overlay_opacity", "at most 1"),
    ({"overlay_gravity": "smart"}, "overlay_gravity", "one of"),
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
    ({"format": "heif"}, "format", "jpeg, png, webp, avif, bmp, tiff, gif, auto"),
    ({"format": "jpeg", "lossless": "1"}, "lossless", "JPEG has no lossless mode"),
    ({"format": "gif", "lossless": "1"}, "lossless", "GIF has no lossless mode"),
    ({"lossless": "2"}, "lossless", "0 or 1"),
    ({"progressive": "yes"}, "progressive", "0 or 1"),
    ({"frame": "-1"}, "frame", "whole number"),
    ({"frame": "100000"}, "frame", "from 0 to 99999"),
    ({"icc": "adobe"}, "icc", "srgb, keep"),
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
    ({"gravity": ".50,1.0", "dpr": "1.0"}, "gravity=0.5,1"),
    ({"gravity": "center", "overlay_gravity": "se", "overlay_opacity": "1"}, ""),
])
def test_canonical_form_is_one_spelling_per_meaning(query: dict, canonical: str) -> None:
    assert parse(query, Limits()).canonical() == canonical


@pytest.mark.parametrize("accept, chosen", [
    ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "avif"),  # Chrome, Firefox
    ("image/webp,image/avif,*/*", "avif"),                          # AVIF first whatever the order
    ("image/avif;q=0,image/webp", "webp"),
    ("image/webp,image/apng,image/*,*/*;q=0.8", "webp"),            # older Chrome
    ("image/webp;q=0.5", "webp"),
    ("IMAGE/AVIF", "avif"),
    ("image/webp;q=0", None),
    ("image/avif;q=0.0", None),
    ("*/*", None),
    ("image/*", None),
    ("", None),
])
def test_format_auto_follows_accept(accept: str, chosen: str | None) -> None:
    options = parse({"format": "auto"}, Limits(), accept=accept)
    assert options.negotiated
    assert options.format == chosen == negotiate(accept)


def test_colours() -> None:
    assert parse_color("abc") == (0xAA, 0xBB, 0xCC, 255)
    assert parse_color("00000000") == (0, 0, 0, 0)


SAMPLES = {"w": 300, "h": 200, "fit": "cover", "gravity": "se", "scale": 0.123456789, "enlarge": True,
           "crop": (1, 2, 3, 4), "rotate": 90, "flip": "hv", "grayscale": True, "blur": 2.5, "sharpen": 0.25,
           "pixelate": 8, "format": "webp", "q": 55, "lossless": True, "progressive": True, "frame": 2,
           "icc": "keep", "bg": (255, 0, 0, 128), "dpr": 2.5, "trim": 12, "redact": "faces", "overlay": "logo.png",
           "overlay_gravity": "nw", "overlay_scale": 0.25, "overlay_opacity": 0.5, "overlay_margin": 8}



@pytest.mark.parametrize("value", [(0.0, 0.0), (1.0, 1.0), (0.123456789, 0.5), "smart", "face", "ne"])
def test_gravity_round_trips(value) -> None:
    from imgserve.options import text

    assert parse({"gravity": text("gravity", value)}, Limits()).gravity == value


def test_focal_point_schema_pattern_is_the_parser() -> None:
    """The page builder and schemathesis use the pattern; it must accept exactly what the parser does."""
    import re

    from imgserve.options import OPTIONS

    pattern = re.compile(OPTIONS["gravity"].schema(Limits())["pattern"])
    for text in ("0.5,0.5", ".5,1", "1.000,0", "smart", "face", "sw"):
        assert pattern.match(text)
        parse({"gravity": text}, Limits())
    for text in ("1.5,0", "00.5,0.5", "0.5", "0.5,", "up", "0.5,0.5 "):
        assert not pattern.match(text)
        with pytest.raises(Problem):
            parse({"gravity": text}, Limits())


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
