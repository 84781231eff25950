// Benchmark of the worker pool (a report, not a test): the same job in the browser with 1, 2 and 4
// workers (`?workers=N` before the `#`), each run in a fresh context (no worker has anything
// cached), median and p95 of the whole job, the speed-up over one worker, whether the numbers are
// those of one worker, and the memory each worker holds at the end (its wasm linear memory). Two
// jobs: the live sampling sweep (its rates dealt to the workers) and the universal page's transfer
// table refilled from the shipped perturbations (its held-out digits cut into one range per
// worker). Merges the key "pool" into static/reports/peers.json (the sweep's rows, as the Speed
// page reads them, and the transfer table's under "transfer"; with the date, the browser and the
// cores); a job left out keeps what the report had.
// Also the cancel's latency (job "cancel"), under "pool.cancel".
//   trunk build --release && node scripts/bench-pool.mjs [runs=3] [slices=4] [jobs=sweep,transfer,cancel]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './serve.mjs';
import { launch, stats, WORKER_PROBE } from '../tests/e2e/helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.LAB_DIST ? path.resolve(process.env.LAB_DIST) : path.join(ROOT, 'dist');
const PEERS = path.join(ROOT, 'static/reports/peers.json');
const RUNS = Number(process.argv[2] ?? 3);
const SLICES = Number(process.argv[3] ?? 4);
const JOBS = (process.argv[4] ?? 'sweep,transfer,cancel').split(',').filter(Boolean);
const CANCELS = 10;
const SWEEP = `nets=cascade-128&rates=5,10,20,30,40,60&slices=${SLICES}`;
const TRANSFER = 'model=linear&p=2';
const POOLS = [1, 2, 4];

/**
 * What each job opens, how it waits for the page to be ready, starts the job, waits for its end
 * and reads its numbers (compared between pool sizes).
 */
const JOBS_KNOWN = {
  sweep: {
    route: `#/sweep?${SWEEP}`,
    ready: (page) => page.getByTestId('sweep-compute').waitFor({ timeout: 60_000 }),
    start: (page) => page.getByTestId('sweep-compute').click(),
    done: (page) => page.getByTestId('live').waitFor({ timeout: 1_200_000 }),
    numbers: (page) => page.getByTestId('live-table').locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.textContent)),
  },
  transfer: {
    route: `#/universal?${TRANSFER}`,
    // The shipped perturbation on screen: the page's own worker is done loading.
    ready: async (page) => {
      await page.locator('[data-testid="universal-result"]').waitFor({ timeout: 60_000 });
      await page.getByTestId('transfer-refill').waitFor({ timeout: 60_000 });
    },
    start: (page) => page.getByTestId('transfer-refill').click(),
    done: (page) => page.getByTestId('transfer-live').waitFor({ timeout: 1_200_000 }),
    // The rates themselves (each cell's f64), row by row.
    numbers: (page) =>
      page
        .getByTestId('transfer-live')
        .locator('[data-testid="transfer-table"] tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.dataset.rate))),
  },
};

for (const job of JOBS) {
  if (!JOBS_KNOWN[job] && job !== 'cancel') {
    console.error(`unknown job '${job}': ${Object.keys(JOBS_KNOWN).join(', ')}`);
    process.exit(2);
  }
}
if (!fs.existsSync(path.join(DIST, 'index.html'))) {
  console.error('build first: trunk build --release');
  process.exit(2);
}

const { server, url } = await startServer(DIST, 0);
const browser = await launch();
const version = browser.version();
let cores = null;

/** The rows of `job`: one per pool size, with the times, the memory and the numbers' check. */
async function measure(job) {
  const { route, ready, start, done, numbers } = JOBS_KNOWN[job];
  const rows = [];
  for (const workers of POOLS) {
    const times = [];
    let memory = [];
    let table = null;
    for (let run = 0; run < RUNS; run++) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
      const page = await context.newPage();
      await page.goto(`${url}?workers=${workers}${route}`);
      await ready(page);
      cores ??= await page.evaluate(() => navigator.hardwareConcurrency);
      const started = Date.now();
      await start(page);
      await done(page);
      times.push(Date.now() - started);
      table = await numbers(page);
      memory = await Promise.all(page.workers().map((w) => w.evaluate(() => self.__labWasm?.memory?.buffer?.byteLength ?? null)));
      await context.close();
    }
    const s = stats(times);
    rows.push({ workers, median_ms: s.median, p95_ms: s.p95, runs: times, worker_memory_bytes: memory.filter((m) => m != null), table });
    console.log(`${job}, ${workers} worker(s): median ${(s.median / 1000).toFixed(2)} s, p95 ${(s.p95 / 1000).toFixed(2)} s; wasm memory per worker ${memory.map((m) => (m / 2 ** 20).toFixed(0) + ' MiB').join(', ')}`);
  }
  const one = rows[0].median_ms;
  const oneTable = JSON.stringify(rows[0].table);
  for (const r of rows) {
    r.speedup = one / r.median_ms;
    r.same_as_one_worker = JSON.stringify(r.table) === oneTable;
    delete r.table;
  }
  console.log(`\n${job}\nworkers  median     p95      speed-up  same numbers as 1 worker`);
  for (const r of rows) {
    console.log(`${String(r.workers).padEnd(8)} ${(r.median_ms / 1000).toFixed(2).padStart(6)} s  ${(r.p95_ms / 1000).toFixed(2).padStart(6)} s  ${r.speedup.toFixed(2).padStart(6)}×   ${r.same_as_one_worker}`);
  }
  console.log('');
  return rows;
}

