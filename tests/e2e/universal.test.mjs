// End-to-end tests of the universal perturbations page of the release bundle (dist/) in headless
// Chromium: the shipped perturbation at once, a live search with progress (one cancelled midway,
// one that reproduces the shipped perturbation), the transfer table (on one worker and on a pool
// of two, which must agree) and the per-image transfer, and bad links. Every test fails on any console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/universal.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { haveDist, screenshotPath, browserSuite, ROOT } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 120_000;
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/transfer.json'), 'utf8'));
const card = (model, p) => report.perturbations.find((c) => c.model === model && c.settings.ball === p);
const pct = (v) => `${(v * 100).toFixed(1)}%`;

/** Waits for a finished result whose data attributes match `want`; returns its dataset. */
async function result(page, want) {
  await page.waitForFunction(
    (want) => {
      const el = document.querySelector('[data-testid="universal-result"]');
      if (!el || document.querySelector('[data-testid="universal-running"]')) return false;
      return Object.entries(want).every(([k, v]) => el.dataset[k] === String(v));
    },
    want,
    { timeout: RUN },
  );
  return page.evaluate(() => ({ ...document.querySelector('[data-testid="universal-result"]').dataset }));
}

describe('Universal perturbations in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the shipped perturbation, its grid and the transfer table show at once', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/universal?model=mlp&p=2`);
      await result(page, { live: false, model: 'mlp' });
      const c = card('mlp', 'l2');
      assert.equal(await page.getByTestId('held-out-fooling').innerText(), pct(c.held_out_fooling));
      assert.equal(await page.getByTestId('random-fooling').innerText(), pct(c.random_fooling));
      assert.ok(c.held_out_fooling >= 0.8);
      const cells = page.getByTestId('grid-cell');
      assert.equal(await cells.count(), 24);
      const flipped = await page.locator('[data-testid="grid-cell"][data-flipped="true"]').count();
      assert.ok(flipped >= 12, `${flipped} of 24 grid digits flipped`);
      // The fooling curve has a point per shipped pass.
      assert.equal(await page.getByTestId('fooling-curve').locator(':scope > circle.dot:not(.held)').count(), c.passes.length);
      // The table: one row per model, the diagonal is each model's own held-out fooling rate.
      const table = page.getByTestId('transfer-table').first();
      for (const [i, m] of report.models.entries()) {
        const row = table.getByTestId(`transfer-row-${m}`);
        const diag = await row.locator('td').nth(i).innerText();
        assert.equal(diag, pct(card(m, 'l2').held_out_fooling), `${m}`);
        assert.match(await row.locator('td').nth(i).getAttribute('class'), /diagonal/);
      }
      await page.screenshot({ path: screenshotPath('universal-shipped.png'), fullPage: true });
    });
  });

  test('a live search shows its progress, can be cancelled, and reproduces the shipped one', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/universal?model=cnn&p=2`);
      await result(page, { live: false, model: 'cnn' });
      await page.getByTestId('compute-live').click();
      // Progress: pass and digits visited move on.
      await page.waitForFunction(
        () => /Pass 1: ([1-9]\d*) of 500/.test(document.querySelector('[data-testid="universal-progress"]')?.textContent ?? ''),
        null,
        { timeout: RUN },
      );
      await page.getByTestId('universal-cancel').click();
      await page.getByTestId('universal-running').waitFor({ state: 'detached', timeout: RUN });
      // The shipped one stays on screen.
      assert.equal((await result(page, { model: 'cnn' })).live, 'false');

      await page.goto(`${lab.base}#/universal?model=linear&p=2`);
      await result(page, { live: false, model: 'linear' });
      const started = Date.now();
      await page.getByTestId('compute-live').click();
      const live = await result(page, { live: true, model: 'linear' });
      t.diagnostic(`live search on the linear model: ${(Date.now() - started) / 1000} s`);
      const c = card('linear', 'l2');
      assert.ok(Math.abs(Number(live.fooling) - c.held_out_fooling) <= 0.002, `${live.fooling} vs ${c.held_out_fooling}`);
      const reproduced = await page.getByTestId('reproduced').innerText();
      const m = /at most ([\d.e+-]+) of its largest entry/.exec(reproduced);
      assert.ok(m, reproduced);
      assert.ok(Number(m[1]) < 1e-4, reproduced);
      await page.screenshot({ path: screenshotPath('universal-live.png'), fullPage: true });
    });
  });

  test('the table refills in the worker, and one digit transfers', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/universal?model=cnn&p=inf&digit=3`);
      await result(page, { live: false, model: 'cnn' });
      await page.getByTestId('transfer-refill').click();
      await page.getByTestId('transfer-live').waitFor({ timeout: RUN });
      const live = page.getByTestId('transfer-live').getByTestId('transfer-table');
      const table = report.tables.find((tb) => tb.ball === 'linf').fooling;
      for (const [i, m] of report.models.entries()) {
        const cells = await live.getByTestId(`transfer-row-${m}`).locator('td').allInnerTexts();
        const want = table[i].map(pct);
        cells.forEach((v, j) => {
          // f32 vectors: a digit on a boundary may go either way (0.05% each).
          assert.ok(Math.abs(parseFloat(v) - parseFloat(want[j])) <= 0.21, `${m}→${report.models[j]}: ${v} vs ${want[j]}`);
        });
      }
      // One digit: DeepFool's r for the CNN flips the CNN.
      await page.getByTestId('entry-cnn').waitFor({ timeout: RUN });
      assert.equal(await page.getByTestId('digit-index').innerText(), 'held-out digit 3');
      assert.match(await page.getByTestId('entry-cnn').getAttribute('class'), /flipped/);
      await page.getByTestId('digit-next').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="digit-index"]')?.textContent === 'held-out digit 4');
      await page.getByTestId('entry-cnn').waitFor({ timeout: RUN });
      assert.ok(page.url().includes('digit=4'));
      await page.screenshot({ path: screenshotPath('universal-transfer.png'), fullPage: true });
    });
  });

  test('the pool of workers gives exactly what one worker gives', async (t) => {
    const tables = {};
    for (const workers of [1, 2]) {
      await withPage({}, async (page) => {
        await page.goto(`${lab.base}?workers=${workers}#/universal?model=linear&p=2`);
        await result(page, { live: false, model: 'linear' });
        const started = Date.now();
        await page.getByTestId('transfer-refill').click();
        const running = page.getByTestId('transfer-running');
        await running.waitFor({ timeout: RUN });
        assert.equal(await running.getAttribute('data-workers'), String(workers));
        await page.getByTestId('transfer-live').waitFor({ timeout: RUN });
        const elapsed = Date.now() - started;
        const live = page.getByTestId('transfer-live').getByTestId('transfer-table');
        tables[workers] = [];
        for (const m of report.models) {
          // The rates themselves (shortest round-trip decimals of the f64s), not the rounded text.
          tables[workers].push(await live.getByTestId(`transfer-row-${m}`).locator('td').evaluateAll((tds) => tds.map((td) => td.dataset.rate)));
        }
        const parts = await page.evaluate(() => window.__lab.requests.filter((r) => r.kind === 'transfer').length);
        assert.equal(parts, workers, 'one part per worker');
        t.diagnostic(`${workers} worker(s): ${elapsed} ms from the click; ${await page.getByTestId('transfer-timing').innerText()}`);
      });
    }
    assert.equal(tables[1].length, report.models.length);
    assert.ok(tables[1].every((row) => row.length === report.models.length && row.every((v) => Number.isFinite(Number(v)))));
    assert.deepEqual(tables[2], tables[1]);
  });

  test('bad links give notices and the page still works', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/universal?model=vgg&p=3&xi=abc&count=0&digit=99999`);
      await result(page, { live: false, model: 'cnn' });
      const notices = await page.locator('.notice').allInnerTexts();
      assert.ok(notices.length >= 5, notices.join(' | '));
      assert.ok(notices.some((n) => /no model/.test(n)));
    });
  });
});
