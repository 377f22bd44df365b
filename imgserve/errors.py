"""The one error type: a status, a public detail, rendered as RFC 9457 problem+json.

Every module raises `Problem` for anything a client can cause; the web layer renders it. The detail
is written for the person reading the response, so it says what was wrong and what would be right.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, detail: str, *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    @property
    def title(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:  # 499, nginx's name for a request whose client hung up
            return "Client Closed Request"

    def body(self) -> bytes:
        return json.dumps({"type": "about:blank", "status": self.status, "title": self.title,
                           "detail": self.detail, **self.extra}).encode()

    def __repr__(self) -> str:
        return f"Problem({self.status}, {self.detail!r})"


def bad_option(name: str, detail: str) -> Problem:
    """400 for one query option; the body names it so clients can tell which one."""
    return Problem(400, f"{name}: {detail}", option=name)
