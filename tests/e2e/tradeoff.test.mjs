// End-to-end test of the accuracy-versus-stability page (#/tradeoff) of the release bundle in
// headless Chromium: every point of the shipped report (static/reports/tradeoff.json) is drawn
// and listed with its numbers, a point is highlighted from the URL and by a click (which writes
// the URL), bad links give notices. Fails on any console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/tradeoff.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, haveDist, screenshotPath, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/tradeoff.json'), 'utf8'));

/** The points on the plot and the table's rows, as numbers. */
async function shown(page) {
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="tradeoff-point"]').length === n,
    report.points.length,
  );
  const read = (sel) =>
    page.$$eval(sel, (els) =>
      els.map((e) => ({
        method: e.dataset.method,
        psnr: Number(e.dataset.psnr),
        kappa: Number(e.dataset.kappa),
        highlighted: e.dataset.highlighted === 'true' || e.classList.contains('current'),
        text: e.innerText ?? e.textContent,
      })),
    );
  return { points: await read('[data-testid="tradeoff-point"]'), rows: await read('[data-testid="tradeoff-row"]') };
}

describe('Accuracy versus stability in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('every point of the report, with its numbers', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/tradeoff`);
      const { points, rows } = await shown(page);
      assert.deepEqual(points.map((p) => p.method).sort(), report.points.map((p) => p.name).sort());
      assert.deepEqual(rows.map((p) => p.method), report.points.map((p) => p.name));
      for (const p of report.points) {
        const dot = points.find((q) => q.method === p.name);
        const row = rows.find((q) => q.method === p.name);
        t.diagnostic(`${p.name}: PSNR ${p.psnr.toFixed(2)} dB, κ ${p.kappa_mean.toFixed(2)}`);
        // serde_json's float parsing may differ from JavaScript's in the last bit.
        const close = (a, b) => Math.abs(a - b) <= 1e-12 * Math.abs(b);
        assert.ok(close(dot.psnr, p.psnr), `${dot.psnr} vs ${p.psnr}`);
        assert.ok(close(dot.kappa, p.kappa_mean), `${dot.kappa} vs ${p.kappa_mean}`);
        assert.ok(close(row.psnr, p.psnr));
        // The table shows the rounded numbers.
        for (const v of [p.psnr.toFixed(2), p.kappa_mean.toFixed(2), p.kappa_max.toFixed(2), p.kappa_gaussian_mean.toFixed(2)]) {
          assert.ok(row.text.includes(v), `${p.name}: ${v} in "${row.text}"`);
        }
        assert.ok(dot.text.includes(p.name), 'each point is labelled');
      }
      assert.ok(points.every((p) => !p.highlighted), 'nothing is highlighted without a link');
      await assert.doesNotReject(page.getByTestId('kappa-formula').waitFor());
      // Typeset as MathML (a fraction), with the plain text as its accessible label.
      const formula = page.getByTestId('kappa-formula');
      assert.equal(await formula.getAttribute('aria-label'), 'κ = ‖Ψ(A(x + r)) − Ψ(Ax)‖₂ / ‖r‖₂');
      assert.equal(await formula.locator('math mfrac').count(), 1);
      const findings = await page.locator('[data-testid="tradeoff-findings"] li').allInnerTexts();
      assert.equal(findings.map((f) => f.trim()).join(' '), report.summary);
      // Point at a method: its numbers.
      await page.locator('[data-testid="tradeoff-point"][data-method="cascade-128"] circle').hover();
      const detail = page.getByTestId('tradeoff-detail');
      await detail.waitFor();
      assert.equal(await detail.getAttribute('data-method'), 'cascade-128');
      assert.match(await detail.innerText(), new RegExp(report.points.find((p) => p.name === 'cascade-128').psnr.toFixed(2)));
      await page.screenshot({ path: screenshotPath('tradeoff.png'), fullPage: true });
    });
  });

  test('a point highlighted by the link and by a click', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/tradeoff?method=cascade-128-kernel`);
      let { points, rows } = await shown(page);
      assert.deepEqual(points.filter((p) => p.highlighted).map((p) => p.method), ['cascade-128-kernel']);
      assert.deepEqual(rows.filter((p) => p.highlighted).map((p) => p.method), ['cascade-128-kernel']);
      assert.equal(await page.getByTestId('tradeoff-detail').getAttribute('data-method'), 'cascade-128-kernel');
      assert.equal(await page.locator('.notice').count(), 0, 'a good link has no notice');
      await page.screenshot({ path: screenshotPath('tradeoff-highlight.png'), fullPage: true });
      // A click on a row highlights that method and puts it in the address.
      await page.locator('[data-testid="tradeoff-row"][data-method="zero-filling"]').click();
      await page.waitForFunction(() => location.hash.includes('method=zero-filling'));
      ({ points } = await shown(page));
      await page.waitForFunction(
        () => document.querySelector('[data-testid="tradeoff-point"][data-method="zero-filling"]')?.dataset.highlighted === 'true',
      );
      // A second click (on its label: the two zero-fillings' dots overlap) clears it.
      await page.locator('[data-testid="tradeoff-point"][data-method="zero-filling"] text.label').click();
      await page.waitForFunction(() => !location.hash.includes('method='));
      ({ points } = await shown(page));
      assert.ok(points.every((p) => !p.highlighted));
    });
  });

  test('bad links give notices', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/tradeoff?method=nope`);
      await shown(page);
      const notice = page.locator('.notice');
      await notice.first().waitFor();
      assert.equal(await notice.count(), 1);
      assert.match(await notice.innerText(), /no method “nope”/);
      await page.goto(`${lab.base}#/tradeoff?method=%3Cb%3E&zoom=2`);
      await page.waitForFunction(() => document.querySelectorAll('.notice').length === 2);
      const { points } = await shown(page);
      assert.ok(points.every((p) => !p.highlighted));
    });
  });
});
