// The soak test (issue 20, part 4; a command, not part of CI): `--minutes` of seeded random
// actions on the release bundle in one headless Chromium page — clicks on any button, slider
// drags and rapid key moves, route changes by the header and by deep links (the corpus's hostile
// ones too), uploads of good and hostile images, cancels, typing into every text field, the
// keyboard's shortcuts and the history — recording every console error, page error, failed
// request, dialog, fatal-error panel and dead worker, and sampling memory every `--sample`
// seconds after a forced garbage collection: the page's JS heap, the wasm linear memory of the
// page and of its workers, and the resident memory of every browser process.
//   bash scripts/soak.sh [--minutes 30] [--seed 2026] [--sample 30] [--out static/reports/soak.json]
// Writes the report (`--out`) with every sample and the growth per 10 minutes after the warm-up
// (the first `--warmup` minutes, when the models and data load). Fails (exit 1) on any error or
// dead worker, or if the page's memory grows faster than `--max-growth` MB per 10 minutes.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ROOT, VIEWPORT, CSP_PROBE, launch, serve, watch, haveDist, screenshotPath } from '../tests/e2e/helpers.mjs';
import { PAGES } from '../tests/e2e/pages.mjs';
import { expand, uploadFile, UPLOADS } from '../tests/e2e/inputs.mjs';

const MB = 2 ** 20;

/** Mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Least-squares slope of `ys` against `xs` (0 with fewer than two distinct `xs`). */
export function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

/** The memory series of a sample, in MB (`page_mb`: the JS heap and the wasm memory of the page). */
const SERIES = ['js_heap_mb', 'page_wasm_mb', 'worker_wasm_mb', 'page_mb', 'rss_mb'];

/**
 * Growth of each memory series in MB per 10 minutes: the least-squares slope over the samples
 * after the warm-up, and the same over each half of that span (a series that levels off has a
 * second half flatter than its first), with its first, last and largest value.
 */
export function growth(samples, warmup) {
  const kept = samples.filter((s) => s.minute >= warmup);
  const mid = kept.length ? (kept[0].minute + kept[kept.length - 1].minute) / 2 : 0;
  const per10 = (rows, key) => 10 * slope(rows.map((s) => s.minute), rows.map((s) => s[key]));
  const out = {};
  for (const key of SERIES) {
    if (!kept.length) break;
    const values = kept.map((s) => s[key]);
    out[key] = {
      per_10_min: per10(kept, key),
      first_half_per_10_min: per10(kept.filter((s) => s.minute <= mid), key),
      second_half_per_10_min: per10(kept.filter((s) => s.minute >= mid), key),
      first: values[0],
      last: values[values.length - 1],
      max: Math.max(...values),
    };
  }
  return out;
}

/** The resident memory of process `root` (unless `withRoot` is false) and all its descendants (bytes; Linux /proc). */
function treeRss(root, { withRoot = true } = {}) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      // The process ended while we looked.
    }
  }
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop();
    stack.push(...(children.get(pid) ?? []));
    if (pid === root && !withRoot) continue;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // Gone.
    }
  }
  return total;
}

/**
 * The soak's own probe, which keeps no growing record in the page (that would itself be a leak):
 * it keeps every wasm memory the page instantiates (to read their sizes) and tells the soak, by
 * `window.__soakNote`, of every worker made, terminated by the page, failing (its `error` event)
 * or replying `panicked` or `failed`.
 */
const SOAK_PROBE = `(() => {
  const memories = (window.__soakMemories = []);
  const note = (kind, message = '') => window.__soakNote?.(kind, String(message)).catch?.(() => {});
  const keep = (result) => {
    const exports = (result.instance ?? result).exports;
    if (exports?.memory) memories.push(exports.memory);
    return result;
  };
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const original = WebAssembly[name];
    if (original) WebAssembly[name] = function (...args) { return original.apply(this, args).then(keep); };
  }
  if (typeof Worker === 'undefined') return;
  const Original = window.Worker;
  window.Worker = class extends Original {
    constructor(...args) {
      super(...args);
      note('made');
      this.addEventListener('error', (e) => note('error', e.message));
      this.addEventListener('message', (e) => {
        if (typeof e.data !== 'string' || !/"kind":"(panicked|failed)"/.test(e.data)) return;
        let r; try { r = JSON.parse(e.data); } catch { return; }
        const kind = r?.body?.kind;
        if (kind === 'panicked' || kind === 'failed') note(kind, r.body.message);
      });
    }
    terminate() { note('terminated'); return super.terminate(); }
  };
})();`;

