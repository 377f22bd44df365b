// sharp (libvips) thumbnail server for the benchmark: GET /image/<name>?w=N -> JPEG q80.
//   node bench/servers/sharp_server.js ROOT PORT
const http = require("http");
const path = require("path");
const sharp = require("sharp");

const [root, port] = process.argv.slice(2);
sharp.cache(false); // no result or operation cache: the same rules as imgserve with its cache off

http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const name = path.basename(decodeURIComponent(url.pathname));
  try {
    const body = await sharp(path.join(root, name))
      .rotate()
      .resize({ width: parseInt(url.searchParams.get("w"), 10) })
      .jpeg({ quality: 80 })
      .toBuffer();
    res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": body.length });
    res.end(body);
  } catch (error) {
    res.writeHead(500);
    res.end(String(error));
  }
}).listen(parseInt(port, 10), "127.0.0.1");
