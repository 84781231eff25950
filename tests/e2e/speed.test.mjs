// The Speed page on the release bundle (dist/): the lab against TensorFlow.js and NumPy, and the
// worker pool, as static/reports/peers.json says (the bars and every table row checked against
// the report). Fails on any console error, page error or failed request.
//   trunk build --release && node --test --test-reporter=spec tests/e2e/speed.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIST, haveDist, screenshotPath, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const peers = haveDist() ? JSON.parse(fs.readFileSync(path.join(DIST, 'static/reports/peers.json'), 'utf8')) : null;

describe('the Speed page', { skip }, () => {
  const lab = browserSuite();

  test('every measurement of the report, on a log-scale chart and in tables', async () => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}#/speed`);
      await page.getByTestId('speed-chart').waitFor();
      const models = Object.keys(peers.tfjs.models);
      const bars = await page.getByTestId('speed-bar').evaluateAll((gs) => gs.map((g) => [g.dataset.model, g.dataset.engine, Number(g.dataset.ms)]));
      const expected = models.flatMap((m) => [
        [m, 'lab', peers.tfjs.models[m].lab.deepfool.median],
        ...Object.entries(peers.tfjs.models[m].tfjs).map(([b, v]) => [m, `TF.js ${b}`, v.deepfool.median]),
      ]);
      assert.deepEqual(bars, expected);
      // Longer bars for slower engines (a log scale, the same axis).
      const width = (m, e) => page.locator(`[data-testid="speed-bar"][data-model="${m}"][data-engine="${e}"] rect`).evaluate((r) => r.getBBox().width);
      assert.ok((await width('cnn', 'lab')) < (await width('cnn', 'TF.js wasm')));
      const rows = await page.getByTestId('speed-row').count();
      assert.equal(rows, expected.length);
      assert.match(await page.getByTestId('speed-floor').innerText(), /floor/);
      assert.equal(await page.getByTestId('speed-firenet-row').count(), peers.firenet.cases.length);
      assert.equal(await page.getByTestId('speed-pool-row').count(), peers.pool.rows.length);
      const two = await page.locator('[data-testid="speed-pool-row"][data-workers="2"]').innerText();
      assert.match(two, new RegExp(`${peers.pool.rows.find((r) => r.workers === 2).speedup.toFixed(2)}×`));
      assert.match(await page.getByTestId('speed-setting').innerText(), new RegExp(peers.browser.replace(/\./g, '\\.')));
      await page.screenshot({ path: screenshotPath('speed.png'), fullPage: true });
    });
  });

  test('a missing report says so and the page stays usable', async () => {
    await lab.withPage(
      { allow: ['peers.json'], route: (context) => context.route('**/peers.json', (r) => r.fulfill({ status: 404, body: 'gone' })) },
      async (page) => {
        await page.goto(`${lab.base}#/speed`);
        await page.getByText('The speed report could not be loaded').waitFor();
        assert.ok(await page.locator('header.site-header').isVisible());
      },
    );
  });
});
