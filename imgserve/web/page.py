"""`GET /`: a page for people. Browse the originals, open one, build a processing URL and try it.

Plain HTML from one template, a stylesheet and a small script in `static/`, all served by the
package; nothing comes from anywhere else (the Content-Security-Policy says so to the browser).
The listing is `Folder.listing`: one scandir per folder, same safety rules as serving, paginated.
Thumbnails are ordinary `/image/...` URLs, lazy-loaded, so they are cached and counted like any other.

Signing: with IMGSERVE_SIGNING_KEYS set, an image URL is only worth something if the server signed
it, so a page that signs whatever a visitor builds would make signing pointless. The page is therefore
off under signing unless the operator turns it on with IMGSERVE_UI=1, which makes it (and its signing
helper, `/ui/sign`) an operator tool for internal networks; thumbnails are then signed as the page is
rendered, and the builder asks `/ui/sign` for each URL it tries. Without signing the page is on unless
IMGSERVE_UI=0, and the builder needs no helper.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from flask import Response, g, jsonify, render_template, request

from .. import signing
from ..errors import PROBLEM_JSON, Problem, bad_option
from ..sources.folder import Folder
from .openapi import query_options
from .service import service

if TYPE_CHECKING:
    from ..settings import Settings

PAGE_SIZE = 60  # tiles per page: a screenful or two; thumbnails below the fold wait until scrolled to
THUMBNAIL = "w=320&h=320&format=auto"  # 2x the 160 px tile, WebP where the browser takes it
PREVIEW = "w=160&h=160&fit=cover&format=auto"  # a quarter of a folder's tile, 2x
PREVIEWS = 4  # originals shown on a folder's tile
PREVIEW_FOLDERS = 4  # folders listed to find them (a folder of folders shows what is further down)
START_WIDTH = 640  # the builder's first result: a useful size, not a full-size decode of a huge scan
CSP = ("default-src 'none'; img-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def index() -> Response:
    """The gallery, or the builder for `?image=`. A browser asking for a folder or an original that is not
    there gets this page with the reason (HTML, status kept), not problem+json it would show raw."""
    svc = _service_with_page()
    try:
        return _index(svc)
    except Problem as problem:
        if request.accept_mimetypes.best_match([PROBLEM_JSON, "text/html"]) != "text/html":
            raise
        g.problem = problem.detail  # on the access line, as for any refusal
        html = render_template("page.html", image=None, crumbs=_crumbs(""), problem=problem)
        return _page(html, problem.status)


def _index(svc: Any) -> Response:
    image = request.args.get("image")
    if image is not None:
        svc.folder.locate(image)  # 404 for an original that does not exist or may not be served
        html = render_template("page.html", image=image, crumbs=_crumbs(image.rpartition("/")[0]),
                               base=_image_path(image), signing=bool(svc.settings.signing_keys),
                               srcset_base="/srcset/" + quote(image, safe="/"),
                               fields=_fields(svc.settings), start_width=min(START_WIDTH, svc.settings.max_dimension))
        return _page(html)
    dir = request.args.get("dir", "").strip("/")
    number = _page_number(request.args.get("page", "1"))
    folders, files = svc.folder.listing(dir)
    entries = [("folder", id) for id in folders] + [("image", id) for id in files]
    pages = max(1, math.ceil(len(entries) / PAGE_SIZE))
    if number > pages:
        raise bad_option("page", f"this folder has {pages} page{'s' if pages > 1 else ''}, not {number}")
    shown = entries[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]
    tiles = [{"kind": kind, "id": id, "name": id.rpartition("/")[2],
              "thumbnail": _thumbnail(id, svc.settings) if kind == "image" else None,
              "previews": [_thumbnail(inner, svc.settings, PREVIEW) for inner in _inside(svc.folder, id)]
              if kind == "folder" else []} for kind, id in shown]
    html = render_template("page.html", image=None, crumbs=_crumbs(dir), dir=dir, tiles=tiles, number=number,
                           pages=pages, folders=len(folders), files=len(files))
    return _page(html)


def sign() -> Response:
    """The builder's signing helper: only where the operator turned the page on under signing."""
    svc = _service_with_page()
    if not svc.settings.signing_keys:
        raise Problem(404, "signing is off on this server: URLs need no signature")
    url = request.args.get("url", "")
    parts = urlsplit(url)
    if not parts.path.startswith(("/image/", "/srcset/")) or parts.scheme or parts.netloc:
        raise bad_option("url", "expected a path like /image/<id>?<options> or /srcset/<id>?<options>; only those "
                                "are signed here")
    response = jsonify(url=signing.sign_url(url, svc.settings.signing_keys[0]))
    response.headers["Cache-Control"] = "no-store"
    return response


def _service_with_page() -> Any:
    svc = service()
    if not svc.settings.page_enabled:
        raise Problem(404, "the page is off on this server; IMGSERVE_UI=1 turns it on (with signing on, it is "
                           "an operator tool for internal networks)")
    return svc


def _page_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 10**6:
        raise bad_option("page", f"expected a page number from 1, got {text!r}")
    return int(text)


def _image_path(id: str) -> str:
    return "/image/" + quote(id, safe="/")


def _inside(folder: Folder, dir: str) -> list[str]:
    """A few originals in `dir`, or further down for a folder of folders: breadth first, listing at most
    PREVIEW_FOLDERS folders (a scandir each, no file opened). A folder that cannot be listed shows none."""
    found: list[str] = []
    waiting, budget = [dir], PREVIEW_FOLDERS
    while waiting and budget and len(found) < PREVIEWS:
        budget -= 1
        try:
            folders, files = folder.listing(waiting.pop(0))
        except (Problem, OSError):
            continue
        found += files[:PREVIEWS - len(found)]
        waiting += folders
    return found


def _thumbnail(id: str, settings: Settings, query: str = THUMBNAIL) -> str:
    if settings.presets_only:  # only presets are served: the one called thumb, or the first
        query = "preset=" + ("thumb" if "thumb" in settings.presets else next(iter(settings.presets)))
    url = f"{_image_path(id)}?{query}"
    return signing.sign_url(url, settings.signing_keys[0]) if settings.signing_keys else url


def _crumbs(dir: str) -> list[dict[str, str]]:
    """Root, then each folder down to `dir`, each with the `dir` that lists it."""
    crumbs = [{"name": "originals", "dir": ""}]
    parts = [p for p in dir.split("/") if p]
    for i, name in enumerate(parts):
        crumbs.append({"name": name, "dir": "/".join(parts[: i + 1])})
    return crumbs


def _fields(settings: Settings) -> list[dict[str, Any]]:
    """The builder's form: one field per option this server accepts, from the same table as the
    OpenAPI document. Enums become selects, 0/1 checkboxes, numbers number inputs."""
    fields = []
    for param in query_options(settings):
        schema, name = param["schema"], param["name"]
        if name == signing.SIGNATURE:
            continue
        if schema.get("enum") == [0, 1]:
            kind = "checkbox"
        elif "enum" in schema:
            kind = "select"
        elif schema["type"] in ("integer", "number"):
            kind = "number"
        else:
            kind = "text"
        fields.append({"name": name, "kind": kind, "schema": schema, "help": param["description"],
                       "step": 1 if schema["type"] == "integer" else "any", "required": param["required"]})
    return fields


def _page(html: str, status: int = 200) -> Response:
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"  # the listing changes as files come and go
    return response
