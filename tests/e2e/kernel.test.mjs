// End-to-end tests of the kernel-awareness pages of the release bundle (dist/) in headless
// Chromium: the troublesome kernel (#/kernel: x and x′ = x + t·z_N with the same data, every
// method's two errors against t‖z_N‖, live as t moves, text typed and a lesion placed by a click)
// and structural details (#/details: a word or a drawn detail, the magnified regions, recovered
// fractions against what the sampling sees), and bad links. Every test fails on any console
// error, page error or failed request.
//   trunk build --release && node --test tests/e2e/kernel.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, setRange, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 90_000;

/** Waits for a finished figure (`testid`) whose data attributes match `want`; returns it. */
async function figure(page, testid, want = {}) {
  await page.waitForFunction(
    ({ testid, want }) => {
      const el = document.querySelector(`[data-testid="${testid}"]`);
      if (!el || el.classList.contains('updating')) return false;
      if (document.querySelector('[data-testid="kernel-running"]')) return false;
      return Object.entries(want).every(([k, v]) => el.dataset[k] === String(v));
    },
    { testid, want },
    { timeout: RUN },
  );
  return page.evaluate((testid) => ({ ...document.querySelector(`[data-testid="${testid}"]`).dataset }), testid);
}

/** The bound table's rows as numbers. */
async function boundRows(page) {
  return page.$$eval('[data-testid="kernel-table"] tbody tr', (rows) =>
    rows.map((r) => ({
      method: r.dataset.method,
      errorX: Number(r.dataset.errorX),
      errorXPrime: Number(r.dataset.errorXPrime),
      bound: Number(r.dataset.bound),
      outputGap: Number(r.dataset.outputGap),
    })),
  );
}

function checkBound(rows, t) {
  assert.deepEqual(rows.map((r) => r.method), ['zero-filling', 'firenet', 'net', 'net+firenet']);
  for (const r of rows) {
    t.diagnostic(`${r.method}: ${r.errorX.toFixed(3)} + ${r.errorXPrime.toFixed(3)} ≥ ${r.bound.toFixed(3)}`);
    assert.ok(r.errorX + r.errorXPrime >= r.bound * (1 - 1e-6), `${r.method}: the bound holds`);
    // The same data give the same reconstruction.
    assert.ok(r.outputGap <= 1e-3 * r.bound, `${r.method}: output gap ${r.outputGap}`);
  }
}

