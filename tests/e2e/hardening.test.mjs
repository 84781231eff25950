// The bad-input corpus (issue 20, part 3), replayed on the release bundle in headless Chromium:
// every case of tests/corpus/cases.json (hostile deep links, script-like text in the text fields,
// odd uploads, corrupt and missing weights, a worker killed mid-job, cancel storms, 50 rapid
// slider moves, the server gone mid-session) is run, its notice asserted against the visible text
// of the page's notices and alerts, and the page checked to keep working (its steps in
// `expect.works`, no fatal-error panel, no markup injected, no dialog, and no console error or
// failed request beyond the ones the case provokes). Each case's outcome goes to
// static/reports/hardening.json under "corpus" (the other keys of that file are kept).
//   trunk build --release && node --test tests/e2e/hardening.test.mjs
// HARDENING_ONLY=id,id,… replays only those cases (the report is then left alone).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, DIST, haveDist, openPage, noFatal, browserSuite, serve, screenshotPath } from './helpers.mjs';
import { PAGES, RUN } from './pages.mjs';
import { expand, uploadFile } from './inputs.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

const CORPUS = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/corpus/cases.json'), 'utf8')).cases;
const ONLY = process.env.HARDENING_ONLY ? new Set(process.env.HARDENING_ONLY.split(',').map((s) => s.trim())) : null;
const CASES = ONLY ? CORPUS.filter((c) => ONLY.has(c.id)) : CORPUS;
const REPORT = path.join(ROOT, 'static/reports/hardening.json');
const KINDS = ['deep-link', 'text', 'upload', 'weights', 'worker', 'cancel', 'slider', 'server'];
/** How long a notice may take to appear (a network's weights load first on the MRI pages). */
const NOTICE_WAIT = 60_000;

/** The warnings and errors a user sees: notices, alerts, the worker's crash bar, path errors. */
const NOTICES = '.notice.warning, .notice.error, [role="alert"], [data-testid="upload-elsewhere"]';

/**
 * Every worker the page makes, in order (`window.__workers`), each marked when it is terminated:
 * so that a case can kill the page's worker or the pool's mid-job. Runs after the helpers'
 * WORKER_PROBE, whose records it keeps.
 */
const WORKER_TRACKER = `(() => {
  const Probed = window.Worker;
  if (!Probed) return;
  const all = (window.__workers = []);
  class Tracked extends Probed {
    constructor(...args) {
      super(...args);
      this.__alive = true;
      all.push(this);
    }
    terminate() {
      this.__alive = false;
      return super.terminate();
    }
  }
  window.Worker = Tracked;
})();`;

// ---------------------------------------------------------------------------------------------
// Inputs

/** `file` of the bundle with NaN written into the first 64 values of its first f32 tensor. */
function withNaN(file) {
  const bytes = Buffer.from(fs.readFileSync(file));
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const [name, tensor] = Object.entries(header).find(([k, v]) => k !== '__metadata__' && v.dtype === 'F32');
  const [start, end] = tensor.data_offsets;
  for (let o = start; o < Math.min(end, start + 256); o += 4) bytes.writeFloatLE(NaN, 8 + n + o);
  assert.ok(name);
  return bytes;
}

