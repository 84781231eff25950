// The lecturer's toolkit, end to end on the release bundle (dist/): the header at projector and
// phone sizes, presenter mode and its keys, the lecture path (every step, in order), a lecturer's
// own path, and every export of a figure (PNG, SVG, data, link, embed code), each file parsed
// back. Fails on any console error, page error or failed request, like every end-to-end test.
//   trunk build --release && node --test --test-reporter=spec tests/e2e/teach.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { haveDist, launch, serve, watch, noFatal, screenshotPath, FIRST, CSP_PROBE } from './helpers.mjs';
import { PAGES, readyFor } from './pages.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

const SIZES = {
  projector: { width: 1024, height: 768 },
  hall: { width: 1920, height: 1080 },
  phone: { width: 390, height: 844 },
};

/** The lectures' path as src/lecture.rs defines it (titles and links), checked step by step. */
const LECTURE = [
  ['Classify', '/classify?model=cnn&digit=0'],
  ['Random noise', '/attacks?model=cnn&digit=0&attack=random_noise'],
  ['Fast gradient', '/attacks?model=cnn&digit=0&attack=fast_gradient'],
  ['DeepFool', '/attacks?model=cnn&digit=0&attack=deepfool_l2'],
  ["DeepFool's geometry", '/geometry'],
  ['Universal perturbations', '/universal?model=cnn&p=2'],
  ['Transfer', '/universal?model=mlp&p=2'],
  ['Linearity', '/linearity'],
  ['Structural perturbations', '/structural?model=cnn'],
  ['Non-robust features', '/non-robust'],
  ['False structures', '/false-structures'],
  ['Manipulated explanations', '/explanations'],
  ['The MRI forward model', '/mri?rate=0.15'],
  ['FIRENET', '/mri?rate=0.25'],
  ['Hallucinations', '/hallucinations'],
  ['The troublesome kernel', '/kernel'],
  ['Can u see it?', '/details'],
  ['More samples, worse?', '/sweep'],
  ['Accuracy versus stability', '/tradeoff'],
];

