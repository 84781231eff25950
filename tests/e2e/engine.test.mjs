// End-to-end tests of the compute engines on the MRI pages of the release bundle (dist/): the
// engine badge (the MRI page, the troublesome kernel, the hallucinations figure), `?engine=cpu|gpu`,
// the same numbers on both engines, and the fallback to the CPU after a lost GPU device, in
// headless Chromium without WebGPU (no adapter: the CPU, as a student without WebGPU sees the
// lab) and with `--enable-unsafe-webgpu` (SwiftShader's adapter: the GPU, the same pictures).
// Every test fails on any console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/engine.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { haveDist, screenshotPath, browserSuite, WEBGPU_ARGS } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

/** A 128² reconstruction on SwiftShader (a GPU emulated on the CPU) takes well under this. */
const RUN = 120_000;

/**
 * Waits for the kernel page's finished figure (at `t`); returns its badge and the bound table's
 * numbers, rounded to the 4 significant digits a student could read off.
 */
async function kernelFigure(page, t = 1) {
  const handle = await page.waitForFunction(
    (t) => {
      const el = document.querySelector('[data-testid="kernel-results"]');
      if (!el || el.classList.contains('updating') || el.dataset.t !== String(t)) return null;
      if (document.querySelector('[data-testid="kernel-running"]')) return null;
      const badge = el.querySelector('[data-testid="engine-badge"]');
      const rows = [...el.querySelectorAll('[data-testid="kernel-table"] tbody tr')].map((r) => ({
        method: r.dataset.method,
        errorX: Number(r.dataset.errorX).toPrecision(4),
        errorXPrime: Number(r.dataset.errorXPrime).toPrecision(4),
      }));
      return { engine: badge?.dataset.engine, badge: badge?.textContent, rows };
    },
    t,
    { timeout: RUN },
  );
  return handle.jsonValue();
}

/** Waits for the hallucinations figure; returns its badge and each row's κ of column 1. */
async function hallucinationFigure(page) {
  const handle = await page.waitForFunction(
    () => {
      const el = document.querySelector('[data-testid="halluc-results"]');
      if (!el || el.classList.contains('updating')) return null;
      if (document.querySelector('[data-testid="halluc-running"]')) return null;
      const badge = el.querySelector('[data-testid="engine-badge"]');
      return { engine: badge?.dataset.engine, badge: badge?.textContent };
    },
    null,
    { timeout: RUN },
  );
  return handle.jsonValue();
}

/** Waits for a finished reconstruction other than `previous`; returns what the page shows. */
async function result(page, previous = null) {
  const handle = await page.waitForFunction(
    (prev) => {
      const failed = [...document.querySelectorAll('.mri .notice.error')].find((n) =>
        /reconstruction failed/i.test(n.textContent),
      );
      if (failed) return { failed: failed.textContent };
      const el = document.querySelector('[data-testid="mri-results"]');
      if (!el || el.classList.contains('updating') || el.dataset.run === prev) return null;
      const badge = el.querySelector('[data-testid="engine-badge"]');
      const notice = el.querySelector('.notice');
      return {
        run: el.dataset.run,
        engine: badge?.dataset.engine,
        badge: badge?.textContent,
        notice: notice?.textContent ?? null,
        firenet: document.querySelector('[data-testid="panel-firenet"] [data-testid="quality"]')?.textContent,
      };
    },
    previous,
    { timeout: RUN },
  );
  const r = await handle.jsonValue();
  assert.ok(!r.failed, `the page says: ${r.failed}`);
  return r;
}

describe('without WebGPU: the CPU computes', { skip }, () => {
  const lab = browserSuite();

  test('the badge says CPU; ?engine=gpu explains that there is no adapter', async (t) => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri`);
      const r = await result(page);
      t.diagnostic(r.badge);
      assert.equal(r.engine, 'cpu');
      assert.match(r.badge, /Computed on the CPU · \d+ ms per reconstruction/);
      assert.equal(r.notice, null);
      await page.goto(`${lab.base}?engine=gpu#/mri`);
      const g = await result(page);
      assert.equal(g.engine, 'cpu');
      assert.match(g.notice, /no WebGPU adapter: computed on the CPU/);
    });
  });

  test('the other MRI pages say CPU too', async (t) => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}#/kernel`);
      const k = await kernelFigure(page);
      t.diagnostic(`kernel: ${k.badge}`);
      assert.equal(k.engine, 'cpu');
      assert.match(k.badge, /Computed on the CPU · \d+ ms per reconstruction/);
      await page.goto(`${lab.base}#/hallucinations`);
      const h = await hallucinationFigure(page);
      t.diagnostic(`hallucinations: ${h.badge}`);
      assert.equal(h.engine, 'cpu');
      assert.match(h.badge, /Computed on the CPU · \d+ ms per pass of the network/);
    });
  });
});

describe('with WebGPU (SwiftShader): the GPU computes the same pictures', { skip }, () => {
  const lab = browserSuite(WEBGPU_ARGS);

  test('the badge names the adapter; ?engine=cpu computes the same reconstruction', async (t) => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri`);
      const gpu = await result(page);
      t.diagnostic(`${gpu.badge}; FIRENET ${gpu.firenet}`);
      assert.equal(gpu.engine, 'gpu', gpu.badge);
      assert.match(gpu.badge, /Computed on the GPU \(.+\) · \d+ ms per reconstruction/);
      assert.equal(gpu.notice, null);
      await page.screenshot({ path: screenshotPath('engine-gpu.png'), fullPage: true });
      await page.goto(`${lab.base}?engine=cpu#/mri`);
      const cpu = await result(page);
      t.diagnostic(`${cpu.badge}; FIRENET ${cpu.firenet}`);
      assert.equal(cpu.engine, 'cpu');
      // The same PSNR and SSIM to the digits shown.
      assert.equal(gpu.firenet, cpu.firenet);
    });
  });

  test('the troublesome kernel on the GPU: the badge, and the numbers the CPU computes', async (t) => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}#/kernel`);
      const gpu = await kernelFigure(page);
      t.diagnostic(gpu.badge);
      assert.equal(gpu.engine, 'gpu', gpu.badge);
      assert.match(gpu.badge, /Computed on the GPU \(.+\) · \d+ ms per reconstruction/);
      await page.screenshot({ path: screenshotPath('engine-kernel-gpu.png'), fullPage: true });
      await page.goto(`${lab.base}?engine=cpu#/kernel`);
      const cpu = await kernelFigure(page);
      assert.equal(cpu.engine, 'cpu');
      t.diagnostic(JSON.stringify(gpu.rows));
      assert.deepEqual(gpu.rows, cpu.rows);
    });
  });

  test('a lost device falls back to the CPU for the rest of the session, rerunning the job', async () => {
    await lab.withPage({}, async (page) => {
      await page.goto(`${lab.base}?engine=gpu&lose-gpu=1#/mri`);
      const lost = await result(page);
      assert.equal(lost.engine, 'cpu', lost.badge);
      assert.match(lost.notice, /The GPU failed \(.+\): from now on the CPU computes; this was computed again on it\./);
      assert.ok(lost.firenet, 'the rerun shows FIRENET');
      await page.screenshot({ path: screenshotPath('engine-lost.png'), fullPage: true });
      // The next reconstruction stays on the CPU and says why.
      await page.getByTestId('pattern').selectOption('radial');
      const next = await result(page, lost.run);
      assert.equal(next.engine, 'cpu');
      assert.match(next.notice, /The GPU failed earlier in this session/);
    });
  });
});
