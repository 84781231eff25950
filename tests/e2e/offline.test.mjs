// End-to-end tests of the lab offline (static/sw.js, src/web/offline.rs) with the release bundle
// (dist/, built with its offline manifest) in headless Chromium: after one visit of the home
// page the server is stopped, and every page of the app still loads and does its work (the MRI
// page reconstructs from the copy); a new bundle on the server is offered as an update, and
// Reload switches to it and removes the old copy; a bundle without offline.json (a debug build)
// keeps nothing. Fails on any console error, page error or failed request (offline included:
// every request the pages make is answered from the copy).
//   trunk build --release && node --test tests/e2e/offline.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIST, ROOT, VIEWPORT, haveDist, launch, watch, screenshotPath, CSP_PROBE } from './helpers.mjs';
import { startServer } from '../../scripts/serve.mjs';
import { MANIFEST, writeOffline } from '../../scripts/offline-manifest.mjs';

const skip = !haveDist()
  ? 'no release bundle: run `trunk build --release` first (dist/index.html is missing)'
  : !fs.existsSync(path.join(DIST, MANIFEST))
    ? `no ${MANIFEST} in the bundle: rebuild with trunk build --release (Trunk.toml runs scripts/post-build.mjs)`
    : false;

/** The first copy of the bundle (28 MB over loopback, decoded and stored) takes well under this. */
const COPY = 120_000;
/** A page's work (the MRI reconstruction included) takes well under this. */
const RUN = 90_000;

/** Every route of the app (src/web/app.rs, `Route`), but the catch-all. */
const ROUTES = [...fs.readFileSync(path.join(ROOT, 'src/web/app.rs'), 'utf8').matchAll(/#\[at\("([^"]+)"\)\]/g)]
  .map((m) => m[1])
  .filter((r) => r !== '/not-found');

/** What shows that a page has done its work (every demo page is a `section.demo`). */
const READY = {
  '/': (page) => page.getByTestId('demo-grid').waitFor(),
  '/classify': (page) => page.getByTestId('predicted-label').waitFor({ timeout: RUN }),
  '/linearity': (page) => page.locator('[data-testid="linearity"][data-ready="true"]').waitFor({ timeout: RUN }),
  '/mri': (page) => mriDone(page),
};

/** Waits for a finished MRI reconstruction; fails at once if the page says it failed. */
async function mriDone(page) {
  const handle = await page.waitForFunction(
    () => {
      const failed = [...document.querySelectorAll('.mri .notice.error')].find((n) => /fail|could not/i.test(n.textContent));
      if (failed) return { failed: failed.textContent };
      const el = document.querySelector('[data-testid="mri-results"]');
      return el && !el.classList.contains('updating') && el.dataset.run ? { run: el.dataset.run } : null;
    },
    null,
    { timeout: RUN },
  );
  const result = await handle.jsonValue();
  assert.ok(!result.failed, `the MRI page says: ${result.failed}`);
}

/** A server for `dir` on `port` that `stop()` really stops (open keep-alive sockets included). */
async function serveDir(dir, port = 0) {
  const { server, url } = await startServer(dir, port);
  return {
    url,
    port: server.address().port,
    async stop() {
      await new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      });
      await assert.rejects(fetch(url), 'the server is gone');
    },
  };
}

/**
 * Counts the requests of `context` in flight (the page's, its workers' and the service worker's);
 * `quiet()` waits until there has been none for `ms`, so that leaving a page aborts nothing.
 */
