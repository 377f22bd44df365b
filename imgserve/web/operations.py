"""For operators: liveness and readiness for load balancers and orchestrators, and Prometheus metrics.

All three are cheap, unauthenticated and do no pixel work.

`/healthz` answers while the process can run a request at all. `/readyz` also says whether this
instance should get traffic: the root must be readable (a lost mount makes every request fail) and a
render must be able to get a slot or a queue place (otherwise it would be shed with a 503 anyway, and
the balancer should send it to another replica). Both read a few counters and stat one folder.
"""

from __future__ import annotations

import os

from flask import Response, jsonify, request

from ..errors import Problem
from .service import service


def healthz() -> Response:
    return _no_store(jsonify(status="ok"))


def readyz() -> Response:
    svc = service()
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


def metrics() -> Response:
    body, content_type = service().metrics.exposition(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
