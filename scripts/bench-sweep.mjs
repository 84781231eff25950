// Benchmark of the sampling sweep (a report, not a test): the default sweep of the shipped report
// (every network, 11 rates, 18 held-out slices), natively (`lab sampling-sweep --dry`) and in the
// browser's compute worker (#/sweep, "Compute in the browser"): the whole sweep and one step
// (one held-out slice at one rate by every method), median and p95, with the ratios; and the
// largest difference of the live sweep from the shipped report.
//   cargo build --release --bin lab && trunk build --release && node scripts/bench-sweep.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, stats, benchProbe } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.LAB_DIST ? path.resolve(process.env.LAB_DIST) : path.join(ROOT, 'dist');
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/sampling_sweep.json'), 'utf8'));
const nets = report.nets.map((n) => n.name);

const lab = path.join(ROOT, 'target/release/lab');
for (const [file, how] of [[lab, 'cargo build --release --bin lab'], [path.join(DIST, 'index.html'), 'trunk build --release']]) {
  if (!fs.existsSync(file)) {
    console.error(`build first: ${how}`);
    process.exit(2);
  }
}
const nativeOut = execFileSync(lab, ['sampling-sweep', '--nets', nets.join(','), '--dry'], { cwd: ROOT, encoding: 'utf8' });
process.stdout.write(nativeOut);
const m = /^native sweep ([\d.]+) s .*median ([\d.]+) ms p95 ([\d.]+) ms/m.exec(nativeOut);
if (!m) throw new Error('no native timing in the output of lab sampling-sweep --dry');
const native = { total: Number(m[1]) * 1000, median: Number(m[2]), p95: Number(m[3]) };

// The time of every progress report (one per slice) and the finished sweep.
const PROBE = benchProbe({ ticks: [], result: null }, (lab, b) => {
  if (b.kind === 'progress') lab.ticks.push(performance.now());
  if (b.kind === 'swept') lab.result = b;
});

const { server, url } = await startServer(DIST, 0);
const browser = await launch();
let browserRun;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
  await context.addInitScript(PROBE);
  const page = await context.newPage();
  // One worker: this benchmark compares the worker with the native sweep (the pool: bench-pool).
  await page.goto(`${url}?workers=1#/sweep`);
  await page.getByTestId('sweep-compute').waitFor({ timeout: 60_000 });
  const start = await page.evaluate(() => performance.now());
  await page.getByTestId('sweep-compute').click();
  await page.waitForFunction(() => window.__bench.result, null, { timeout: 1_200_000, polling: 500 });
  browserRun = await page.evaluate((start) => ({ ...window.__bench, start }), start);
  await context.close();
} finally {
  await browser.close();
  server.close();
}

const { ticks, result } = browserRun;
// Steps after the first (the first also loads the networks and slices).
const steps = ticks.slice(1).map((t, k) => t - ticks[k]);
const s = stats(steps);
let diff = 0;
const live = result.report;
live.rates.forEach((r, k) => {
  const j = report.rates.findIndex((q) => Math.abs(q - r) < 1e-9);
  if (j < 0) return;
  diff = Math.max(diff, Math.abs(live.psnr_zero_filled[k] - report.psnr_zero_filled[j]), Math.abs(live.psnr_firenet[k] - report.psnr_firenet[j]));
  for (const n of live.nets) diff = Math.max(diff, Math.abs(n.psnr[k] - report.nets.find((q) => q.name === n.name).psnr[j]));
});
console.log(`\nThe default sweep (${nets.join(', ')}; ${report.rates.length} rates × ${report.slices} held-out slices = ${ticks.length} steps):`);
console.log('                       browser worker      native   ratio');
console.log(`whole sweep          ${(result.millis / 1000).toFixed(1).padStart(12)} s ${(native.total / 1000).toFixed(1).padStart(9)} s ${(result.millis / native.total).toFixed(2).padStart(7)}`);
console.log(`one step, median     ${s.median.toFixed(0).padStart(11)} ms ${native.median.toFixed(0).padStart(8)} ms ${(s.median / native.median).toFixed(2).padStart(7)}`);
console.log(`one step, p95        ${s.p95.toFixed(0).padStart(11)} ms ${native.p95.toFixed(0).padStart(8)} ms ${(s.p95 / native.p95).toFixed(2).padStart(7)}`);
console.log(`largest difference of the live sweep from the shipped report: ${diff.toExponential(2)} dB`);
