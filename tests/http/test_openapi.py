"""The OpenAPI document is kept true by schemathesis: generated requests, valid and invalid, against
every operation the app has registered, each answer checked against the document.

The app is built at import (schemathesis parametrizes at collection; its fixture-based loader does
not work with pytest 9) over the sample originals in `images/`, which it only reads.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import fields
from urllib.parse import urlencode

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from imgserve import create_app
from imgserve.options import OPTIONS
from imgserve.settings import Settings
from tests.support import REPO

IMAGES = REPO / "images"
SAMPLES = sorted(p.relative_to(IMAGES).as_posix() for p in IMAGES.rglob("*") if p.is_file())
SMALL = "photos/rotated.jpg"


def build_app(**overrides):
    """An app from the defaults and `overrides` only, whatever IMGSERVE_* the shell has."""
    defaults = Settings.load({}, root=str(IMAGES), **overrides)
    return create_app({f.name: getattr(defaults, f.name) for f in fields(Settings)})


def operations(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route the app has, `/image/<path:id>` -> `/image/{id}`."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, method) for method in rule.methods - {"OPTIONS"}}
    return found


def negated(case, location) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode == GenerationMode.NEGATIVE


APP = build_app()
REGISTERED = operations(APP)
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP).include(
    lambda ctx: (ctx.operation.path, ctx.operation.method.upper()) in REGISTERED)
# A locked-down server describes itself differently: `s` required, only presets. Its document must hold too.
LOCKED = build_app(signing_keys="k" * 32, presets="thumb:w=50&h=50&fit=cover", presets_only="1")
locked_schema = schemathesis.openapi.from_wsgi("/openapi.json", LOCKED).include(path_regex="^/image/")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_does_what_its_description_says(case) -> None:
    """Every check but positive_data_acceptance: some schema-valid requests rightly get a 400 that JSON
    Schema cannot express (scale beside w/h, a crop outside the image, a decimal spelt with an exponent,
    which the strict parser refuses). Schema-invalid requests must still all be refused."""
    if "id" in case.path_parameters and not negated(case, ParameterLocation.PATH):
        pick = zlib.crc32(repr(sorted(case.query.items())).encode() if case.query else b"") % (len(SAMPLES) + 1)
        if pick < len(SAMPLES):   # mostly an original that exists, so options reach the pixels; else a 404
            case.path_parameters["id"] = SAMPLES[pick]
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])


@pytest.mark.slow
@locked_schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_locked_down_server_does_what_its_description_says(case) -> None:
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])


def test_every_registered_route_is_described() -> None:
    doc = APP.test_client().get("/openapi.json").json
    described = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    described |= {(path, "HEAD") for path, method in described if method == "GET"}  # werkzeug adds HEAD to GET
    assert REGISTERED - described == set()


def test_every_option_is_described() -> None:
    doc = APP.test_client().get("/openapi.json").json
    params = {p["name"]: p for p in doc["paths"]["/image/{id}"]["get"]["parameters"]}
    assert set(params) == set(OPTIONS) | {"id"}
    assert {"avif", "gif", "jpg", "tif", "auto"} <= set(params["format"]["schema"]["enum"])
    assert params["icc"]["schema"]["enum"] == ["srgb", "keep"] and params["frame"]["schema"]["minimum"] == 0
    media = doc["paths"]["/image/{id}"]["get"]["responses"]["200"]["content"]
    assert {"image/avif", "image/gif"} <= set(media)


def image_parameters(app) -> dict[str, dict]:
    doc = app.test_client().get("/openapi.json").json
    return {p["name"]: p for p in doc["paths"]["/image/{id}"]["get"]["parameters"] if p["in"] == "query"}


def examples(schema: dict) -> list[tuple[str, bool]]:
    """(value as written in a URL, whether the schema allows it): each edge of the schema, both sides."""
    if "enum" in schema:
        numbers = [v for v in schema["enum"] if isinstance(v, int)]
        if numbers:
            return [(str(v), True) for v in numbers] + [(v, False) for v in (str(max(numbers) + 1), "-1", "x", "")]
        # spellings a client might try: each must be in the enum exactly when the server takes it
        tries = ["jpg", "tif", "JPEG", "Png", "gif", "avif", "none", "centre", "top", "left", "both", "hv ", "x", ""]
        return [(str(v), True) for v in schema["enum"]] + [(v, v in schema["enum"]) for v in tries]
    if schema["type"] == "integer":
        low, high = schema["minimum"], schema["maximum"]
        return [(str(low), True), (str(high), True), (str((low + high) // 2), True), (str(low - 1), False),
                (str(high + 1), False), ("-1", False), ("1.5", False), ("x", False), ("", False)]
    if schema["type"] == "number":
        high = schema["maximum"]
        low = schema.get("exclusiveMinimum", schema.get("minimum"))
        return [(f"{high:g}", True), (f"{(low + high) / 2:g}", True), (f"{low + 0.001:g}", True),
                (f"{low:g}", "minimum" in schema), (f"{high + 0.5:g}", False), ("-1", False), ("x", False),
                ("", False)]
    pool = ["fff", "FFF", "ffff", "a1b2c3", "A1B2C3d4", "ff", "fffff", "fffffff", "ggg", "#fff", " fff",
            "0,0,10,10", "3,4,1,1", "0,0,99999,99999", "1,2,3", "1,2,3,4,5", "a,b,c,d", "-1,0,5,5", "1.5,0,5,5", ""]
    return [(value, re.search(schema["pattern"], value) is not None) for value in pool]


@pytest.mark.parametrize("name", sorted(image_parameters(APP)))
def test_each_documented_parameter_is_parsed_as_its_schema_says(name: str) -> None:
    """Against the parser's behaviour, not its table: every edge of the schema, on both sides, sent to
    the server; what the schema allows is served, what it forbids is a 400 naming the parameter."""
    from werkzeug.datastructures import MultiDict

    from imgserve.options import parse

    client, schema = APP.test_client(), image_parameters(APP)[name]["schema"]
    context = {"overlay": SMALL} if name.startswith("overlay_") else {}  # they place an overlay: name one
    for value, allowed in examples(schema):
        if allowed:  # parsed; the server may still refuse it for this image (frame=9 of a still), not as a 400
            parse(MultiDict({name: value, **context}), APP.extensions["imgserve"].settings)
        else:
            response = client.get(f"/image/{SMALL}?{urlencode({name: value, **context})}")
            assert response.status_code == 400 and response.get_json()["option"] == name, (value, response.status_code)


@pytest.mark.parametrize("name", sorted(n for n, p in image_parameters(APP).items() if "default" in p["schema"]))
def test_a_documented_default_means_what_leaving_the_parameter_out_means(name: str) -> None:
    client, default = APP.test_client(), image_parameters(APP)[name]["schema"]["default"]
    given = client.get(f"/image/{SMALL}?{urlencode({name: default})}")
    assert given.status_code == 200 and given.headers["ETag"] == client.get(f"/image/{SMALL}").headers["ETag"]


JSON_TYPES = {"integer": int, "number": (int, float), "string": str, "boolean": bool}


@pytest.mark.parametrize("app", [APP, LOCKED], ids=["open", "locked"])
def test_every_parameter_schema_is_well_typed(app) -> None:
    """Each schema names a JSON Schema type, and its enum, default and bounds are of that type (an
    integer enum in a "string" schema, or a default "80" for an integer, would mislead every client
    generated from the document; schemathesis sees it only in the slow run)."""
    for name, parameter in image_parameters(app).items():
        schema = parameter["schema"]
        assert schema["type"] in JSON_TYPES, (name, schema)
        kind = JSON_TYPES[schema["type"]]
        values = [*schema.get("enum", []), *[schema[k] for k in ("default", "minimum", "maximum") if k in schema]]
        assert all(isinstance(v, kind) and not isinstance(v, bool) for v in values), (name, schema)
        if "pattern" in schema:
            re.compile(schema["pattern"])
            assert schema["type"] == "string", (name, schema)
        assert isinstance(parameter.get("description", ""), str) and parameter.get("description"), name


def test_the_documented_parameters_are_those_the_server_takes() -> None:
    """The server names what it knows when it refuses an unknown option; the document lists the same
    (`preset` only where presets are configured), and nothing it does not list is taken."""
    client = APP.test_client()
    detail = client.get(f"/image/{SMALL}?unknown=1").get_json()["detail"]
    known = set(re.search(r"known options are (.*)$", detail)[1].split(", "))
    assert set(image_parameters(APP)) == known - {"preset"}
    for name in ("width", "height", "quality", "fm", "W", "q "):
        assert client.get(f"/image/{SMALL}?{urlencode({name: '1'})}").status_code == 400


def test_the_document_follows_the_settings() -> None:
    def image_params(app) -> dict:
        doc = app.test_client().get("/openapi.json").json
        return {p["name"]: p for p in doc["paths"]["/image/{id}"]["get"]["parameters"]}

    params = image_params(build_app(max_dimension="640"))
    assert params["w"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 640}
    assert params["fit"]["schema"] == {"type": "string", "enum": ["contain", "cover", "fill", "pad"],
                                       "default": "contain"}
    assert "preset" not in params and "s" not in params
    locked = image_params(LOCKED)
    assert set(locked) == {"id", "preset", "format", "s"}
    assert locked["preset"]["schema"]["enum"] == ["thumb"] and locked["format"]["schema"]["enum"] == ["auto"]
    assert locked["s"]["required"] is True


def test_a_locked_down_server_serves_what_its_document_allows() -> None:
    from imgserve.signing import sign_url

    client = LOCKED.test_client()
    response = client.get(sign_url("/image/sunset.jpg?preset=thumb&format=auto", "k" * 32))
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
