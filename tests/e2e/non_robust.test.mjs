// End-to-end tests of the non-robust features page of the release bundle in headless Chromium:
// the shipped report's figures, the 20 relabelled training digits, a clean held-out digit
// classified by the network trained only on wrongly labelled digits (beside the normal CNN), the
// D_det control, a measurement in the worker, embed mode and a phone. Fails on any console
// error, page error or failed request.
//   trunk build --release && node --test tests/e2e/non_robust.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { haveDist, screenshotPath, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 120_000;
const REPORT = JSON.parse(readFileSync(new URL('../../static/reports/non_robust_features.json', import.meta.url)));
// The page names the sets by their short names (rand, det), the report by serde's (random, deterministic).
const run = (rule) => REPORT.runs.find((r) => r.rule === { rand: 'random', det: 'deterministic' }[rule]);
// A held-out digit (a 9) that the D_rand network labels correctly and the D_det one labels 0.
const DIGIT = 2;

const ready = (page) => page.locator('[data-testid="nr-model-prediction"] [data-testid="predicted-label"]').waitFor({ timeout: RUN });
const hashOf = (page) => decodeURIComponent(new URL(page.url()).hash.slice(1));
const percent = (text) => Number(/([0-9.]+)%/.exec(text)[1]) / 100;

describe('Non-robust features in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the report, the relabelled digits, and a clean digit read by the network that never saw a correct label', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/non-robust?model=non-robust&digit=${DIGIT}&example=0`);
      await ready(page);
      // The shipped report: D_rand far above chance, D_det below it, the normal CNN, the paper.
      for (const rule of ['rand', 'det']) {
        const shown = percent(await page.getByTestId(`nr-accuracy-${rule}`).innerText());
        assert.ok(Math.abs(shown - run(rule).held_out_accuracy) < 0.0006, `${rule}: ${shown} shown, ${run(rule).held_out_accuracy} in the report`);
      }
      assert.ok(run('rand').held_out_accuracy > 5 * REPORT.chance);
      const bars = await page.locator('[data-testid="nr-report"] .nr-bar').allInnerTexts();
      assert.equal(bars.length, 6, bars.join(' | '));
      assert.match(bars.join('\n'), /98\.7%/);
      assert.match(bars.join('\n'), /10\.0%/);
      assert.match(bars.join('\n'), /63\.3%/);

      // The 20 relabelled training digits, each a y → t with t ≠ y; the first magnified.
      const examples = page.getByTestId('nr-example');
      assert.equal(await examples.count(), 20);
      for (const text of await examples.allInnerTexts()) {
        const [, y, tt] = /(\d) → (\d)/.exec(text);
        assert.notEqual(y, tt, `example ${text} keeps its label`);
      }
      assert.match(await page.getByTestId('nr-detail-delta').innerText(), /‖δ‖₂ = 2\.\d\d/);
      await examples.nth(7).click();
      await page.waitForFunction(() => /example=7/.test(location.hash));
      assert.equal(await examples.nth(7).getAttribute('aria-pressed'), 'true');
      const [, y7, t7] = /(\d) → (\d)/.exec(await examples.nth(7).innerText());
      assert.equal(await page.getByTestId('nr-detail-label').innerText(), `labelled t = ${t7}`);
      t.diagnostic(`example 7: a ${y7} labelled ${t7}`);

      // The clean held-out digit: both networks read it right.
      await page.locator('[data-testid="nr-cnn-prediction"] [data-testid="predicted-label"]').waitFor({ timeout: RUN });
      const ours = page.getByTestId('nr-model-prediction');
      t.diagnostic(`digit ${DIGIT}: non-robust says ${await ours.getByTestId('predicted').innerText()}`);
      await ours.locator('.verdict.ok').waitFor();
      await page.getByTestId('nr-cnn-prediction').locator('.verdict.ok').waitFor();
      await page.screenshot({ path: screenshotPath('non-robust.png'), fullPage: true });

      // The D_det control: it learnt "the digit after the shape".
      await page.locator('button[data-model="non-robust-det"]').click();
      await page.waitForFunction(() => /model=non-robust-det/.test(decodeURIComponent(location.hash)));
      await page.waitForFunction(() => /D_det/.test(document.querySelector('[data-testid="nr-live"]')?.innerText ?? ''));
      await ready(page);
      await page.locator('[data-testid="nr-model-prediction"] .verdict.wrong').waitFor({ timeout: RUN });
      const det = await ours.getByTestId('predicted-label').innerText();
      const truth = await page.locator('[data-testid="nr-cnn-prediction"] [data-testid="predicted-label"]').innerText();
      t.diagnostic(`digit ${DIGIT} (a ${truth}): non-robust-det says ${det}`);
      assert.equal(Number(det), (Number(truth) + 1) % 10);
      assert.match(hashOf(page), new RegExp(`digit=${DIGIT}`));
    });
  });

  test('the measurement in the worker reproduces the report on the first 500 digits', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/non-robust`);
      await ready(page);
      await page.getByTestId('nr-measure').click();
      const text = await page.getByTestId('nr-measured').innerText({ timeout: RUN });
      t.diagnostic(text);
      const [, correct, count] = /(\d+) of (\d+)/.exec(text);
      assert.equal(Number(count), REPORT.subset_count);
      assert.ok(Math.abs(Number(correct) / Number(count) - run('rand').subset_held_out_accuracy) <= 0.01, text);
    });
  });

  test('embed mode and a phone', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}?embed#/non-robust?digit=5`);
      await ready(page);
      assert.equal(await page.locator('header.site-header').count(), 0, 'embed mode: no header');
      assert.equal(await page.getByTestId('nr-report').count(), 0, 'embed mode: no report');
      await page.screenshot({ path: screenshotPath('non-robust-embed.png'), fullPage: true });
    });
    await withPage({ viewport: { width: 390, height: 844 } }, async (page) => {
      await page.goto(`${lab.base}#/non-robust`);
      await ready(page);
      await page.getByTestId('nr-report').waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px on a phone`);
      await page.screenshot({ path: screenshotPath('non-robust-phone.png'), fullPage: true });
      await page.getByTestId('nr-report').scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotPath('non-robust-phone-report.png') });
      await page.getByTestId('nr-live').scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotPath('non-robust-phone-live.png') });
    });
  });
});
