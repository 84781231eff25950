// End-to-end tests of the hallucinations page of the release bundle (dist/) in headless Chromium:
// the figure (rows per method: the network Ψ, FIRENET, Ψ followed by FIRENET; columns x + t·r_j),
// the strength slider, the Gaussian toggle, the verdict worded after the report, the error plot
// (with Ψ → FIRENET's curves from the warm-start report), and bad links. Every test fails on any
// console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/hallucinations.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { haveDist, screenshotPath, setRange, browserSuite, ROOT } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 90_000;
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/instability.json'), 'utf8'));
const warmReport = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/warm_start.json'), 'utf8'));

/** Waits for a finished figure whose data attributes match `want`; returns its dataset. */
async function figure(page, want = {}) {
  await page.waitForFunction(
    (want) => {
      const el = document.querySelector('[data-testid="halluc-results"]');
      if (!el || el.classList.contains('updating')) return false;
      return Object.entries(want).every(([k, v]) => el.dataset[k] === String(v));
    },
    want,
    { timeout: RUN },
  );
  return page.evaluate(() => ({ ...document.querySelector('[data-testid="halluc-results"]').dataset }));
}

/** "‖r‖/‖x‖ 2.0% · κ 3.41 · error 0.123 · window share 0.31" → numbers. */
function numbers(text) {
  const m = /‖r‖\/‖x‖ ([\d.]+)% · κ ([\d.]+) · error ([\d.]+) · window share ([\d.]+)/.exec(text);
  assert.ok(m, `cell numbers: ${text}`);
  return { rel: Number(m[1]) / 100, kappa: Number(m[2]), error: Number(m[3]), share: Number(m[4]) };
}

async function cell(page, method, j) {
  return numbers(await page.getByTestId(`${method}-${j}`).getByTestId('cell-numbers').innerText());
}

