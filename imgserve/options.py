"""Query string (+ Accept) -> one frozen `Options`, parsed once, strictly.

One small parser per option, in `PARSERS`; the order of that table is also the canonical order used
for ETags. Numbers are ASCII digits only (Python's `int()` would take `1_000` and `١٢`), every value has
bounds, and any problem is a 400 that names the option.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qsl

from .errors import bad_option

FITS = ("contain", "cover", "fill", "pad")
# gravity -> (x, y) anchor in 0..1 of where the kept (cover) or placed (pad) part sits
GRAVITIES = {
    "center": (0.5, 0.5), "north": (0.5, 0.0), "south": (0.5, 1.0), "east": (1.0, 0.5), "west": (0.0, 0.5),
    "ne": (1.0, 0.0), "nw": (0.0, 0.0), "se": (1.0, 1.0), "sw": (0.0, 1.0),
}
FORMATS = ("jpeg", "png", "webp", "bmp", "tiff")
DEFAULT_QUALITY = 80
WHITE = (255, 255, 255, 255)


@dataclass(frozen=True)
class Options:
    """What the client asked for, validated. Colours are RGBA tuples; `format=None` means "as the source"."""
    w: int | None = None
    h: int | None = None
    fit: str = "contain"
    gravity: str = "center"
    scale: float | None = None
    enlarge: bool = False
    crop: tuple[int, int, int, int] | None = None
    rotate: int = 0
    flip: str = ""
    grayscale: bool = False
    blur: float = 0.0
    sharpen: float = 0.0
    format: str | None = None
    q: int = DEFAULT_QUALITY
    bg: tuple[int, int, int, int] = WHITE
    negotiated: bool = False  # format was picked from Accept: the response must say `Vary: Accept`

    def canonical(self) -> str:
        """The options that differ from the defaults, in table order: one spelling per meaning."""
        default = Options()
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in PARSERS and value != getattr(default, f.name):
                parts.append(f"{f.name}={color_hex(value) if f.name == 'bg' else _show(value)}")
        return "&".join(parts)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def color_hex(rgba: tuple[int, int, int, int]) -> str:
    return "".join(f"{v:02x}" for v in (rgba if rgba[3] != 255 else rgba[:3]))


_INT = re.compile(r"[0-9]{1,9}")
_NUMBER = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,9})?|\.[0-9]{1,9}")
_HEX = re.compile(r"[0-9a-fA-F]{3,8}")


def _integer(text: str, low: int, high: int) -> int:
    if not _INT.fullmatch(text):
        raise ValueError(f"expected a whole number from {low} to {high}, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"must be from {low} to {high}, got {value}")
    return value


def _number(text: str, low: float, high: float, *, low_open: bool = False) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"expected a decimal number like 0.5, got {text!r}")
    value = float(text)
    if value > high or value < low or (low_open and value == low):
        side = f"above {low:g}" if low_open else f"at least {low:g}"
        raise ValueError(f"must be {side} and at most {high:g}, got {text}")
    return value


def _choice(choices: Iterable[str]) -> Callable[[str, Any], str]:
    allowed = tuple(choices)

    def parse(text: str, settings: Any) -> str:
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text

    return parse


def _flag(text: str, settings: Any) -> bool:
    if text not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {text!r}")
    return text == "1"


def _dimension(text: str, settings: Any) -> int:
    return _integer(text, 1, settings.max_dimension)


def _scale(text: str, settings: Any) -> float:
    return _number(text, 0.0, 1.0, low_open=True)


def _crop(text: str, settings: Any) -> tuple[int, int, int, int]:
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"expected x,y,w,h in source pixels, got {text!r}")
    x, y, w, h = (_integer(p, 0, 10**9) for p in parts)
    if w == 0 or h == 0:
        raise ValueError("the region's width and height must be at least 1")
    return x, y, w, h


def _rotate(text: str, settings: Any) -> int:
    if text not in ("0", "90", "180", "270"):
        raise ValueError(f"expected 0, 90, 180 or 270 (degrees clockwise), got {text!r}")
    return int(text)


def _blur(text: str, settings: Any) -> float:
    return _number(text, 0.0, settings.max_blur, low_open=True)


def _sharpen(text: str, settings: Any) -> float:
    return _number(text, 0.0, settings.max_sharpen, low_open=True)


def _quality(text: str, settings: Any) -> int:
    return _integer(text, 1, 100)


def parse_color(text: str) -> tuple[int, int, int, int]:
    """`fff`, `ffff`, `ffffff` or `ffffff80` (CSS hex without '#') -> RGBA."""
    if not _HEX.fullmatch(text) or len(text) not in (3, 4, 6, 8):
        raise ValueError(f"expected a hex colour like fff, ffffff or ffffff80, got {text!r}")
    if len(text) in (3, 4):
        text = "".join(c * 2 for c in text)
    if len(text) == 6:
        text += "ff"
    r, g, b, a = (int(text[i:i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


def _bg(text: str, settings: Any) -> tuple[int, int, int, int]:
    return parse_color(text)


PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "w": _dimension,
    "h": _dimension,
    "fit": _choice(FITS),
    "gravity": _choice(GRAVITIES),
    "scale": _scale,
    "enlarge": _flag,
    "crop": _crop,
    "rotate": _rotate,
    "flip": _choice(("h", "v", "hv")),
    "grayscale": _flag,
    "blur": _blur,
    "sharpen": _sharpen,
    "format": _choice(FORMATS + ("auto",)),
    "q": _quality,
    "bg": _bg,
}
SIGNATURE = "s"
PRESET = "preset"


def option_schemas(settings: Any) -> dict[str, dict[str, Any]]:
    """Each option as the JSON Schema of its query value, with a line of help: what the OpenAPI
    document and the page's URL builder show. Built from the same constants and patterns the
    parsers use; a default is shown only where the parser itself accepts the default's spelling."""
    def integer(low: int, high: int, help: str) -> dict[str, Any]:
        return {"type": "integer", "minimum": low, "maximum": high, "description": help}

    def decimal(high: float, help: str) -> dict[str, Any]:
        return {"type": "number", "exclusiveMinimum": 0, "maximum": high,
                "description": f"{help}; decimal notation like 0.5, no exponent"}

    def choice(values: Iterable[Any], help: str, type: str = "string") -> dict[str, Any]:
        return {"type": type, "enum": list(values), "description": help}

    schemas = {
        "w": integer(1, settings.max_dimension, "target width in pixels; alone, the height keeps the aspect ratio"),
        "h": integer(1, settings.max_dimension, "target height in pixels; alone, the width keeps the aspect ratio"),
        "fit": choice(FITS, "contain: inside the box; cover: fill the box, cut by gravity; fill: stretch; "
                            "pad: contain, then pad to the box with bg"),
        "gravity": choice(GRAVITIES, "which part cover keeps, where pad places the image"),
        "scale": decimal(1.0, "shrink by this factor, instead of w/h"),
        "enlarge": choice((0, 1), "1: allow output larger than the source", "integer"),
        "crop": {"type": "string", "pattern": f"^{_INT.pattern}(?:,{_INT.pattern}){{3}}$",
                 "description": "x,y,w,h: region of the source in source pixels, taken first (w and h at least 1)"},
        "rotate": choice((0, 90, 180, 270), "degrees clockwise", "integer"),
        "flip": choice(("h", "v", "hv"), "mirror horizontally, vertically or both"),
        "grayscale": choice((0, 1), "1: grey levels only", "integer"),
        "blur": decimal(settings.max_blur, "Gaussian blur sigma, in output pixels"),
        "sharpen": decimal(settings.max_sharpen, "unsharp mask amount"),
        "format": choice(FORMATS + ("auto",), "output format; unset: JPEG, PNG and WebP sources keep theirs, "
                                              "others become PNG; auto: WebP when Accept names image/webp"),
        "q": integer(1, 100, "JPEG and WebP quality"),
        "bg": {"type": "string", "pattern": "^(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
               "description": "hex colour (fff, ffff, ffffff, ffffff80) for padding and for flattening alpha"},
    }
    default = Options()
    for name, schema in schemas.items():
        value = getattr(default, name)
        text = color_hex(value) if name == "bg" else _show(value)
        try:
            PARSERS[name](text, settings)
        except ValueError:
            continue
        schema["default"] = int(text) if schema["type"] == "integer" else text
    if settings.presets:
        schemas[PRESET] = choice(settings.presets, "a named option set of this server; options given beside it win")
    return schemas


