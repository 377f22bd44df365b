// Encode raw RGB thumbnails with sharp, one job per entry of a JSON file:
//   [{"raw": "x.rgb", "width": 300, "height": 188, "out": "x_q80.jpg", "format": "jpeg", "options": {...}}]
// Prints one JSON line per job: the output's bytes and the encode time (ms, median of `reps`).
// sharp comes from NODE_PATH (bench/.cache/node/node_modules, installed by bench/http_bench.py).
const fs = require('fs');
const sharp = require('sharp');

sharp.concurrency(1);  // one thread, as one imgserve render slot encodes
sharp.cache(false);

async function main() {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const reps = Number(process.argv[3] || 5);
  for (const job of jobs) {
    const raw = fs.readFileSync(job.raw);
    const times = [];
    let buffer;
    for (let i = 0; i < reps; i++) {
      const started = process.hrtime.bigint();
      buffer = await sharp(raw, { raw: { width: job.width, height: job.height, channels: 3 } })
        [job.format](job.options).toBuffer();
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    fs.writeFileSync(job.out, buffer);
    console.log(JSON.stringify({ out: job.out, bytes: buffer.length, ms: times[Math.floor(reps / 2)] }));
  }
}

main();
