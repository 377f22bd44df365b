"""The seed-style baseline: what the idea looked like before imgserve - full imread, resize, imencode.

    python bench/servers/seed_app.py ROOT PORT [THREADS]

GET /image/<name>?w=N[&format=jpeg|webp|avif]: JPEG q80 without `format` (W1), else that encoder at q80.
"""

import sys
from pathlib import Path

import cv2
import waitress
from flask import Flask, Response, request

root = Path(sys.argv[1])
app = Flask(__name__)
PARAMS = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, 80], "webp": [cv2.IMWRITE_WEBP_QUALITY, 80],
          "avif": [cv2.IMWRITE_AVIF_QUALITY, 80] if hasattr(cv2, "IMWRITE_AVIF_QUALITY") else []}


@app.get("/image/<name>")
def image(name: str) -> Response:
    picture = cv2.imread(str(root / name), cv2.IMREAD_COLOR)
    width = int(request.args["w"])
    height = round(picture.shape[0] * width / picture.shape[1])
    picture = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    format = request.args.get("format", "jpeg")
    return Response(cv2.imencode(f".{format.replace('jpeg', 'jpg')}", picture, PARAMS[format])[1].tobytes(),
                    content_type=f"image/{format}")


if __name__ == "__main__":
    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=int(sys.argv[3]) if len(sys.argv) > 3 else 4,
                   _quiet=True)