/**
 * The cancel's latency: the sweep on 2 workers cancelled mid-job (after 2 units), `CANCELS`
 * times in fresh contexts; from the click to the moment every part has ended, by its "cancelled"
 * (or "swept") reply or by the pool terminating its worker (tests/e2e/helpers.mjs' probe
 * records both, with their times).
 */
async function measureCancel() {
  const latencies = [];
  const ends = { cancelled: 0, swept: 0, terminated: 0 };
  for (let run = 0; run < CANCELS; run++) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
    await context.addInitScript(WORKER_PROBE);
    const page = await context.newPage();
    await page.goto(`${url}?workers=2#/sweep?${SWEEP}`);
    await JOBS_KNOWN.sweep.ready(page);
    await JOBS_KNOWN.sweep.start(page);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="sweep-running"]')?.dataset.done ?? 0) >= 2, null, { timeout: 600_000 });
    const parts = await page.evaluate(() => window.__lab.requests.filter((r) => r.kind === 'sweep').map((r) => r.id));
    await page.evaluate(() => {
      window.__clicked = performance.now();
      document.querySelector('[data-testid="sweep-cancel"]').click();
    });
    const ended = await page.waitForFunction(
      (parts) => {
        const lab = window.__lab;
        const out = parts.map((id) => {
          const r = lab.replies.find((r) => r.id === id && (r.kind === 'cancelled' || r.kind === 'swept'))
            ?? lab.replies.find((r) => r.kind === 'terminated' && r.pending.includes(id));
          return r ? { how: r.kind, after: r.t - window.__clicked } : null;
        });
        return out.every(Boolean) ? out : null;
      },
      parts,
      { timeout: 60_000, polling: 10 },
    );
    const parts_ended = await ended.jsonValue();
    for (const e of parts_ended) ends[e.how] += 1;
    latencies.push(Math.max(...parts_ended.map((e) => e.after)));
    await context.close();
  }
  const s = stats(latencies);
  console.log(`cancel, 2 workers: every part ended ${s.median.toFixed(0)} ms (median), ${s.p95.toFixed(0)} ms (p95), ${Math.max(...latencies).toFixed(0)} ms (max) after the click; parts ${JSON.stringify(ends)}`);
  return { workers: 2, runs: CANCELS, median_ms: s.median, p95_ms: s.p95, max_ms: Math.max(...latencies), latencies_ms: latencies, parts_ended: ends };
}

const measured = {};
try {
  for (const job of JOBS) measured[job] = job === 'cancel' ? await measureCancel() : await measure(job);
} finally {
  await browser.close();
  server.close();
}

const peers = fs.existsSync(PEERS) ? JSON.parse(fs.readFileSync(PEERS, 'utf8')) : {};
peers.date = new Date().toISOString();
peers.browser ??= `Chromium ${version}`;
peers.cores = { navigator_hardware_concurrency: cores, os_cpus: os.cpus().length };
const pool = peers.pool ?? {};
if (measured.sweep) {
  Object.assign(pool, {
    what: `The live sampling sweep (#/sweep?${SWEEP}) in headless Chromium with 1, 2 and 4 workers (?workers=N), ${RUNS} runs each in a fresh context; the whole job from the click to the table; wasm linear memory of each worker at the end.`,
    command: 'bash scripts/bench-pool.sh',
    sweep: SWEEP,
    rows: measured.sweep,
  });
}
if (measured.transfer) {
  pool.transfer = {
    what: `The transfer table refilled from the shipped perturbations (#/universal?${TRANSFER}, "Refill"; the held-out digits cut into one range per worker) in headless Chromium with 1, 2 and 4 workers (?workers=N), ${RUNS} runs each in a fresh context; the whole job from the click to the table (the workers loading every model included); same_as_one_worker compares every cell's rate exactly.`,
    command: 'bash scripts/bench-pool.sh 3 4 transfer',
    page: TRANSFER,
    rows: measured.transfer,
  };
}
if (measured.cancel) {
  pool.cancel = {
    what: `The sweep (#/sweep?${SWEEP}) on 2 workers cancelled after 2 units, ${CANCELS} times in fresh contexts: from the click to the moment every part has ended (its reply, or its worker terminated by the pool 120 ms after the cancel).`,
    command: 'bash scripts/bench-pool.sh 3 4 cancel',
    ...measured.cancel,
  };
}
peers.pool = pool;
fs.writeFileSync(PEERS, JSON.stringify(peers, null, 2) + '\n');
console.log(`wrote ${path.relative(ROOT, PEERS)} (pool: ${JOBS.join(', ')})`);
