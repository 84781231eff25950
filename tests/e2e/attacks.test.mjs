// End-to-end tests of the Attacks and the DeepFool geometry pages of the release bundle (dist/)
// in headless Chromium.
//   trunk build --release && node --test tests/e2e/attacks.test.mjs
// Every test fails on any console error, page error or failed request. Screenshots go to
// tests/e2e/artifacts/.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  FIRST,
  haveDist,
  lastClassifyId,
  freshPrediction,
  screenshotPath,
  setRange,
  dragBy,
  browserSuite,
} from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

/** An attack on the CNN takes up to a few seconds in the browser (DeepFool: about a second). */
const ATTACK = 30_000;

/** The number in a readout such as "0.1234" or "ρ = ‖r‖₂/‖x‖₂ = 0.1234". */
function number(text) {
  const m = /(-?\d+(?:\.\d+)?)\s*$/.exec(text.trim());
  return m ? Number(m[1]) : NaN;
}

/** The label k̂(x) of the attacked digit, from "k̂(x) = 3". */
async function labelOfX(page) {
  const text = await page.getByTestId('label-x').innerText();
  const m = /=\s*(\d)\s*$/.exec(text);
  assert.ok(m, `label of x: ${text}`);
  return m[1];
}

/** The flip point t from "The label flips at t = 0.987 (marked).". */
async function flipT(page) {
  const text = await page.getByTestId('flip-text').innerText();
  const m = /t = ([\d.]+)/.exec(text);
  assert.ok(m, `flip text: ${text}`);
  return Number(m[1]);
}

/**
 * Moves the t slider to `t` like a user (a mouse drag of the thumb, then the arrow keys for the
 * last steps) and returns the probe's label at x + t·r once the page has answered for that t.
 */
async function probeAt(page, t) {
  const before = await lastClassifyId(page);
  const slider = page.getByTestId('t-slider');
  const reached = await setRange(page, slider, t);
  assert.ok(Math.abs(reached - t) < 0.006, `slider at ${reached}, wanted ${t}`);
  // The probe's heading shows t once the page has rendered it (and posted the request).
  await page.locator('.probe-panel h2', { hasText: `x + ${reached.toFixed(2)}·r` }).waitFor();
  return freshPrediction(page, before);
}

