// End-to-end test of every chart of the lab on a projector (1024×768), on the release bundle in
// headless Chromium: each plot has ticks and labels on both axes, axis titles and a legend; all
// its text is at least 14 px on screen; no two labels overlap, and no label covers a mark (a
// dot, a bar, a whisker) or leaves the plot. Screenshots of each plot are saved.
// Fails on any console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/plots.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

/** The smallest readable text on a projector at 1024×768. */
const MIN_PX = 14;

/** The pages with charts and the test ids of their plots (each waited for). */
const PAGES = [
  { route: 'linearity', plots: ['effect-plot', 'deepfool-plot'] },
  { route: 'tradeoff', plots: ['tradeoff-plot'] },
  { route: 'sweep', plots: ['shipped-plot'] },
  { route: 'universal', plots: ['fooling-curve'], timeout: 60_000 },
  { route: 'kernel', plots: ['bound-bars'], timeout: 60_000 },
  { route: 'mri', plots: ['error-plot'], timeout: 60_000 },
  { route: 'hallucinations', plots: ['curve-plot'], timeout: 60_000 },
];

/** Runs in the page: every problem of the plot with test id `id` (text under `min` px, overlaps, missing parts). */
function inspect({ id, min }) {
  const svg = document.querySelector(`svg[data-testid="${id}"]`);
  const problems = [];
  const box = svg.getBoundingClientRect();
  const name = (t) => `"${t.textContent.trim().slice(0, 40)}"`;
  const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent.trim());
  for (const t of texts) {
    const m = t.getScreenCTM();
    const px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
    if (px < min - 1e-6) problems.push(`${name(t)} is ${px.toFixed(1)} px`);
  }
  const rect = (e) => e.getBoundingClientRect();
  const overlap = (a, b) =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  for (let i = 0; i < texts.length; i++) {
    const a = rect(texts[i]);
    if (a.left < box.left - 1 || a.right > box.right + 1 || a.top < box.top - 1 || a.bottom > box.bottom + 1) {
      problems.push(`${name(texts[i])} leaves the plot`);
    }
    for (let j = i + 1; j < texts.length; j++) {
      if (overlap(a, rect(texts[j]))) problems.push(`${name(texts[i])} overlaps ${name(texts[j])}`);
    }
  }
  // The marks: dots, diamonds, bars and whiskers (not the legend's swatches, not hit areas).
  // A line is a box one stroke thick (its own box has no width or no height).
  const thick = (e) => {
    const r = rect(e);
    const grow = (lo, hi) => (hi - lo < 2 ? [(lo + hi) / 2 - 1, (lo + hi) / 2 + 1] : [lo, hi]);
    const [left, right] = grow(r.left, r.right);
    const [top, bottom] = grow(r.top, r.bottom);
    return { left, right, top, bottom };
  };
  const marks = [...svg.querySelectorAll('circle, rect, line.whisker, line.range')].filter(
    (e) => !e.closest('.legend') && !e.classList.contains('rate-hit') && rect(e).width + rect(e).height > 0,
  );
  for (const t of texts) {
    for (const m of marks) {
      if (overlap(rect(t), thick(m))) {
        problems.push(`${name(t)} covers a mark (${m.tagName} ${m.getAttribute('class') ?? ''} of ${m.closest('[data-testid]')?.dataset.testid})`);
        break;
      }
    }
  }
  const count = (sel) => [...svg.querySelectorAll(sel)].filter((t) => t.textContent.trim()).length;
  if (count('.x-tick text') < 2) problems.push('fewer than two x tick labels');
  if (count('.y-tick text') < 2) problems.push('fewer than two y tick labels');
  if (count('.x-title') !== 1) problems.push('no x-axis title');
  if (count('.y-title') !== 1 && svg.dataset.categories !== 'y') problems.push('no y-axis title');
  if (count('.legend text') < 1) problems.push('no legend');
  return { problems, width: box.width, texts: texts.length, marks: marks.length };
}

describe('Every chart on a projector (1024×768)', { skip }, () => {
  const lab = browserSuite();
  for (const { route, plots, timeout = 30_000 } of PAGES) {
    test(`#/${route}: ${plots.join(', ')}`, async (t) => {
      await lab.withPage({}, async (page) => {
        await page.setViewportSize({ width: 1024, height: 768 });
        await page.goto(`${lab.base}#/${route}`);
        for (const id of plots) {
          const plot = page.locator(`svg[data-testid="${id}"]`);
          await plot.waitFor({ timeout });
          // Let the page settle (reports load, the first result replaces a placeholder).
          await page.waitForTimeout(300);
          const { problems, width, texts, marks } = await page.evaluate(inspect, { id, min: MIN_PX });
          t.diagnostic(`${id}: ${width.toFixed(0)} px wide, ${texts} labels, ${marks} marks`);
          await plot.scrollIntoViewIfNeeded();
          await plot.screenshot({ path: screenshotPath(`plot-${route}-${id}-1024.png`) });
          assert.deepEqual(problems, [], `${id} on #/${route}:\n  ${problems.join('\n  ')}`);
        }
      });
    });
  }
});
