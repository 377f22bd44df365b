"""What one app instance holds (settings, sources, caches, admission, metrics), and how a view gets it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

import numpy as np
from flask import current_app

from ..errors import Problem
from ..imaging.pipeline import Rendered
from ..options import preset_problem
from ..settings import PREFIX, Settings, SettingsError
from ..sources.folder import Folder
from ..sources.remote import Remote
from ..sources.upload import Uploads
from . import logs, metrics
from .admission import Admission
from .caching import ResultCache

EXTENSION = "imgserve"  # the key of the Service in Flask's app.extensions


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.folder = Folder(settings.root, settings.manifest)
        except (OSError, ValueError) as error:
            raise SettingsError(f"{PREFIX}MANIFEST: {error}") from None
        self.remote = Remote(settings.remote_allow, max_bytes=settings.max_source_bytes,
                             timeout=settings.remote_timeout, connect_timeout=settings.remote_connect_timeout,
                             max_redirects=settings.remote_max_redirects,
                             max_downloads=settings.remote_max_downloads)
        self.uploads = Uploads(settings.max_body_bytes)
        self.cache: ResultCache[Rendered] = ResultCache(settings.cache_bytes, lambda r: len(r.body))
        self.overlays: ResultCache[np.ndarray] = ResultCache(settings.overlay_cache_bytes, lambda a: a.nbytes)
        self.admission = Admission(settings.max_in_flight, settings.max_queue, settings.queue_wait,
                                   settings.max_memory)
        self.metrics = metrics.Metrics(self)
        problem = preset_problem(settings)
        if problem:
            raise SettingsError(f"{PREFIX}{problem[0].upper()}: {problem[1]}")
        for name, query in settings.presets.items():
            overlay = dict(parse_qsl(query, keep_blank_values=True)).get("overlay")
            try:
                if overlay is not None:  # a watermark every URL gets must exist
                    self.folder.locate(overlay)
            except Problem as missing:
                raise SettingsError(f"{PREFIX}PRESETS: preset {name!r}: overlay: {missing.detail}") from None

    def account(self, environ: dict, endpoint: str, status: int, sent: int, seconds: float, **fields: Any) -> None:
        """One access line and the request metrics, for the Flask app and the repeat cache alike."""
        self.metrics.request(endpoint, status, seconds)
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        query = environ.get("QUERY_STRING", "")
        logs.access(environ["REQUEST_METHOD"], quote(path, safe="/:@!$&'()*+,;=~") + (f"?{query}" if query else ""),
                    status, sent, seconds, **fields)


def service() -> Service:
    """The Service of the app handling the current request."""
    return current_app.extensions[EXTENSION]