describe('the lecturer\u2019s toolkit', { skip }, () => {
  let server;
  let base;
  let browser;
  before(async () => {
    ({ server, url: base } = await serve());
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A fresh context at `size` (downloads and the clipboard allowed), watched for problems. */
  async function withPage(size, body) {
    const context = await browser.newContext({
      viewport: size,
      serviceWorkers: 'block',
      acceptDownloads: true,
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    await context.addInitScript(CSP_PROBE);
    const watcher = watch(context);
    const page = await context.newPage();
    page.setDefaultTimeout(FIRST);
    try {
      await body(page);
      await noFatal(page);
      watcher.check();
    } finally {
      watcher.stop();
      await context.close();
    }
  }

  const hashOf = (page) => decodeURIComponent(new URL(page.url()).hash.slice(1));

  test('the header: one line at 1024 and 1920 px, a menu on a phone, every page without sideways scrolling', async () => {
    for (const [name, size] of Object.entries(SIZES)) {
      await withPage(size, async (page) => {
        for (const { route, ready } of PAGES) {
          await page.goto(`${base}#/${route}`);
          await ready(page);
          const header = page.locator('header.site-header');
          const box = await header.boundingBox();
          if (size.width >= 1024) {
            // One line: the header is no taller than its tallest item plus padding.
            assert.ok(box.height <= 64, `${name} #/${route}: header ${box.height} px tall`);
            assert.ok(await page.getByTestId('site-nav').isVisible(), 'the navigation is shown');
            assert.ok(!(await page.getByTestId('menu-button').isVisible()), 'no menu button');
          } else {
            assert.ok(box.height <= 72, `${name} #/${route}: the collapsed header is ${box.height} px tall`);
            assert.ok(!(await page.getByTestId('site-nav').isVisible()), 'the navigation is folded');
          }
          // Nothing wider than the screen, except wide tables in their own scroll box.
          const overflow = await page.evaluate(() => document.scrollingElement.scrollWidth - window.innerWidth);
          assert.ok(overflow <= 0, `${name} #/${route}: the page scrolls sideways by ${overflow} px`);
          await page.screenshot({ path: screenshotPath(`layout-${name}-${route || 'home'}.png`), fullPage: size.width < 1024 });
        }
        if (size.width < 1024) {
          // The menu reaches every demo and the lecture path.
          await page.getByTestId('menu-button').click();
          const nav = page.getByTestId('site-nav');
          await nav.waitFor({ state: 'visible' });
          for (const summary of await nav.locator('summary').all()) await summary.click();
          const links = await nav.locator('a').allInnerTexts();
          // Every demo and the lecture path (PAGES less the home page and the speed page, which the footer links).
          assert.equal(links.length, PAGES.filter((p) => !['', 'speed'].includes(p.route)).length, links.join(', '));
          await page.screenshot({ path: screenshotPath(`layout-phone-menu.png`) });
          await nav.getByText('Accuracy versus stability').click();
          await page.getByTestId('tradeoff').waitFor();
          assert.ok(!(await nav.isVisible()), 'the menu closes after a choice');
        } else {
          // Both menus open as lists of their half's demos.
          const nav = page.getByTestId('site-nav');
          await nav.locator('summary').nth(1).click();
          await nav.getByText('Can u see it?').click();
          await page.getByTestId('details').waitFor();
          assert.equal(hashOf(page), '/details');
        }
      });
    }
  });

  test('presenter mode at 1024×768: the figure on the first screen, big labels, the explanation one key away', async () => {
    await withPage(SIZES.projector, async (page) => {
      for (const { route, ready } of PAGES.filter((p) => p.route && p.route !== 'path')) {
        await page.goto(`${base}?present#/${route}`);
        await ready(page);
        assert.ok(await page.getByTestId('presenter-bar').isVisible(), `#/${route}: presenter bar`);
        assert.equal(await page.locator('header.site-header').count(), 0, 'no header');
        assert.equal(await page.locator('footer.site-footer').count(), 0, 'no footer');
        const top = await page.locator('[data-figure]').first().evaluate((e) => e.getBoundingClientRect().top);
        assert.ok(top < 768 * 0.6, `#/${route}: the figure starts ${top} px down`);
        const explain = page.locator('.explain').first();
        if (await explain.count()) {
          assert.ok(!(await explain.isVisible()), `#/${route}: the explanation is folded`);
          await page.keyboard.press('i');
          assert.ok(await explain.isVisible(), `#/${route}: I unfolds the explanation`);
          await page.keyboard.press('i');
        }
        // Labels of the figure and its controls: at least 24 px.
        const small = await page.evaluate(() =>
          [...document.querySelectorAll('[data-figure] h2, [data-figure] h3, [data-figure] label, [data-figure] .panel-label')]
            .filter((e) => e.offsetParent && e.textContent.trim())
            .map((e) => [e.textContent.trim().slice(0, 30), parseFloat(getComputedStyle(e).fontSize)])
            .filter(([, size]) => size < 24),
        );
        assert.deepEqual(small, [], `#/${route}: labels under 24 px`);
        await page.screenshot({ path: screenshotPath(`present-${route}.png`) });
      }
    });
  });

  test('the keys: ←/→ move the main slider, Space runs and cancels, ? lists the keys, M leaves presenter mode', async () => {
    await withPage(SIZES.projector, async (page) => {
      await page.goto(`${base}?present#/attacks?model=cnn&digit=0&attack=deepfool_l2`);
      await readyFor('/attacks')(page);
      const t = page.getByTestId('t-slider');
      const before = Number(await t.inputValue());
      await page.keyboard.press('ArrowRight');
      assert.equal(Number(await t.inputValue()), Math.round((before + 0.1) * 100) / 100, '→ moves t by a twentieth of its range');
      assert.match(hashOf(page), /t=|attack=deepfool_l2/, 'the page keeps its settings');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      assert.equal(Number(await t.inputValue()), Math.round((before - 0.1) * 100) / 100);
      assert.equal(await t.getAttribute('aria-valuetext'), `t, ${(before - 0.1).toFixed(2)}`);

      // By keyboard alone from the top of the normal page: the skip link, then the t slider in a few Tabs.
      await page.keyboard.press('m');
      await page.locator('header.site-header').waitFor();
      await page.evaluate(() => document.activeElement?.blur());
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to the figure');
      await page.keyboard.press('Enter');
      let tabs = 0;
      while (tabs < 12 && (await page.evaluate(() => document.activeElement?.dataset?.testid)) !== 't-slider') {
        await page.keyboard.press('Tab');
        tabs += 1;
      }
      assert.ok(tabs < 12, 'the t slider is a few Tabs after the skip link');
      const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(ring, 'none', 'a visible focus ring');
      const focused = Number(await t.inputValue());
      await page.keyboard.press('ArrowRight');
      assert.equal(Number(await t.inputValue()), Math.round((focused + 0.01) * 100) / 100, 'a focused slider keeps its own arrows (one step)');
      await page.evaluate(() => document.activeElement?.blur());
      await page.keyboard.press('m');
      await page.getByTestId('presenter-bar').waitFor();

      await page.keyboard.press('?');
      const help = page.getByTestId('keys-help');
      await help.waitFor();
      assert.match(await help.innerText(), /move t on this page/);
      await page.screenshot({ path: screenshotPath('present-keys.png') });
      await page.keyboard.press('Escape');
      await help.waitFor({ state: 'detached' });

      await page.keyboard.press('m');
      await page.locator('header.site-header').waitFor();
      assert.ok(!new URL(page.url()).search.includes('present'), 'M leaves presenter mode and the link says so');
      await page.keyboard.press('m');
      await page.getByTestId('presenter-bar').waitFor();
      assert.ok(new URL(page.url()).search.includes('present'));

      // Space starts the structural page's patch search and cancels it.
      await page.goto(`${base}?present#/structural?model=cnn`);
      await readyFor('/structural')(page);
      await page.keyboard.press(' ');
      await page.getByTestId('patch-cancel').waitFor();
      await page.keyboard.press(' ');
      await page.getByTestId('patch-cancel').waitFor({ state: 'detached' });
      await page.getByTestId('find-patch').waitFor();

      // F asks for full screen (granted to a key press).
      await page.keyboard.press('f');
      await page.waitForFunction(() => document.fullscreenElement !== null);
      await page.keyboard.press('f');
      await page.waitForFunction(() => document.fullscreenElement === null);
    });
  });

  test('the lecture path: every step in order with N, back with P, kept over a reload', async () => {
    await withPage(SIZES.projector, async (page) => {
      await page.goto(`${base}#/path`);
      await page.getByTestId('path-steps').waitFor();
      assert.deepEqual(
        (await page.getByTestId('path-steps').locator('li a').allInnerTexts()).map((t) => t.trim()),
        LECTURE.map(([title]) => title),
      );
      await page.getByTestId('path-start-present').click();
      for (let i = 0; i < LECTURE.length; i++) {
        const [title, link] = LECTURE[i];
        await page.waitForFunction((link) => decodeURIComponent(location.hash.slice(1)).startsWith(link), link);
        await readyFor(link)(page);
        assert.equal(await page.getByTestId('path-count').innerText(), `${i + 1} / ${LECTURE.length}`);
        assert.ok((await page.getByTestId('path-notice').innerText()).length > 20, `${title}: what to notice`);
        const search = new URL(page.url()).searchParams;
        assert.equal(search.get('path'), 'lecture');
        assert.equal(search.get('step'), String(i + 1));
        await page.screenshot({ path: screenshotPath(`path-${String(i + 1).padStart(2, '0')}.png`) });
        if (i + 1 < LECTURE.length) await page.keyboard.press('n');
      }
      assert.ok(await page.getByTestId('path-next').isDisabled(), 'the last step has no next');
      await page.keyboard.press('p');
      await page.waitForFunction(() => location.hash.startsWith('#/sweep'));
      await page.reload();
      await page.getByTestId('lecture-bar').waitFor();
      assert.equal(await page.getByTestId('path-count').innerText(), `${LECTURE.length - 1} / ${LECTURE.length}`);
      assert.ok(await page.getByTestId('presenter-bar').isVisible(), 'a reload keeps presenter mode');
      await page.getByTestId('path-select').selectOption('3');
      await page.waitForFunction(() => location.hash.includes('attack=deepfool_l2'));
      await page.getByTestId('path-end').click();
      await page.getByTestId('lecture-bar').waitFor({ state: 'detached' });
      assert.equal(new URL(page.url()).searchParams.get('path'), null);
    });
  });

  test('a lecturer\u2019s own path travels as one link', async () => {
    let link;
    await withPage(SIZES.hall, async (page) => {
      await page.goto(`${base}#/path`);
      await page.getByTestId('path-draft').fill('nonsense');
      await page.getByTestId('path-make').click();
      assert.match(await page.getByTestId('path-made-error').innerText(), /Line 1/);
      await page.getByTestId('path-draft').fill(
        `${base}#/attacks?model=mlp&digit=5&attack=fgsm — the sign of the gradient\n\n#/kernel — the bound holds for every method`,
      );
      await page.getByTestId('path-make').click();
      link = await page.getByTestId('path-link').inputValue();
      assert.match(link, /\?path=[A-Za-z0-9_-]+&step=1#\/attacks\?model=mlp/);
    });
    await withPage(SIZES.hall, async (page) => {
      await page.goto(link);
      await readyFor('/attacks')(page);
      assert.equal(await page.getByTestId('path-count').innerText(), '1 / 2');
      assert.equal(await page.getByTestId('path-notice').innerText(), 'the sign of the gradient');
      assert.match(hashOf(page), /attack=fgsm/);
      await page.keyboard.press('n');
      await readyFor('/kernel')(page);
      assert.equal(await page.getByTestId('path-count').innerText(), '2 / 2');
      assert.equal(await page.getByTestId('path-notice').innerText(), 'the bound holds for every method');
      await page.screenshot({ path: screenshotPath('path-own.png') });
      // A damaged link says so and the page still works.
      await page.goto(`${base}?path=%25%25#/mri`);
      assert.match(await page.getByTestId('path-error').innerText(), /damaged/);
      await readyFor('/mri')(page);
    });
  });

  test('export: PNG at 2× with a caption, SVG, data as .json and .npy, the link and the embed code', async () => {
    await withPage(SIZES.hall, async (page) => {
      const downloads = [];
      page.on('download', (d) => downloads.push(d));
      const saved = async (count) => {
        await page.waitForFunction(() => true);
        for (let i = 0; i < 100 && downloads.length < count; i++) await page.waitForTimeout(100);
        assert.equal(downloads.length, count, 'downloads');
        const files = {};
        for (const d of downloads.splice(0)) files[d.suggestedFilename()] = fs.readFileSync(await d.path());
        return files;
      };
      await page.goto(`${base}#/attacks?model=cnn&digit=0&attack=deepfool_l2`);
      await readyFor('/attacks')(page);
      const figure = page.locator('[data-figure="attacks"]');
      const content = await figure.locator('.figure-content').boundingBox();

      await figure.getByTestId('export-png').click();
      await figure.getByTestId('export-status').filter({ hasText: 'Saved the PNG' }).waitFor();
      const png = (await saved(1))['barriers-lab-attacks.png'];
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
      assert.ok(Math.abs(w - 2 * content.width) <= 2, `PNG width ${w} for a figure ${content.width} px wide`);
      assert.ok(h > 2 * content.height + 60, `PNG height ${h}: the figure at 2× and its caption`);
      fs.writeFileSync(screenshotPath('export-attacks.png'), png);

      await figure.getByTestId('export-data').click();
      const files = await saved(1 + 3);
      const json = JSON.parse(files['barriers-lab-attacks.json']);
      assert.equal(json.page, '/attacks');
      assert.deepEqual(json.settings, { model: 'cnn', digit: '0', attack: 'deepfool_l2' });
      assert.match(json.link, /#\/attacks\?/);
      assert.equal(json.model, 'cnn');
      assert.ok(json.numbers.rho, 'the numbers on screen');
      assert.equal(json.arrays.files.length, 3);
      for (const { file, shape } of json.arrays.files) {
        const npy = files[file];
        assert.ok(npy, `${file} downloaded`);
        assert.equal(npy.subarray(0, 6).toString('latin1'), '\x93NUMPY');
        const len = npy.readUInt16LE(8);
        const header = npy.subarray(10, 10 + len).toString();
        assert.match(header, /'descr': '<f4'/);
        assert.match(header, new RegExp(`'shape': \\(${shape.join(', ')}\\)`));
        assert.deepEqual(shape, [28, 28]);
        assert.equal(npy.length, 10 + len + 4 * 28 * 28);
      }

      await figure.getByTestId('copy-link').click();
      await figure.getByText('Copied').waitFor();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), page.url());

      await figure.getByTestId('embed-toggle').click();
      const code = await figure.getByTestId('embed-code').inputValue();
      assert.match(code, /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/\?embed#\/attacks\?model=cnn&amp;digit=0&amp;attack=deepfool_l2"/);
      assert.match(code, /sandbox="allow-scripts allow-same-origin allow-downloads"/);
      assert.match(code, /width="960" height="720"/);

      // The trade-off chart as SVG: a standalone file with its styles inlined.
      await page.goto(`${base}#/tradeoff`);
      await readyFor('/tradeoff')(page);
      const chart = page.locator('[data-figure="tradeoff"]');
      await chart.getByTestId('export-svg').click();
      const svg = (await saved(1))['barriers-lab-tradeoff.svg'].toString();
      assert.match(svg, /^<\?xml/);
      assert.match(svg, /<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /style="[^"]*fill:/);
      await chart.getByTestId('export-png').click();
      const chartPng = (await saved(1))['barriers-lab-tradeoff.png'];
      fs.writeFileSync(screenshotPath('export-tradeoff.png'), chartPng);

      // The embed code works: the page in an iframe, in embed mode.
      // Pasted into a course page of its own (another origin, outside the lab's content-security
      // policy, which would refuse the iframe's style attribute).
      const course = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html lang="en"><title>Course</title><body>${code}</body></html>`);
      });
      await new Promise((resolve) => course.listen(0, '127.0.0.1', resolve));
      try {
        await page.goto(`http://127.0.0.1:${course.address().port}/`);
        const frame = page.frameLocator('iframe');
        await frame.getByTestId('readouts').waitFor({ timeout: FIRST });
        assert.equal(await frame.locator('header.site-header').count(), 0, 'embed mode: no header');
      } finally {
        await new Promise((resolve) => course.close(resolve));
      }
    });
  });
});
