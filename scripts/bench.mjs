// Benchmarks of the release bundle (dist/): what it weighs (raw, gzip, brotli), what the first
// visit of each page transfers from the lab's own server (scripts/serve.mjs, which serves the
// precompressed variants; counted by the server), and how long the first prediction takes in
// headless Chromium. Writes static/reports/bundle.json ({"pages": {page: bytes}}, with each
// page's files and the budgets) and prints the figures against the budgets (home 1 MB, a
// classification page 3 MB, an MRI page 4 MB transferred; 2 s to the first prediction).
//   trunk build --release && node scripts/bench.mjs [runs=5]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BUDGETS, PAGES, countingServer, visit } from './bundle.mjs';
import { walk } from './precompress.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = process.env.LAB_DIST ? path.resolve(process.env.LAB_DIST) : path.join(ROOT, 'dist');
const REPORT = path.join(ROOT, 'static/reports/bundle.json');
const RUNS = Number(process.argv[2] ?? 5);
const STARTUP_BUDGET = 2_000; // ms
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const kb = (n) => (n == null ? '-' : `${(n / 1024).toFixed(1)} KiB`);
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

/** The size of `file`'s precompressed variant `suffix`, or null if it has none. */
function variantSize(file, suffix) {
  return fs.existsSync(file + suffix) ? fs.statSync(file + suffix).size : null;
}

function bundleSizes() {
  const files = walk(DIST)
    .filter((p) => !p.endsWith('.gz') && !p.endsWith('.br'))
    .map((p) => {
      const rel = path.relative(DIST, p).split(path.sep).join('/');
      const raw = fs.statSync(p).size;
      return { rel, group: group(rel), raw, gzip: variantSize(p, '.gz'), br: variantSize(p, '.br') };
    });
  const sent = (f) => f.br ?? f.gzip ?? f.raw;
  const order = ['wasm', 'JS', 'CSS/HTML', 'weights', 'data', 'other'];
  console.log('\n== Release bundle (dist/): raw and the precompressed variants the server sends ==');
  if (!files.some((f) => f.gzip)) {
    console.log('(no .gz/.br files: this dist/ was not built with the precompress hook of Trunk.toml)');
  }
  console.log(`${pad('file', 52)} ${lpad('raw', 12)} ${lpad('gzip', 12)} ${lpad('br', 12)}`);
  const total = { raw: 0, sent: 0 };
  for (const g of order) {
    const fs_ = files.filter((f) => f.group === g).sort((a, b) => b.raw - a.raw);
    if (!fs_.length) continue;
    const sum = { raw: 0, sent: 0 };
    for (const f of fs_) {
      console.log(`  ${pad(f.rel, 50)} ${lpad(kb(f.raw), 12)} ${lpad(kb(f.gzip), 12)} ${lpad(kb(f.br), 12)}`);
      sum.raw += f.raw;
      sum.sent += sent(f);
    }
    console.log(`${pad(`[${g}] ${fs_.length} file(s), raw and smallest`, 52)} ${lpad(kb(sum.raw), 12)} ${lpad(kb(sum.sent), 12)}`);
    total.raw += sum.raw;
    total.sent += sum.sent;
  }
  console.log(`${pad(`TOTAL ${files.length} files, raw and smallest`, 52)} ${lpad(kb(total.raw), 12)} ${lpad(kb(total.sent), 12)}`);
  return { files, total };
}

/** Each page's first visit through the lab's own server; writes static/reports/bundle.json. */
async function pages(browser, counting) {
  const measured = {};
  for (const name of Object.keys(PAGES)) {
    const { bytes, responses } = await visit(browser, counting, name);
    measured[name] = { bytes, responses };
    console.log(`\n== First visit of ${name} (${PAGES[name].hash}), fresh context, as the server sent it ==`);
    console.log(`${pad('path', 52)} ${lpad('status', 6)} ${lpad('encoding', 8)} ${lpad('sent', 12)}`);
    for (const r of [...responses].sort((a, b) => b.bytes - a.bytes)) {
      console.log(`  ${pad(r.path, 50)} ${lpad(r.status, 6)} ${lpad(r.encoding ?? '-', 8)} ${lpad(kb(r.bytes), 12)}`);
    }
    console.log(`${pad(`TOTAL ${responses.length} responses`, 68)} ${lpad(kb(bytes), 12)}  (${mb(bytes)}; budget ${mb(BUDGETS[name])} -> ${verdict(bytes <= BUDGETS[name])})`);
  }
  const report = {
    what: 'Bytes the lab\'s own server (scripts/serve.mjs) sent for the first visit of each page ' +
      '(fresh browser context, empty cache; status lines, headers and bodies as encoded), measured ' +
      'by scripts/bench.sh in headless Chromium. 1 MB = 1,000,000 bytes.',
    pages: Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, v.bytes])),
    budgets: BUDGETS,
    files: Object.fromEntries(
      Object.entries(measured).map(([k, v]) => [
        k,
        [...v.responses]
          .sort((a, b) => a.path.localeCompare(b.path))
          .map((r) => ({ path: r.path, status: r.status, encoding: r.encoding, bytes: r.bytes })),
      ]),
    ),
  };
  fs.writeFileSync(REPORT, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(ROOT, REPORT)}`);
  return report;
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
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, serviceWorkers: 'block' });
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
const counting = await countingServer(DIST);
const base = counting.url;
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
try {
  const report = await pages(browser, counting);
  const start = await startup(browser, base);
  console.log('\n== Summary ==');
  const rows = [
    ['bundle, all files (smallest)', mb(bundle.total.sent), '', ''],
    ...Object.entries(report.pages).map(([name, bytes]) => [
      `first visit: ${name}`, mb(bytes), mb(BUDGETS[name]), verdict(bytes <= BUDGETS[name]),
    ]),
    ['first prediction, median', `${start.median.toFixed(0)} ms`, '', ''],
    ['first prediction, p95', `${start.p95.toFixed(0)} ms`, `${STARTUP_BUDGET} ms`, verdict(start.p95 <= STARTUP_BUDGET)],
  ];
  console.log(`${pad('measure', 30)} ${lpad('value', 12)} ${lpad('budget', 12)}  verdict`);
  for (const [a, b, c, d] of rows) console.log(`${pad(a, 30)} ${lpad(b, 12)} ${lpad(c, 12)}  ${d}`);
} finally {
  await browser.close();
  counting.server.close();
}