describe('Kernel awareness in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the troublesome kernel: same data, the bound for every method, live in t', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/kernel`);
      await figure(page, 'kernel-results', { t: 1, net: 'cascade-12', slice: 'axial 10' });
      const gap = await page.getByTestId('measurement-gap').innerText();
      t.diagnostic(gap);
      const m = /‖Ax − Ax′‖ = ([\d.e+-]+), against ‖Ax‖ = ([\d.]+)/.exec(gap);
      assert.ok(m, gap);
      assert.ok(Number(m[1]) <= 1e-5 * Number(m[2]), 'the measurements agree to rounding');
      const first = await boundRows(page);
      checkBound(first, t);
      // Every method shows R(Ax), R(Ax′) and its error.
      for (const key of ['zero-filling', 'firenet', 'net', 'net+firenet']) {
        assert.equal(await page.getByTestId(`kernel-method-${key}`).locator('canvas').count(), 3);
      }
      assert.equal(await page.getByTestId('bound-bars').locator('.bar-row > rect').count(), 8);
      // Drag t to 4: the bound grows fourfold, and still holds.
      const reached = await setRange(page, page.getByTestId('kernel-t'), 4);
      assert.equal(reached, 4);
      await figure(page, 'kernel-results', { t: 4 });
      const later = await boundRows(page);
      checkBound(later, t);
      assert.ok(Math.abs(later[0].bound - 4 * first[0].bound) <= 1e-3 * later[0].bound);
      assert.match(page.url(), /t=4/);
      // The bar chart says what its bars and line are.
      const legend = await page.getByTestId('bound-bars').getByTestId('plot-legend').locator('text').allTextContents();
      assert.deepEqual(legend.slice(0, 2), ['‖R(Ax) − x‖', '‖R(Ax′) − x′‖']);
      assert.match(legend[2], /^the lower bound t‖z_N‖ = \d+\.\d\d$/);
      await page.screenshot({ path: screenshotPath('kernel-bound.png'), fullPage: true });
      // Type another word, key by key and without Enter: it applies itself as one types
      // (debounced), the detail changes, so does the bound.
      await page.getByTestId('detail-text').fill('');
      await page.getByTestId('detail-text').pressSequentially('zn', { delay: 50 });
      await page.waitForFunction(() => location.hash.includes('text=ZN'), null, { timeout: 3000 });
      assert.equal(await page.getByTestId('detail-text').inputValue(), 'ZN');
      await figure(page, 'kernel-results', { t: 4 });
      const typed = await boundRows(page);
      checkBound(typed, t);
      assert.ok(Math.abs(typed[0].bound - later[0].bound) > 1e-3, 'a new detail, a new bound');
      // A lesion, placed with a click on the editor.
      await page.getByTestId('detail-kind').selectOption('lesion');
      await page.waitForFunction(() => location.hash.includes('detail=lesion'));
      const editor = page.getByTestId('detail-editor');
      const box = await editor.boundingBox();
      await editor.click({ position: { x: box.width * 0.3, y: box.height * 0.6 } });
      await page.waitForFunction(() => /row=3[5-9]/.test(location.hash) && /col=1[7-9]/.test(location.hash));
      await figure(page, 'kernel-results', { t: 4 });
      checkBound(await boundRows(page), t);
      await page.screenshot({ path: screenshotPath('kernel-lesion.png'), fullPage: true });
    });
  });

  test('can u see it: regions magnified, recovered fractions, a drawn detail', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/details`);
      await figure(page, 'details-results', { net: 'cascade-12', slice: 'axial 10' });
      const visible = await page.getByTestId('visible').innerText();
      t.diagnostic(visible);
      const v = /sees (\d+)% of the detail's energy.*\(measured: (\d+)%\)/.exec(visible);
      assert.ok(v, visible);
      assert.equal(v[1], v[2], 'zero-filling recovers exactly what the sampling sees');
      const methods = await page.$$eval('[data-testid^="details-method-"]', (els) =>
        els.map((e) => ({ id: e.dataset.testid, recovered: Number(e.dataset.recovered), region: Number(e.dataset.regionError) })),
      );
      assert.equal(methods.length, 4);
      for (const m of methods) {
        t.diagnostic(`${m.id}: recovers ${(100 * m.recovered).toFixed(1)}%, region error ${m.region.toFixed(2)}`);
        assert.ok(Number.isFinite(m.recovered) && Number.isFinite(m.region));
      }
      assert.equal(await page.getByTestId('verdicts').locator('li').count(), 4);
      await page.screenshot({ path: screenshotPath('details-text.png'), fullPage: true });
      // Draw a short stroke instead.
      await page.getByTestId('detail-kind').selectOption('drawn');
      await page.getByText('Draw a detail on the image').waitFor();
      const editor = page.getByTestId('detail-editor');
      const box = await editor.boundingBox();
      await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.45);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 12 });
      await page.mouse.up();
      await figure(page, 'details-results');
      const drawn = await page.getByTestId('visible').innerText();
      assert.notEqual(drawn, visible, 'the drawn detail is measured');
      await page.screenshot({ path: screenshotPath('details-drawn.png'), fullPage: true });
      // Clearing it asks for a new drawing, and the rest of the page keeps working.
      await page.getByTestId('clear-drawing').click();
      await page.getByText('Draw a detail on the image').waitFor();
    });
  });

  test('bad links give notices and fall back', async () => {
    await withPage({}, async (page) => {
      // t beyond the slider is clamped to its end (8), with a notice.
      await page.goto(`${lab.base}#/kernel?t=99&slice=axial+11&text=%C3%A9t%C3%A9&size=0&zoom=2`);
      await figure(page, 'kernel-results', { t: 8, slice: 'axial 10' });
      assert.equal(await page.locator('.notice').count(), 5);
      // A negative t (the slider starts at 0.1: at 0 nothing is added), an unknown network and a bad row: the defaults, and notices that say which
      // value is used; nothing is requested for the unknown network.
      await page.goto(`${lab.base}#/kernel?t=-5&net=evil&row=99`);
      await figure(page, 'kernel-results', { t: 0.1, net: 'cascade-12' });
      await page.getByText('t runs from 0.1 to 8; “-5” is outside: using 0.1.').waitFor();
      await page.getByText('There is no network “evil” on this page: showing cascade-12.').waitFor();
      await page.getByText('The row must be a pixel from 0 to 63, not “99”: using 30.').waitFor();
      assert.equal(await page.getByTestId('kernel-t').inputValue(), '0.1');
      await page.screenshot({ path: screenshotPath('kernel-bad-link.png'), fullPage: true });
      // The details page falls back the same way and shows its figure.
      await page.goto(`${lab.base}#/details?net=no-such-net`);
      await page.getByText(/There is no network “no-such-net” on this page: showing cascade-12\./).waitFor();
      await figure(page, 'details-results', { net: 'cascade-12' });
      // Choosing another shipped network works.
      await page.getByTestId('net').selectOption('cascade-8');
      await figure(page, 'details-results', { net: 'cascade-8' });
    });
  });
});
