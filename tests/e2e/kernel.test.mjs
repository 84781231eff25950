// End-to-end tests of the kernel-awareness pages of the release bundle (dist/) in headless
// Chromium: the troublesome kernel (#/kernel: x and x′ = x + t·z_N with the same data, every
// method's two errors against t‖z_N‖, live as t moves, text typed and a lesion placed by a click,
// the kernel-trained network's lesion) and structural details (#/details: a word or a drawn
// detail, the magnified regions, recovered fractions against what the sampling sees), both at
// 128² with the default cascade-128 and at 64² with an older network (the slice follows the
// network's split, a drawing survives the change of side), a 64² deep link, and bad links.
// Screenshots at desktop (1400×900), projector (1024×768) and phone (390×844) sizes. Every test
// fails on any console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/kernel.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, setRange, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 90_000;
const PROJECTOR = { width: 1024, height: 768 };
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1400, height: 900 };

/** Screenshots of the page at projector and phone sizes (`name-projector.png`, `name-phone.png`), then back to the desktop. */
async function otherSizes(page, name) {
  for (const [size, viewport] of [['projector', PROJECTOR], ['phone', PHONE]]) {
    await page.setViewportSize(viewport);
    // Nothing of the page's own runs off the side of the window (a wide table scrolls in its
    // box; the header and the engine badge are the app's, not these pages').
    const outside = await page.evaluate(() => {
      const section = document.querySelector('section.demo');
      const scrolls = (e) => {
        for (let p = e.parentElement; p && p !== section; p = p.parentElement) {
          if (getComputedStyle(p).overflowX === 'auto') return true;
        }
        return false;
      };
      return [...section.querySelectorAll('*')]
        .filter((e) => !e.closest('.engine-badge') && !scrolls(e) && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map((e) => `${e.tagName} ${e.dataset?.testid ?? ''} ${e.getBoundingClientRect().right.toFixed(0)}`)
        .slice(0, 5);
    });
    assert.deepEqual(outside, [], `${name} at ${size}: these run off the window`);
    await page.screenshot({ path: screenshotPath(`${name}-${size}.png`), fullPage: true });
  }
  await page.setViewportSize(DESKTOP);
}

/** The width in pixels of the canvas `testid` (the side of its picture). */
function canvasSide(page, testid) {
  return page.getByTestId(testid).first().evaluate((c) => c.width);
}

/** The text of the network picker's chosen option. */
function chosenNet(page) {
  return page.getByTestId('net').evaluate((s) => s.selectedOptions[0].textContent);
}

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
      await figure(page, 'kernel-results', { t: 1, net: 'cascade-128', slice: 'axial 20', side: 128 });
      // The default is the 128² network, its words from its card; the images are 128².
      await page.waitForFunction(() => document.querySelector('[data-testid="net"]').selectedOptions[0].textContent.includes(':'));
      assert.equal(await chosenNet(page), 'cascade-128: deep cascade, 128², 25% variable-density sampling');
      assert.equal(await canvasSide(page, 'truth'), 128);
      assert.equal(await canvasSide(page, 'detail-editor'), 128);
      await page.getByText('axial 20 (held out), 128²').waitFor();
      assert.match(await page.getByTestId('kernel-method-firenet').locator('h3').innerText(), /^FIRENET \(db4, 4 levels; stable by design\)$/);
      // The slice menu lists the slices the network holds out (the separated split).
      assert.deepEqual(await page.getByTestId('slice').locator('option').allTextContents(), [
        'axial 4', 'axial 12', 'axial 20', 'axial 28', 'axial 36', 'coronal 4', 'coronal 12', 'sagittal 4', 'sagittal 12',
      ]);
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
      await otherSizes(page, 'kernel-bound');
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
      // The kernel-trained network's own lesion, from the explanation's link: the lesion of its
      // training, in the units of the 64² grid.
      const trained = page.getByTestId('trained-detail-link');
      assert.match(await trained.getAttribute('href'), /net=cascade-128-kernel&slice=axial\+20&detail=lesion&row=36&col=32&size=3&intensity=0\.6/);
      await trained.click();
      await figure(page, 'kernel-results', { t: 1, net: 'cascade-128-kernel', side: 128 });
      checkBound(await boundRows(page), t);
      assert.match(await page.locator('.detail-editor').innerText(), /radius 6 px/);
      await page.screenshot({ path: screenshotPath('kernel-trained.png'), fullPage: true });
    });
  });

  test('the troublesome kernel at 64²: a deep link of a 64² network, its slices and FIRENET', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/kernel?net=cascade-12&slice=axial+10&detail=text&text=AI&row=30&col=32&size=2&intensity=0.5&t=1`);
      await figure(page, 'kernel-results', { t: 1, net: 'cascade-12', slice: 'axial 10', side: 64 });
      assert.equal(await page.locator('.notice').count(), 0, 'a 64² link of before keeps working');
      checkBound(await boundRows(page), t);
      assert.equal(await canvasSide(page, 'truth'), 64);
      assert.equal(await canvasSide(page, 'detail-editor'), 64);
      await page.getByText('axial 10 (held out), 64²').waitFor();
      assert.match(await chosenNet(page), /^cascade-12: deep cascade, 64², 12\.5% of lines$/);
      assert.match(await page.getByTestId('kernel-method-firenet').locator('h3').innerText(), /^FIRENET \(Haar, 3 levels; stable by design\)$/);
      assert.equal(await page.getByTestId('slice').locator('option').count(), 18);
      await page.screenshot({ path: screenshotPath('kernel-64.png'), fullPage: true });
      // Back to the 128² network: axial 10 is not held out there; the nearest one is, and the
      // page says so.
      await page.getByTestId('net').selectOption('cascade-128');
      await figure(page, 'kernel-results', { net: 'cascade-128', slice: 'axial 12', side: 128 });
      const moved = await page.getByTestId('slice-moved').innerText();
      assert.match(moved, /cascade-128 does not hold out “axial 10” .*: showing axial 12, the nearest slice it holds out\./);
      assert.match(page.url(), /net=cascade-128&slice=axial\+12/);
      // Choosing another slice clears it.
      await page.getByTestId('slice').selectOption('coronal 4');
      await figure(page, 'kernel-results', { net: 'cascade-128', slice: 'coronal 4' });
      assert.equal(await page.getByTestId('slice-moved').count(), 0);
    });
  });

  test('can u see it: regions magnified, recovered fractions, a drawn detail', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/details`);
      await figure(page, 'details-results', { net: 'cascade-128', slice: 'axial 20', side: 128 });
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
      await otherSizes(page, 'details-text');
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
      // The drawing follows a change to a 64² network (the same strokes, at 64²), and the slice
      // moves to one the network holds out.
      await page.getByTestId('net').selectOption('cascade-12');
      await figure(page, 'details-results', { net: 'cascade-12', slice: 'axial 18', side: 64 });
      await page.getByTestId('slice-moved').getByText('showing axial 18').waitFor();
      assert.equal(await page.getByText('Draw a detail on the image').count(), 0, 'the drawing is kept');
      const small = await page.getByTestId('visible').innerText();
      t.diagnostic(`drawn at 64²: ${small}`);
      assert.notEqual(small, drawn, 'measured with the 64² sampling');
      await page.screenshot({ path: screenshotPath('details-drawn-64.png'), fullPage: true });
      await otherSizes(page, 'details-drawn-64');
      // Clearing it asks for a new drawing, and the rest of the page keeps working.
      await page.getByTestId('clear-drawing').click();
      await page.getByText('Draw a detail on the image').waitFor();
    });
  });

  test('bad links give notices and fall back', async () => {
    await withPage({}, async (page) => {
      // t beyond the slider is clamped to its end (8), with a notice.
      // A slice the network does not hold out moves to the nearest it does, with a notice.
      await page.goto(`${lab.base}#/kernel?t=99&slice=axial+11&text=%C3%A9t%C3%A9&size=0&zoom=2`);
      await figure(page, 'kernel-results', { t: 8, slice: 'axial 12' });
      assert.equal(await page.locator('.notice').count(), 5);
      await page.getByText('cascade-128 does not hold out “axial 11” (it lies next to a held-out slice, used by neither side): showing axial 12, the nearest slice it holds out.').waitFor();
      // A negative t (the slider starts at 0.1: at 0 nothing is added), an unknown network and a bad row: the defaults, and notices that say which
      // value is used; nothing is requested for the unknown network.
      await page.goto(`${lab.base}#/kernel?t=-5&net=evil&row=99`);
      await figure(page, 'kernel-results', { t: 0.1, net: 'cascade-128' });
      await page.getByText('t runs from 0.1 to 8; “-5” is outside: using 0.1.').waitFor();
      await page.getByText('There is no network “evil” on this page: showing cascade-128.').waitFor();
      await page.getByText('The row must be a pixel of the 64² grid, 0 to 63, not “99”: using 30.').waitFor();
      assert.equal(await page.getByTestId('kernel-t').inputValue(), '0.1');
      await page.screenshot({ path: screenshotPath('kernel-bad-link.png'), fullPage: true });
      await otherSizes(page, 'kernel-bad-link');
      // The details page falls back the same way and shows its figure.
      await page.goto(`${lab.base}#/details?net=no-such-net`);
      await page.getByText(/There is no network “no-such-net” on this page: showing cascade-128\./).waitFor();
      await figure(page, 'details-results', { net: 'cascade-128' });
      // Choosing another shipped network works.
      await page.getByTestId('net').selectOption('cascade-8');
      await figure(page, 'details-results', { net: 'cascade-8', slice: 'axial 18', side: 64 });
    });
  });
});
