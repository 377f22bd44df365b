// sharp's AVIF encoder on raw RGB thumbnails, for bench/colour_formats.py avif.
//   node bench/servers/sharp_avif.js DIR q1,q2,... effort1,...  -> DIR/sharp.json [{name,q,effort,bytes,ms,cpu_ms}]
// Reads DIR/index.json [{name,width,height}] and DIR/<name>.rgb; writes each AVIF as DIR/<name>.q<q>.e<e>.avif.
const sharp = require("sharp");
const fs = require("fs");
const path = require("path");

sharp.concurrency(1); // one libvips thread, as one imgserve render runs one encoder call
sharp.cache(false);
const [dir, qs, efforts] = [process.argv[2], process.argv[3].split(",").map(Number), process.argv[4].split(",").map(Number)];
const items = JSON.parse(fs.readFileSync(path.join(dir, "index.json")));
(async () => {
  const out = [];
  for (const item of items) {
    const raw = fs.readFileSync(path.join(dir, item.name + ".rgb"));
    for (const effort of efforts) {
      for (const q of qs) {
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        const body = await sharp(raw, { raw: { width: item.width, height: item.height, channels: 3 } })
          .avif({ quality: q, effort })
          .toBuffer();
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const used = process.cpuUsage(cpu);
        fs.writeFileSync(path.join(dir, `${item.name}.q${q}.e${effort}.avif`), body);
        out.push({ name: item.name, q, effort, bytes: body.length, ms, cpu_ms: (used.user + used.system) / 1000 });
      }
    }
  }
  fs.writeFileSync(path.join(dir, "sharp.json"), JSON.stringify(out));
})();
