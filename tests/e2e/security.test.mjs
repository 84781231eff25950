// End-to-end tests of the lab's protections (issue 20) on the release bundle in headless
// Chromium: the content-security policy (scripts/csp.mjs) is in index.html and, the same, in
// every response's header (the workers run under it too); it is enforced (a style attribute or
// an inline script injected into the page is refused, and the tests' probe reports it, which is
// how every other suite fails on a violation); every page runs under it without one; and the lab
// works inside a course page's sandboxed iframe (`sandbox="allow-scripts allow-same-origin"`),
// its worker included.
//   trunk build --release && node --test tests/e2e/security.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { haveDist, screenshotPath, browserSuite, DIST, FIRST } from './helpers.mjs';
import { PAGES } from './pages.mjs';
import { policyOf, inlineScriptHashes } from '../../scripts/csp.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

describe('The content-security policy and a sandboxed frame', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the policy is in index.html and in every header, with the loader hashed', async () => {
    const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
    const meta = policyOf(html);
    assert.ok(meta, 'index.html carries the policy');
    assert.match(meta, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
    assert.doesNotMatch(meta, /'unsafe-inline'|'unsafe-eval'|\*/, 'nothing inline or from elsewhere');
    // Exactly the inline scripts of the page, by hash (Trunk's loader).
    for (const h of inlineScriptHashes(html)) assert.ok(meta.includes(`'${h}'`), `${h} is allowed`);
    for (const file of ['', 'worker_loader.js', 'sw.js', 'boot.js']) {
      const res = await fetch(lab.base + file);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get('content-security-policy'), meta, `the header of /${file} is the page's policy`);
    }
  });

  test('the policy is enforced: injected inline style and script are refused and reported', async () => {
    await withPage({}, async (page, session) => {
      await page.goto(`${lab.base}#/classify?model=cnn&digit=3`);
      await PAGES.find((p) => p.route === 'classify').ready(page);
      const ran = await page.evaluate(async () => {
        window.__injected = false;
        const s = document.createElement('script');
        s.textContent = 'window.__injected = true';
        document.body.append(s);
        document.body.setAttribute('style', 'outline: 9px solid red');
        await new Promise((r) => setTimeout(r, 200));
        return { script: window.__injected, outline: getComputedStyle(document.body).outlineStyle };
      });
      assert.equal(ran.script, false, 'the inline script did not run');
      assert.equal(ran.outline, 'none', 'the style attribute was not applied');
      const problems = session.watcher.problems;
      const reported = problems.filter((p) => p.includes('CSP violation'));
      assert.ok(reported.some((v) => v.includes('script-src')), problems.join('\n'));
      assert.ok(reported.some((v) => v.includes('style-src')), problems.join('\n'));
      // Those were provoked (the probe's reports and the browser's own messages): the page
      // works on, and nothing else was reported.
      const provoked = (p) => p.includes('CSP violation') || p.includes('Content Security Policy');
      problems.splice(0, problems.length, ...problems.filter((p) => !provoked(p)));
      assert.match(await page.getByTestId('predicted-label').innerText(), /^[0-9]$/);
    });
  });

  test('every page runs under the policy without a violation', { timeout: 600_000 }, async (t) => {
    await withPage({}, async (page) => {
      for (const { route, ready } of PAGES) {
        await page.goto(`${lab.base}#/${route}`);
        await ready(page);
      }
      t.diagnostic(`${PAGES.length} pages`);
    });
  });

  test('the lab works inside a sandboxed iframe on a course page', async () => {
    // The course page on another origin (another port), as a course's site would embed it.
    const course = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!DOCTYPE html>
<html lang="en"><head><title>Course</title></head><body><h1>Lecture 3</h1>
<iframe title="Barriers Lab" sandbox="allow-scripts allow-same-origin" width="1000" height="700"
  src="${lab.base}?embed#/attacks?model=cnn&digit=3&attack=deepfool_l2"></iframe></body></html>`);
    });
    await new Promise((resolve) => course.listen(0, '127.0.0.1', resolve));
    try {
      await withPage({}, async (page) => {
        await page.goto(`http://127.0.0.1:${course.address().port}/`);
        const frame = page.frameLocator('iframe');
        // The worker ran the attack inside the sandboxed frame.
        await frame.getByTestId('readouts').waitFor({ timeout: FIRST });
        await frame.locator('[data-testid="readouts"] .updating').waitFor({ state: 'detached', timeout: FIRST }).catch(() => {});
        const text = await frame.getByTestId('readouts').innerText();
        assert.match(text, /\d/, 'the attack shows its numbers');
        assert.equal(await frame.locator('header').count(), 0, 'embed mode: no header');
        await page.screenshot({ path: screenshotPath('sandboxed-iframe.png') });
      });
    } finally {
      await new Promise((resolve) => course.close(resolve));
    }
  });
});