/** How a route answers for a broken file (`serve` of a weights case). */
function brokenFile(url, serveAs) {
  const file = path.join(DIST, url);
  switch (serveAs) {
    case 'garbage':
      return { status: 200, contentType: 'application/octet-stream', body: Buffer.from('this is not a safetensors file, nor JSON') };
    case 'truncated':
      return { status: 200, contentType: 'application/octet-stream', body: fs.readFileSync(file).subarray(0, 4096) };
    case 'nan':
      return { status: 200, contentType: 'application/octet-stream', body: withNaN(file) };
    case 'html':
      return { status: 200, contentType: 'text/html', body: '<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>' };
    case '404':
      return { status: 404, contentType: 'text/plain', body: 'not found' };
    default:
      throw new Error(`unknown way to serve ${url}: ${serveAs}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The page

/** A test id (`evaluate`) or a CSS selector. */
function loc(page, s) {
  return /^[a-z0-9-]+$/.test(s) ? page.getByTestId(s).first() : page.locator(s).first();
}

const routeOf = (link) => link.replace(/^#?\//, '').split('?')[0];
const pageReady = (route) => PAGES.find((p) => p.route === (route === 'home' ? '' : route))?.ready;

/** The visible text of each warning, error and alert on the page (outermost elements only). */
function notices(page, extra) {
  return page.evaluate((selector) => {
    const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
    const all = [...document.querySelectorAll(selector)].filter(shown);
    return all.filter((e) => !all.some((o) => o !== e && o.contains(e))).map((e) => e.innerText.trim()).filter(Boolean);
  }, extra ? `${NOTICES}, ${extra}` : NOTICES);
}

const regexes = (notice) => (notice === null ? [] : [].concat(notice).map((r) => new RegExp(r)));

/** Waits until the notices match every expected pattern; returns what was shown then (or last). */
async function waitNotices(page, c, timeout = c.wait ?? NOTICE_WAIT) {
  const want = regexes(c.expect.notice);
  const until = Date.now() + timeout;
  let seen = [];
  for (;;) {
    seen = await notices(page, c.noticeSelector);
    const text = seen.join('\n');
    if (want.every((r) => r.test(text))) return seen;
    if (Date.now() > until) {
      const missing = want.filter((r) => !r.test(text)).map(String);
      throw new Error(`the page did not show ${missing.join(', ')}; it shows: ${JSON.stringify(text)}`);
    }
    await page.waitForTimeout(100);
  }
}

/** Polls `probe()` until it is truthy. */
async function until(page, what, probe, timeout = RUN) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await probe();
    if (last === true || (last && last.ok)) return;
    if (Date.now() > end) throw new Error(`${what}${last && last.why ? `: ${last.why}` : ''}`);
    await page.waitForTimeout(100);
  }
}

const hashParam = (page, key) =>
  page.evaluate((key) => {
    const q = location.hash.split('?')[1] ?? '';
    const pairs = q.split('&').map((p) => p.split('='));
    const hit = pairs.reverse().find(([k]) => decodeURIComponent(k) === key);
    return hit ? decodeURIComponent((hit[1] ?? '').replace(/\+/g, ' ')) : null;
  }, key);

/** One step of `expect.works` (or of a case's set-up). */
async function step(s, session) {
  const { page, context } = session;
  const [kind] = Object.keys(s);
  const arg = s[kind];
  switch (kind) {
    case 'ready':
      return pageReady(arg)(page);
    case 'click':
      return loc(page, arg).click();
    case 'clickText':
      return page.getByText(arg, { exact: true }).first().click();
    case 'select':
      return loc(page, arg[0]).selectOption(arg[1]);
    case 'visible':
    case 'gone': {
      // A selector, or [selector, timeout in ms].
      const [sel, timeout] = Array.isArray(arg) ? arg : [arg, RUN];
      return loc(page, sel).waitFor({ state: kind === 'visible' ? 'visible' : 'detached', timeout });
    }
    case 'enabled':
      return until(page, `${arg} enabled`, () => loc(page, arg).isEnabled());
    case 'text':
      return until(
        page,
        `${arg[0]} reads /${arg[1]}/`,
        async () => {
          const text = (await loc(page, arg[0]).innerText({ timeout: 1000 }).catch(() => '')).trim();
          return { ok: new RegExp(arg[1]).test(text), why: `it reads ${JSON.stringify(text)}` };
        },
        arg[2] ?? RUN,
      );
    case 'attribute':
      return until(page, `${arg[0]} has ${arg[1]}="${arg[2]}"`, async () => {
        const v = await loc(page, arg[0]).getAttribute(arg[1]).catch(() => null);
        return { ok: v === arg[2], why: `it is ${JSON.stringify(v)}` };
      });
    case 'value':
      return until(page, `${arg[0]} at ${arg[1]}`, async () => {
        const v = await loc(page, arg[0]).inputValue();
        return { ok: v === arg[1], why: `it is at ${v}` };
      });
    case 'hash':
      return until(page, `the link has ${arg[0]}=${arg[1]}`, async () => {
        const v = await hashParam(page, arg[0]);
        return { ok: v === arg[1], why: `it has ${JSON.stringify(v)}` };
      });
    case 'hashMatchesSlider':
      // The link ends at the slider's value (every superseded move dropped, none lost).
      return until(page, `the link's ${arg[0]} follows the slider ${arg[1]}`, async () => {
        const v = Number(await loc(page, arg[1]).inputValue());
        const h = await hashParam(page, arg[0]);
        return { ok: h !== null && Math.abs(Number(h) - v) <= 1e-9 * Math.max(1, Math.abs(v)), why: `slider ${v}, link ${h}` };
      });
    case 'headingMatchesSlider':
      return until(page, `the heading follows the slider ${arg[0]}`, async () => {
        const v = Number(await loc(page, arg[0]).inputValue()).toFixed(2);
        const want = new RegExp(arg[1].replace('{v}', v.replace('.', '\\.')));
        const heads = await page.getByTestId('single-attack').locator('h2').allInnerTexts();
        return { ok: heads.some((h) => want.test(h)), why: `slider ${v}, headings ${JSON.stringify(heads)}` };
      });
    case 'sliderValueShown':
      return until(page, `the value beside ${arg} follows it`, async () => {
        const slider = loc(page, arg);
        const v = Number(await slider.inputValue()).toFixed(2);
        const shown = await slider.evaluate((el) => el.closest('label')?.querySelector('.value')?.textContent?.trim());
        return { ok: shown === v, why: `slider ${v}, shown ${shown}` };
      });
    case 'goto':
      return page.evaluate((hash) => {
        location.hash = hash;
      }, arg);
    case 'draw': {
      const canvas = loc(page, arg);
      await canvas.waitFor({ state: 'visible' });
      const box = await canvas.boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.15);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.85, { steps: 12 });
      return page.mouse.up();
    }
    case 'spaceStops': {
      // Space (the run-or-cancel key) stops the running job: started first if need be.
      const running = page.getByTestId(arg).first();
      await page.locator('h1').first().click();
      await page.evaluate(() => document.activeElement?.blur());
      if (!(await running.count())) {
        await page.keyboard.press('Space');
        await running.waitFor({ timeout: 10_000 });
      }
      await page.keyboard.press('Space');
      return running.waitFor({ state: 'detached', timeout: 5_000 });
    }
    case 'unroute':
      return context.unrouteAll({ behavior: 'ignoreErrors' });
    default:
      throw new Error(`unknown step ${JSON.stringify(s)}`);
  }
}

