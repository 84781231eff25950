// End-to-end tests of the MRI reconstruction page of the release bundle (dist/) in headless
// Chromium: sampling pattern, rate, the FIRENET layer slider, uploads (a PNG and a broken file;
// kept on this computer across reloads and sizes, explained in a shared link, removable), bad
// links. Every test fails on any console error, page error or failed request.
//   trunk build --release && node --test tests/e2e/mri.test.mjs
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { haveDist, screenshotPath, setRange, browserSuite } from './helpers.mjs';

const skip = haveDist() ? false : 'no release bundle: run `trunk build --release` first (dist/index.html is missing)';

/** A reconstruction (brain data, first tier-up of the wasm) takes well under this. */
const RUN = 60_000;

/** CRC-32 of a buffer (PNG chunks). */
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A grey 8-bit PNG of `w × h` pixels given by `f(x, y)` in 0…255. */
function png(w, h, f) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w + 1)] = 0;
    for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = f(x, y);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** "PSNR 33.12 dB · SSIM 0.912" → { psnr, ssim }. */
function quality(text) {
  const m = /PSNR ([\d.]+) dB · SSIM ([\d.]+)/.exec(text);
  assert.ok(m, `quality text: ${text}`);
  return { psnr: Number(m[1]), ssim: Number(m[2]) };
}

/** Waits for a finished reconstruction other than `previous` (by run id); returns its id. */
async function finished(page, previous = null) {
  const results = page.locator('[data-testid="mri-results"]:not(.updating)');
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('[data-testid="mri-results"]');
      return el && !el.classList.contains('updating') && el.dataset.run !== prev;
    },
    previous,
    { timeout: RUN },
  );
  return results.getAttribute('data-run');
}

/**
 * Like `finished`, but fails at once (with its text) if the page says the reconstruction failed,
 * instead of waiting for a figure that will not come.
 */
async function shown(page, previous = null) {
  const handle = await page.waitForFunction(
    (prev) => {
      const failed = [...document.querySelectorAll('.mri .notice.error')].find((n) =>
        /reconstruction failed/i.test(n.textContent),
      );
      if (failed) return { failed: failed.textContent };
      const el = document.querySelector('[data-testid="mri-results"]');
      return el && !el.classList.contains('updating') && el.dataset.run !== prev ? { run: el.dataset.run } : null;
    },
    previous,
    { timeout: RUN },
  );
  const result = await handle.jsonValue();
  assert.ok(!result.failed, `the page says: ${result.failed}`);
  return result.run;
}

/**
 * The truth panel as drawn: its side, the grey level at the centre and near a corner, and a
 * digest of every pixel (to tell one image from another).
 */
function truthPixels(page) {
  return page.getByTestId('panel-truth').locator('canvas').evaluate((c) => {
    const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    const at = (x, y) => data[4 * (y * c.width + x)];
    let digest = 0;
    for (let i = 0; i < data.length; i += 4) digest = (digest * 31 + data[i]) >>> 0;
    return { side: c.width, centre: at(c.width >> 1, c.height >> 1), corner: at(3, 3), digest };
  });
}

/** The bright disc on a dark background the upload tests use (a non-square PNG). */
const DISC = png(300, 200, (x, y) => ((x - 150) ** 2 + (y - 100) ** 2 < 70 ** 2 ? 230 : 25));

/** Records every request a context makes (method, URL, body size): uploads must never travel. */
function recordRequests(context) {
  const seen = [];
  context.on('request', (r) => seen.push({ method: r.method(), url: r.url(), body: r.postDataBuffer()?.length ?? 0 }));
  return seen;
}

/** Asserts that no request carried data or named the file: the upload stayed in the browser. */
function nothingSent(seen, name) {
  for (const r of seen) {
    assert.equal(r.method, 'GET', `${r.method} ${r.url}`);
    assert.equal(r.body, 0, `${r.url} carried ${r.body} bytes`);
    assert.ok(!r.url.includes(name), r.url);
  }
}

