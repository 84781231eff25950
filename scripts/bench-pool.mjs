// Benchmark of the worker pool (a report, not a test): the same live sampling sweep in the
// browser with 1, 2 and 4 workers (`?workers=N` before the `#`), each run in a fresh context (no
// worker has anything cached), median and p95 of the whole job, the speed-up over one worker,
// and the memory each worker holds at the end (its wasm linear memory). Merges the key "pool"
// into static/reports/peers.json (with the date, the browser and the cores).
//   trunk build --release && node scripts/bench-pool.mjs [runs=3] [slices=4]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, stats } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.LAB_DIST ? path.resolve(process.env.LAB_DIST) : path.join(ROOT, 'dist');
const PEERS = path.join(ROOT, 'static/reports/peers.json');
const RUNS = Number(process.argv[2] ?? 3);
const SLICES = Number(process.argv[3] ?? 4);
const SWEEP = `nets=cascade-128&rates=5,10,20,30,40,60&slices=${SLICES}`;
const POOLS = [1, 2, 4];

if (!fs.existsSync(path.join(DIST, 'index.html'))) {
  console.error('build first: trunk build --release');
  process.exit(2);
}

const { server, url } = await startServer(DIST, 0);
const browser = await launch();
const version = browser.version();
const rows = [];
let cores = null;
try {
  for (const workers of POOLS) {
    const times = [];
    let memory = [];
    let table = null;
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
      const page = await context.newPage();
      await page.goto(`${url}?workers=${workers}#/sweep?${SWEEP}`);
      await page.getByTestId('sweep-compute').waitFor({ timeout: 60_000 });
      cores ??= await page.evaluate(() => navigator.hardwareConcurrency);
      const start = Date.now();
      await page.getByTestId('sweep-compute').click();
      await page.getByTestId('live').waitFor({ timeout: 1_200_000 });
      times.push(Date.now() - start);
      table = await page.getByTestId('live-table').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.textContent));
      memory = await Promise.all(page.workers().map((w) => w.evaluate(() => self.__labWasm?.memory?.buffer?.byteLength ?? null)));
      await context.close();
    }
    const s = stats(times);
    rows.push({ workers, median_ms: s.median, p95_ms: s.p95, runs: times, worker_memory_bytes: memory.filter((m) => m != null), table });
    console.log(`${workers} worker(s): median ${(s.median / 1000).toFixed(2)} s, p95 ${(s.p95 / 1000).toFixed(2)} s; wasm memory per worker ${memory.map((m) => (m / 2 ** 20).toFixed(0) + ' MiB').join(', ')}`);
  }
} finally {
  await browser.close();
  server.close();
}

const one = rows[0].median_ms;
const oneTable = JSON.stringify(rows[0].table);
for (const r of rows) {
  r.speedup = one / r.median_ms;
  r.same_as_one_worker = JSON.stringify(r.table) === oneTable;
  delete r.table;
}
console.log('\nworkers  median     p95      speed-up  same numbers as 1 worker');
for (const r of rows) {
  console.log(`${String(r.workers).padEnd(8)} ${(r.median_ms / 1000).toFixed(2).padStart(6)} s  ${(r.p95_ms / 1000).toFixed(2).padStart(6)} s  ${r.speedup.toFixed(2).padStart(6)}×   ${r.same_as_one_worker}`);
}

const peers = fs.existsSync(PEERS) ? JSON.parse(fs.readFileSync(PEERS, 'utf8')) : {};
peers.date = new Date().toISOString();
peers.browser ??= `Chromium ${version}`;
peers.cores = { navigator_hardware_concurrency: cores, os_cpus: os.cpus().length };
peers.pool = {
  what: `The live sampling sweep (#/sweep?${SWEEP}) in headless Chromium with 1, 2 and 4 workers (?workers=N), ${RUNS} runs each in a fresh context; the whole job from the click to the table; wasm linear memory of each worker at the end.`,
  command: 'bash scripts/bench-pool.sh',
  sweep: SWEEP,
  rows,
};
fs.writeFileSync(PEERS, JSON.stringify(peers, null, 2) + '\n');
console.log(`\nwrote ${path.relative(ROOT, PEERS)} (pool)`);