describe('Attacks and DeepFool geometry in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  /** Waits for the single-attack view of `attack` with its readouts (or its error notice). */
  async function attackResult(page, attack) {
    const view = page.locator(`[data-testid="single-attack"][data-attack="${attack}"]`);
    const failed = page.locator('.attack-main .notice.error');
    await view.getByTestId('readouts').or(failed).first().waitFor({ timeout: ATTACK });
    if (await failed.count()) return { failed: await failed.first().innerText() };
    return { rho: number(await view.getByTestId('rho').innerText()) };
  }

  test('DeepFool from the UI: ρ < 1, the label flips at the marked t and not before', async (t) => {
    await withPage({}, async (page) => {
      // Start on another attack, then choose DeepFool with a click.
      await page.goto(`${lab.base}#/attacks?model=cnn&digit=3&attack=fgsm`);
      await page.getByTestId('attacks').waitFor();
      await attackResult(page, 'fgsm');
      const button = page.locator('button.attack-choice[data-attack="deepfool_l2"]');
      await button.click();
      await page.waitForFunction(() => location.hash.includes('attack=deepfool_l2'));
      assert.equal(await button.getAttribute('aria-checked'), 'true');
      assert.equal(await page.locator('button.attack-choice[aria-checked="true"]').count(), 1);

      const result = await attackResult(page, 'deepfool_l2');
      assert.ok(!result.failed, `DeepFool failed: ${result.failed}`);
      const { rho } = result;
      t.diagnostic(`DeepFool ρ = ${rho} (cnn, digit 3)`);
      assert.ok(Number.isFinite(rho) && rho > 0 && rho < 1, `ρ = ${rho}`);
      const readouts = await page.getByTestId('readouts').innerText();
      assert.match(readouts, /‖r‖₂/);
      assert.match(readouts, /iterations/);

      const x = await labelOfX(page);
      const atOne = await freshPrediction(page, 0, ATTACK);
      t.diagnostic(`k̂(x) = ${x}, k̂(x + r) = ${atOne}`);
      assert.notEqual(atOne, x, 'the probe at t = 1 shows the changed label');
      assert.equal(Number(await page.getByTestId('t-slider').inputValue()), 1, 'the slider starts at t = 1');

      const flip = await flipT(page);
      t.diagnostic(`the label flips at t = ${flip}`);
      assert.ok(flip > 0.1 && flip <= 1.0001, `flip point ${flip} in (0.1, 1]`);
      // The marker sits at flip / 2 of the track (the slider runs from 0 to 2).
      const style = await page.getByTestId('flip-mark').getAttribute('style');
      const left = Number(/left:\s*([\d.]+)%/.exec(style)?.[1]);
      assert.ok(Math.abs(left - (flip / 2) * 100) < 0.1, `flip mark at ${left}% for t = ${flip}`);

      const below = Math.round((flip - 0.1) * 100) / 100;
      const labelBelow = await probeAt(page, below);
      t.diagnostic(`at t = ${below}: ${labelBelow}`);
      assert.equal(labelBelow, x, `below the flip point (t = ${below}) the label is k̂(x) again`);
      assert.match(await page.locator('.sliders .value').first().innerText(), new RegExp(`^${below.toFixed(2)}$`));

      const above = Math.min(2, Math.round((flip + 0.05) * 100) / 100);
      const labelAbove = await probeAt(page, above);
      t.diagnostic(`at t = ${above}: ${labelAbove}`);
      assert.notEqual(labelAbove, x, `above the flip point (t = ${above}) the label changes back`);
      await page.screenshot({ path: screenshotPath('attack-deepfool.png'), fullPage: true });

      // The noise slider adds Gaussian noise to the probe; its heading says so.
      const before = await lastClassifyId(page);
      const reached = await setRange(page, page.getByTestId('noise-slider'), 0.3);
      assert.ok(Math.abs(reached - 0.3) < 0.006, `noise slider at ${reached}`);
      await page.locator('.probe-panel h2', { hasText: '+ noise' }).waitFor();
      assert.match(await freshPrediction(page, before), /^[0-9]$/);
    });
  });

  test('each attack runs from its button and is kept in the link', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/attacks?model=cnn&digit=3`);
      await page.getByTestId('attacks').waitFor();
      // No attack in the link: DeepFool (ℓ₂), without a warning.
      assert.equal(
        await page.locator('button.attack-choice[data-attack="deepfool_l2"]').getAttribute('aria-checked'),
        'true',
      );
      assert.equal(await page.locator('.notice.warning').count(), 0);
      await attackResult(page, 'deepfool_l2');

      for (const attack of ['random_noise', 'fast_gradient', 'fgsm', 'deepfool_linf']) {
        const button = page.locator(`button.attack-choice[data-attack="${attack}"]`);
        await button.click();
        await page.waitForFunction((a) => location.hash.includes(`attack=${a}`), attack);
        assert.match(new URL(page.url()).hash, new RegExp(`[?&]attack=${attack}(&|$)`));
        assert.match(new URL(page.url()).hash, /[?&]model=cnn(&|$)/);
        assert.match(new URL(page.url()).hash, /[?&]digit=3(&|$)/);
        assert.equal(await button.getAttribute('aria-checked'), 'true');
        const result = await attackResult(page, attack);
        t.diagnostic(`${attack}: ${JSON.stringify(result)}`);
        assert.ok(!result.failed, `${attack} failed: ${result.failed}`);
        assert.ok(Number.isFinite(result.rho) && result.rho > 0, `${attack}: ρ = ${result.rho}`);
        // The probe at t = 1 answers for the new attack.
        assert.match(await freshPrediction(page, 0, ATTACK), /^[0-9]$/);
      }
    });
  });

  test('compare all: random noise ≫ fast gradient > DeepFool', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/attacks?model=cnn&digit=3`);
      await page.getByTestId('attacks').waitFor();
      await page.locator('button.attack-choice[data-attack="compare"]').click();
      await page.waitForFunction(() => location.hash.includes('attack=compare'));
      const compare = page.getByTestId('compare');
      await compare.waitFor();
      const cells = compare.locator('.compare-cell');
      assert.equal(await cells.count(), 3);
      assert.deepEqual(
        await cells.evaluateAll((cs) => cs.map((c) => c.getAttribute('data-attack'))),
        ['random_noise', 'fast_gradient', 'deepfool_l2'],
      );
      const rho = {};
      for (const attack of ['random_noise', 'fast_gradient', 'deepfool_l2']) {
        const cell = compare.locator(`.compare-cell[data-attack="${attack}"]`);
        await cell.getByTestId('rho').or(cell.locator('.notice.error')).first().waitFor({ timeout: ATTACK });
        assert.equal(await cell.locator('.notice.error').count(), 0, `${attack}: ${await cell.innerText()}`);
        rho[attack] = number(await cell.getByTestId('rho').innerText());
        assert.match(await cell.locator('.compare-label').innerText(), /^\d → \d$/);
      }
      t.diagnostic(`ρ: ${JSON.stringify(rho)}`);
      for (const [attack, r] of Object.entries(rho)) assert.ok(Number.isFinite(r) && r > 0, `${attack}: ρ = ${r}`);
      assert.ok(rho.random_noise > rho.fast_gradient, `random ${rho.random_noise} > fast gradient ${rho.fast_gradient}`);
      assert.ok(rho.fast_gradient > rho.deepfool_l2, `fast gradient ${rho.fast_gradient} > DeepFool ${rho.deepfool_l2}`);
      await page.screenshot({ path: screenshotPath('attack-compare.png'), fullPage: true });
    });
  });

  test('robustness: the precomputed table, a cancelled run, and a live column', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/attacks?model=cnn&digit=3`);
      const panel = page.getByTestId('robustness');
      const table = panel.getByTestId('robustness-table');
      await table.waitFor();
      const heads = await table.locator('thead th').allInnerTexts();
      assert.deepEqual(heads.slice(0, 1), ['attack']);
      for (const m of ['cnn', 'linear', 'mlp']) assert.ok(heads.includes(m), `column ${m} in ${heads}`);
      assert.equal(await table.locator('tbody tr').count(), 5, 'a row per attack');
      assert.equal(await table.locator('th.current').innerText(), 'cnn');
      // The comparison with the paper, with the centred ρ from the report.
      const comparison = await panel.getByTestId('paper-comparison').innerText();
      assert.match(comparison, /ρ = 0\.\d{3} \(CNN\) and 0\.\d{3} \(MLP\), against the paper's 0\.20 and 0\.11/);

      const select = panel.locator('select');
      await select.selectOption('20');
      await panel.getByTestId('robustness-run').click();
      const progress = panel.getByTestId('progress');
      await progress.waitFor({ state: 'visible' });
      await progress.filter({ hasText: /\/ 20/ }).waitFor();
      await panel.getByTestId('robustness-cancel').click();
      await panel.getByTestId('robustness-status').filter({ hasText: 'Cancelled.' }).waitFor({ timeout: 10_000 });
      // Whatever the worker still sends for the cancelled run is ignored: it stays cancelled.
      await page.waitForTimeout(1_000);
      assert.equal(await panel.getByTestId('robustness-status').innerText(), 'Cancelled.');
      assert.equal(await progress.count(), 0);
      assert.equal(await table.locator('thead th', { hasText: 'here' }).count(), 0);

      await page.locator('button.model-choice[data-model="linear"]').click();
      await page.waitForFunction(() => location.hash.includes('model=linear'));
      await panel.getByTestId('robustness-run').filter({ hasText: 'Measure linear' }).waitFor();
      assert.equal(await panel.getByTestId('robustness-status').count(), 0, 'a new model clears the status');
      await select.selectOption('20');
      const started = Date.now();
      await panel.getByTestId('robustness-run').click();
      const status = panel.getByTestId('robustness-status');
      await status.filter({ hasText: /^Done/ }).waitFor({ timeout: 30_000 });
      const text = await status.innerText();
      t.diagnostic(`${text} (${Date.now() - started} ms)`);
      assert.match(text, /Done: \d+ of the first 20 digits/);
      const live = table.locator('thead th', { hasText: 'linear here' });
      assert.equal(await live.count(), 1, 'the table gains a "linear here" column');
      const cells = await table.locator('tbody tr').evaluateAll((rows) =>
        rows.map((r) => r.lastElementChild.textContent),
      );
      t.diagnostic(`linear here: ${JSON.stringify(cells)}`);
      assert.equal(cells.length, 5);
      // ρ (success rate), then mean iterations and time per digit.
      for (const c of cells) assert.match(c, /^\d+\.\d{3} \(\d+%\)\d+\.\d it · \d+\.\d+ ms$/);
      await page.screenshot({ path: screenshotPath('attack-robustness.png'), fullPage: true });
    });
  });

  test('the pool of workers gives exactly what one worker gives: the robustness run', async (t) => {
    const columns = {};
    for (const workers of [1, 2]) {
      await withPage({}, async (page) => {
        await page.goto(`${lab.base}?workers=${workers}#/attacks?model=linear&digit=3`);
        const panel = page.getByTestId('robustness');
        const table = panel.getByTestId('robustness-table');
        await table.waitFor();
        await panel.locator('select').selectOption('20');
        await panel.getByTestId('robustness-run').click();
        // The progress row says how many workers share the digits.
        const running = await page.waitForSelector('[data-testid="robustness-running"]');
        assert.equal(await running.getAttribute('data-workers'), String(workers));
        assert.match(await running.textContent(), new RegExp(`on ${workers} workers?`));
        const status = panel.getByTestId('robustness-status');
        await status.filter({ hasText: /^Done/ }).waitFor({ timeout: 60_000 });
        const cells = await table.locator('tbody tr').evaluateAll((rows) =>
          rows.map((r) => r.lastElementChild.textContent),
        );
        assert.equal(cells.length, 5);
        // ρ (success rate) and iterations; the time per digit is a timing.
        columns[workers] = { status: await status.innerText(), cells: cells.map((c) => c.replace(/ · [\d.]+ ms$/, '')) };
        const parts = await page.evaluate(() => window.__lab.requests.filter((r) => r.kind === 'robustness').length);
        assert.equal(parts, workers, 'one part per worker');
        t.diagnostic(`${workers} worker(s): ${JSON.stringify(cells)}`);
      });
    }
    for (const c of columns[1].cells) assert.match(c, /^\d+\.\d{3} \(\d+%\)\d+\.\d it$/);
    assert.deepEqual(columns[2], columns[1]);
  });

  test('a bad attack in the link warns and falls back to DeepFool', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/attacks?attack=magic`);
      await page.getByTestId('attacks').waitFor();
      const warning = page.locator('.notice.warning');
      await warning.first().waitFor();
      assert.match((await warning.allInnerTexts()).join('\n'), /magic/);
      assert.equal(
        await page.locator('button.attack-choice[data-attack="deepfool_l2"]').getAttribute('aria-checked'),
        'true',
      );
      const result = await attackResult(page, 'deepfool_l2');
      assert.ok(!result.failed, `DeepFool failed: ${result.failed}`);
    });
  });

  test('geometry: dragging x₀ moves the DeepFool iterates in both planes', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/geometry`);
      await page.getByTestId('geometry').waitFor();
      const panels = { binary: page.getByTestId('geometry-binary'), multi: page.getByTestId('geometry-multi') };
      // The multiclass network trains in the page after the first paint.
      await panels.multi.getByTestId('point').waitFor({ timeout: FIRST });

      const arrows = (panel) =>
        panel
          .getByTestId('arrow')
          .evaluateAll((ls) => ls.map((l) => ['x1', 'y1', 'x2', 'y2'].map((a) => Number(l.getAttribute(a)))));
      for (const [name, panel] of Object.entries(panels)) {
        const point = panel.getByTestId('point');
        const before = { arrows: await arrows(panel), rnorm: await panel.getByTestId('rnorm').innerText() };
        assert.ok(before.arrows.length >= 1, `${name}: at least one arrow before the drag`);
        const cx = Number(await point.getAttribute('cx'));
        const cy = Number(await point.getAttribute('cy'));

        // Drag x₀ by (+60, −50) screen pixels.
        await dragBy(page, point, 60, -50);
        await page.waitForFunction(
          ([sel, cx]) => Number(document.querySelector(sel)?.getAttribute('cx')) !== cx,
          [`[data-testid="geometry-${name}"] [data-testid="point"]`, cx],
        );
        const after = { arrows: await arrows(panel), rnorm: await panel.getByTestId('rnorm').innerText() };
        const moved = { cx: Number(await point.getAttribute('cx')), cy: Number(await point.getAttribute('cy')) };
        t.diagnostic(
          `${name}: x₀ (${cx}, ${cy}) → (${moved.cx}, ${moved.cy}); ` +
            `‖r̂‖ ${before.rnorm} → ${after.rnorm}; arrows ${before.arrows.length} → ${after.arrows.length}`,
        );
        assert.ok(moved.cx > cx + 20 && moved.cy < cy - 20, `${name}: the point follows the mouse`);
        assert.ok(after.arrows.length >= 1, `${name}: at least one arrow after the drag`);
        assert.notDeepEqual(after.arrows, before.arrows, `${name}: the arrows moved`);
        assert.notEqual(after.rnorm, before.rnorm, `${name}: ‖r̂‖₂ changed`);
        // The first arrow starts at x₀.
        assert.ok(
          Math.abs(after.arrows[0][0] - moved.cx) < 0.02 && Math.abs(after.arrows[0][1] - moved.cy) < 0.02,
          `${name}: the first arrow starts at x₀`,
        );
      }
      await page.screenshot({ path: screenshotPath('geometry.png'), fullPage: true });
    });
  });
});