describe('Hallucinations in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the figure, the verdict, the strength slider and the Gaussian toggle', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/hallucinations`);
      const first = await figure(page, { strength: 1, gaussian: false });
      const net = report.networks.find((n) => n.name === first.net);
      assert.ok(net, `the figure's network ${first.net} is in the report`);
      // The verdict says what the report measured, never more.
      const verdict = await page.getByTestId('verdict').innerText();
      t.diagnostic(`verdict: ${verdict}`);
      if (net.hallucinating) assert.match(verdict, /hallucinates/);
      else {
        // Worded after the numbers, never "stable": the κ ratio against FIRENET and on how many
        // slices the full bar is met.
        assert.doesNotMatch(verdict, /stable/);
        assert.match(verdict, /amplifies worst-case perturbations/);
        const met = net.slices.filter((s) => s.at.some((a) => a.rel_r <= 0.05 + 1e-6 && a.meets_bar)).length;
        assert.match(verdict, new RegExp(`on ${met} of ${net.slices.length}`));
      }
      // The slice's own numbers, and whether they meet the bar, as in the report.
      const summary = await page.getByTestId('slice-summary').innerText();
      const at = net.slices.find((s) => s.slice === first.slice).at;
      const verdicts = [...summary.matchAll(/(does not meet|meets) the bar/g)].map((m) => m[1] === 'meets');
      assert.deepEqual(verdicts, at.map((a) => a.meets_bar), summary);
      // Each method's picture rows are labelled, and a row folds away with a click on its title.
      const row = page.getByTestId('row-firenet');
      assert.equal(await row.evaluate((el) => el.tagName), 'DETAILS');
      const labels = await page.getByTestId('firenet-0').locator('.row-label').allInnerTexts();
      assert.deepEqual(labels.map((l) => l.split(' ')[0]), ['input', 'reconstruction', 'magnified', 'change']);
      await row.locator('summary').click();
      assert.equal(await row.evaluate((el) => el.open), false);
      assert.equal(await page.getByTestId('firenet-0').isVisible(), false);
      await row.locator('summary').click();
      assert.equal(await row.evaluate((el) => el.open), true);
      // Three rows (network, FIRENET, network → FIRENET), four columns each, four pictures per
      // column: input, reconstruction, the magnified window, change. The window is the one where
      // Ψ's output changed most under r₃ (18 mm: a twelfth of the image), the same in every cell.
      const side = report.side;
      const window = Math.round((12 * side) / 64);
      for (const method of ['net', 'firenet', 'warm']) {
        for (let j = 0; j < 4; j++) {
          assert.equal(await page.getByTestId(`${method}-${j}`).locator('canvas').count(), 4);
          const zoom = page.getByTestId(`zoom-${method}-${j}`);
          assert.deepEqual(await zoom.evaluate((c) => [c.width, c.height]), [window, window]);
        }
      }
      // r₁ < r₂ < r₃ and FIRENET perturbed at the same norms; Ψ → FIRENET on Ψ's own inputs.
      const worst = [];
      for (let j = 1; j <= 3; j++) {
        const n = await cell(page, 'net', j);
        const f = await cell(page, 'firenet', j);
        const w = await cell(page, 'warm', j);
        assert.ok(Math.abs(n.rel - f.rel) <= 0.002, `column ${j}: ${n.rel} vs ${f.rel}`);
        assert.equal(w.rel, n.rel, `column ${j}: the same perturbation`);
        worst.push(n);
      }
      // The warm-start report's numbers for this network, as measured.
      const warm = warmReport.networks.find((n) => n.name === first.net);
      assert.ok(warm, `${first.net} is in the warm-start report`);
      const summary2 = await page.getByTestId('warm-summary').innerText();
      t.diagnostic(summary2);
      assert.ok(summary2.includes(`held-out PSNR ${warm.psnr_warm.toFixed(2)} dB against Ψ's ${warm.psnr_net.toFixed(2)}`), summary2);
      assert.ok(worst[0].rel < worst[1].rel && worst[1].rel < worst[2].rel);
      // The shipped worst case for the last column matches the report's (8-bit perturbations).
      const slice = net.slices.find((s) => s.slice === first.slice);
      const reported = slice.ascent[2].kappa;
      t.diagnostic(`${first.slice}: κ in the browser ${worst[2].kappa} vs report ${reported.toFixed(3)}`);
      assert.ok(Math.abs(worst[2].kappa - reported) <= 0.05 * reported + 0.01);
      await page.screenshot({ path: screenshotPath('hallucinations-worst.png'), fullPage: true });

      // Halve the strength: every ‖t·r‖ halves.
      await setRange(page, page.getByTestId('strength'), 0.5);
      await figure(page, { strength: 0.5 });
      await page.waitForFunction(() => /t=0\.5(&|$)/.test(location.hash));
      const half = await cell(page, 'net', 3);
      assert.ok(Math.abs(half.rel - worst[2].rel / 2) <= 0.001, `${half.rel} vs ${worst[2].rel / 2}`);

      // Gaussian noise of the same norm: the network moves by less than the noise (κ < 1).
      await page.getByTestId('gaussian').check();
      await figure(page, { strength: 0.5, gaussian: true });
      await page.waitForFunction(() => location.hash.includes('noise=gaussian'));
      const noisy = await cell(page, 'net', 3);
      t.diagnostic(`Gaussian at ${noisy.rel}: κ ${noisy.kappa}; worst case at the same norm: κ ${half.kappa}`);
      assert.ok(Math.abs(noisy.rel - half.rel) <= 0.001);
      assert.ok(noisy.kappa < 1 && noisy.kappa < half.kappa);
      // Five curves from the instability report and Ψ → FIRENET's two from the warm-start report.
      assert.equal(await page.getByTestId('curve-plot').locator('polyline').count(), 7);
      assert.equal(await page.getByTestId('curve-plot').locator('.s-warm polyline').count(), 1);
      assert.equal(await page.getByTestId('curve-plot').locator('.s-warm-random polyline').count(), 1);
      // The crossover, computed here from the report's curve for this slice: the first norm at
      // which the network's worst-case error exceeds FIRENET's (interpolated), or none.
      const curve = net.slices.find((s) => s.slice === first.slice).curve;
      const gap = (p) => p.net_worst - p.firenet_worst;
      let expected = null;
      if (gap(curve[0]) > 0) expected = curve[0].rel_r;
      else for (let i = 1; i < curve.length && expected === null; i++) {
        const [d0, d1] = [gap(curve[i - 1]), gap(curve[i])];
        if (d0 <= 0 && d1 > 0) expected = curve[i - 1].rel_r + ((curve[i].rel_r - curve[i - 1].rel_r) * -d0) / (d1 - d0);
      }
      const crossing = await page.getByTestId('crossover').innerText();
      t.diagnostic(crossing);
      if (expected === null) {
        assert.match(crossing, /^No crossover up to/);
        assert.equal(await page.getByTestId('crossover-mark').count(), 0);
      } else {
        assert.ok(crossing.includes(`${(expected * 100).toFixed(1)}%`), `${crossing} vs ${expected}`);
        assert.equal(await page.getByTestId('crossover-mark').count(), 1);
      }
      await page.screenshot({ path: screenshotPath('hallucinations-gaussian.png'), fullPage: true });
    });
  });

  test('the live search in the worker reproduces the report, and can be cancelled', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/hallucinations?slice=0`);
      const d = await figure(page);
      // Cancel: the progress goes away and the button is back.
      await page.getByTestId('search-run').click();
      await page.getByTestId('search-running').waitFor();
      await page.getByTestId('search-cancel').click();
      await page.getByTestId('search-running').waitFor({ state: 'detached' });
      assert.equal(await page.getByTestId('search-run').isEnabled(), true);
      // Run: κ of both methods as in the report (same seed and budget; wasm vs native rounding).
      await page.getByTestId('search-run').click();
      const result = page.getByTestId('search-result');
      await result.waitFor({ timeout: 300_000 });
      const text = await result.innerText();
      t.diagnostic(text);
      const m = /κ = ([\d.]+) for the network, ([\d.]+) for FIRENET \(report: ([\d.]+) and ([\d.]+)\)/.exec(text);
      assert.ok(m, text);
      const [net, fire, netReport, fireReport] = m.slice(1).map(Number);
      assert.ok(Math.abs(net - netReport) <= 0.02 * netReport + 0.01, `${net} vs ${netReport}`);
      assert.ok(Math.abs(fire - fireReport) <= 0.02 * fireReport + 0.01, `${fire} vs ${fireReport}`);
      assert.match(await page.getByTestId('search-timing').innerText(), /network median \d+ ms \(p95 \d+\), FIRENET median \d+ ms/);
      assert.equal(d.slice, report.demo_slices[0]);
      await page.screenshot({ path: screenshotPath('hallucinations-search.png'), fullPage: true });
    });
  });

  test('another slice and network by link; Ψ → FIRENET at the largest strength; a bad link falls back with notices', async (t) => {
    await withPage({}, async (page) => {
      const last = report.networks[report.networks.length - 1].name;
      await page.goto(`${lab.base}#/hallucinations?net=${last}&slice=1&t=1.5`);
      const d = await figure(page, { net: last, slice: report.demo_slices[1], strength: 1.5 });
      assert.equal(d.gaussian, 'false');
      // At the largest strength, Ψ → FIRENET moves less than Ψ under every one of Ψ's worst cases
      // (the same r, so κ compares the changes).
      for (let j = 1; j <= 3; j++) {
        const n = await cell(page, 'net', j);
        const w = await cell(page, 'warm', j);
        t.diagnostic(`t = 1.5, r${j}: κ Ψ ${n.kappa}, Ψ → FIRENET ${w.kappa}`);
        assert.equal(w.rel, n.rel);
        assert.ok(w.kappa < n.kappa, `column ${j}: ${w.kappa} vs ${n.kappa}`);
      }
      await page.getByTestId('row-warm').scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshotPath('hallucinations-warm.png'), fullPage: true });
      await page.goto(`${lab.base}#/hallucinations?net=nosuch&slice=42&t=9&noise=pink`);
      await figure(page, { slice: report.demo_slices[0], strength: 1 });
      const notices = await page.locator('.hallucinations .notice.warning').allInnerTexts();
      assert.equal(notices.length, 4, notices.join(' | '));
    });
  });
});