/** Goes to a case's address: home first (so that no notice of the previous case is left). */
async function open(session, base, input) {
  const { page } = session;
  const url = `${base}${input.search ? expand(input.search, input.parts) : ''}${expand(input.link, input.parts)}`;
  if (page.url() !== 'about:blank') {
    await page.goto(`${base}#/`);
    await pageReady('home')(page);
    // Its last requests (the favicon) done, so that the next address does not abort them.
    await page.waitForLoadState('networkidle');
  }
  await page.goto(url);
}

/** The ready signal of the page at `link`, if it is one of PAGES. */
async function readyAt(page, link) {
  const ready = pageReady(routeOf(link));
  if (ready) await ready(page);
}

/** Kills the page's worker (the first alive), the pool's (those made since `born`) or all. */
function kill(page, { which, how, message, born }) {
  return page.evaluate(
    ({ which, how, message, born }) => {
      const alive = window.__workers.filter((w) => w.__alive);
      const targets = which === 'page' ? alive.slice(0, 1) : which === 'pool' ? window.__workers.slice(born).filter((w) => w.__alive) : alive;
      for (const w of targets) {
        if (how === 'error') {
          // As a worker that died of an uncaught error (say, out of memory) does.
          w.terminate();
          w.dispatchEvent(new ErrorEvent('error', { message }));
        } else if (how === 'panicked') {
          w.dispatchEvent(new MessageEvent('message', { data: JSON.stringify({ id: 0, body: { kind: 'panicked', message } }) }));
        } else if (how === 'garbage') {
          w.dispatchEvent(new MessageEvent('message', { data: '{"id": 1, "body": {"kind": "classi' }));
        }
      }
      return targets.length;
    },
    { which, how, message, born },
  );
}

/**
 * Clicks run, then cancel, `times` times, each as soon as the page shows the button (a run's
 * cancel button comes with its first redraw).
 */
