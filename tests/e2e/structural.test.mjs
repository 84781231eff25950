// End-to-end tests of the structural perturbations page of the release bundle in headless
// Chromium: draw a stroke across a digit and watch the label change, the size of the edit, the
// smallest label-changing edit so far, the smallest-patch search in the worker, undo. Fails on any
// console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/structural.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 120_000;

/** Drags the mouse across the canvas between two points given as fractions of its box. */
async function stroke(page, canvas, [x0, y0], [x1, y1]) {
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await page.mouse.move(...at(x0, y0));
  await page.mouse.down();
  await page.mouse.move(...at(x1, y1), { steps: 12 });
  await page.mouse.up();
}

const label = (page) => page.getByTestId('predicted-label').innerText().then((t) => t.trim());

describe('Structural perturbations in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('a stroke changes the label; the edit is measured; a patch search finds a smaller one', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/structural?model=cnn&digit=164`);
      await page.waitForFunction(() => document.querySelector('[data-testid="predicted-label"]')?.textContent?.trim() === '7', null, { timeout: 60_000 });
      assert.equal(await page.getByTestId('tool-brush').getAttribute('aria-pressed'), 'true');
      await stroke(page, page.getByTestId('edit-canvas'), [0.2, 0.5], [0.8, 0.5]);
      await page.waitForFunction(() => document.querySelector('[data-testid="predicted-label"]')?.textContent?.trim() === '9', null, { timeout: 30_000 });
      assert.match(await page.getByTestId('flip-state').innerText(), /7 → 9/);
      const pixels = Number(await page.getByTestId('edit-pixels').innerText());
      const l2 = Number(await page.getByTestId('edit-l2').innerText());
      assert.ok(pixels > 10 && pixels < 120, `${pixels} pixels changed`);
      assert.ok(l2 > 1 && l2 < 12, `‖x' − x‖₂ = ${l2}`);
      const smallest = Number(await page.getByTestId('smallest-pixels').innerText());
      assert.ok(smallest > 0 && smallest <= pixels, `smallest ${smallest} of ${pixels}`);
      await page.screenshot({ path: screenshotPath('structural-stroke.png'), fullPage: true });

      // Undo brings the digit (and its label) back.
      await page.getByTestId('undo').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="predicted-label"]')?.textContent?.trim() === '7', null, { timeout: 30_000 });
      assert.equal(Number(await page.getByTestId('edit-pixels').innerText()), 0);

      // The worker's smallest patch: a few pixels, smaller than the stroke.
      await page.getByTestId('find-patch').click();
      await page.getByTestId('patch-result').waitFor({ timeout: RUN });
      assert.match(await page.getByTestId('patch-labels').innerText(), /^7 → [0-9]$/);
      const patch = Number(await page.getByTestId('patch-pixels').innerText());
      assert.ok(patch >= 1 && patch < smallest, `patch of ${patch} pixels against a stroke of ${smallest}`);
      assert.ok(Number(await page.getByTestId('deepfool-l2').innerText()) > 0);
      await page.screenshot({ path: screenshotPath('structural-patch.png'), fullPage: true });
    });
  });

  test('the pool of workers gives exactly what one worker gives: the patch search', async (t) => {
    const found = {};
    for (const workers of [1, 2]) {
      await withPage({}, async (page) => {
        await page.goto(`${lab.base}?workers=${workers}#/structural?model=cnn&digit=164`);
        await page.waitForFunction(() => document.querySelector('[data-testid="predicted-label"]')?.textContent?.trim() === '7', null, { timeout: 60_000 });
        await page.getByTestId('find-patch').click();
        // The progress row says how many workers share the patch sides.
        const running = await page.waitForSelector('[data-testid="patch-running"]');
        assert.equal(await running.getAttribute('data-workers'), String(workers));
        assert.match(await running.textContent(), new RegExp(`on ${workers} workers?`));
        await page.getByTestId('patch-labels').waitFor({ timeout: RUN });
        const readouts = await page.getByTestId('patch-result').locator('dd').allInnerTexts();
        // The patch, the labels, the pixels changed and ‖x′ − x‖₂; then the search's own
        // evaluations and time, which depend on the split.
        found[workers] = readouts.slice(0, 4);
        const parts = await page.evaluate(() => window.__lab.requests.filter((r) => r.kind === 'smallest_patch').length);
        assert.equal(parts, workers, 'one part per worker');
        t.diagnostic(`${workers} worker(s): ${readouts.join(' | ')}`);
      });
    }
    assert.match(found[1][0], /^\d×\d (black|white) at row \d+, column \d+$/);
    assert.deepEqual(found[2], found[1]);
  });
});
