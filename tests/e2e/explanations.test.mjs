// End-to-end tests of the manipulated explanations page of the release bundle in headless
// Chromium: the shipped report's table, a manipulation in the worker with its progress (the
// label kept, the similarity to the target up, the curve drawn), Cancel, the settings in the
// link, a drawn target map, embed mode and a phone. Fails on any console error, page error or
// failed request.
//   trunk build --release && node --test tests/e2e/explanations.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 180_000;

const ready = (page) => page.locator('[data-testid="explain-run"]:not([disabled])').waitFor({ timeout: RUN });
const hashOf = (page) => decodeURIComponent(new URL(page.url()).hash.slice(1));

/** "a → b" as two numbers. */
function arrow(text) {
  const m = /(-?[0-9.]+)\s*→\s*(-?[0-9.]+)/.exec(text);
  assert.ok(m, `no "a → b" in ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

describe('Manipulated explanations in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the report, then a manipulation that keeps the label and moves the map towards the target', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/explanations?model=cnn&digit=0&target=auto&map=gradient&eps=0.1&steps=60`);
      await ready(page);
      // The shipped report: both maps, every label kept, the similarity up.
      const rows = page.getByTestId('explain-report').locator('tbody tr');
      assert.equal(await rows.count(), 2);
      for (const map of ['gradient', 'gradient-times-input']) {
        const cells = await page.locator(`[data-testid="explain-report"] tr[data-map="${map}"] td`).allInnerTexts();
        assert.match(cells[0], /^(\d+) of \1$/, `${map}: labels kept ${cells[0]}`);
        const [before, after] = arrow(cells[1]);
        assert.ok(after > before + 0.1, `${map}: median Pearson ${before} → ${after}`);
      }
      assert.match(await page.getByTestId('target-digit').innerText(), /held-out digit #\d+ \(a \d\)/);
      await page.screenshot({ path: screenshotPath('explanations-start.png'), fullPage: true });

      await page.getByTestId('explain-run').click();
      await page.getByTestId('explain-running').waitFor({ timeout: 10_000 });
      await page.getByTestId('explain-result').waitFor({ timeout: RUN });
      assert.match(await page.getByTestId('label-kept').innerText(), /^\d \(kept\)$/);
      const [before, after] = arrow(await page.getByTestId('pearson').innerText());
      t.diagnostic(`60 steps: Pearson with the target ${before} → ${after}; ${await page.getByTestId('delta').innerText()}`);
      assert.ok(after > before + 0.1, `Pearson ${before} → ${after}`);
      assert.ok(Number(await page.getByTestId('logit-change').innerText()) < 3);
      const points = await page.locator('[data-testid="similarity-curve"] .s-firenet polyline').getAttribute('points');
      assert.ok(points.split(' ').length >= 10, `the curve has ${points.split(' ').length} points`);
      await page.screenshot({ path: screenshotPath('explanations-result.png'), fullPage: true });

      // Another map is another experiment: the link says so and the result goes.
      await page.locator('button[data-map="gradient-times-input"]').click();
      await page.waitForFunction(() => /map=gradient-times-input/.test(decodeURIComponent(location.hash)));
      await page.getByTestId('explain-result').waitFor({ state: 'detached' });
      assert.match(hashOf(page), /steps=60/);
    });
  });

  test('Cancel stops a long manipulation; it runs again', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/explanations?steps=1000`);
      await ready(page);
      await page.getByTestId('explain-run').click();
      await page.getByTestId('explain-cancel').click();
      await page.getByTestId('explain-cancelled').waitFor();
      await ready(page);
      // Space runs and cancels too (the page's keys).
      await page.locator('body').press('Space');
      await page.getByTestId('explain-running').waitFor();
      await page.locator('body').press('Space');
      await page.getByTestId('explain-cancelled').waitFor();
    });
  });

  test('a drawn target map: Manipulate waits for a drawing, then moves the map towards it', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/explanations?target=draw&steps=40&digit=3`);
      await page.getByTestId('draw-first').waitFor({ timeout: RUN });
      assert.equal(await page.getByTestId('explain-run').isDisabled(), true);
      const pad = page.getByTestId('draw-target').locator('canvas').first();
      await pad.scrollIntoViewIfNeeded();
      const box = await pad.boundingBox();
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.8, { steps: 12 });
      await page.mouse.up();
      await ready(page);
      await page.getByTestId('explain-run').click();
      await page.getByTestId('explain-result').waitFor({ timeout: RUN });
      const [before, after] = arrow(await page.getByTestId('pearson').innerText());
      assert.ok(after > before, `Pearson with the drawn map ${before} → ${after}`);
      await page.screenshot({ path: screenshotPath('explanations-drawn.png'), fullPage: true });
    });
  });

  test('embed mode and a phone', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}?embed#/explanations?digit=5`);
      await ready(page);
      assert.equal(await page.locator('header.site-header').count(), 0, 'embed mode: no header');
      assert.equal(await page.getByTestId('explain-report').count(), 0, 'embed mode: the figure and its controls only');
      await page.screenshot({ path: screenshotPath('explanations-embed.png'), fullPage: true });
    });
    await withPage({ viewport: { width: 390, height: 844 } }, async (page) => {
      await page.goto(`${lab.base}#/explanations`);
      await ready(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px on a phone`);
      await page.screenshot({ path: screenshotPath('explanations-phone.png'), fullPage: true });
    });
  });
});