function storm(page, { run, cancel, times }) {
  return page.evaluate(
    async ({ run, cancel, times }) => {
      const usable = (sel) => [...document.querySelectorAll(sel)].find((b) => !b.disabled && b.getClientRects().length > 0);
      const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
      const shown = async (sel) => {
        const end = performance.now() + 3000;
        for (;;) {
          const b = usable(sel);
          if (b || performance.now() > end) return b;
          await frame();
        }
      };
      let runs = 0;
      let cancels = 0;
      for (let i = 0; i < times; i++) {
        const r = await shown(run);
        if (!r) break;
        r.click();
        runs += 1;
        const c = await shown(cancel);
        if (!c) break;
        c.click();
        cancels += 1;
      }
      return { runs, cancels };
    },
    { run, cancel, times },
  );
}

/** Moves a slider `moves` times: keys, the page's own arrow keys, mouse drags, or a dragged point. */
async function moveSlider(page, input) {
  const n = input.moves;
  if (input.mode === 'point') {
    const point = page.getByTestId(input.point).getByTestId('point');
    const box = await point.boundingBox();
    const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let i = 1; i <= n; i++) await page.mouse.move(x + 60 * Math.sin(i / 4), y + 40 * Math.sin(i / 3));
    await page.mouse.up();
    return;
  }
  const slider = page.getByTestId(input.slider).first();
  await slider.scrollIntoViewIfNeeded();
  if (input.mode === 'keys') {
    await slider.focus();
    for (let i = 0; i < n; i++) await page.keyboard.press('ArrowRight');
    for (let i = 0; i < n / 2; i++) await page.keyboard.press('ArrowLeft');
  } else if (input.mode === 'page-keys') {
    await page.locator('h1').first().click();
    await page.evaluate(() => document.activeElement?.blur());
    for (let i = 0; i < n; i++) await page.keyboard.press('ArrowRight');
    for (let i = 0; i < n / 2; i++) await page.keyboard.press('ArrowLeft');
  } else if (input.mode === 'drag') {
    const box = await slider.boundingBox();
    const y = box.y + box.height / 2;
    const at = (f) => box.x + 8 + f * (box.width - 16);
    await page.mouse.move(at(0.5), y);
    await page.mouse.down();
    for (let i = 0; i < n; i++) await page.mouse.move(at(i % 2 ? 0.1 + (0.6 * i) / n : 0.9 - (0.2 * i) / n), y);
    await page.mouse.up();
  } else {
    throw new Error(`unknown slider mode ${input.mode}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The cases

/** Does what the case does (its input); the notice and the steps that follow are checked after. */
async function act(c, session, base) {
  const { page } = session;
  const input = c.input;
  switch (c.kind) {
    case 'deep-link':
      await open(session, base, input);
      return;
    case 'text': {
      await open(session, base, input);
      await readyAt(page, input.link);
      if (input.open) await loc(page, input.open).click();
      for (const [field, value] of input.force ?? []) {
        // Past what typing allows: the value set from script, as a paste or an extension might.
        await loc(page, field).evaluate((el, value) => {
          el.value = value;
          el.dispatchEvent(new Event('input', { bubbles: true }));
          el.dispatchEvent(new Event('change', { bubbles: true }));
        }, value);
      }
      const fields = input.field ? [[input.field, input.text]] : input.fields ?? [];
      for (const [field, value] of fields) {
        const el = loc(page, field);
        await el.fill(expand(value, input.parts));
        if (input.commit === 'Enter' || input.commit === 'Tab') await el.press(input.commit);
      }
      if (input.commit !== 'Enter' && input.commit !== 'Tab') await loc(page, input.commit).click();
      return;
    }
    case 'upload': {
      const buffer = await uploadFile(page, input.file);
      const last = () => page.evaluate(() => Math.max(0, ...window.__lab.requests.filter((r) => r.kind === 'upload').map((r) => r.id)));
      const before = await last();
      await page.getByTestId('upload').setInputFiles({ name: input.name, mimeType: input.mime, buffer });
      if (buffer.length <= 25 * 1024 * 1024) {
        // The worker's answer to this very file (a message of a previous file may read the same).
        await page.waitForFunction(
          (before) => {
            const lab = window.__lab;
            const asked = lab.requests.filter((r) => r.kind === 'upload' && r.id > before);
            return asked.length > 0 && lab.replies.some((r) => r.id === asked[asked.length - 1].id && r.kind !== 'progress');
          },
          before,
          { timeout: NOTICE_WAIT },
        );
      }
      return;
    }
    case 'weights':
      await page.goto(`${base}${input.link}`);
      return;
    case 'worker': {
      await page.goto(`${base}${input.link}`);
      if (input.url) return;
      await readyAt(page, input.link);
      const born = await page.evaluate(() => window.__workers.length);
      for (const s of input.start ?? []) await step(s, session);
      const killed = await kill(page, { which: input.kill, how: input.how, message: input.message ?? 'the compute worker was killed by the test', born });
      assert.ok(killed > 0, `a worker to kill (${input.kill})`);
      session.note = `${killed} worker(s) hit`;
      return;
    }
    case 'cancel': {
      await page.goto(`${base}${input.link}`);
      await readyAt(page, input.link);
      for (const s of input.before ?? []) await step(s, session);
      if (input.keys) {
        await page.locator('h1').first().click();
        for (let i = 0; i < input.times; i++) {
          await page.keyboard.press(input.keys === ' ' ? 'Space' : input.keys);
          // One press per redraw, as a person's fastest.
          await page.waitForTimeout(50);
        }
        session.note = `${input.times} presses`;
      } else {
        const { runs, cancels } = await storm(page, input);
        session.note = `${runs} runs, ${cancels} cancels`;
        assert.ok(runs === input.times && cancels === input.times, `a storm: ${session.note}`);
      }
      // No worker leaks: the page's worker and at most the pool's are alive.
      await page.waitForTimeout(500);
      const { alive, pool } = await page.evaluate(() => ({
        alive: window.__workers.filter((w) => w.__alive).length,
        pool: Math.min(8, Math.max(2, navigator.hardwareConcurrency - 1)),
      }));
      assert.ok(alive <= 1 + pool, `${alive} workers alive after the storm (the page's and a pool of ${pool} at most)`);
      return;
    }
    case 'slider':
      await open(session, base, input);
      await readyAt(page, input.link);
      await moveSlider(page, input);
      return;
    case 'server': {
      await page.goto(`${base}${input.link}`);
      await readyAt(page, input.link);
      assert.deepEqual(session.watcher.problems, [], 'no problem before the server stops');
      // The server goes: no new connection, and the open ones are cut.
      await new Promise((resolve) => {
        session.server.close(resolve);
        session.server.closeAllConnections();
      });
      session.serverGone = true;
      await step({ goto: input.then }, session);
      return;
    }
    default:
      throw new Error(`unknown kind ${c.kind}`);
  }
}

