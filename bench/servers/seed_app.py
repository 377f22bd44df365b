"""The seed-style baseline: what the idea looked like before imgserve - full imread, resize, imencode.

    python bench/servers/seed_app.py ROOT PORT [THREADS]
"""

import sys
from pathlib import Path

import cv2
import waitress
from flask import Flask, Response, request

root = Path(sys.argv[1])
app = Flask(__name__)


@app.get("/image/<name>")
def image(name: str) -> Response:
    picture = cv2.imread(str(root / name), cv2.IMREAD_COLOR)
    width = int(request.args["w"])
    height = round(picture.shape[0] * width / picture.shape[1])
    picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    return Response(cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes(),
                    content_type="image/jpeg")


if __name__ == "__main__":
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=int(sys.argv[3]) if len(sys.argv) > 3 else 4,
                   _quiet=True)
