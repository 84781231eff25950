// Benchmarks of the release bundle (dist/): what it weighs, what the first visit downloads, and
// how long the first prediction takes in headless Chromium. A report, not a test: it prints the
// figures against the budgets (3 MB gzipped first visit, 2 s to the first prediction).
//   trunk build --release && node scripts/bench.mjs [runs=5]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const RUNS = Number(process.argv[2] ?? 5);
const DOWNLOAD_BUDGET = 3_000_000; // bytes, gzipped (3 MB)
const STARTUP_BUDGET = 2_000; // ms
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const gz = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const verdict = (ok) => (ok ? 'within budget' : 'OVER BUDGET');

function group(rel) {
  const ext = path.extname(rel);
  if (rel.startsWith('static/models/')) return 'weights';
  if (rel.startsWith('static/data/')) return 'data';
  if (ext === '.wasm') return 'wasm';
  if (ext === '.js' || ext === '.mjs') return 'JS';
  if (['.css', '.html', '.svg', '.ico'].includes(ext)) return 'CSS/HTML';
  return 'other';
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

function bundleSizes() {
  const files = walk(DIST).map((p) => {
    const rel = path.relative(DIST, p).split(path.sep).join('/');
    const buf = fs.readFileSync(p);
    return { rel, group: group(rel), raw: buf.length, gzip: gz(buf) };
  });
  const order = ['wasm', 'JS', 'CSS/HTML', 'weights', 'data', 'other'];
  console.log('\n== Release bundle (dist/): raw and gzip -9 ==');
  console.log(`${pad('file', 52)} ${lpad('raw', 12)} ${lpad('gzip', 12)}`);
  const total = { raw: 0, gzip: 0 };
  for (const g of order) {
    const fs_ = files.filter((f) => f.group === g).sort((a, b) => b.raw - a.raw);
    if (!fs_.length) continue;
    const sum = { raw: 0, gzip: 0 };
    for (const f of fs_) {
      console.log(`  ${pad(f.rel, 50)} ${lpad(kb(f.raw), 12)} ${lpad(kb(f.gzip), 12)}`);
      sum.raw += f.raw;
      sum.gzip += f.gzip;
    }
    console.log(`${pad(`[${g}] ${fs_.length} file(s)`, 52)} ${lpad(kb(sum.raw), 12)} ${lpad(kb(sum.gzip), 12)}`);
    total.raw += sum.raw;
    total.gzip += sum.gzip;
  }
  console.log(`${pad(`TOTAL ${files.length} files`, 52)} ${lpad(kb(total.raw), 12)} ${lpad(kb(total.gzip), 12)}`);
  return { files, total };
}

/** Waits until no request has started or finished for `quietMs`. */
async function settle(counter, quietMs = 1000, maxMs = 15_000) {
  const start = Date.now();
  let last = counter.changes;
  let since = Date.now();
  while (Date.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 100));
    if (counter.changes !== last || counter.pending > 0) {
      last = counter.changes;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

async function firstVisit(browser, base) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const counter = { changes: 0, pending: 0 };
  const bodies = [];
  context.on('request', () => {
    counter.changes += 1;
    counter.pending += 1;
  });
  const done = () => {
    counter.changes += 1;
    counter.pending -= 1;
  };
  context.on('requestfailed', done);
  context.on('requestfinished', done);
  context.on('response', (res) => {
    bodies.push(
      res
        .body()
        .then((b) => ({ url: res.url(), status: res.status(), raw: b.length, gzip: gz(b) }))
        .catch((e) => ({ url: res.url(), status: res.status(), raw: 0, gzip: 0, note: `no body: ${e.message}` })),
    );
  });
  await page.goto(base);
  await page.getByTestId('demo-grid').waitFor({ timeout: 30_000 });
  await page.locator('.demo-card.live', { hasText: 'Classify' }).click();
  await page.getByTestId('predicted-label').waitFor({ timeout: 30_000 });
  await page.getByTestId('model-card').waitFor({ timeout: 30_000 });
  await settle(counter);
  const got = await Promise.all(bodies);
  await context.close();

  console.log('\n== First visit: home page, then Classify (every response, bodies gzipped here) ==');
  console.log(`${pad('url', 52)} ${lpad('status', 6)} ${lpad('raw', 12)} ${lpad('gzip', 12)}`);
  const total = { raw: 0, gzip: 0 };
  const seen = new Map();
  for (const r of got) {
    const rel = r.url.startsWith(base) ? r.url.slice(base.length) || '/' : r.url;
    const again = seen.has(r.url) ? ' (again)' : '';
    seen.set(r.url, (seen.get(r.url) ?? 0) + 1);
    console.log(`  ${pad(rel + again, 50)} ${lpad(r.status, 6)} ${lpad(kb(r.raw), 12)} ${lpad(kb(r.gzip), 12)}${r.note ? `  ${r.note}` : ''}`);
    total.raw += r.raw;
    total.gzip += r.gzip;
  }
  const repeats = [...seen.values()].filter((n) => n > 1).length;
  console.log(`${pad(`TOTAL ${got.length} responses${repeats ? `, ${repeats} URL(s) twice or more` : ''}`, 59)} ${lpad(kb(total.raw), 12)} ${lpad(kb(total.gzip), 12)}`);
  console.log(`budget: ${mb(DOWNLOAD_BUDGET)} gzipped; first visit ${mb(total.gzip)} gzipped -> ${verdict(total.gzip <= DOWNLOAD_BUDGET)}`);
  return { responses: got, total };
}

function quantile(sorted, q) {
  // Nearest rank.
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

async function startup(browser, base) {
  const times = [];
  const target = `${base}#/classify?model=cnn&digit=0`;
  for (let run = 0; run < RUNS; run += 1) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(target);
    await page.waitForFunction(() => performance.getEntriesByName('first-prediction').length > 0, null, {
      timeout: 30_000,
      polling: 20,
    });
    const t = await page.evaluate(() => performance.getEntriesByName('first-prediction')[0].startTime);
    times.push(t);
    await context.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const p95 = quantile(sorted, 0.95);
  console.log(`\n== Navigation to first prediction (cnn, digit 0), ${RUNS} runs, fresh context each ==`);
  console.log(`runs (ms): ${times.map((t) => t.toFixed(0)).join(', ')}`);
  console.log(`median ${median.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms; budget ${STARTUP_BUDGET} ms -> ${verdict(p95 <= STARTUP_BUDGET)}`);
  return { times, median, p95 };
}

if (!fs.existsSync(path.join(DIST, 'index.html'))) {
  console.error('dist/index.html is missing: build the release bundle first (trunk build --release).');
  process.exit(2);
}

const bundle = bundleSizes();
const { server, url: base } = await startServer(DIST, 0);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
try {
  const visit = await firstVisit(browser, base);
  const start = await startup(browser, base);
  console.log('\n== Summary ==');
  const rows = [
    ['bundle, all files (gzip)', mb(bundle.total.gzip), '', ''],
    ['first visit download (gzip)', mb(visit.total.gzip), mb(DOWNLOAD_BUDGET), verdict(visit.total.gzip <= DOWNLOAD_BUDGET)],
    ['first prediction, median', `${start.median.toFixed(0)} ms`, '', ''],
    ['first prediction, p95', `${start.p95.toFixed(0)} ms`, `${STARTUP_BUDGET} ms`, verdict(start.p95 <= STARTUP_BUDGET)],
  ];
  console.log(`${pad('measure', 30)} ${lpad('value', 12)} ${lpad('budget', 12)}  verdict`);
  for (const [a, b, c, d] of rows) console.log(`${pad(a, 30)} ${lpad(b, 12)} ${lpad(c, 12)}  ${d}`);
} finally {
  await browser.close();
  server.close();
}
