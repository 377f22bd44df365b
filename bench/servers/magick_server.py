"""ImageMagick as a thumbnail server, for the BMP workload (sharp and libvips cannot read BMP).

    python bench/servers/magick_server.py ROOT PORT

GET /image/<name>?w=N&format=jpeg|webp|avif -> `convert <file> -thumbnail Nx -quality 80 <format>:-`, one
process per request (how ImageMagick is usually put behind a web service), as many at once as requests
arrive; each convert uses ImageMagick's default OpenMP threads.
"""

import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

root = Path(sys.argv[1])


class Thumbnail(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        name = Path(unquote(url.path)).name
        format = query.get("format", ["jpeg"])[0]
        done = subprocess.run(["convert", str(root / name), "-thumbnail", f"{int(query['w'][0])}x", "-quality", "80",
                               f"{format}:-"], capture_output=True)
        body = done.stdout if done.returncode == 0 else done.stderr
        self.send_response(200 if done.returncode == 0 else 500)
        self.send_header("Content-Type", f"image/{format}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Thumbnail).serve_forever()
