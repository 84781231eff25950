// Shared helpers for the end-to-end tests (and the benchmark): the release bundle, the browser,
// a watchdog that fails a test on any console error, page error or failed request, and a probe
// that sees the messages between the page and the compute worker.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = process.env.LAB_DIST ? path.resolve(process.env.LAB_DIST) : path.join(ROOT, 'dist');
export const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
export const VIEWPORT = { width: 1400, height: 900 };
/** The first prediction waits for two wasm modules, the model and the digits. */
export const FIRST = 20_000;

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether the release bundle exists (tests skip with a hint otherwise). */
export function haveDist() {
  return fs.existsSync(path.join(DIST, 'index.html'));
}

/** Median and 95th percentile of a list of numbers (benchmarks). */
export function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.round((s.length - 1) * q)];
  return { median: at(0.5), p95: at(0.95) };
}

/** Chromium with the shared arguments and `extra` ones (e.g. `--enable-unsafe-webgpu`). */
export function launch(extra = []) {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extra] });
}

/** SwiftShader's WebGPU adapter in headless Chromium (without it there is no adapter). */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];

export function serve(dir = DIST) {
  return startServer(dir, 0);
}

export function screenshotPath(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

/**
 * Watches a context for problems: console errors (page and workers), uncaught page errors,
 * failed requests and HTTP error statuses. `allow` lists URL substrings (or RegExps) whose
 * failures a test provokes on purpose. `check()` throws with every problem seen.
 */
export function watch(context, { allow = [] } = {}) {
  const problems = [];
  let active = true;
  const allowed = (url) => allow.some((a) => (a instanceof RegExp ? a.test(url) : url.includes(a)));
  const note = (what) => {
    if (active) problems.push(what);
  };
  const onConsole = (where) => (msg) => {
    if (msg.type() === 'error') {
      const loc = msg.location?.();
      // "Failed to load resource" for a URL the test breaks on purpose.
      if (loc?.url && allowed(loc.url)) return;
      note(`console error (${where}): ${msg.text()}${loc?.url ? ` at ${loc.url}:${loc.lineNumber}` : ''}`);
    }
  };
  const hookPage = (page) => {
    page.on('console', onConsole('page'));
    page.on('pageerror', (err) => note(`page error: ${err.stack ?? err.message ?? err}`));
    page.on('worker', (worker) => {
      // Playwright also reports worker console messages on the page in recent versions; a
      // duplicate only repeats a failure, so listen on both.
      worker.on('console', onConsole(`worker ${worker.url()}`));
    });
    page.on('crash', () => note('the page crashed'));
  };
  context.pages().forEach(hookPage);
  context.on('page', hookPage);
  context.on('requestfailed', (req) => {
    // The browser fetches the favicon after the page has loaded; a reload or a navigation at
    // that moment aborts it (net::ERR_ABORTED), which no user sees.
    const favicon = /\/favicon-[0-9a-f]+\.svg$/.test(req.url()) && req.failure()?.errorText === 'net::ERR_ABORTED';
    if (!allowed(req.url()) && !favicon) note(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  context.on('response', (res) => {
    if (res.status() >= 400 && !allowed(res.url())) note(`HTTP ${res.status()} for ${res.url()}`);
  });
  return {
    problems,
    /** Stops listening (before closing: closing aborts requests in flight). */
    stop() {
      active = false;
    },
    check() {
      active = false;
      if (problems.length) {
        throw new Error(`the page reported ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
      }
    },
  };
}

/**
 * An init script that records what the page posts to the compute worker and what it answers,
 * in `window.__lab = { requests: [{id, kind, model}], replies: [{id, kind, ...}] }`. The app
 * builds its worker with `new Worker(...)` from wasm-bindgen glue, which reads the global at
 * call time, so wrapping the constructor is enough. Every reply carries the time it came (`t`,
 * performance.now()); a worker the page terminates adds `{ kind: 'terminated', t, pending }`,
 * `pending` the ids of its requests that had no final answer.
 */
export const WORKER_PROBE = `(() => {
  if (typeof Worker === 'undefined' || window.__lab) return;
  const lab = (window.__lab = { requests: [], replies: [] });
  const parse = (d) => { try { return typeof d === 'string' ? JSON.parse(d) : null; } catch { return null; } };
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (data, ...rest) {
    const r = parse(data);
    if (r && r.job) {
      lab.requests.push({ id: r.id, kind: r.job.kind, model: r.job.model, target: r.job.target, t: performance.now() });
      if (r.job.kind !== 'cancel' && this.__posted) this.__posted.add(r.id);
    }
    return post.call(this, data, ...rest);
  };
  const terminate = Worker.prototype.terminate;
  Worker.prototype.terminate = function () {
    lab.replies.push({ kind: 'terminated', t: performance.now(), pending: [...(this.__posted ?? [])] });
    return terminate.call(this);
  };
  const Original = Worker;
  const FINAL = (kind) => !['progress', 'universal_progress', 'swept_rate', 'ready'].includes(kind);
  window.Worker = class extends Original {
    constructor(...args) {
      super(...args);
      this.__posted = new Set();
      this.addEventListener('message', (e) => {
        const r = parse(e.data);
        if (!r || !r.body) return;
        const b = r.body;
        if (FINAL(b.kind)) this.__posted.delete(r.id);
        const entry = { id: r.id, kind: b.kind, t: performance.now() };
        if (b.kind === 'classified') { entry.model = b.model; entry.label = b.prediction.label; }
        if (b.kind === 'failed' || b.kind === 'panicked') entry.message = b.message;
        if (b.kind === 'evaluated') { entry.correct = b.correct; entry.count = b.count; entry.millis = b.millis; }
        lab.replies.push(entry);
      });
    }
  };
})();`;

/**
 * An init script that turns every content-security-policy violation on the page (the policy of
 * scripts/csp.mjs) into a console error, which `watch` reports: a test fails on any.
 */
export const CSP_PROBE = `addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber + (e.sample ? ' (' + e.sample + ')' : ''));
});`;

/** A fresh context (own cache, own routes) and page at `viewport`, watched and probed. */
export async function openPage(browser, { allow = [], route, viewport = VIEWPORT } = {}) {
  // No service worker (static/sw.js): its copy of the whole bundle would compete with the page
  // under test; tests/e2e/offline.test.mjs tests it.
  const context = await browser.newContext({ viewport, serviceWorkers: 'block' });
  await context.addInitScript(WORKER_PROBE);
  await context.addInitScript(CSP_PROBE);
  if (route) await route(context);
  const watcher = watch(context, { allow });
  const page = await context.newPage();
  page.setDefaultTimeout(FIRST);
  return {
    context,
    page,
    watcher,
    async close() {
      watcher.stop();
      await context.close();
    },
  };
}

/** The id of the newest classify request the page has posted (0 if none). */
export function lastClassifyId(page) {
  return page.evaluate(() => {
    const rs = (window.__lab?.requests ?? []).filter((r) => r.kind === 'classify');
    return rs.length ? rs[rs.length - 1].id : 0;
  });
}

/**
 * Waits for the answer to the newest classify request posted after request id `after`, then for
 * the headline on screen to show that answer. Returns the label shown (a string).
 */
export async function freshPrediction(page, after = 0, timeout = FIRST) {
  const handle = await page.waitForFunction(
    (after) => {
      const lab = window.__lab;
      if (!lab) return null;
      const rs = lab.requests.filter((r) => r.kind === 'classify' && r.id > after);
      if (!rs.length) return null;
      const id = rs[rs.length - 1].id;
      const reply = lab.replies.find((r) => r.id === id && r.kind !== 'progress');
      if (!reply) return null;
      if (reply.kind !== 'classified') return { failed: reply.message ?? reply.kind, id };
      const shown = document.querySelector('[data-testid="predicted-label"]')?.textContent?.trim();
      return shown === String(reply.label) ? { label: shown, id } : null;
    },
    after,
    { timeout, polling: 50 },
  );
  const result = await handle.jsonValue();
  if (result.failed) throw new Error(`classify request ${result.id} failed: ${result.failed}`);
  return result.label;
}

/** Fails with the fatal-error panel's text if the page panicked. */
export async function noFatal(page) {
  const fatal = page.locator('#fatal-error');
  if (await fatal.count()) throw new Error(`the page panicked: ${await fatal.innerText()}`);
}

/**
 * Sets a range input to `target` like a user: drags the thumb with the mouse to about the right
 * place, then fine-tunes with the arrow keys (each move fires real `input` events). Returns the
 * value reached (a number).
 */
export async function setRange(page, slider, target) {
  const { min, max, step } = await slider.evaluate((el) => ({
    min: Number(el.min || 0),
    max: Number(el.max || 100),
    step: Number(el.step) || 1,
  }));
  const value = async () => Number(await slider.inputValue());
  await slider.scrollIntoViewIfNeeded();
  const box = await slider.boundingBox();
  // Chromium's default thumb is about 16 px wide; the arrow keys correct any error.
  const half = Math.min(8, box.width / 4);
  const xOf = (v) => box.x + half + ((v - min) / (max - min)) * (box.width - 2 * half);
  const y = box.y + box.height / 2;
  await page.mouse.move(xOf(await value()), y);
  await page.mouse.down();
  await page.mouse.move(xOf(target), y, { steps: 8 });
  await page.mouse.up();
  await slider.focus();
  for (let i = 0; i < 500; i++) {
    const diff = target - (await value());
    if (Math.abs(diff) < step / 2) break;
    await slider.press(diff > 0 ? 'ArrowRight' : 'ArrowLeft');
  }
  return value();
}

/** Drags `locator` from its centre by (dx, dy) screen pixels with the mouse, in several moves. */
export async function dragBy(page, locator, dx, dy, steps = 6) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= steps; i++) await page.mouse.move(x + (dx * i) / steps, y + (dy * i) / steps, { steps: 2 });
  await page.mouse.up();
}

/**
 * The set-up every end-to-end suite shares, called inside `describe`: a server for the release
 * bundle and a browser (closed after the suite). Returns `{ base, browser, withPage }`, where
 * `withPage(options, body)` runs `body(page, session)` on a fresh watched page and fails on any
 * problem the watchdog saw or a panic on the page.
 */
export function browserSuite(args = []) {
  const suite = { base: null, browser: null, server: null };
  before(async () => {
    ({ server: suite.server, url: suite.base } = await serve());
    suite.browser = await launch(args);
  });
  after(async () => {
    await suite.browser?.close();
    await new Promise((resolve) => (suite.server ? suite.server.close(resolve) : resolve()));
  });
  suite.withPage = async (options, body) => {
    const session = await openPage(suite.browser, options);
    try {
      await body(session.page, session);
      await noFatal(session.page);
      session.watcher.check();
    } finally {
      await session.close();
    }
  };
  return suite;
}

/**
 * The init script the benchmarks share: `window.__bench = init`, and `record(lab, body)` run in
 * the page on the body of every reply of the compute worker (`record` is passed as source, so
 * it may use only its arguments and the page's globals).
 */
export function benchProbe(init, record) {
  return `(() => {
  const lab = (window.__bench = ${JSON.stringify(init)});
  const record = ${record.toString()};
  const Original = Worker;
  window.Worker = class extends Original {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (e) => {
        let r; try { r = JSON.parse(e.data); } catch { return; }
        if (r?.body) record(lab, r.body);
      });
    }
  };
})();`;
}