describe('MRI reconstruction in the browser', { skip }, () => {
  const lab = browserSuite();
  const { withPage } = lab;

  test('pattern, rate and the layer slider; FIRENET beats zero-filling', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri`);
      let run = await finished(page);
      const zf = quality(await page.getByTestId('panel-zero-filled').getByTestId('quality').innerText());
      const fi = quality(await page.getByTestId('panel-firenet').getByTestId('quality').innerText());
      t.diagnostic(`default brain slice: zero-filled ${zf.psnr} dB, FIRENET ${fi.psnr} dB`);
      assert.ok(fi.psnr > zf.psnr + 1, `FIRENET ${fi.psnr} dB vs zero-filled ${zf.psnr} dB`);
      assert.match(await page.getByTestId('mri-summary').innerText(), /4096 of 16384 frequencies sampled \(25\.0%\)/);
      await page.screenshot({ path: screenshotPath('mri-default.png'), fullPage: true });
      // On a 1024×768 projector the five panels share one row (both reconstructions side by
      // side), the layer slider is labelled, and the error plot has x ticks.
      await page.setViewportSize({ width: 1024, height: 768 });
      const top = async (id) => (await page.getByTestId(id).boundingBox()).y;
      assert.equal(await top('panel-firenet'), await top('panel-zero-filled'), 'FIRENET beside zero-filling');
      assert.equal(await top('panel-firenet'), await top('panel-truth'), 'one row of panels');
      assert.match(await page.getByTestId('panel-firenet').locator('label.layer-slider').innerText(), /layer \d+/);
      const ticks = await page.getByTestId('error-plot').locator('.x-tick text').allTextContents();
      assert.deepEqual(ticks, ['1', '10', '20', '30', '40', '50'], ticks.join(' '));
      await page.screenshot({ path: screenshotPath('mri-1024.png'), fullPage: false });
      await page.setViewportSize({ width: 1400, height: 900 });

      // Pattern: radial lines.
      await page.getByTestId('pattern').selectOption('radial');
      run = await finished(page, run);
      await page.waitForFunction(() => location.hash.includes('pattern=radial'));

      // Rate: drag the slider to 40%.
      const reached = await setRange(page, page.getByTestId('rate'), 0.4);
      assert.ok(Math.abs(reached - 0.4) < 0.006, `rate slider at ${reached}`);
      run = await finished(page, run);
      const summary = await page.getByTestId('mri-summary').innerText();
      const rate = Number(/\(([\d.]+)%\)/.exec(summary)[1]);
      assert.ok(Math.abs(rate - 40) <= 0.5, `sampled ${rate}% for 40%: ${summary}`);
      await page.waitForFunction(() => /rate=0\.4(&|$)/.test(location.hash));

      // Layer slider: an early layer is worse than the last, and the title says which layer.
      const last = quality(await page.getByTestId('panel-firenet').getByTestId('quality').innerText());
      await setRange(page, page.getByTestId('layer'), 3);
      await page.getByTestId('panel-firenet').locator('figcaption', { hasText: 'layer 3/50' }).waitFor();
      const early = quality(await page.getByTestId('panel-firenet').getByTestId('quality').innerText());
      t.diagnostic(`radial 40%: layer 3 ${early.psnr} dB, layer 50 ${last.psnr} dB`);
      assert.ok(early.psnr < last.psnr, `layer 3 ${early.psnr} dB should be below layer 50 ${last.psnr} dB`);
      await page.waitForFunction(() => location.hash.includes('layer=3'));
      assert.equal(await page.getByTestId('error-plot').locator('polyline.firenet').count(), 1);
      await page.screenshot({ path: screenshotPath('mri-radial-layer3.png'), fullPage: true });
    });
  });

  test('uploading a PNG reconstructs it; a broken file gives a clear message', async (t) => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri?image=shepp_logan`);
      let run = await finished(page);
      // A non-square PNG: a bright disc on a dark background.
      const disc = png(300, 200, (x, y) => ((x - 150) ** 2 + (y - 100) ** 2 < 70 ** 2 ? 230 : 25));
      await page.getByTestId('upload').setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: disc });
      await page.getByTestId('upload-notes').waitFor();
      run = await finished(page, run);
      await page.waitForFunction(() => location.hash.includes('image=upload'));
      t.diagnostic(`upload notes: ${await page.getByTestId('upload-notes').innerText()}`);
      const fi = quality(await page.getByTestId('panel-firenet').getByTestId('quality').innerText());
      assert.ok(fi.psnr > 20, `FIRENET on the upload: ${fi.psnr} dB`);
      await page.screenshot({ path: screenshotPath('mri-upload.png'), fullPage: true });

      await page.getByTestId('upload').setInputFiles({
        name: 'broken.png',
        mimeType: 'image/png',
        buffer: Buffer.concat([disc.subarray(0, 60), Buffer.from('not the rest of a png')]),
      });
      const error = page.locator('.mri .notice.error');
      await error.waitFor();
      const message = await error.innerText();
      t.diagnostic(`broken file: ${message}`);
      assert.match(message, /damaged|incomplete|could not be decoded|PNG or JPEG/i);
      // A message for people: no developer's prefix, a capital letter first.
      assert.doesNotMatch(message, /invalid input|invalid data|tensor error/i);
      assert.match(message.trim(), /^[A-Z]/, message);
      // The last good reconstruction stays, and the page keeps working.
      assert.equal(await page.locator('[data-testid="mri-results"]').getAttribute('data-run'), run);
      await page.getByTestId('image').selectOption('shepp_logan');
      await finished(page, run);
      await page.screenshot({ path: screenshotPath('mri-broken-upload.png'), fullPage: true });
      // A JPEG cut short is never accepted silently: the page says the file ended early (or
      // that it is incomplete).
      const jpeg = await page.evaluate(async () => {
        const c = document.createElement('canvas');
        c.width = 256;
        c.height = 256;
        const g = c.getContext('2d');
        const ramp = g.createLinearGradient(0, 0, 256, 256);
        ramp.addColorStop(0, '#000');
        ramp.addColorStop(1, '#fff');
        g.fillStyle = ramp;
        g.fillRect(0, 0, 256, 256);
        const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/jpeg', 0.9));
        return Array.from(new Uint8Array(await blob.arrayBuffer()));
      });
      await page.getByTestId('upload').setInputFiles({
        name: 'cut.jpg',
        mimeType: 'image/jpeg',
        buffer: Buffer.from(jpeg.slice(0, Math.floor(jpeg.length * 0.6))),
      });
      await page.getByText(/ended early|damaged or incomplete/).first().waitFor();
      await page.screenshot({ path: screenshotPath('mri-truncated-jpeg.png'), fullPage: true });
    });
  });

  test('an upload survives a reload, on this computer only', async (t) => {
    await withPage({}, async (page, { context }) => {
      const seen = recordRequests(context);
      await page.goto(`${lab.base}#/mri?image=shepp_logan`);
      let run = await shown(page);
      const phantom = await truthPixels(page);
      await page.getByTestId('upload').setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: DISC });
      await page.getByTestId('upload-notes').waitFor();
      run = await shown(page, run);
      await page.waitForFunction(() => location.hash.includes('image=upload'));
      const uploaded = await truthPixels(page);
      assert.notEqual(uploaded.digest, phantom.digest, 'the upload replaced the phantom');
      assert.ok(uploaded.centre > 180 && uploaded.corner < 60, JSON.stringify(uploaded));

      // Reload: the same image, read back from this browser's storage, with a note saying so.
      await page.reload();
      await shown(page);
      assert.deepEqual(await truthPixels(page), uploaded, 'the same upload after a reload');
      const notes = await page.getByTestId('upload-notes').innerText();
      t.diagnostic(`after a reload: ${notes}`);
      assert.match(notes, /disc\.png/);
      assert.match(notes, /kept on this computer only/i);
      assert.doesNotMatch(await page.locator('.mri').innerText(), /no image has been uploaded/i);
      await page.setViewportSize({ width: 1024, height: 768 });
      await page.getByTestId('upload-notes').evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await page.screenshot({ path: screenshotPath('mri-upload-kept-1024.png'), fullPage: false });
      nothingSent(seen, 'disc');
    });
  });

  test('an upload follows a change of size 128 → 256, also after a reload', async () => {
    await withPage({}, async (page, { context }) => {
      const seen = recordRequests(context);
      await page.goto(`${lab.base}#/mri?image=shepp_logan`);
      let run = await shown(page);
      await page.getByTestId('upload').setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: DISC });
      await page.getByTestId('upload-notes').waitFor();
      run = await shown(page, run);
      assert.equal((await truthPixels(page)).side, 128);

      // 128 → 256: the upload is prepared again at the new size.
      await page.getByTestId('side').selectOption('256');
      run = await shown(page, run);
      assert.match(await page.getByTestId('mri-summary').innerText(), /of 65536 frequencies/);
      const large = await truthPixels(page);
      assert.equal(large.side, 256);
      assert.ok(large.centre > 180 && large.corner < 60, JSON.stringify(large));
      assert.match(await page.getByTestId('upload-notes').innerText(), /disc\.png/);
      await page.waitForFunction(() => location.hash.includes('side=256') && location.hash.includes('image=upload'));
      // And after a reload at 256, and back at 128.
      await page.reload();
      run = await shown(page);
      assert.deepEqual(await truthPixels(page), large, 'the same upload at 256 after a reload');
      await page.getByTestId('side').selectOption('128');
      await shown(page, run);
      const small = await truthPixels(page);
      assert.equal(small.side, 128);
      assert.ok(small.centre > 180 && small.corner < 60, JSON.stringify(small));
      nothingSent(seen, 'disc');
    });
  });

  test('a shared upload link explains where uploads stay and offers the file picker', async (t) => {
    await withPage({}, async (page, { context }) => {
      const seen = recordRequests(context);
      // A fresh browser context: nothing was ever uploaded here.
      await page.goto(`${lab.base}#/mri?image=upload`);
      const explanation = page.getByTestId('upload-elsewhere');
      await explanation.waitFor();
      const text = await explanation.innerText();
      t.diagnostic(`shared link: ${text}`);
      assert.match(text, /stay on .*computer/i);
      assert.match(text, /never sent/i);
      assert.doesNotMatch(await page.locator('.mri').innerText(), /no image has been uploaded/i);
      // Meanwhile the page shows the default image, and the link keeps saying image=upload.
      let run = await shown(page);
      const fallback = await truthPixels(page);
      assert.match(await page.evaluate(() => location.hash), /image=upload/);
      // The screenshot of the notice on a 1024×768 projector.
      await page.setViewportSize({ width: 1024, height: 768 });
      await explanation.evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await page.screenshot({ path: screenshotPath('mri-upload-elsewhere-1024.png'), fullPage: false });
      await page.setViewportSize({ width: 1400, height: 900 });

      // The file picker is right there in the notice; an upload there is shown.
      const picker = explanation.locator('input[type="file"]');
      assert.equal(await picker.count(), 1, 'a file picker in the notice');
      await picker.setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: DISC });
      run = await shown(page, run);
      await page.getByTestId('upload-notes').waitFor();
      const uploaded = await truthPixels(page);
      assert.notEqual(uploaded.digest, fallback.digest);
      assert.ok(uploaded.centre > 180 && uploaded.corner < 60, JSON.stringify(uploaded));
      assert.equal(await explanation.count(), 0, 'the explanation is gone');
      nothingSent(seen, 'disc');
    });
  });

  test('"Remove my upload" forgets it: after a reload the link explains instead', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri?image=shepp_logan`);
      let run = await shown(page);
      await page.getByTestId('upload').setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: DISC });
      await page.getByTestId('upload-notes').waitFor();
      run = await shown(page, run);
      await page.reload();
      await shown(page);
      await page.getByTestId('upload-notes').waitFor();
      await page.getByRole('button', { name: 'Remove my upload' }).click();
      // At once the page explains, and shows the default image again.
      await page.getByTestId('upload-elsewhere').waitFor();
      await page.reload();
      await page.getByTestId('upload-elsewhere').waitFor();
      await shown(page);
      assert.equal(await page.getByTestId('upload-notes').count(), 0);
      assert.match(await page.evaluate(() => location.hash), /image=upload/);
    });
  });

  test('without browser storage an upload works for this page view and says so', async (t) => {
    // As in some private windows: touching IndexedDB throws.
    const noStorage = `Object.defineProperty(window, 'indexedDB', {
      configurable: true,
      get() { throw new DOMException('The operation is insecure.', 'SecurityError'); },
    });`;
    await withPage({ route: (context) => context.addInitScript(noStorage) }, async (page) => {
      await page.goto(`${lab.base}#/mri?image=upload`);
      const explanation = page.getByTestId('upload-elsewhere');
      await explanation.waitFor();
      assert.match(await explanation.innerText(), /storage could not be read: .*SecurityError/);
      let run = await shown(page);
      await explanation.locator('input[type="file"]').setInputFiles({ name: 'disc.png', mimeType: 'image/png', buffer: DISC });
      run = await shown(page, run);
      const uploaded = await truthPixels(page);
      assert.ok(uploaded.centre > 180 && uploaded.corner < 60, JSON.stringify(uploaded));
      const warning = page.getByTestId('upload-not-kept');
      await warning.waitFor();
      t.diagnostic(`no storage: ${await warning.innerText()}`);
      assert.match(await warning.innerText(), /gone after a reload/);
      assert.match(await page.getByTestId('upload-notes').innerText(), /disc\.png, in this page view only/);
      // Another size still works from the page's own copy.
      await page.getByTestId('side').selectOption('256');
      await shown(page, run);
      assert.equal((await truthPixels(page)).side, 256);
      // Removing it forgets the page's copy; there is nothing in the storage to fail on.
      await page.getByRole('button', { name: 'Remove my upload' }).click();
      await explanation.waitFor();
      assert.equal(await warning.count(), 0);
      assert.equal(await page.locator('.mri .notice.warning').count(), 0);
    });
  });

  test('a bad link falls back to the defaults with notices', async () => {
    await withPage({}, async (page) => {
      await page.goto(`${lab.base}#/mri?rate=7&pattern=spiral&lambda=abc&side=100`);
      await finished(page);
      const notices = await page.locator('.mri .notice.warning').allInnerTexts();
      assert.equal(notices.length, 4, notices.join(' | '));
      assert.match(await page.getByTestId('mri-summary').innerText(), /\(25\.0%\)/);
      // A pasted 10 KB value is echoed cut short, and nothing runs off the right edge.
      const long = '9'.repeat(10_000);
      await page.goto(`${lab.base}#/mri?rate=${long}&${long}=1`);
      await finished(page);
      const echoed = await page.locator('.mri .notice.warning').allInnerTexts();
      assert.equal(echoed.length, 2, echoed.join(' | '));
      for (const n of echoed) assert.ok(n.length < 200 && n.includes('…'), n);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the window`);
    });
  });
});