def pairs(args: Any) -> list[tuple[str, list[str]]]:
    """(name, values) from a Werkzeug MultiDict or a plain mapping of name -> value."""
    if hasattr(args, "lists"):
        return list(args.lists())
    return [(k, [v]) for k, v in args.items()]


def parse(args: Any, settings: Any, *, accept: str = "") -> Options:
    given = [(name, values) for name, values in pairs(args) if name != SIGNATURE]
    given = _with_preset(given, settings)
    values: dict[str, Any] = {}
    for name, texts in given:
        if name not in PARSERS:
            raise bad_option(name, f"unknown option; known options are {', '.join(PARSERS)}, preset")
        if len(texts) != 1:
            raise bad_option(name, "given more than once")
        try:
            values[name] = PARSERS[name](texts[0], settings)
        except ValueError as error:
            raise bad_option(name, str(error)) from None
    if "scale" in values and ("w" in values or "h" in values):
        raise bad_option("scale", "give either scale or w/h, not both")
    if values.get("format") == "auto":
        values["format"] = "webp" if accepts_webp(accept) else None
        values["negotiated"] = True
    return Options(**values)


def _with_preset(given: list[tuple[str, list[str]]], settings: Any) -> list[tuple[str, list[str]]]:
    """Expand `preset=name` into its options; options given beside it win. Presets-only mode
    allows nothing else but `format=auto`, so clients cannot ask for arbitrary work."""
    presets = getattr(settings, "presets", {})
    chosen = [texts for name, texts in given if name == PRESET]
    rest = [(name, texts) for name, texts in given if name != PRESET]
    if getattr(settings, "presets_only", False):
        for name, texts in rest:
            if (name, texts) != ("format", ["auto"]):
                raise bad_option(name, "this server only accepts presets: use preset=<name> "
                                       f"(one of {', '.join(presets) or 'none configured'})")
    if not chosen:
        return rest
    if len(chosen) != 1 or len(chosen[0]) != 1:
        raise bad_option(PRESET, "given more than once")
    if chosen[0][0] not in presets:
        raise bad_option(PRESET, f"no preset {chosen[0][0]!r}; known: {', '.join(presets) or 'none'}")
    overridden = {name for name, _ in rest}
    expanded = [(k, [v]) for k, v in parse_qsl(presets[chosen[0][0]], keep_blank_values=True) if k not in overridden]
    return expanded + rest


def accepts_webp(accept: str) -> bool:
    """Only an explicit `image/webp` counts: old browsers send `*/*` and cannot show WebP."""
    for item in accept.split(","):
        mime, _, params = item.strip().partition(";")
        if mime.strip().lower() == "image/webp":
            return not re.search(r"\bq\s*=\s*0(?:\.0*)?\s*(?:;|$)", params)
    return False


