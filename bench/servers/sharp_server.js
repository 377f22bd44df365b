// sharp (libvips) thumbnail server for the benchmarks: GET /image/<name>?w=N[&format=jpeg|webp|avif][&q=80][&effort=E]
//   node bench/servers/sharp_server.js ROOT PORT
// Without format: JPEG q80, as W1 has always measured it. `effort` is sharp's encoder effort for WebP and
// AVIF (their defaults when absent: 4 each).
const http = require("http");
const path = require("path");
const sharp = require("sharp");

const [root, port] = process.argv.slice(2);
sharp.cache(false); // no result or operation cache: the same rules as imgserve with its cache off

const TYPES = { jpeg: "image/jpeg", webp: "image/webp", avif: "image/avif" };

http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const name = path.basename(decodeURIComponent(url.pathname));
  const format = url.searchParams.get("format") || "jpeg";
  const quality = parseInt(url.searchParams.get("q") || "80", 10);
  const effort = url.searchParams.get("effort");
  const options = { quality, ...(effort === null ? {} : { effort: parseInt(effort, 10) }) };
  try {
    const body = await sharp(path.join(root, name))
      .rotate()
      .resize({ width: parseInt(url.searchParams.get("w"), 10) })
      .toFormat(format, options)
      .toBuffer();
    res.writeHead(200, { "Content-Type": TYPES[format], "Content-Length": body.length });
    res.end(body);
  } catch (error) {
    res.writeHead(500);
    res.end(String(error));
  }
}).listen(parseInt(port, 10), "127.0.0.1");
