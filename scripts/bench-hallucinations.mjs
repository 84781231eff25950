// Benchmark of the hallucinations demo (a report, not a test): for each shipped reconstruction
// network and for FIRENET in its setting, the time of one reconstruction (forward pass) and of
// one instability-test iteration (forward + backward + probe), natively (`lab
// bench-instability`) and in the browser's compute worker, with the ratio.
// Targets (issue 5): a network's forward pass ≤ 200 ms in the browser worker.
//   cargo build --release --bin lab && trunk build --release && node scripts/bench-hallucinations.mjs [figures=4]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, stats, benchProbe } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIGURES = Number(process.argv[2] ?? 4);
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/instability.json'), 'utf8'));
const nets = report.networks.map((n) => n.name);

const lab = path.join(ROOT, 'target/release/lab');
for (const [file, how] of [[lab, 'cargo build --release --bin lab'], [path.join(ROOT, 'dist/index.html'), 'trunk build --release']]) {
  if (!fs.existsSync(file)) {
    console.error(`build first: ${how}`);
    process.exit(2);
  }
}
const nativeOut = execFileSync(lab, ['bench-instability', '--nets', nets.join(','), '--repeats', '15'], { cwd: ROOT, encoding: 'utf8' });
process.stdout.write(nativeOut);
const native = {};
for (const m of nativeOut.matchAll(/^native (\S+) \(\d+², with (\S+)'s mask\) forward median ([\d.]+) ms p95 ([\d.]+) ms; iteration median ([\d.]+) ms p95 ([\d.]+) ms/gm)) {
  native[`${m[1]}@${m[2]}`] = { forward: Number(m[3]), forwardP95: Number(m[4]), iteration: Number(m[5]), iterationP95: Number(m[6]) };
}

// Records the worker's per-pass and per-iteration times.
const PROBE = benchProbe({ figures: [], searches: [] }, (lab, b) => {
  if (b.kind === 'hallucinated') lab.figures.push(b);
  if (b.kind === 'instability_searched') lab.searches.push(b);
});

const { server, url } = await startServer(path.join(ROOT, 'dist'), 0);
const browser = await launch();
const rows = [];
try {
  for (const net of nets) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
    await context.addInitScript(PROBE);
    const page = await context.newPage();
    await page.goto(`${url}#/hallucinations?net=${net}&t=1`);
    await page.waitForFunction(() => window.__bench.figures.length >= 1, null, { timeout: 180_000 });
    for (let k = 1; k <= FIGURES; k++) {
      await page.waitForTimeout(300);
      await page.evaluate(([n, t]) => { location.hash = `#/hallucinations?net=${n}&t=${t}`; }, [net, (0.5 + 0.25 * k).toFixed(2)]);
      await page.waitForFunction((n) => window.__bench.figures.length >= n, k + 1, { timeout: 180_000 });
    }
    await page.getByTestId('search-run').click();
    await page.waitForFunction(() => window.__bench.searches.length >= 1, null, { timeout: 600_000 });
    const { figures, searches } = await page.evaluate(() => window.__bench);
    const pass = (method) => figures.slice(1).map((f) => f.rows.find((r) => r.method === method).millis_per_pass);
    rows.push({ method: net, net, forward: stats(pass('net')), first: figures[0].rows[0].millis_per_pass, iteration: stats(searches[0].iteration_ms_net) });
    rows.push({ method: 'firenet', net, forward: stats(pass('firenet')), first: figures[0].rows[1].millis_per_pass, iteration: stats(searches[0].iteration_ms_firenet) });
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}

console.log(`\nIn the browser worker (${FIGURES} figures after the first, 4 reconstructions each; one live search of 20 iterations):`);
console.log('method (mask)            forward: browser median  p95   native median  ratio | iteration: browser median  p95   native median  ratio');
for (const r of rows) {
  const n = native[`${r.method}@${r.net}`];
  console.log(`${`${r.method} (${r.net})`.padEnd(24)} ${r.forward.median.toFixed(1).padStart(18)} ms ${r.forward.p95.toFixed(1).padStart(6)} ms ${n.forward.toFixed(1).padStart(9)} ms ${(r.forward.median / n.forward).toFixed(2).padStart(6)} |` +
    ` ${r.iteration.median.toFixed(1).padStart(20)} ms ${r.iteration.p95.toFixed(1).padStart(6)} ms ${n.iteration.toFixed(1).padStart(9)} ms ${(r.iteration.median / n.iteration).toFixed(2).padStart(6)}`);
}
