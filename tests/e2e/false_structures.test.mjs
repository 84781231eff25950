// End-to-end tests of the false structures page of the release bundle in headless Chromium: the
// shipped report's table, the planted network's label following the dot as it is planted,
// removed and moved while the normally trained CNN's stays, DeepFool putting its perturbation on
// the dots, the settings in the link, embed mode and a phone. Fails on any console error, page
// error or failed request.
//   trunk build --release && node --test tests/e2e/false_structures.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, browserSuite } from './helpers.mjs';
import { PAGES } from './pages.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 120_000;

const ready = PAGES.find((p) => p.route === 'false-structures').ready;
const hashOf = (page) => decodeURIComponent(new URL(page.url()).hash.slice(1));

/** The labels both models give the shown digit, once both answers for `plant` are in. */
async function labels(page, plant) {
  await page.locator(`[data-testid="fs-figure"][data-plant="${plant}"]`).waitFor({ timeout: RUN });
  for (const id of ['fs-planted', 'fs-normal']) {
    await page.locator(`[data-testid="${id}"][data-state="done"] [data-testid="predicted-label"]`).waitFor({ timeout: RUN });
  }
  const read = async (id) => Number(await page.locator(`[data-testid="${id}"] [data-testid="predicted-label"]`).innerText());
  return { planted: await read('fs-planted'), normal: await read('fs-normal') };
}

/** A percentage cell ("85.4%") as a number. */
const percent = (text) => {
  const m = /(-?[0-9.]+)%/.exec(text);
  assert.ok(m, `no percentage in ${JSON.stringify(text)}`);
  return Number(m[1]);
};

describe('False structures in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the report, then the planted network follows the dot while the CNN follows the digit', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/false-structures?strength=strong&digit=0&plant=true`);
      await ready(page);
      // The shipped report: three strengths, each with the planted model and two normal ones;
      // the chosen strength highlighted.
      const report = page.getByTestId('fs-report');
      assert.equal(await report.locator('tbody').count(), 3);
      assert.equal(await report.locator('tbody tr').count(), 9);
      assert.equal(await report.locator('tbody.chosen tr').count(), 3);
      assert.equal(await report.locator('tbody.chosen tr').first().getAttribute('data-strength'), 'strong (64/255)');
      const strong = await report.locator('tr[data-model="planted-strong"] td').allInnerTexts();
      assert.equal(strong[0], '100.0%', `planted-strong with its dot: ${strong[0]}`);
      const [, follows] = strong[2].split('/').map(percent);
      assert.ok(follows > 50, `planted-strong follows the next label's dot in ${follows}%`);
      assert.ok(percent(strong[3]) > 50, `DeepFool's share on the dots ${strong[3]}`);
      for (const row of await report.locator('tr[data-model="cnn"]').all()) {
        const cells = await row.locator('td').allInnerTexts();
        assert.ok(cells[2].split('/').map(percent)[1] < 1, `the CNN follows the dot: ${cells[2]}`);
      }

      // Its own label's dot: both right.
      const truth = Number(/\(a (\d)\)/.exec(await page.getByTestId('fs-shown').innerText())[1]);
      const own = await labels(page, 'true');
      assert.equal(own.planted, truth, 'planted-strong with the digit’s own dot');
      assert.equal(own.normal, truth, 'the CNN');
      assert.equal(await page.locator('[data-testid="fs-figure"] .fs-dot.planted').getAttribute('data-dot'), String(truth));
      await page.screenshot({ path: screenshotPath('false-structures-own.png'), fullPage: true });

      // Removed: the CNN does not care.
      await page.locator('button[data-plant="none"]').click();
      await page.waitForFunction(() => /plant=none/.test(decodeURIComponent(location.hash)));
      const none = await labels(page, 'none');
      assert.equal(none.normal, truth, 'the CNN without the dot');
      assert.equal(await page.locator('[data-testid="fs-figure"] .fs-dot.planted').count(), 0);
      t.diagnostic(`digit 0 (a ${truth}) without the dot: planted-strong says ${none.planted}`);

      // Moved to every other label: the planted network's label follows the dot, the CNN's stays.
      let followed = 0;
      const said = [];
      for (let k = 0; k < 10; k++) {
        if (k === truth) continue;
        await page.locator(`button[data-plant="${k}"]`).click();
        const moved = await labels(page, String(k));
        said.push(`${k}→${moved.planted}`);
        if (moved.planted === k) followed += 1;
        assert.equal(moved.normal, truth, `the CNN with the dot of ${k}`);
        if (k === (truth + 1) % 10) await page.screenshot({ path: screenshotPath('false-structures-moved.png'), fullPage: true });
      }
      t.diagnostic(`the dot moved to each other label (dot→planted-strong's label): ${said.join(', ')}`);
      assert.ok(followed >= 6, `planted-strong followed the dot in ${followed} of 9 (${said.join(', ')})`);
      assert.match(hashOf(page), /strength=strong/);
      assert.match(hashOf(page), /digit=0/);
      if (followed > 0) {
        await page.locator(`button[data-plant="${(truth + 1) % 10}"]`).click();
        await labels(page, String((truth + 1) % 10));
        await page.getByTestId('fs-follows').waitFor();
      }

      // DeepFool on the shown digit puts most of r on the dots.
      await page.locator('button[data-plant="true"]').click();
      await labels(page, 'true');
      await page.getByTestId('fs-deepfool').click();
      await page.getByTestId('fs-deepfool-result').waitFor({ timeout: RUN });
      const share = percent(await page.getByTestId('fs-deepfool-share').innerText());
      t.diagnostic(`DeepFool on digit 0 with its dot: ${share}% of ‖r‖² on the dots, ‖r‖₂ = ${await page.getByTestId('fs-deepfool-l2').innerText()}`);
      assert.ok(share > 30, `DeepFool's share on the dots ${share}%`);
      await page.screenshot({ path: screenshotPath('false-structures-deepfool.png'), fullPage: true });

      // Another strength is another model: the link says so, the DeepFool result goes.
      await page.locator('button[data-strength="faint"]').click();
      await page.waitForFunction(() => /strength=faint/.test(decodeURIComponent(location.hash)));
      await page.getByTestId('fs-deepfool-result').waitFor({ state: 'detached' });
      await labels(page, 'true');
      assert.equal(await page.locator('[data-testid="fs-report"] tbody.chosen tr').first().getAttribute('data-strength'), 'faint (8/255)');
    });
  });

  test('embed mode and a phone', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}?embed#/false-structures?digit=5&plant=3`);
      await ready(page);
      assert.equal(await page.locator('header.site-header').count(), 0, 'embed mode: no header');
      assert.equal(await page.getByTestId('fs-report').count(), 0, 'embed mode: the figure and its controls only');
      await page.screenshot({ path: screenshotPath('false-structures-embed.png'), fullPage: true });
    });
    await withPage({ viewport: { width: 390, height: 844 } }, async (page) => {
      await page.goto(`${lab.base}#/false-structures`);
      await ready(page);
      await page.getByTestId('fs-report').waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px on a phone`);
      await page.screenshot({ path: screenshotPath('false-structures-phone.png'), fullPage: true });
    });
  });
});