/** Hostile and odd text for the text and number fields. */
const TEXTS = ['', '0', '-1', '1e308', '-1e-320', 'NaN', 'Infinity', '12abc', '9'.repeat(400), ' 3 ', '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'; DROP TABLE", '☃ ünï 🧠', '\u202e\u0000x', '%00%2e%2e/'];
const KEYS = ['ArrowRight', 'ArrowLeft', 'ArrowUp', 'ArrowDown', 'Escape', 'Enter', 'Space', 'Tab', 'Home', 'End', 'p', 'f', '?', 'n', 'b'];
/** Every action and its weight. */
const ACTIONS = { click: 24, slider: 14, rapid: 4, route: 10, link: 4, cancel: 8, key: 9, text: 6, select: 5, check: 3, upload: 4, history: 3, wait: 6 };

/** The corpus's deep links that load the app in place (no search part, which would reload it). */
function corpusLinks() {
  const cases = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/corpus/cases.json'), 'utf8')).cases;
  return cases.filter((c) => c.kind === 'deep-link' && c.input?.link && !c.input.search).map((c) => expand(c.input.link, c.input.parts));
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      minutes: { type: 'string', default: '30' },
      seed: { type: 'string', default: '2026' },
      sample: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '5' },
      'max-growth': { type: 'string', default: '10' },
      out: { type: 'string', default: 'static/reports/soak.json' },
    },
  });
  const minutes = Number(opt.minutes);
  const seed = Number(opt.seed);
  const sampleEvery = Number(opt.sample) * 1000;
  const warmup = Math.min(Number(opt.warmup), minutes / 3);
  const maxGrowth = Number(opt['max-growth']);
  if (!haveDist()) throw new Error('no release bundle: run `trunk build --release` first');
  const random = mulberry32(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const between = (a, b) => a + random() * (b - a);
  const weighted = () => {
    const total = Object.values(ACTIONS).reduce((a, b) => a + b, 0);
    let r = random() * total;
    for (const [k, w] of Object.entries(ACTIONS)) if ((r -= w) < 0) return k;
    return 'wait';
  };
  const links = corpusLinks();

  const { server, url: base } = await serve();
  const browser = await launch();
  const context = await browser.newContext({ viewport: VIEWPORT, serviceWorkers: 'block', acceptDownloads: true });
  const workers = { made: 0, terminated: 0, error: 0, panicked: 0, failed: 0, messages: [] };
  await context.exposeBinding('__soakNote', (_source, kind, message) => {
    workers[kind] = (workers[kind] ?? 0) + 1;
    if (message) workers.messages = [...workers.messages.slice(-19), `${kind}: ${message}`];
  });
  await context.addInitScript(CSP_PROBE);
  await context.addInitScript(SOAK_PROBE);
  const watcher = watch(context);
  const page = await context.newPage();
  page.setDefaultTimeout(5000);
  const events = { dialogs: [], fatal: [], reloads: 0, downloads: 0, workers_closed: 0 };
  page.on('dialog', (d) => {
    events.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('download', (d) => {
    events.downloads++;
    d.delete().catch(() => {});
  });
  page.on('load', () => events.reloads++);
  page.on('worker', (w) => w.on('close', () => events.workers_closed++));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  // Playwright starts Chromium as a child of this process: the browser's processes are ours,
  // less this one.
  const browserRss = () => treeRss(process.pid, { withRoot: false });

  await page.goto(`${base}#/`);
  await page.getByTestId('demo-grid').waitFor({ timeout: 60_000 });

  const counts = Object.fromEntries(Object.keys(ACTIONS).map((k) => [k, { done: 0, skipped: 0 }]));
  const samples = [];
  const started = Date.now();
  const minute = () => (Date.now() - started) / 60_000;

  async function sample() {
    const t0 = performance.now();
    await page.evaluate(() => 1);
    const respond_ms = performance.now() - t0;
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    const pageWasm = await page.evaluate(() => (window.__soakMemories ?? []).reduce((a, mem) => a + mem.buffer.byteLength, 0));
    const live = page.workers();
    const workerWasm = await Promise.all(live.map((w) => w.evaluate(() => self.__labWasm?.memory?.buffer?.byteLength ?? 0).catch(() => 0)));
    const row = {
      minute: Number(minute().toFixed(2)),
      js_heap_mb: m.JSHeapUsedSize / MB,
      page_wasm_mb: pageWasm / MB,
      worker_wasm_mb: workerWasm.reduce((a, b) => a + b, 0) / MB,
      workers: live.length,
      dom_nodes: m.Nodes,
      listeners: m.JSEventListeners,
      rss_mb: browserRss() / MB,
      respond_ms: Number(respond_ms.toFixed(1)),
      route: new URL(page.url()).hash.split('?')[0],
    };
    row.page_mb = row.js_heap_mb + row.page_wasm_mb;
    samples.push(row);
    return row;
  }

  /** A visible element of `selector` chosen at random (null if none). */
  async function any(selector) {
    const all = page.locator(selector);
    const n = await all.count();
    if (!n) return null;
    return all.nth(Math.floor(random() * n));
  }

  async function act(kind) {
    switch (kind) {
      case 'click': {
        const el = await any('button:visible:enabled, summary:visible, [role="tab"]:visible, a[href^="#"]:visible');
        if (!el) return false;
        await el.click({ timeout: 3000 });
        return true;
      }
      case 'slider':
      case 'rapid': {
        const el = await any('input[type="range"]:visible:enabled');
        if (!el) return false;
        if (kind === 'rapid') {
          await el.focus();
          const key = random() < 0.5 ? 'ArrowRight' : 'ArrowLeft';
          for (let i = 0; i < 50; i++) await page.keyboard.press(random() < 0.8 ? key : 'ArrowLeft');
          return true;
        }
        await el.scrollIntoViewIfNeeded();
        const box = await el.boundingBox();
        if (!box) return false;
        const y = box.y + box.height / 2;
        await page.mouse.move(box.x + between(0, box.width), y);
        await page.mouse.down();
        await page.mouse.move(box.x + between(0, box.width), y, { steps: 6 });
        await page.mouse.up();
        return true;
      }
      case 'route': {
        const p = pick(PAGES);
        await page.goto(`${base}#/${p.route}`);
        return true;
      }
      case 'link':
        await page.goto(`${base}${pick(links)}`);
        return true;
      case 'cancel': {
        const el = await any('button:visible:enabled:text-matches("cancel|stop", "i")');
        if (!el) {
          await page.keyboard.press('Escape');
          return true;
        }
        await el.click({ timeout: 3000 });
        return true;
      }
      case 'key':
        await page.keyboard.press(pick(KEYS));
        return true;
      case 'text': {
        const el = await any('input[type="text"]:visible:enabled, input[type="number"]:visible:enabled, input:not([type]):visible:enabled, textarea:visible:enabled');
        if (!el) return false;
        await el.fill(pick(TEXTS));
        if (random() < 0.5) await el.press('Enter');
        else await el.blur();
        return true;
      }
      case 'select': {
        const el = await any('select:visible:enabled');
        if (!el) return false;
        const n = await el.locator('option').count();
        if (!n) return false;
        await el.selectOption({ index: Math.floor(random() * n) });
        return true;
      }
      case 'check': {
        const el = await any('input[type="checkbox"]:visible:enabled, input[type="radio"]:visible:enabled');
        if (!el) return false;
        await el.click({ timeout: 3000 });
        return true;
      }
      case 'upload': {
        const el = await any('input[type="file"]');
        if (!el) return false;
        const recipe = random() < 0.4 ? 'png-disc' : pick(UPLOADS);
        const buffer = await uploadFile(page, recipe);
        await el.setInputFiles({ name: `${recipe}.png`, mimeType: 'image/png', buffer });
        return true;
      }
      case 'history':
        if (random() < 0.6) await page.goBack({ timeout: 3000 }).catch(() => {});
        else await page.goForward({ timeout: 3000 }).catch(() => {});
        return true;
      case 'wait':
        await page.waitForTimeout(between(1000, 4000));
        return true;
      default:
        throw new Error(`unknown action ${kind}`);
    }
  }

  let nextSample = 0;
  let actions = 0;
  const end = started + minutes * 60_000;
  const log = (s) => process.stdout.write(`${s}\n`);
  log(`soak: ${minutes} min, seed ${seed}, sampling every ${sampleEvery / 1000} s`);
  while (Date.now() < end) {
    if (Date.now() >= nextSample) {
      const r = await sample();
      log(`${r.minute.toFixed(1)} min: ${actions} actions, ${watcher.problems.length} problems; JS heap ${r.js_heap_mb.toFixed(1)} MB, page wasm ${r.page_wasm_mb.toFixed(1)} MB, ${r.workers} worker(s) ${r.worker_wasm_mb.toFixed(1)} MB, browser RSS ${r.rss_mb.toFixed(0)} MB, ${r.dom_nodes} nodes, ${r.respond_ms} ms to answer (${r.route})`);
      nextSample = Date.now() + sampleEvery;
    }
    const kind = weighted();
    try {
      const done = await act(kind);
      counts[kind][done ? 'done' : 'skipped']++;
    } catch (e) {
      // An element that went away or moved under the pointer: the page changed, not a failure.
      counts[kind].skipped++;
    }
    actions++;
    if (await page.locator('#fatal-error').count()) {
      events.fatal.push(`${minute().toFixed(1)} min: ${(await page.locator('#fatal-error').innerText()).slice(0, 300)}`);
      await page.screenshot({ path: screenshotPath(`soak-fatal-${events.fatal.length}.png`) }).catch(() => {});
      await page.goto(`${base}#/`);
      await page.reload();
    }
    await page.waitForTimeout(between(150, 1200));
  }
  await sample();
  await page.screenshot({ path: screenshotPath('soak-end.png') }).catch(() => {});
  watcher.stop();
  const browserVersion = browser.version();
  await context.close();
  await browser.close();
  await new Promise((resolve) => server.close(resolve));

  // A worker died if it panicked or failed (its `error` event); the page terminates the others.
  const died = workers.panicked + workers.error;
  const g = growth(samples, warmup);
  const report = {
    what: 'The soak test: seeded random actions on every page of the release bundle in one headless Chromium page (docs/hardening.md, scripts/soak.mjs).',
    command: `bash scripts/soak.sh ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    browser: `Chromium ${browserVersion} (headless)`,
    seed,
    minutes,
    warmup_minutes: warmup,
    actions: { total: actions, by_kind: counts },
    errors: watcher.problems,
    dialogs: events.dialogs,
    fatal: events.fatal,
    workers: { made: workers.made, terminated_by_page: workers.terminated, closed: events.workers_closed, died, panicked: workers.panicked, errors: workers.error, failed_replies: workers.failed, last_messages: workers.messages },
    reloads: events.reloads,
    downloads: events.downloads,
    max_respond_ms: Math.max(...samples.map((s) => s.respond_ms)),
    growth_mb_per_10_min: g,
    samples,
  };
  const pageGrowth = g.page_mb?.per_10_min ?? 0;
  const failures = [];
  if (watcher.problems.length) failures.push(`${watcher.problems.length} console error(s), page error(s) or failed request(s)`);
  if (events.dialogs.length) failures.push(`${events.dialogs.length} dialog(s)`);
  if (events.fatal.length) failures.push(`${events.fatal.length} fatal-error panel(s)`);
  if (died) failures.push(`${died} dead worker(s)`);
  if (pageGrowth > maxGrowth) failures.push(`the page's memory grew ${pageGrowth.toFixed(1)} MB per 10 minutes (at most ${maxGrowth})`);
  report.verdict = failures.length ? `failed: ${failures.join('; ')}` : 'passed';
  fs.mkdirSync(path.dirname(path.resolve(ROOT, opt.out)), { recursive: true });
  fs.writeFileSync(path.resolve(ROOT, opt.out), `${JSON.stringify(report, null, 1)}\n`);
  const f = (k) => (g[k] ? `${g[k].per_10_min.toFixed(2)} MB/10 min (halves ${g[k].first_half_per_10_min.toFixed(2)}, ${g[k].second_half_per_10_min.toFixed(2)}; ${g[k].first.toFixed(1)} → ${g[k].last.toFixed(1)} MB)` : 'n/a');
  log(`\n${actions} actions in ${minutes} min: ${JSON.stringify(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.done])))}`);
  log(`errors ${watcher.problems.length}, dialogs ${events.dialogs.length}, fatal ${events.fatal.length}, workers made ${workers.made}, terminated by the page ${workers.terminated}, failed replies ${workers.failed}, dead ${died}`);
  log(`growth after ${warmup} min: JS heap ${f('js_heap_mb')}; page wasm ${f('page_wasm_mb')}; workers' wasm ${f('worker_wasm_mb')}; browser RSS ${f('rss_mb')}`);
  for (const p of watcher.problems.slice(0, 20)) log(`  problem: ${p}`);
  log(`${report.verdict}; report in ${opt.out}`);
  process.exitCode = failures.length ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e);
    process.exit(2);
  });
}
