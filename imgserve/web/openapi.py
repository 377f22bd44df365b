"""`GET /openapi.json`: the HTTP API as an OpenAPI 3.1 document, built for this app's settings.

The options come from the option registry (`options.schemas`, the same rows the parsers use), bounds such as
MAX_DIMENSION and the preset names from the settings, so the document describes this server rather
than a default one. `tests/http/test_openapi.py` keeps it true: schemathesis sends generated requests,
valid and invalid, to every operation the app has registered and checks each answer against it, and
fails if a route in web/app.py's ROUTES is missing here. The endpoints, their parameters and their
error statuses are the service's HTTP contract, as docs/url-api.md describes it for people: extend
it, rename nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, jsonify

from .. import __version__, formats, options
from ..errors import PROBLEM_JSON
from .service import service

if TYPE_CHECKING:
    from ..settings import Settings

ERRORS = {
    400: "a bad option or parameter; the body's `option` names it",
    403: "missing or wrong signature (the body's `signed` is the string the server checked), "
         "a source the server may not read, or /placeholder on a presets-only server",
    404: "no such original, or an id that could leave the root",
    413: "the original or the body is larger than MAX_SOURCE_BYTES",
    415: f"not an image: only {formats.listed()} are decoded (decided from magic bytes), or corrupt; HEIF "
         "also needs the server's optional heif extra",
    422: "a decodable image over MAX_PIXELS, or an animation over MAX_ANIMATION_PIXELS (frames x pixels), "
         "refused from its header before decoding",
    502: "the remote source failed or sent something unusable",
    503: "overloaded: every processing slot busy and the queue full; try again after Retry-After",
    504: "the remote source did not answer in time",
}
PROBLEM = {
    "type": "object",
    "required": ["type", "status", "title", "detail"],
    "properties": {
        "type": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "title": {"type": "string"},
        "detail": {"type": "string", "description": "what was wrong and what would be right"},
        "option": {"type": "string", "description": "400: the option that was refused"},
        "signed": {"type": "string", "description": "403: the canonical string the signature must cover"},
    },
}
ANY_JSON = {"type": "object"}
PLACEHOLDER = {"type": "object", "required": ["dominant", "blurhash", "lqip"], "properties": {
    "dominant": {"type": ["string", "null"], "description": "#rrggbb, the commonest colour"},
    "blurhash": {"type": "string"},
    "lqip": {"type": "string", "description": "a data: URI of a 16 px wide WebP"}}}
CANDIDATES = {"type": "array", "items": {"type": "object", "required": ["url", "width"], "properties": {
    "url": {"type": "string"}, "width": {"type": "integer"}}}}
SRCSET = {"type": "object", "required": ["html", "width", "height", "sources", "img", "placeholder"], "properties": {
    "html": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"},
    "sizes": {"type": "string"},
    "sources": {"type": "array", "items": {"type": "object", "required": ["type", "srcset"], "properties": {
        "type": {"type": "string"}, "srcset": CANDIDATES}}},
    "img": {"type": "object"}, "placeholder": PLACEHOLDER}}
PROFILE = {"type": ["object", "null"], "description": "the embedded colour profile (null: none, shown as sRGB)",
           "properties": {"description": {"type": "string"}, "colour_space": {"type": "string"},
                          "version": {"type": "string"}, "srgb": {"type": "boolean"},
                          "from": {"enum": ["icc", "cicp"]}}}
ANIMATION = {"type": ["object", "null"], "description": "null for a still image",
             "properties": {"frames": {"type": "integer"}, "duration_ms": {"type": "integer"},
                            "loops": {"type": "integer", "description": "plays; 0 forever"}}}


def openapi() -> Response:
    return jsonify(document(service().settings))


def document(settings: Settings) -> dict[str, Any]:
    params = query_options(settings)
    schemas = options.schemas(settings)
    image_ops = _operation("An original from the root, processed", params, [200, 304, 400, 403, 404, 413, 415,
                                                                               422, 503], image=True,
                           path_params=[_path_param("id", "a path under the root, with or without its extension "
                                                          "(`sunset.jpg`, `sunset`), or a manifest key")])
    paths: dict[str, Any] = {
        "/image/{id}": {"get": image_ops, "head": {**image_ops, "summary": image_ops["summary"] + " (headers only)"}},
        "/process": {"post": {
            **_operation("The image in the request body, processed", params, [200, 400, 403, 413, 415, 422, 503],
                         image=True),
            "requestBody": {"required": True, "content": {
                "image/*": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
                    "image": {"type": "string", "format": "binary"}}}},
            }},
        }},
        "/fetch": {"get": _operation(
            "A remote original (read into memory, never to disk), processed; off unless IMGSERVE_REMOTE_ALLOW "
            "lists hosts", [_query("url", {"type": "string", "format": "uri", "description": "an http(s) URL"},
                                   required=True)] + params,
            [200, 400, 403, 413, 415, 422, 502, 503, 504], image=True)},
        "/placeholder/{size}": {"get": _operation(
            "A generated image of exactly W x H with centred text", [
                _query("text", {"type": "string", "description": "the text; default `WxH`"}),
                _query("bg", {**schemas["bg"], "description": "background colour"}),
                _query("fg", {**schemas["bg"], "description": "text colour"}),
                _query("format", schemas["format"]),
            ], [200, 400, 403], image=True,
            path_params=[_path_param("size", "`WxH`, each 1..MAX_DIMENSION", pattern="^[0-9]{1,9}x[0-9]{1,9}$")])},
        "/info/{id}": {"get": {
            "summary": "Facts about an original, read from its header where possible, and its placeholders",
            "parameters": [_path_param("id", "as for /image/{id}"),
                           _query("placeholder", {"type": "integer", "enum": [0, 1], "description":
                                                  "1: add the placeholder (dominant colour, BlurHash, LQIP), "
                                                  "which costs a decode"})],
            "responses": {"200": _json("the facts", {"type": "object", "required": ["width", "height", "format"],
                                                     "properties": {
                                                         "width": {"type": "integer"},
                                                         "height": {"type": "integer"},
                                                         "channels": {"type": "integer"},
                                                         "bit_depth": {"type": "integer"},
                                                         "format": {"type": "string"},
                                                         "bytes": {"type": "integer"},
                                                         "placeholder": {"oneOf": [PLACEHOLDER, {"type": "null"}]},
                                                         "profile": PROFILE,
                                                         "animation": ANIMATION,
                                                     }}),
                          **_problems([400, 403, 404, 413, 415, 503])},
        }},
        "/srcset/{id}": {"get": {
            "summary": "A ready <picture> element for an original: AVIF/WebP <source>s and a fallback <img>, each "
                       "with a srcset of /image URLs (signed when signing is on), intrinsic width and height, and a "
                       "placeholder; JSON with Accept: application/json"
                       + (" (not on this server: it only serves presets)" if settings.presets_only else ""),
            "parameters": [_path_param("id", "as for /image/{id}"),
                           _query("widths", {"type": "string", "pattern": "^[0-9]{1,9}(?:,[0-9]{1,9}){0,15}$",
                                             "description": "comma-separated candidate widths in pixels (at most "
                                                            "16); default: a ladder up to the image's width"}),
                           _query("sizes", {"type": "string", "maxLength": 500, "pattern": "^[^\\x00-\\x1f\\x7f]*$",
                                            "description": "the sizes attribute, e.g. `(max-width: 600px) 100vw, "
                                                           "600px`; default 100vw"}),
                           _query("alt", {"type": "string", "maxLength": 500, "pattern": "^[^\\x00-\\x1f\\x7f]*$",
                                          "description": "the image's alt text; default empty"}),
                           *[p for p in params if p["name"] not in ("format", "dpr", "scale")]],
            "responses": {"200": {"description": "the markup", "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/json": {"schema": SRCSET}}},
                "304": {"description": "not modified"},
                **_problems([400, 403, 404, 413, 415, 422, 503])},
        }},
        "/healthz": {"get": {"summary": "Alive: the process answers requests", "responses": {
            "200": _json("alive", {"type": "object", "required": ["status"],
                                   "properties": {"status": {"const": "ok"}}})}}},
        "/readyz": {"get": {
            "summary": "Ready for traffic: the root is readable and a render would get a processing slot",
            "responses": {"200": _json("ready", {"type": "object", "required": ["status", "in_flight", "waiting"],
                                                 "properties": {"status": {"const": "ready"},
                                                                **{k: {"type": "integer"} for k in
                                                                   ("in_flight", "limit", "waiting", "queue")}}}),
                          **_problems([503])}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (text format; OpenMetrics when asked for in Accept)",
                             "responses": {"200": {"description": "metrics", "content": {
                                 "text/plain": {"schema": {"type": "string"}},
                                 "application/openmetrics-text": {"schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.1", ANY_JSON)}}},
        "/": {"get": {
            "summary": "A page for people: browse the originals, build and try processing URLs"
                       + ("" if settings.page_enabled else " (off on this server: IMGSERVE_UI)"),
            "parameters": [
                _query("dir", {"type": "string", "description": "folder under the root to list"}),
                _query("page", {"type": "integer", "minimum": 1, "maximum": 10**6, "description": "listing page"}),
                _query("image", {"type": "string", "description": "an original to open in the URL builder"}),
            ],
            "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_problems([400, 404])}}},
        "/ui/sign": {"get": {
            "summary": "The page's signing helper: signs an /image/ URL (only where the page is on and signing is "
                       "on; an operator tool for internal networks)",
            "parameters": [_query("url", {"type": "string", "description": "`/image/<id>?<options>`"},
                                  required=True)],
            "responses": {"200": _json("the signed URL", {"type": "object", "required": ["url"],
                                                          "properties": {"url": {"type": "string"}}}),
                          **_problems([400, 404])}}},
        "/static/{filename}": {"get": {
            "summary": "The page's stylesheet and script",
            "parameters": [_path_param("filename", "a file of the page")],
            "responses": {"200": {"description": "the file", "content": {
                "text/css": {"schema": {"type": "string"}}, "text/javascript": {"schema": {"type": "string"}}}},
                **_problems([404])}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imgserve",
            "version": __version__,
            "description": "On-the-fly image service: originals in a folder, processed in memory. Errors are "
                           "RFC 9457 problem+json; a method a path does not support gets 405 with `Allow`; "
                           "every GET also answers HEAD."
                           + (" Every processing URL must carry `s`, its signature (`imgserve sign`)."
                              if settings.signing_keys else ""),
        },
        "paths": paths,
        "components": {"schemas": {"Problem": PROBLEM}},
    }


def query_options(settings: Settings) -> list[dict[str, Any]]:
    """The query options this server accepts: all of them, or in presets-only mode just `preset` and
    `format=auto`; plus the signature where signing is on."""
    schemas = options.schemas(settings)
    if settings.presets_only:
        schemas = {"format": {**schemas["format"], "enum": ["auto"]},
                   **({"preset": schemas["preset"]} if "preset" in schemas else {})}
    params = [_query(name, schema, required=settings.presets_only and name == options.PRESET)
              for name, schema in schemas.items()]
    if settings.signing_keys:
        params.append(_query("s", {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$",
                                   "description": "base64url HMAC-SHA256 of the canonical path and query"},
                             required=True))
    return params


def _operation(summary: str, params: list[dict[str, Any]], statuses: list[int], *, image: bool = False,
               path_params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in statuses:
        if status == 200:
            responses["200"] = {
                "description": "the image, encoded in memory",
                "headers": {name: {"schema": {"type": "string"}, "required": True}
                            for name in ("ETag", "Cache-Control", "Content-Length")},
                "content": {f.mime: {"schema": {"type": "string", "format": "binary"}} for f in formats.outputs()},
            }
        elif status == 304:
            responses["304"] = {"description": "not modified: the client's copy (If-None-Match, If-Modified-Since) "
                                               "is current"}
    responses.update(_problems([s for s in statuses if s >= 400]))
    return {"summary": summary, "parameters": (path_params or []) + params, "responses": responses}


def _problems(statuses: list[int]) -> dict[str, Any]:
    responses = {}
    for status in statuses:
        response = {"description": ERRORS[status] if status in ERRORS else "error",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if status == 503:
            response["headers"] = {"Retry-After": {"schema": {"type": "string"}, "required": True}}
        responses[str(status)] = response
    return responses


def _query(name: str, schema: dict[str, Any], *, required: bool = False) -> dict[str, Any]:
    schema = dict(schema)
    description = schema.pop("description", "")
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _path_param(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema = {"type": "string", "minLength": 1, **({"pattern": pattern} if pattern else {})}
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
