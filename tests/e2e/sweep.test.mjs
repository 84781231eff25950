// End-to-end tests of the sampling-sweep page (#/sweep, "more samples can make it worse") of the
// release bundle in headless Chromium: the shipped plot, table and lesson at once and as in the
// report; a small live sweep in the worker with progress, kept on the page (a second visit is
// instant, no new request); one rate of the report reproduced live; cancel midway and resume
// without computing a finished rate again; one slice at a clicked rate; a bad link. Every test fails on any
// console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/sweep.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { haveDist, screenshotPath, browserSuite, ROOT } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';
const RUN = 90_000;
const report = JSON.parse(fs.readFileSync(path.join(ROOT, 'static/reports/sampling_sweep.json'), 'utf8'));
const pct = (v) => `${(v * 100).toFixed(1)}%`;

/** The requests of one kind the page has posted to the worker. */
function requests(page, kind) {
  return page.evaluate((kind) => (window.__lab?.requests ?? []).filter((r) => r.kind === kind).length, kind);
}

/** Records every text the progress label shows (it can change faster than a poll). */
function recordProgress(page) {
  return page.evaluate(() => {
    window.__progress = [];
    const seen = () => {
      const el = document.querySelector('[data-testid="sweep-progress"]');
      if (el && window.__progress[window.__progress.length - 1] !== el.textContent) window.__progress.push(el.textContent);
    };
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

/** The numbers of a sweep table, row by row. */
function tableNumbers(page, testid) {
  return page.getByTestId(testid).locator('tbody tr').evaluateAll((rows) =>
    rows.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => c.textContent.trim())),
  );
}

describe('More samples can make it worse, in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('the shipped plot, table and lesson appear at once and match the report', async (t) => {
    await withPage({}, async (page) => {
      const start = Date.now();
      await page.goto(`${lab.base}#/sweep`);
      await page.getByTestId('shipped-table').waitFor();
      t.diagnostic(`shipped plot and table after ${Date.now() - start} ms`);
      // Drawn from the report alone: nothing was asked of the worker.
      assert.equal(await requests(page, 'sweep'), 0);
      const plot = page.getByTestId('shipped-plot');
      assert.equal(await plot.getByTestId('sweep-series').count(), 2 + report.nets.length);
      for (const n of report.nets) {
        assert.equal(await plot.locator(`[data-testid="sweep-series"][data-label="${n.name} (fixed)"] circle`).count(), report.rates.length);
      }
      // Each network's training rate marked (the share its mask samples).
      const markers = await plot.getByTestId('training-marker').evaluateAll((els) => els.map((e) => [e.dataset.net, Number(e.dataset.share), e.textContent]));
      assert.deepEqual(markers.map((m) => m[0]), report.nets.map((n) => n.name));
      for (const [name, share, text] of markers) {
        const net = report.nets.find((n) => n.name === name);
        assert.ok(Math.abs(share - net.training_rate) < 0.5 / report.side, `${name}: ${share}`);
        assert.match(text, new RegExp(`${name} trained at ${pct(share).replace('.', '\\.')}`));
      }
      assert.match(await plot.innerHTML(), /mean held-out PSNR \(dB\)/);
      assert.match(await plot.innerHTML(), /share of k-space sampled/);
      // The table: one row per rate, every number as in the report.
      const rows = await tableNumbers(page, 'shipped-table');
      assert.equal(rows.length, report.rates.length);
      rows.forEach((row, k) => {
        const want = [pct(report.rates[k]), pct(report.sampled[k]), report.psnr_zero_filled[k].toFixed(2), report.psnr_firenet[k].toFixed(2), ...report.nets.map((n) => n.psnr[k].toFixed(2))];
        assert.deepEqual(row, want, `row ${k}`);
      });
      // The lesson: read off the numbers (the largest loss with more samples, FIRENET overtaking).
      let worst = null;
      for (const n of report.nets) {
        let from = 0;
        for (let k = 1; k <= n.psnr.length; k++) {
          if (k < n.psnr.length && n.psnr[k] < n.psnr[k - 1]) continue;
          const loss = n.psnr[from] - n.psnr[k - 1];
          if (k - 1 > from && (!worst || loss > worst.loss)) worst = { name: n.name, loss, from, to: k - 1 };
          from = k;
        }
      }
      const summary = await page.getByTestId('lesson-summary').innerText();
      t.diagnostic(summary);
      if (worst) {
        assert.ok(summary.includes(`${worst.loss.toFixed(2)} dB (${worst.name}, ${pct(report.sampled[worst.from])} → ${pct(report.sampled[worst.to])})`), summary);
      } else {
        // The 128² report: no shipped network loses accuracy with more samples, and the page says so.
        assert.match(summary, /None of the shipped networks loses accuracy as the rate grows/);
      }
      for (const n of report.nets) {
        const text = await page.locator(`[data-testid="lesson-net"][data-net="${n.name}"]`).innerText();
        const better = report.psnr_firenet.map((f, k) => (f > n.psnr[k] ? pct(report.sampled[k]) : null)).filter(Boolean);
        if (better.length) assert.ok(text.includes(`FIRENET is better at ${better.join(', ')}`), text);
      }
      await page.screenshot({ path: screenshotPath('sweep-shipped.png'), fullPage: true });
    });
  });

  test('a small live sweep shows progress and finishes; a second visit is instant; a rate shows a slice', async (t) => {
    await withPage({}, async (page) => {
      const link = `${lab.base}#/sweep?nets=cascade-128&rates=10,40&slices=2`;
      await page.goto(link);
      await page.getByTestId('shipped-table').waitFor();
      assert.equal(await page.getByTestId('live').count(), 0);
      await recordProgress(page);
      await page.getByTestId('sweep-compute').click();
      await page.getByTestId('live').waitFor({ timeout: RUN });
      const labels = await page.evaluate(() => window.__progress);
      t.diagnostic(`progress: ${labels.join(' | ')}`);
      assert.ok(labels.some((l) => /^rate (10|40)%: slice [12] of 2$/.test(l)), labels.join(' | '));
      const progress = await page.evaluate(() => window.__lab.replies.filter((r) => r.kind === 'progress').length);
      assert.equal(progress, 4, 'one progress report per slice and rate');
      const rows = await tableNumbers(page, 'live-table');
      assert.deepEqual(rows.map((r) => r[0]), ['10.0%', '40.0%']);
      assert.equal(rows[0].length, 5, 'rate, sampled, zero-filling, FIRENET, cascade-128');
      t.diagnostic(await page.getByTestId('live-timing').innerText());
      assert.match(await page.getByTestId('live-compare').innerText(), new RegExp(`Averaged over 2 held-out slices instead of the report's ${report.slices}`));
      // A rate clicked on the live plot: one held-out slice by each method, with its PSNR.
      await page.getByTestId('live-plot').getByTestId('rate-hit').nth(1).click();
      const slice = page.getByTestId('slice-result');
      await slice.waitFor({ timeout: RUN });
      assert.equal(await slice.getAttribute('data-rate'), '0.4');
      const methods = await slice.getByTestId('slice-method').evaluateAll((els) => els.map((e) => [e.dataset.key, Number(e.dataset.psnr)]));
      assert.deepEqual(methods.map((m) => m[0]), ['zero-filled', 'firenet', 'cascade-128']);
      assert.ok(methods.every((m) => Number.isFinite(m[1]) && m[1] > 10), JSON.stringify(methods));
      assert.equal(await slice.locator('canvas').count(), 4);
      await page.screenshot({ path: screenshotPath('sweep-live.png'), fullPage: true });
      // Away and back: the same sweep shows at once, without asking the worker again.
      const asked = await requests(page, 'sweep');
      await page.evaluate(() => { location.hash = '#/'; });
      await page.getByTestId('demo-grid').waitFor();
      await page.evaluate(() => { location.hash = '#/sweep?nets=cascade-128&rates=10,40&slices=2'; });
      await page.getByTestId('live').waitFor({ timeout: 2_000 });
      assert.equal(await requests(page, 'sweep'), asked, 'no new sweep request');
      assert.deepEqual((await tableNumbers(page, 'live-table')).map((r) => r.slice(2)), rows.map((r) => r.slice(2)));
      // Unticking and ticking a rate again brings the same result back at once too.
      await page.locator('[data-testid="sweep-rate"][data-rate="40"]').uncheck();
      await page.getByTestId('live').waitFor({ state: 'detached' });
      await page.locator('[data-testid="sweep-rate"][data-rate="40"]').check();
      await page.getByTestId('live').waitFor({ timeout: 2_000 });
      assert.equal(await requests(page, 'sweep'), asked);
    });
  });

  test('one rate of the report computed live reproduces it', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/sweep?rates=12.5`);
      await page.getByTestId('shipped-table').waitFor();
      await page.getByTestId('sweep-compute').click();
      const live = page.getByTestId('live');
      await live.waitFor({ timeout: RUN });
      const compare = await page.getByTestId('live-compare').innerText();
      t.diagnostic(`${await page.getByTestId('live-timing').innerText()} ${compare}`);
      assert.equal(await live.getAttribute('data-compared'), String(2 + report.nets.length));
      const diff = Number(await live.getAttribute('data-max-diff'));
      assert.ok(diff < 1e-3, `the live sweep differs from the report by ${diff} dB`);
    });
  });

  test('cancel midway stops every worker; computing again keeps the finished rates', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/sweep?nets=cascade-128&rates=5,10,20,30,40,60&slices=3`);
      await page.getByTestId('shipped-table').waitFor();
      await page.getByTestId('sweep-compute').click();
      // Past the first finished rate of some worker (3 slices a rate, 3 rates a worker; with
      // the pool's two workers side by side, 5 units done means one of them finished a rate)
      // and well before the end (18 units), cancel.
      const running = page.getByTestId('sweep-running');
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="sweep-running"]')?.dataset.done ?? 0) >= 5, null, { timeout: RUN });
      const workers = Number(await running.getAttribute('data-workers'));
      const parts = await page.evaluate(() => window.__lab.requests.filter((r) => r.kind === 'sweep').map((r) => r.id));
      assert.equal(parts.length, workers, 'one part per worker');
      await page.evaluate(() => {
        window.__clicked = performance.now();
        document.querySelector('[data-testid="sweep-cancel"]').click();
      });
      await page.getByTestId('sweep-cancelled').waitFor();
      assert.equal(await page.getByTestId('live').count(), 0);
      assert.equal(await page.getByTestId('sweep-compute').isEnabled(), true);
      // The page says so at once. Every part ends: a worker computing stops at its next slice
      // (it answers "cancelled"), or, still busy after the pool's grace, is terminated; the
      // others had finished their part ("swept").
      const ends = (parts) =>
        page.evaluate((parts) => {
          const lab = window.__lab;
          return parts.map((id) => {
            const reply = lab.replies.find((r) => r.id === id && (r.kind === 'cancelled' || r.kind === 'swept'));
            const killed = lab.replies.find((r) => r.kind === 'terminated' && r.pending.includes(id));
            const end = reply ?? killed;
            return end ? { how: end.kind, after: end.t - window.__clicked } : null;
          });
        }, parts);
      await page.waitForFunction((parts) => {
        const lab = window.__lab;
        return parts.every((id) => lab.replies.some((r) => (r.id === id && (r.kind === 'cancelled' || r.kind === 'swept')) || (r.kind === 'terminated' && r.pending.includes(id))));
      }, parts, { timeout: RUN, polling: 20 });
      const stopped = await ends(parts);
      const last = Math.max(...stopped.map((e) => e.after));
      t.diagnostic(`parts ended: ${stopped.map((e) => `${e.how} ${e.after.toFixed(0)} ms`).join(', ')} after the click`);
      assert.ok(stopped.some((e) => e.how !== 'swept'), `a worker was stopped: ${JSON.stringify(stopped)}`);
      // The pool terminates a worker 120 ms after the cancel; the bound leaves room for a
      // loaded machine's timers (scripts/bench-pool.sh measures the latency).
      assert.ok(last < 1000, `every worker stopped ${last.toFixed(0)} ms after the click`);
      await page.waitForTimeout(200);
      assert.deepEqual((await ends(parts)).map((e) => e.how), stopped.map((e) => e.how), 'no worker answers again');
      await page.screenshot({ path: screenshotPath('sweep-cancelled.png'), fullPage: true });
      // Again: the finished rate is not computed again (the page kept it, even from a
      // terminated worker).
      await page.getByTestId('sweep-compute').click();
      await page.getByTestId('live').waitFor({ timeout: RUN });
      const timing = await page.getByTestId('live-timing').innerText();
      t.diagnostic(timing);
      assert.match(timing, /[1-5] rates? computed before/);
      assert.equal((await tableNumbers(page, 'live-table')).length, 6);
    });
  });

  test('the pool of workers gives exactly what one worker gives', async (t) => {
    const tables = {};
    for (const workers of [1, 2]) {
      await withPage({}, async (page) => {
        await page.goto(`${lab.base}?workers=${workers}#/sweep?nets=cascade-128&rates=5,10,20,40&slices=2`);
        await page.getByTestId('shipped-table').waitFor();
        await page.getByTestId('sweep-compute').click();
        await page.getByTestId('live').waitFor({ timeout: RUN });
        tables[workers] = await tableNumbers(page, 'live-table');
        const parts = await page.evaluate(() => window.__lab.requests.filter((r) => r.kind === 'sweep').length);
        assert.equal(parts, workers, 'one part per worker');
        t.diagnostic(`${workers} worker(s): ${await page.getByTestId('live-timing').innerText()}`);
      });
    }
    assert.equal(tables[1].length, 4);
    assert.deepEqual(tables[2], tables[1]);
  });

  test('a bad link shows notices and falls back to the defaults', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/sweep?nets=nope&rates=1,abc&slices=99&zoom=2`);
      await page.getByTestId('shipped-table').waitFor();
      const notices = await page.locator('.notice.warning').allInnerTexts();
      assert.equal(notices.length, 4, notices.join(' | '));
      assert.ok(notices.some((n) => n.includes('no network \u201cnope\u201d')), notices.join(' | '));
      assert.ok(notices.some((n) => n.includes('The rates must be percentages')));
      assert.ok(notices.some((n) => n.includes(`There are ${report.slices} held-out slices, not 99`)));
      assert.ok(notices.some((n) => n.includes('zoom')));
      // The defaults: every network, the report's rates, all slices.
      const nets = await page.getByTestId('sweep-net').evaluateAll((els) => els.filter((e) => e.checked).map((e) => e.dataset.net));
      assert.deepEqual(nets, report.nets.map((n) => n.name));
      const rates = await page.getByTestId('sweep-rate').evaluateAll((els) => els.filter((e) => e.checked).map((e) => Number(e.dataset.rate) / 100));
      assert.deepEqual(rates, report.rates);
      assert.equal(await page.getByTestId('sweep-slices').inputValue(), String(report.slices));
      await page.screenshot({ path: screenshotPath('sweep-bad-link.png'), fullPage: true });
    });
  });
});