/** Problems a case provokes on purpose: the allowed URLs, the messages it expects, and with the server gone, every failed load. */
function provoked(c, session, problem) {
  if ((c.allow ?? []).some((u) => problem.includes(u))) return true;
  if ((c.allowProblems ?? []).some((r) => new RegExp(r).test(problem))) return true;
  if (c.kind === 'weights' || (c.kind === 'worker' && c.input.url)) {
    if (c.input.serve === '404' && problem.includes(c.input.url)) return true;
  }
  if (session.serverGone) return /request failed|ERR_CONNECTION|Failed to load resource|Failed to fetch|net::/.test(problem);
  return false;
}

/** Replays case `c` on `session`; returns its record. Throws (after recording) if it failed. */
async function replay(c, session, base) {
  const { page } = session;
  const started = Date.now();
  const mark = session.watcher.problems.length;
  session.dialogs.length = 0;
  session.note = null;
  let message = null;
  let error = null;
  try {
    await act(c, session, base);
    let shown;
    if (c.expect.notice !== null) {
      shown = await waitNotices(page, c);
    } else {
      // A silent case: the page comes up (or settles) first, then nothing may warn.
      if (c.kind === 'deep-link') await readyAt(page, c.input.link);
      shown = await notices(page, c.noticeSelector);
    }
    message = shown.join('\n');
    for (const n of shown) {
      if (c.maxNotice) assert.ok(n.length <= c.maxNotice, `a notice of ${n.length} characters (at most ${c.maxNotice}): ${n.slice(0, 120)}…`);
    }
    if (c.kind === 'deep-link' && c.expect.notice !== null) await readyAt(page, c.input.link);
    for (const s of c.expect.works) await step(s, session);
    if (c.expect.notice === null) {
      const after = await notices(page, c.noticeSelector);
      assert.deepEqual(after, [], `no warning or error for this case; the page shows ${JSON.stringify(after)}`);
      message = after.join('\n');
    }
    await noFatal(page);
    // Whatever the inputs held is text: no script, frame, handler attribute or injected image.
    const injected = await page.evaluate(() => {
      const shell = document.querySelector('.shell') ?? document.body;
      return [...shell.querySelectorAll('*')]
        .filter((e) => ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED'].includes(e.tagName) || [...e.attributes].some((a) => /^on/i.test(a.name)) || (e.tagName === 'IMG' && e.getAttribute('src') === 'x'))
        .map((e) => e.outerHTML.slice(0, 120));
    });
    assert.deepEqual(injected, [], 'no markup from the input on the page');
    assert.deepEqual(session.dialogs, [], 'no dialog opened');
  } catch (e) {
    error = e;
  }
  // The case's own problems (console errors, failed requests), less the provoked ones.
  const problems = session.watcher.problems.splice(mark).filter((p) => !provoked(c, session, p));
  if (!error && problems.length) error = new Error(`the page reported ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  if (error) {
    // What the user saw when it failed.
    if (message === null) message = (await notices(page, c.noticeSelector).catch(() => [])).join('\n');
    await page.screenshot({ path: screenshotPath(`hardening-${c.id}.png`), fullPage: true }).catch(() => {});
  }
  const record = {
    id: c.id,
    page: c.page,
    kind: c.kind,
    description: c.description,
    outcome: error ? (c.known ? 'known-bug' : 'failed') : 'passed',
    message,
    ms: Date.now() - started,
  };
  if (session.note) record.note = session.note;
  if (c.known) record.known = c.known;
  if (error) record.error = String(error.message ?? error).split('\n').slice(0, 6).join('\n');
  session.records.set(c.id, record);
  if (error) {
    if (!String(error.message).includes('it shows:')) error.message += `\n  shown: ${JSON.stringify(message)}`;
    throw error;
  }
  return record;
}

/** A watched page with the worker tracker, its dialogs recorded (and dismissed). */
async function session(lab, { allow = [], route, base = lab.base, server = null } = {}) {
  const s = await openPage(lab.browser, {
    allow,
    route: async (context) => {
      await context.addInitScript(WORKER_TRACKER);
      if (route) await route(context);
    },
  });
  s.dialogs = [];
  s.page.on('dialog', (d) => {
    s.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  s.base = base;
  s.server = server;
  s.records = lab.records;
  return s;
}

/** The cases grouped as they run: one page for a page's links, texts, sliders and uploads; a fresh one each for the rest. */
function groups(cases) {
  const shared = new Map();
  const fresh = [];
  for (const c of cases) {
    if (['deep-link', 'text', 'slider', 'upload'].includes(c.kind)) {
      const key = c.kind === 'upload' ? 'uploads on mri' : `${c.page}`;
      if (!shared.has(key)) shared.set(key, []);
      shared.get(key).push(c);
    } else {
      fresh.push(c);
    }
  }
  return { shared: [...shared.entries()], fresh };
}

/** Runs one case as a subtest (a todo for a known bug). */
function subtest(t, c, body) {
  return t.test(`${c.id}: ${c.description}`, c.known ? { todo: c.known } : {}, async (st) => {
    const record = await body();
    st.diagnostic(`shown: ${JSON.stringify(record.message)}${record.note ? ` (${record.note})` : ''}`);
  });
}

describe('The bad-input corpus (tests/corpus/cases.json)', { skip }, () => {
  const lab = browserSuite();
  lab.records = new Map();
  let browser = '';
  before(() => {
    browser = `Chromium ${lab.browser.version()} (headless)`;
  });

  test('the corpus covers every page and every kind', () => {
    assert.ok(CORPUS.length >= 40, `${CORPUS.length} cases`);
    assert.equal(new Set(CORPUS.map((c) => c.id)).size, CORPUS.length, 'ids are unique');
    const pages = new Set(CORPUS.map((c) => (c.page === 'home' ? '' : c.page)));
    for (const p of PAGES) assert.ok(pages.has(p.route), `a case on #/${p.route}`);
    for (const k of KINDS) assert.ok(CORPUS.some((c) => c.kind === k), `a case of kind ${k}`);
    for (const c of CORPUS) {
      assert.ok(KINDS.includes(c.kind), `${c.id}: kind ${c.kind}`);
      assert.ok(pages.has(c.page === 'home' ? '' : c.page) && pageReady(c.page), `${c.id}: page ${c.page}`);
      assert.ok(c.description && c.input && c.expect && 'notice' in c.expect && Array.isArray(c.expect.works), `${c.id}: fields`);
      for (const r of regexes(c.expect.notice)) assert.ok(r instanceof RegExp);
    }
  });

  const { shared, fresh } = groups(CASES);

  for (const [key, cases] of shared) {
    test(`on one page: ${key} (${cases.map((c) => c.id).join(', ')})`, { timeout: 20 * 60_000 }, async (t) => {
      let s = await session(lab);
      if (key === 'uploads on mri') {
        await s.page.goto(`${lab.base}#/mri`);
        await pageReady('mri')(s.page);
      }
      try {
        for (const c of cases) {
          let failed = false;
          await subtest(t, c, async () => {
            try {
              return await replay(c, s, lab.base);
            } catch (e) {
              failed = true;
              throw e;
            }
          });
          if (failed) {
            // A fresh page for the next case, so that one failure does not fail the rest.
            await s.close();
            s = await session(lab);
            if (key === 'uploads on mri') {
              await s.page.goto(`${lab.base}#/mri`);
              await pageReady('mri')(s.page);
            }
          }
        }
      } finally {
        await s.close();
      }
    });
  }

  for (const c of fresh) {
    test(`on a fresh page: ${c.id}`, { timeout: 10 * 60_000 }, async (t) => {
      let s;
      if (c.kind === 'server') {
        // A server of its own, that the case stops.
        const { server, url } = await serve();
        s = await session(lab, { base: url, server });
        try {
          await subtest(t, c, () => replay(c, s, url));
        } finally {
          await s.close();
          server.closeAllConnections();
          await new Promise((resolve) => server.close(() => resolve()));
        }
        return;
      }
      const broken = c.input.url && c.input.serve;
      const route = broken
        ? async (context) => {
            const answer = brokenFile(c.input.url, c.input.serve);
            // context.route: it also sees the requests of the page's workers.
            await context.route(`**/${c.input.url}`, (r) => r.fulfill(answer));
          }
        : undefined;
      s = await session(lab, { route, allow: c.allow ?? [] });
      try {
        await subtest(t, c, () => replay(c, s, lab.base));
      } finally {
        await s.close();
      }
    });
  }

  after(() => {
    const records = CASES.map((c) => lab.records.get(c.id)).filter(Boolean);
    const counts = records.reduce((m, r) => ({ ...m, [r.outcome]: (m[r.outcome] ?? 0) + 1 }), {});
    console.log(`# corpus: ${records.length} of ${CASES.length} cases replayed: ${JSON.stringify(counts)}`);
    for (const r of records.filter((r) => r.outcome !== 'passed')) console.log(`# ${r.outcome}: ${r.id}: ${r.error}`);
    if (ONLY || records.length !== CORPUS.length) {
      console.log(`# ${REPORT} left alone (not every case was replayed)`);
      return;
    }
    let report = {};
    try {
      report = JSON.parse(fs.readFileSync(REPORT, 'utf8'));
    } catch {
      // A new report.
    }
    report.corpus = {
      date: new Date().toISOString(),
      browser,
      command: 'node --test tests/e2e/hardening.test.mjs',
      corpus: 'tests/corpus/cases.json',
      counts: { cases: records.length, ...counts },
      cases: records,
    };
    fs.mkdirSync(path.dirname(REPORT), { recursive: true });
    fs.writeFileSync(REPORT, `${JSON.stringify(report, null, 2)}\n`);
  });
});

