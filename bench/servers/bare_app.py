"""A bare Flask app returning a constant body: the ceiling for a cached response under waitress.

    python bench/servers/bare_app.py BODY_FILE PORT THREADS
"""

import logging
import sys
from pathlib import Path

import waitress
from flask import Flask, Response

body = Path(sys.argv[1]).read_bytes()
app = Flask(__name__)


@app.get("/image/<path:name>")
def image(name: str) -> Response:
    return Response(body, content_type="image/jpeg")


if __name__ == "__main__":
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=int(sys.argv[3]), _quiet=True)
