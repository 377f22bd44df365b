"""The OpenAPI document is kept true by schemathesis: generated requests, valid and invalid, against
every operation the app has registered, each answer checked against the document.

The app is built at import (schemathesis parametrizes at collection; its fixture-based loader does
not work with pytest 9) over the sample originals in `images/`, which it only reads.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import fields

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
