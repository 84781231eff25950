// Benchmark of the universal perturbations demo (a report, not a test): each shipped model's
// ℓ₂ universal perturbation searched again with its shipped settings (500 training digits), and
// the ℓ₂ transfer table filled from the shipped perturbations, natively (`lab bench-universal`)
// and in the browser's compute worker; median, p95 and the browser/native ratio.
//   cargo build --release --bin lab && trunk build --release && node scripts/bench-universal.mjs [repeats=3]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, stats, benchProbe } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPEATS = Number(process.argv[2] ?? 3);
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/transfer.json'), 'utf8'));

const lab = path.join(ROOT, 'target/release/lab');
for (const [file, how] of [[lab, 'cargo build --release --bin lab'], [path.join(ROOT, 'dist/index.html'), 'trunk build --release']]) {
  if (!fs.existsSync(file)) {
    console.error(`build first: ${how}`);
    process.exit(2);
  }
}
const nativeOut = execFileSync(lab, ['bench-universal', '--repeats', String(REPEATS)], { cwd: ROOT, encoding: 'utf8' });
process.stdout.write(nativeOut);
const native = {};
for (const m of nativeOut.matchAll(/^native universal (\S+) .*median ([\d.]+) ms p95 ([\d.]+) ms/gm)) native[m[1]] = Number(m[2]);
const nativeTable = Number(/^native transfer table .*median ([\d.]+) ms/m.exec(nativeOut)[1]);

// Records the worker's answers.
const PROBE = benchProbe({ universal: [], transfer: [] }, (lab, b) => {
  if (b.kind === 'universal' && b.live) lab.universal.push(b.search_millis);
  if (b.kind === 'transfer') lab.transfer.push(b.table_millis);
});

const { server, url } = await startServer(path.join(ROOT, 'dist'), 0);
const browser = await launch();
const rows = [];
let table;
try {
  for (const model of report.models) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
    await context.addInitScript(PROBE);
    const page = await context.newPage();
    await page.goto(`${url}#/universal?model=${model}&p=2`);
    await page.getByTestId('universal-result').waitFor({ timeout: 120_000 });
    for (let k = 1; k <= REPEATS; k++) {
      await page.getByTestId('compute-live').click();
      await page.waitForFunction((n) => window.__bench.universal.length >= n, k, { timeout: 600_000 });
    }
    if (model === report.models[0]) {
      for (let k = 1; k <= REPEATS; k++) {
        await page.getByTestId('transfer-refill').click();
        await page.waitForFunction((n) => window.__bench.transfer.length >= n, k, { timeout: 600_000 });
      }
      table = stats(await page.evaluate(() => window.__bench.transfer));
    }
    rows.push({ model, browser: stats(await page.evaluate(() => window.__bench.universal)) });
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}

console.log(`\nIn the browser worker (${REPEATS} runs each):`);
console.log('model      universal search: browser median   p95      native median  ratio');
for (const r of rows) {
  const n = native[r.model];
  console.log(`${r.model.padEnd(10)} ${(r.browser.median / 1000).toFixed(2).padStart(22)} s ${(r.browser.p95 / 1000).toFixed(2).padStart(7)} s ${(n / 1000).toFixed(2).padStart(10)} s ${(r.browser.median / n).toFixed(2).padStart(6)}`);
}
console.log(`transfer table (${report.models.length}×${report.models.length}, ${report.held_out_count} held-out digits): browser median ${(table.median / 1000).toFixed(2)} s, p95 ${(table.p95 / 1000).toFixed(2)} s, native ${(nativeTable / 1000).toFixed(2)} s, ratio ${(table.median / nativeTable).toFixed(2)}`);
