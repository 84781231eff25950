// Benchmark of FIRENET (a report, not a test): reconstruction time (n = 5, p = 10, db4, 25%
// variable density) per held-out brain slice at 128² and 256², natively (`lab bench-firenet`,
// which also times one A/A* pair) and in the browser's compute worker, with the ratio.
// Target (issue 4): ≤ 50 ms at 128² in the browser.
//   cargo build --release --bin lab && trunk build --release && node scripts/bench-mri.mjs [runs=12]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, stats, benchProbe } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.argv[2] ?? 12);

const lab = path.join(ROOT, 'target/release/lab');
for (const [file, how] of [[lab, 'cargo build --release --bin lab'], [path.join(ROOT, 'dist/index.html'), 'trunk build --release']]) {
  if (!fs.existsSync(file)) {
    console.error(`build first: ${how}`);
    process.exit(2);
  }
}
const nativeOut = execFileSync(lab, ['bench-firenet'], { cwd: ROOT, encoding: 'utf8' });
process.stdout.write(nativeOut);
const native = {};
for (const m of nativeOut.matchAll(/^native firenet (\d+) median ([\d.]+) ms p95 ([\d.]+) ms/gm)) {
  native[m[1]] = { median: Number(m[2]), p95: Number(m[3]) };
}

// Records the worker's reconstruction times.
const PROBE = benchProbe({ millis: [] }, (lab, b) => {
  if (b.kind === 'reconstructed') lab.millis.push(b.millis);
});

const { server, url } = await startServer(path.join(ROOT, 'dist'), 0);
const browser = await launch();
const results = {};
try {
  for (const side of [128, 256]) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
    await context.addInitScript(PROBE);
    const page = await context.newPage();
    // Each run a different held-out slice or seed, so that the worker reconstructs again.
    const hash = (k) => `#/mri?image=brain&orientation=axial&slice=${k % (side === 128 ? 10 : 3)}&side=${side}&seed=${1 + Math.floor(k / 10)}`;
    await page.goto(`${url}${hash(0)}`);
    await page.waitForFunction(() => window.__bench.millis.length >= 1, null, { timeout: 120_000 });
    for (let k = 1; k <= RUNS; k++) {
      // Let the page finish drawing the previous result (canvases, plot), so that the worker's
      // time is measured without the page's rendering competing for the two cores.
      await page.waitForTimeout(400);
      await page.evaluate((h) => { location.hash = h; }, hash(k).replace('seed=', `rate=0.${25 + (k % 2)}&seed=`));
      await page.waitForFunction((n) => window.__bench.millis.length >= n, k + 1, { timeout: 120_000 });
    }
    const millis = await page.evaluate(() => window.__bench.millis);
    results[side] = { first: millis[0], ...stats(millis.slice(1)) };
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}

console.log(`\nFIRENET per reconstruction in the browser worker (${RUNS} runs after the first):`);
console.log('side   first run   browser median  browser p95   native median  native p95   ratio (median)');
for (const side of [128, 256]) {
  const b = results[side];
  const n = native[side];
  console.log(`${String(side).padEnd(6)} ${b.first.toFixed(1).padStart(8)} ms ${b.median.toFixed(1).padStart(11)} ms ${b.p95.toFixed(1).padStart(9)} ms ` +
    `${n.median.toFixed(1).padStart(11)} ms ${n.p95.toFixed(1).padStart(9)} ms   ${(b.median / n.median).toFixed(2)}`);
}
const r = results[128];
console.log(`\ntarget: ≤ 50 ms at 128² in the browser -> median ${r.median.toFixed(1)} ms: ${r.median <= 50 ? 'met' : 'NOT MET'}`);
