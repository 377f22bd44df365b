"""The option registry: one `Option` per query option, and everything else derived from it.

An option declares its name, its kind (how its value is written, parsed, bounded and described),
its default and one line of help. From that one row follow: strict parsing to a frozen `Options`
(a 400 naming the option for anything wrong), the canonical text used in ETags and by the client,
the JSON Schema in /openapi.json, the field of the page's URL builder and the CLI's flags. So a new
option is one row here and cannot disagree with its own documentation.

Numbers are ASCII digits only (Python's `int()` would take `1_000` and `١٢`, `float()` takes `1e3`
and `nan`), and every value has bounds; some bounds are settings (`w` up to MAX_DIMENSION).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, make_dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from . import formats
from .errors import Problem, bad_option

if TYPE_CHECKING:
    from .settings import Settings

SIGNATURE = "s"
PRESET = "preset"
AUTO = "auto"
Color = tuple[int, int, int, int]  # RGBA, 0..255, as written in URLs
WHITE: Color = (255, 255, 255, 255)

_INT = re.compile(r"[0-9]{1,9}")
_NUMBER = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?|\.[0-9]{1,9}")
_HEX = re.compile(r"[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8}")
_FRACTION = r"0?\.[0-9]{1,9}|[01]|1\.0{1,9}"  # 0..1 in decimal notation, and nothing else
_POINT = re.compile(f"({_FRACTION}),({_FRACTION})")


# -- kinds: how a value is written in a URL ------------------------------------------------------------

class Kind:
    """Parses the text of one value (ValueError says what is wrong), describes it as JSON Schema, and
    writes a parsed value back in its one canonical spelling."""

    def parse(self, text: str, settings: Settings) -> Any:
        raise NotImplementedError

    def schema(self, settings: Settings) -> dict[str, Any]:
        raise NotImplementedError

    def show(self, value: Any) -> str:
        return str(value)

    def words(self) -> str | None:
        """The values as docs/url-api.md says them, where the schema alone would read badly."""
        return None


def _bound(bound: float | str, settings: Settings) -> Any:
    """A bound is a number, or the name of the setting that holds it."""
    return getattr(settings, bound) if isinstance(bound, str) else bound


def integer(text: str, low: int, high: int) -> int:
    if not _INT.fullmatch(text):
        raise ValueError(f"expected a whole number from {low} to {high}, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"must be from {low} to {high}, got {value}")
    return value


@dataclass(frozen=True)
class Integer(Kind):
    low: int
    high: int | str

    def parse(self, text: str, settings: Settings) -> int:
        return integer(text, self.low, _bound(self.high, settings))

    def schema(self, settings: Settings) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": _bound(self.high, settings)}


@dataclass(frozen=True)
class Decimal(Kind):
    """A number above `low` (or at least it, when not `low_open`) and at most `high`."""
    high: float | str
    low: float = 0.0
    low_open: bool = True

    def parse(self, text: str, settings: Settings) -> float:
        high = _bound(self.high, settings)
        if not _NUMBER.fullmatch(text):
            raise ValueError(f"expected a decimal number like 0.5, got {text!r}")
        value = float(text)
        if value > high or value < self.low or (self.low_open and value == self.low):
            side = f"above {self.low:g}" if self.low_open else f"at least {self.low:g}"
            raise ValueError(f"must be {side} and at most {high:g}, got {text}")
        return value

    def schema(self, settings: Settings) -> dict[str, Any]:
        lower = {"exclusiveMinimum" if self.low_open else "minimum": self.low}
        return {"type": "number", **lower, "maximum": _bound(self.high, settings)}

    def show(self, value: float) -> str:
        return decimal(value)


def decimal(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")  # the parser's own notation: no exponent


@dataclass(frozen=True)
class Choice(Kind):
    values: tuple[Any, ...]  # str, or int for numbers with a fixed set of values (rotate)
    aliases: Mapping[str, Any] = field(default_factory=dict)  # other spellings -> a value
    described: str = ""      # the values as the error message says them, when a list is not enough

    def parse(self, text: str, settings: Settings) -> Any:
        for value in self.values:
            if text == str(value):
                return value
        if text in self.aliases:
            return self.aliases[text]
        raise ValueError(f"expected {self.described or 'one of ' + ', '.join(map(str, self.values))}, got {text!r}")

    def schema(self, settings: Settings) -> dict[str, Any]:
        kind = "integer" if isinstance(self.values[0], int) else "string"
        return {"type": kind, "enum": [*self.values, *self.aliases]}


@dataclass(frozen=True)
class Gravity(Kind):
    """A named gravity, or a focal point `x,y`: fractions 0..1 of the source's width and height as
    displayed (before crop, rotate and flip), so a point stays true of the original whatever else is
    asked. A point parses to an (x, y) tuple of floats."""
    names: tuple[str, ...]

    def parse(self, text: str, settings: Settings) -> str | tuple[float, float]:
        if text in self.names:
            return text
        point = _POINT.fullmatch(text)
        if point:
            return float(point[1]), float(point[2])
        raise ValueError(f"expected one of {', '.join(self.names)}, or a focal point x,y of fractions 0..1 "
                         f"like 0.3,0.6, got {text!r}")

    def schema(self, settings: Settings) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^(?:{'|'.join(self.names)}|(?:{_FRACTION}),(?:{_FRACTION}))$",
                "examples": list(self.names)}

    def show(self, value: str | tuple[float, float]) -> str:
        return value if isinstance(value, str) else ",".join(map(decimal, value))

    def words(self) -> str:
        names = ", ".join(f"`{name}`" for name in self.names)
        return f"{names}, or a focal point `x,y` (fractions 0..1, like `0.3,0.6`)"


class Identifier(Kind):
    """The id of another original (as in /image/<id>); whether it exists is the source's to say."""

    def parse(self, text: str, settings: Settings) -> str:
        if not text or len(text) > 1024 or any(ord(c) < 0x20 or c == "\x7f" for c in text):
            raise ValueError("expected the id of an original, as in /image/<id> (1 to 1024 characters)")
        return text

    def schema(self, settings: Settings) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[^\\x00-\\x1f\\x7f]+$"}

    def words(self) -> str:
        return "the id of an original, as in `/image/<id>`"