function inFlight(context) {
  let pending = 0;
  let last = Date.now();
  const up = () => {
    pending += 1;
    last = Date.now();
  };
  const down = () => {
    pending -= 1;
    last = Date.now();
  };
  context.on('request', up);
  context.on('requestfinished', down);
  context.on('requestfailed', down);
  return {
    async quiet(ms = 500, timeout = RUN) {
      const start = Date.now();
      while (pending > 0 || Date.now() - last < ms) {
        if (Date.now() - start > timeout) throw new Error(`${pending} request(s) still in flight after ${timeout} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The names of the lab's caches in the page's browser context. */
const labCaches = (page) => page.evaluate(async () => (await caches.keys()).filter((n) => n.startsWith('barriers-lab ')));

/** The version in the bundle's offline.json. */
const versionOf = (dir) => JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')).version;

/** Whether the page's document is version 2 of the update test (its index.html ends with a mark). */
const isVersion2 = (page) =>
  page.evaluate(() => [...document.childNodes].some((n) => n.nodeType === Node.COMMENT_NODE && n.data.includes('version 2')));

/** Waits for the header to say that this version is kept offline. */
const availableOffline = (page, timeout = COPY) =>
  page.getByTestId('offline-status').filter({ hasText: 'Available offline' }).waitFor({ timeout });

describe('The lab offline', { skip }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('after one visit, every page works without the server', { timeout: 900_000 }, async (t) => {
    const server = await serveDir(DIST);
    const context = await browser.newContext({ viewport: VIEWPORT });
    // Offline too, no request may fail (the browser's own update check of sw.js on a navigation
    // is not a request of the page's).
    await context.addInitScript(CSP_PROBE);
    const watcher = watch(context);
    const requests = inFlight(context);
    let stopped = false;
    try {
      const page = await context.newPage();
      const start = Date.now();
      await page.goto(server.url);
      await page.getByTestId('demo-grid').waitFor();
      await availableOffline(page);
      t.diagnostic(`kept offline ${((Date.now() - start) / 1000).toFixed(1)} s after the first visit`);
      const manifest = JSON.parse(fs.readFileSync(path.join(DIST, MANIFEST), 'utf8'));
      const kept = await page.evaluate(async (names) => {
        const cache = await caches.open(names[0]);
        return (await cache.keys()).map((r) => new URL(r.url).pathname.slice(1));
      }, await labCaches(page));
      assert.deepEqual((await labCaches(page)).map((n) => n.split(' ').pop()), [manifest.version], 'one cache, this version');
      assert.deepEqual([...kept].sort(), [...manifest.files, MANIFEST].sort(), 'every file of the manifest is kept');
      await page.screenshot({ path: screenshotPath('offline-available.png') });
      await requests.quiet();

      await server.stop();
      stopped = true;
      assert.deepEqual(ROUTES.slice(0, 2), ['/', '/classify'], `the routes of app.rs: ${ROUTES.join(' ')}`);
      // The lecturer's reload first: the page that was open.
      const reloaded = await page.reload();
      assert.ok(reloaded?.ok(), `reload answered ${reloaded?.status()}`);
      await page.getByTestId('demo-grid').waitFor();
      await requests.quiet();
      for (const route of ROUTES) {
        const begin = Date.now();
        // Each page loaded afresh (the whole document, from the service worker's copy).
        await page.goto('about:blank');
        const response = await page.goto(`${server.url}#${route}`);
        assert.ok(response?.ok(), `${route}: answered ${response?.status()}`);
        assert.ok(await page.locator('header.site-header').isVisible(), `${route}: the lab, not an error page`);
        if (route === '/') await page.getByTestId('demo-grid').waitFor();
        else await page.locator('main section.demo').first().waitFor();
        await READY[route]?.(page);
        await requests.quiet();
        await availableOffline(page, 10_000);
        const errors = await page.locator('.notice.error').allInnerTexts();
        assert.deepEqual(errors, [], `${route}: error notices`);
        assert.equal(await page.locator('#fatal-error').count(), 0, `${route}: the lab did not start`);
        t.diagnostic(`#${route} offline: ${Date.now() - begin} ms`);
        if (route === '/mri') await page.screenshot({ path: screenshotPath('offline-mri.png'), fullPage: true });
      }
      watcher.check();
    } finally {
      watcher.stop();
      await context.close();
      if (!stopped) await server.stop();
    }
  });

  test('a new bundle is offered as an update; Reload switches to it and drops the old copy', { timeout: 600_000 }, async (t) => {
    // Version 2: the same bundle with a changed index.html, its manifest and sw.js restamped by
    // the build's own script (no precompressed variants: the server sends the files).
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-offline-'));
    fs.cpSync(DIST, tmp, { recursive: true, filter: (src) => !/\.(gz|br)$/.test(src) });
    fs.appendFileSync(path.join(tmp, 'index.html'), '<!-- offline test: version 2 -->\n');
    writeOffline(tmp);
    const [v1, v2] = [versionOf(DIST), versionOf(tmp)];
    assert.notEqual(v1, v2, 'a changed file is a new version');
    assert.match(fs.readFileSync(path.join(tmp, 'sw.js'), 'utf8'), new RegExp(`^const VERSION = '${v2}';$`, 'm'));

    let server = await serveDir(DIST);
    const context = await browser.newContext({ viewport: VIEWPORT });
    await context.addInitScript(CSP_PROBE);
    const watcher = watch(context);
    try {
      const page = await context.newPage();
      await page.goto(server.url);
      await availableOffline(page);
      assert.deepEqual((await labCaches(page)).map((n) => n.split(' ').pop()), [v1]);

      // The new bundle at the same address.
      await server.stop();
      server = await serveDir(tmp, server.port);
      const start = Date.now();
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
      const notice = page.getByTestId('update-notice');
      await notice.waitFor({ timeout: COPY });
      t.diagnostic(`update offered ${((Date.now() - start) / 1000).toFixed(1)} s after the check`);
      assert.equal((await notice.textContent()).replace(/\s+/g, ' ').trim(), 'A new version is ready — Reload');
      assert.deepEqual((await labCaches(page)).map((n) => n.split(' ').pop()).sort(), [v1, v2].sort(), 'both copies while waiting');
      // Until Reload, the page keeps its version.
      assert.ok(!(await isVersion2(page)));
      await page.screenshot({ path: screenshotPath('offline-update.png') });

      await Promise.all([page.waitForEvent('load', { timeout: 30_000 }), notice.getByRole('button', { name: 'Reload' }).click()]);
      await availableOffline(page, 30_000);
      assert.equal(await page.getByTestId('update-notice').count(), 0);
      assert.deepEqual((await labCaches(page)).map((n) => n.split(' ').pop()), [v2], 'only the new copy');
      assert.ok(await isVersion2(page), 'the page is the new version');
      assert.match(
        await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL ?? ''),
        /\/sw\.js$/,
        'the new worker controls the page',
      );

      // And the new version works offline too.
      await server.stop();
      server = null;
      const reload = await page.reload();
      assert.ok(reload?.ok());
      await page.getByTestId('demo-grid').waitFor();
      await availableOffline(page, 10_000);
      assert.ok(await isVersion2(page));
      watcher.check();
    } finally {
      watcher.stop();
      await context.close();
      await server?.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('without offline.json (a debug build) the service worker keeps nothing and stays out of the way', async () => {
    // The bundle as `trunk serve` writes it: sw.js with its placeholder, no manifest.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lab-offline-'));
    fs.cpSync(DIST, tmp, { recursive: true, filter: (src) => !/\.(gz|br)$/.test(src) });
    fs.rmSync(path.join(tmp, MANIFEST));
    fs.copyFileSync(path.join(ROOT, 'static/sw.js'), path.join(tmp, 'sw.js'));
    const server = await serveDir(tmp);
    const context = await browser.newContext({ viewport: VIEWPORT });
    await context.addInitScript(CSP_PROBE);
    const watcher = watch(context);
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}#/classify`);
      await page.getByTestId('predicted-label').waitFor({ timeout: RUN });
      await page.evaluate(() => navigator.serviceWorker.ready);
      const reload = await page.reload();
      assert.ok(reload?.ok());
      await page.getByTestId('predicted-label').waitFor({ timeout: RUN });
      assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the worker is in charge');
      assert.deepEqual(await labCaches(page), [], 'nothing kept');
      assert.equal(await page.getByTestId('offline-status').count(), 0, 'no badge');
      assert.equal(await page.getByTestId('update-notice').count(), 0);
      watcher.check();
    } finally {
      watcher.stop();
      await context.close();
      await server.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
