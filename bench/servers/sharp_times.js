// CPU and wall time of sharp's whole thumbnail per original, one at a time, as sharp_server.js makes it.
//   node bench/servers/sharp_times.js ROUNDS WIDTH FORMAT FILE...   -> JSON {file: {cpu, wall}} (medians, ms)
// CPU time is the process's user + system time over the render (every libvips thread counted).
const sharp = require("sharp");

const [rounds, width, format, ...files] = process.argv.slice(2);
sharp.cache(false);

async function one(file) {
  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  try {
    await sharp(file).rotate().resize({ width: parseInt(width, 10) }).toFormat(format, { quality: 80 }).toBuffer();
  } catch (error) {
    return { cpu: null, wall: null };
  }
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1000, wall: Number(process.hrtime.bigint() - wall) / 1e6 };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

(async () => {
  const out = {};
  for (const file of files) {
    await one(file); // warm-up
    const runs = [];
    for (let r = 0; r < parseInt(rounds, 10); r++) runs.push(await one(file));
    out[file] = runs[0].cpu === null ? null : { cpu: median(runs.map((r) => r.cpu)), wall: median(runs.map((r) => r.wall)) };
  }
  console.log(JSON.stringify(out));
})();