class Flag(Kind):
    def parse(self, text: str, settings: Settings) -> bool:
        if text not in ("0", "1"):
            raise ValueError(f"expected 0 or 1, got {text!r}")
        return text == "1"

    def schema(self, settings: Settings) -> dict[str, Any]:
        return {"type": "integer", "enum": [0, 1]}

    def show(self, value: bool) -> str:
        return "1" if value else "0"


def parse_color(text: str) -> Color:
    """`fff`, `ffff`, `ffffff` or `ffffff80` (CSS hex without '#') -> RGBA."""
    if not _HEX.fullmatch(text):
        raise ValueError(f"expected a hex colour like fff, ffffff or ffffff80, got {text!r}")
    if len(text) in (3, 4):
        text = "".join(c * 2 for c in text)
    if len(text) == 6:
        text += "ff"
    r, g, b, a = (int(text[i:i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


def color_hex(rgba: Color) -> str:
    return "".join(f"{v:02x}" for v in (rgba if rgba[3] != 255 else rgba[:3]))


class Colour(Kind):
    def parse(self, text: str, settings: Settings) -> Color:
        return parse_color(text)

    def schema(self, settings: Settings) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^(?:{_HEX.pattern})$"}

    def show(self, value: Color) -> str:
        return color_hex(value)


class Region(Kind):
    """x,y,w,h in source pixels; w and h at least 1."""

    def parse(self, text: str, settings: Settings) -> tuple[int, int, int, int]:
        parts = text.split(",")
        if len(parts) != 4:
            raise ValueError(f"expected x,y,w,h in source pixels, got {text!r}")
        x, y, w, h = (integer(p, 0, 10**9) for p in parts)
        if w == 0 or h == 0:
            raise ValueError("the region's width and height must be at least 1")
        return x, y, w, h

    def schema(self, settings: Settings) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^{_INT.pattern}(?:,{_INT.pattern}){{3}}$"}

    def show(self, value: tuple[int, ...]) -> str:
        return ",".join(map(str, value))


# -- the registry ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    default: Any
    help: str

    def schema(self, settings: Settings) -> dict[str, Any]:
        """JSON Schema of the value, with the help and, where the parser accepts its spelling, the default."""
        schema = {**self.kind.schema(settings), "description": self.help}
        if self.default is not None:
            text = self.kind.show(self.default)
            try:
                self.kind.parse(text, settings)
            except ValueError:
                return schema
            schema["default"] = {"integer": int, "number": float}.get(schema["type"], str)(text)
        return schema


FITS = ("contain", "cover", "fill", "pad")
# gravity -> (x, y) anchor in 0..1 of where the kept (cover) or placed (pad) part sits
GRAVITIES = {
    "center": (0.5, 0.5), "north": (0.5, 0.0), "south": (0.5, 1.0), "east": (1.0, 0.5), "west": (0.0, 0.5),
    "ne": (1.0, 0.0), "nw": (0.0, 0.0), "se": (1.0, 1.0), "sw": (0.0, 1.0),
}
SMART, FACE = "smart", "face"  # gravities decided from the pixels (imaging/attention.py)
ICC_MODES = ("srgb", "keep")
OUTPUTS = Choice((*(f.name for f in formats.outputs()), AUTO),
                 {alias: f.name for f in formats.outputs() for alias in f.aliases})

# In canonical order: the order of `Options.canonical()`, of /openapi.json and of the page's fields.
SPECS: tuple[Option, ...] = (
    Option("w", Integer(1, "max_dimension"), None, "target width in pixels; alone, the height keeps the aspect ratio"),
    Option("h", Integer(1, "max_dimension"), None, "target height in pixels; alone, the width keeps the aspect ratio"),
    Option("fit", Choice(FITS), "contain", "contain: inside the box; cover: fill the box, cut by gravity; "
                                           "fill: stretch; pad: contain, then pad to the box with bg"),
    Option("gravity", Gravity((*GRAVITIES, SMART, FACE)), "center",
           "which part cover keeps, where pad places the image: a compass point; smart (the most salient part); "
           "face (all faces found, else smart); or a focal point x,y in fractions of the source (0.5,0.5 is its "
           "centre)"),
    Option("dpr", Decimal(4.0, low=1.0, low_open=False), 1.0, "device pixel ratio, 1 to 4: multiplies w and h "
                                                               "(up to MAX_DIMENSION); decimal notation like 1.5"),
    Option("scale", Decimal(1.0), None, "shrink by this factor, instead of w/h; decimal notation like 0.5"),
    Option("enlarge", Flag(), False, "1: allow output larger than the source"),
    Option("crop", Region(), None, "x,y,w,h: region of the source in source pixels, taken first "
                                   "(w and h at least 1)"),
    Option("trim", Integer(0, 255), None, "cut the borders of the colour of the corners, before resizing: how far "
                                          "(0-255) a pixel may differ from it and still count as border"),
    Option("redact", Choice(("faces",)), "", "faces: pixelate every face found, before anything else"),
    Option("rotate", Choice((0, 90, 180, 270), described="0, 90, 180 or 270 (degrees clockwise)"), 0,
           "degrees clockwise"),
    Option("flip", Choice(("h", "v", "hv")), "", "mirror horizontally, vertically or both"),
    Option("grayscale", Flag(), False, "1: grey levels only"),
    Option("blur", Decimal("max_blur"), 0.0, "Gaussian blur sigma, in output pixels; decimal notation like 0.5"),
    Option("sharpen", Decimal("max_sharpen"), 0.0, "unsharp mask amount; decimal notation like 0.5"),
    Option("pixelate", Integer(2, 1000), None, "cut the output into square blocks this many pixels wide, each "
                                               "filled with its average colour"),
    Option("overlay", Identifier(), None, "the id of another original to compose on top (a watermark, a logo); "
                                          "its alpha is respected"),
    Option("overlay_gravity", Choice(tuple(GRAVITIES)), "se", "where the overlay sits on the output"),
    Option("overlay_scale", Decimal(1.0), None, "the overlay's size as a fraction of the output's (it keeps its "
                                                "aspect ratio); unset: its own size, shrunk to fit"),
    Option("overlay_opacity", Decimal(1.0), 1.0, "the overlay's opacity, above 0 and at most 1"),
    Option("overlay_margin", Integer(0, "max_dimension"), 0, "output pixels between the overlay and the edges it "
                                                             "is placed against"),
    Option("format", OUTPUTS, None, "output format; unset: JPEG, PNG, WebP, AVIF and GIF sources keep theirs, "
                                    "others become PNG; auto: AVIF, else WebP, when Accept names them"),
    Option("q", Integer(1, 100), 80, "JPEG, WebP and AVIF quality (on JPEG's scale)"),
    Option("lossless", Flag(), False, "1: lossless WebP and AVIF (PNG, TIFF and BMP always are; JPEG and GIF "
                                      "cannot be)"),
    Option("progressive", Flag(), False, "1: progressive JPEG (other formats ignore it)"),
    Option("frame", Integer(0, 99_999), None, "take this frame (from 0) of an animated source; unset: keep the "
                                              "animation where the output format can hold it"),
    Option("icc", Choice(ICC_MODES), "srgb", "srgb: convert an embedded colour profile to sRGB; keep: embed the "
                                             "original profile instead"),
    Option("bg", Colour(), WHITE, "hex colour (fff, ffff, ffffff, ffffff80) for padding and for flattening alpha"),
)
OPTIONS: dict[str, Option] = {o.name: o for o in SPECS}


def _canonical(self: Any) -> str:
    """The options that differ from the defaults, in registry order: one spelling per meaning."""
    return "&".join(f"{o.name}={o.kind.show(v)}" for o in SPECS if (v := getattr(self, o.name)) != o.default)


# What the client asked for, validated: one field per option, plus whether the format came from Accept
# (then the response must say `Vary: Accept`). Colours are RGBA tuples; `format=None` means "as the source".
Options = make_dataclass(
    "Options", [(o.name, Any, field(default=o.default)) for o in SPECS] + [("negotiated", bool, field(default=False))],
    frozen=True, namespace={"canonical": _canonical})
Options.__module__ = __name__  # so that Options pickle (a Dask worker gets the run's options)


def text(name: str, value: Any) -> str:
    """A value as the server spells it in a URL (the client and `imgserve sign` write URLs with this)."""
    option = OPTIONS.get(name)
    if option is None or isinstance(value, str):
        return str(value)
    return option.kind.show(value)


def schemas(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each option's JSON Schema (with help), and `preset` where the server has presets."""
    result = {o.name: o.schema(settings) for o in SPECS}
    presets = getattr(settings, "presets", {})
    if presets:
        result[PRESET] = {"type": "string", "enum": list(presets),
                          "description": "a named option set of this server; options given beside it win"}
    return result


# -- parsing a request -----------------------------------------------------------------------------------

def pairs(args: Any) -> list[tuple[str, list[str]]]:
    """(name, values) from a Werkzeug MultiDict, a list of (name, value) as parse_qsl gives, or a plain
    mapping of name -> value."""
    if hasattr(args, "lists"):
        return list(args.lists())
    if isinstance(args, list):
        grouped: dict[str, list[str]] = {}
        for name, value in args:
            grouped.setdefault(name, []).append(value)
        return list(grouped.items())
    return [(k, [v]) for k, v in args.items()]


def parse(args: Any, settings: Settings, *, accept: str = "") -> Any:
    """Query arguments (and the Accept header, for format=auto) -> Options, or a 400 naming the option."""
    given = [(name, values) for name, values in pairs(args) if name != SIGNATURE]
    given = _with_preset(given, settings)
    values: dict[str, Any] = {}
    for name, texts in given:
        option = OPTIONS.get(name)
        if option is None:
            raise bad_option(name, f"unknown option; known options are {', '.join(OPTIONS)}, {PRESET}")
        if len(texts) != 1:
            raise bad_option(name, "given more than once")
        try:
            values[name] = option.kind.parse(texts[0], settings)
        except ValueError as error:
            raise bad_option(name, str(error)) from None
    if "scale" in values and ("w" in values or "h" in values):
        raise bad_option("scale", "give either scale or w/h, not both")
    if values.get("format") == AUTO:
        values["format"] = negotiate(accept)
        values["negotiated"] = True
    if values.get("lossless") and values.get("format") and formats.FORMATS[values["format"]].lossless == "never":
        raise bad_option("lossless", f"{formats.FORMATS[values['format']].label} has no lossless mode; ask for "
                                     "png, webp or avif, or leave format unset")
    return Options(**values)


def _with_preset(given: list[tuple[str, list[str]]], settings: Settings) -> list[tuple[str, list[str]]]:
    """Expand `preset=name` into its options; options given beside it win. Presets-only mode
    allows nothing else but `format=auto`, so clients cannot ask for arbitrary work."""
    presets = getattr(settings, "presets", {})
    chosen = [texts for name, texts in given if name == PRESET]
    rest = [(name, texts) for name, texts in given if name != PRESET]
    if getattr(settings, "presets_only", False):
        known = f"one of {', '.join(presets) or 'none configured'}"
        for name, texts in rest:
            if (name, texts) != ("format", [AUTO]):
                raise bad_option(name, f"this server only accepts presets: use preset=<name> ({known})")
        if not chosen:
            raise bad_option(PRESET, f"this server only serves presets: add preset=<name> ({known})")
    if not chosen:
        return rest
    if len(chosen) != 1 or len(chosen[0]) != 1:
        raise bad_option(PRESET, "given more than once")
    if chosen[0][0] not in presets:
        raise bad_option(PRESET, f"no preset {chosen[0][0]!r}; known: {', '.join(presets) or 'none'}")
    overridden = {name for name, _ in rest}
    expanded = [(k, [v]) for k, v in parse_qsl(presets[chosen[0][0]], keep_blank_values=True) if k not in overridden]
    return expanded + rest


def preset_problem(settings: Settings) -> tuple[str, str] | None:
    """(setting, why) when the presets cannot be served: a preset's options do not parse, or presets-only
    mode has no presets. Checked at start-up: a bad preset is the operator's mistake, not a client's."""
    if settings.presets_only and not settings.presets:
        return "presets_only", ("1 refuses every URL without a preset, and IMGSERVE_PRESETS defines none: define "
                                "some (thumb:w=300&h=300&fit=cover;...) or set it to 0")
    open_settings = replace(settings, presets_only=False)
    for name, query in settings.presets.items():
        try:
            parse(parse_qsl(query, keep_blank_values=True), open_settings)
        except Problem as problem:
            return "presets", f"preset {name!r}: {problem.detail}"
    return None


NEGOTIATED = ("avif", "webp")  # what format=auto may choose, best first; else the default output


def accepts(accept: str, mime: str) -> bool:
    """Only an explicit type counts (`image/webp`, not `*/*` or `image/*`): old browsers send wildcards
    and cannot show WebP or AVIF. `q=0` means "not this"."""
    for item in accept.split(","):
        given, _, params = item.strip().partition(";")
        if given.strip().lower() == mime:
            return not re.search(r"\bq\s*=\s*0(?:\.0*)?\s*(?:;|$)", params)
    return False


def negotiate(accept: str) -> str | None:
    """The format `format=auto` means for this Accept header: AVIF, then WebP, else None (the default)."""
    return next((name for name in NEGOTIATED if accepts(accept, formats.FORMATS[name].mime)), None)


def choices(kind: Kind) -> Iterable[str]:
    """The spellings a choice takes, for help texts (the CLI's metavars)."""
    return [str(v) for v in kind.values] if isinstance(kind, Choice) else []


# -- the docs' option table ------------------------------------------------------------------------------

MARKERS = ("<!-- options:start -->", "<!-- options:end -->")


def markdown(settings: Settings | None = None) -> str:
    """The option table of docs/url-api.md, from the registry: what `imgserve options --markdown` prints.
    Bounds are the default settings' (a bound that is a setting says which), as in docs/settings.md."""
    from .settings import Settings

    settings = settings or Settings()
    lines = ["| option | values | default | meaning |", "|---|---|---|---|"]
    for option in SPECS:
        cells = [f"`{option.name}`", *summary(option, settings), option.help]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def summary(option: Option, settings: Settings) -> tuple[str, str]:
    """(values, default) of an option as a person reads them, from its JSON Schema; code in backticks."""
    from .settings import PREFIX

    schema = option.schema(settings)
    if option.kind.words():
        values = option.kind.words()
    elif "enum" in schema:
        values = ", ".join(f"`{value}`" for value in schema["enum"])
    elif "pattern" in schema:
        values = f"text matching `{schema['pattern']}`"
    elif "maximum" not in schema:
        values = schema.get("type", "text")  # a kind this table does not know yet: say at least what it is
    else:
        word = "whole number" if schema["type"] == "integer" else "decimal"
        low = (f"above {schema['exclusiveMinimum']:g}, at most" if "exclusiveMinimum" in schema
               else f"from {schema['minimum']:g} to")
        values = f"{word} {low} {schema['maximum']:g}"
    bound = getattr(option.kind, "high", None)
    if isinstance(bound, str):
        values += f" (the setting `{PREFIX}{bound.upper()}`)"
    # the schema has a default where a URL may spell it; otherwise the default is "do nothing"
    default = f"`{schema['default']}`" if "default" in schema else "unset" if option.default is None else "none"
    return values, default


def with_table(page: str, settings: Settings | None = None) -> str:
    """`page` with the text between its MARKERS replaced by the current table (ValueError without them)."""
    start, end = MARKERS
    head, found, rest = page.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found and found_end):
        raise ValueError(f"no {start} ... {end} block to regenerate")
    return f"{head}{start}\n{markdown(settings)}{end}{tail}"
