// End-to-end tests of the linearity page (Goodfellow et al., 2015) of the release bundle in
// headless Chromium: drag ε and d and watch the effect ε‖w‖₁ follow while ‖Δx‖∞ stays ε; the
// retrained linear models at 7×7, 14×14 and 28×28; bad links. Fails on any console error, page
// error or failed request.
//   trunk build --release && node --test tests/e2e/linearity.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, setRange, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

async function effect(page) {
  const p = page.getByTestId('effect-point');
  return { d: Number(await p.getAttribute('data-d')), effect: Number(await p.getAttribute('data-effect')) };
}

describe('The linearity argument in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('dragging ε and d: the effect grows with d while ‖Δx‖∞ stays ε', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/linearity`);
      await page.locator('[data-testid="linearity"][data-ready="true"]').waitFor({ timeout: 60_000 });
      assert.equal(await page.getByTestId('deepfool-point').count(), 3, 'one point per resolution');
      assert.equal(await page.getByTestId('shipped-row').count(), 3);

      const eps = await setRange(page, page.getByTestId('eps-slider'), 0.1);
      assert.ok(Math.abs(eps - 0.1) < 1e-9, `ε = ${eps}`);
      await page.waitForFunction(() => location.hash.includes('eps=0.1'));
      const atEps = await effect(page);
      assert.match(await page.getByTestId('linearity-lesson').innerText(), /ε = 0\.1/);

      // d from 784 up to 10,000: ε‖w‖₁ grows in proportion (random w, expected value).
      const logD = await setRange(page, page.getByTestId('d-slider'), 4);
      assert.ok(Math.abs(logD - 4) < 0.05, `log₁₀ d = ${logD}`);
      await page.waitForFunction((d0) => Number(document.querySelector('[data-testid="effect-point"]').dataset.d) !== d0, atEps.d);
      const bigD = await effect(page);
      assert.ok(bigD.d > 5 * atEps.d, `${bigD.d} vs ${atEps.d}`);
      const ratio = bigD.effect / atEps.effect;
      assert.ok(Math.abs(ratio / (bigD.d / atEps.d) - 1) < 0.35, `effect ratio ${ratio} for a d ratio ${bigD.d / atEps.d}`);
      assert.match(await page.getByTestId('linearity-lesson').innerText(), /ε = 0\.1/, 'ε did not move');

      // Halving ε halves the effect at the same d.
      await setRange(page, page.getByTestId('eps-slider'), 0.05);
      await page.waitForFunction((e) => Number(document.querySelector('[data-testid="effect-point"]').dataset.effect) < e * 0.75, bigD.effect);
      const half = await effect(page);
      assert.ok(Math.abs(half.effect / bigD.effect - 0.5) < 0.02, `${half.effect} vs ${bigD.effect}`);

      // A digit at 14×14: its DeepFool perturbation flips the label.
      await page.getByTestId('side-14').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="side-14"]')?.getAttribute('aria-checked') === 'true');
      const flip = page.getByTestId('flip-label');
      assert.notEqual(await flip.getAttribute('data-from'), await flip.getAttribute('data-to'));
      await page.screenshot({ path: screenshotPath('linearity.png'), fullPage: true });
    });
  });

  test('bad links give notices and the page still works', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/linearity?eps=abc&d=-3&side=9&digit=x`);
      await page.locator('[data-testid="linearity"][data-ready="true"]').waitFor({ timeout: 60_000 });
      assert.ok((await page.getByTestId('linearity-notice').count()) >= 4);
      assert.equal(await page.getByTestId('deepfool-point').count(), 3);
    });
  });
});
