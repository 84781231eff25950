// Accessibility audit of every page of the release bundle (dist/) in headless Chromium, with
// axe-core: each page is opened, its first result waited for, axe injected and run on the whole
// document. A test fails on any violation of impact "serious" or "critical" (rule id, impact and
// the target selectors are printed); every page's counts per impact go to
// tests/e2e/artifacts/a11y.json and are printed as a table. One more test checks that
// `prefers-reduced-motion: reduce` turns the stylesheet's transitions off.
// Fails on any console error, page error or failed request, like every end-to-end test.
//   trunk build --release && node --test --test-reporter=spec tests/e2e/a11y.test.mjs
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { haveDist, screenshotPath, browserSuite } from './helpers.mjs';
import { PAGES, finished } from './pages.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const AXE_SOURCE = fs.readFileSync(AXE, 'utf8');
const IMPACTS = ['critical', 'serious', 'moderate', 'minor'];
const FAIL_ON = new Set(['critical', 'serious']);

/**
 * Runs axe on the page; returns its violations (each with its impact and up to 8 targets) and
 * what axe could not decide ("needs review": rule, impact and count; not a failure).
 */
async function audit(page) {
  // Evaluated through the DevTools protocol: the lab's content-security policy refuses inline
  // scripts, and a <script> tag (page.addScriptTag) would be one.
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations', 'incomplete'] });
    return {
      violations: result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.length,
        targets: v.nodes.slice(0, 8).map((n) => n.target.join(' ')),
      })),
      review: result.incomplete.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })),
    };
  });
}

/** Counts per impact (every impact present, zero or not). */
function counts(violations) {
  const c = Object.fromEntries(IMPACTS.map((i) => [i, 0]));
  for (const v of violations) c[v.impact] = (c[v.impact] ?? 0) + 1;
  return c;
}

describe('Accessibility (axe-core) of every page', { skip }, () => {
  const lab = browserSuite();
  const results = {};

  after(() => {
    if (!Object.keys(results).length) return;
    fs.writeFileSync(screenshotPath('a11y.json'), `${JSON.stringify({ axe: readAxeVersion(), pages: results }, null, 2)}\n`);
    const rows = Object.entries(results).map(([page, r]) => ({
      page,
      ...r.counts,
      rules: r.violations.map((v) => `${v.id} (${v.impact})`).join(', ') || '—',
    }));
    console.log('\nRule violations per page (axe-core, counted by rule):');
    console.table(rows);
  });

  for (const { route, ready } of PAGES) {
    const name = `#/${route}`;
    test(`${name}: no serious or critical violation`, async (t) => {
      await lab.withPage({}, async (page) => {
        await page.goto(`${lab.base}#/${route}`);
        await ready(page);
        // Let the page settle (a report or the first result replacing a placeholder).
        await page.waitForTimeout(300);
        const { violations, review } = await audit(page);
        results[name] = { counts: counts(violations), violations, review };
        for (const v of violations) {
          t.diagnostic(`${v.impact} ${v.id} (${v.nodes} element(s)): ${v.help}; ${v.targets.join(' | ')}`);
        }
        if (review.length) t.diagnostic(`needs review: ${review.map((v) => `${v.id} (${v.nodes})`).join(', ')}`);
        const bad = violations.filter((v) => FAIL_ON.has(v.impact));
        if (bad.length) await page.screenshot({ path: screenshotPath(`a11y-${route || 'home'}.png`), fullPage: true });
        assert.deepEqual(
          bad.map((v) => `${v.id} [${v.impact}] ${v.targets.join(' | ')}`),
          [],
          `${name}: serious or critical violations`,
        );
      });
    });
  }

  test('prefers-reduced-motion: reduce turns transitions off', async () => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri`);
      await finished('[data-testid="mri-results"]')(page);
      // The results fade while a new reconstruction runs (`.mri-results.updating`): the
      // stylesheet's transition, with and without the user's preference.
      const duration = () =>
        page.evaluate(() => {
          const el = document.querySelector('[data-testid="mri-results"]');
          const had = el.classList.contains('updating');
          el.classList.add('updating');
          const d = getComputedStyle(el).transitionDuration;
          if (!had) el.classList.remove('updating');
          return d;
        });
      await page.emulateMedia({ reducedMotion: 'no-preference' });
      const normal = await duration();
      assert.ok(parseFloat(normal) > 0, `the fade without a preference lasts (${normal})`);
      await page.emulateMedia({ reducedMotion: 'reduce' });
      assert.equal(await page.evaluate(() => matchMedia('(prefers-reduced-motion: reduce)').matches), true);
      assert.equal(await duration(), '0s', 'no fade when the user asks for reduced motion');
      // No element of the page keeps a transition or an animation that lasts.
      const moving = await page.evaluate(() =>
        [...document.querySelectorAll('*')]
          .map((e) => [e, getComputedStyle(e)])
          .filter(([, s]) => {
            const lasts = (list) => list.split(',').some((d) => parseFloat(d) * (d.trim().endsWith('ms') ? 1e-3 : 1) > 1e-3);
            return lasts(s.transitionDuration) || (s.animationName !== 'none' && lasts(s.animationDuration));
          })
          .map(([e]) => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? `.${e.className.split(' ').join('.')}` : '')),
      );
      assert.deepEqual(moving, [], 'elements still moving under reduced motion');
      assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).scrollBehavior), 'auto');
    });
  });
});

function readAxeVersion() {
  const pkg = createRequire(import.meta.url).resolve('axe-core/package.json');
  return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
}
