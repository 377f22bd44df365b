"""Liveness and readiness for load balancers and orchestrators: cheap, unauthenticated, no pixel work.

`/healthz` answers while the process can run a request at all. `/readyz` also says whether this
instance should get traffic: the root must be readable (a lost mount makes every request fail) and a
render must be able to get a slot or a queue place (otherwise it would be shed with a 503 anyway, and
the balancer should send it to another replica). Both read a few counters and stat one folder.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, jsonify

from ..errors import Problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(jsonify(status="ok"))


@bp.get("/readyz")
def readyz() -> Response:
    svc = current_app.extensions["imgserve"]
    admission = svc.admission
    load = {"in_flight": admission.in_flight, "limit": admission.limit,
            "waiting": admission.waiting, "queue": admission.queue}
    root = svc.folder.root
    if not (os.path.isdir(root) and os.access(root, os.R_OK | os.X_OK)):
        raise Problem(503, "not ready: the image root is not a readable folder; check the mount and IMGSERVE_ROOT",
                      headers={"Retry-After": "5", "Cache-Control": "no-store"}, **load)
    if admission.full:
        raise Problem(503, f"not ready: all {admission.limit} processing slots are busy and the queue of "
                           f"{admission.queue} is full; new renders would be refused",
                      headers={"Retry-After": "1", "Cache-Control": "no-store"}, **load)
    return _no_store(jsonify(status="ready", **load))


def _no_store(response: Response) -> Response:
    """A probe must see this instance's state now, never a cached answer."""
    response.headers["Cache-Control"] = "no-store"
    return response
